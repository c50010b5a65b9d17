package main

import (
	"context"
	"encoding/json"
	"time"

	"github.com/sio-go/sio/node"
)

// maxRoomName bounds a room name in the chat contract, in bytes.
const maxRoomName = 128

type ackResult struct {
	OK    bool   `json:"ok"`
	Room  string `json:"room,omitempty"`
	Error string `json:"error,omitempty"`
}

type roomMessage struct {
	Room string `json:"room"`
	From string `json:"from"`
	Msg  any    `json:"msg"`
}

// registerChat installs the chat node's event contract on namespace "/":
//
//	join (room, ack)               join; ack {"ok":true,"room":room} or {"ok":false,"error":...}
//	leave (room, ack)              leave; ack {"ok":true,"room":room}
//	chat message (msg)             io.emit("chat message", msg)
//	room message (room, msg, ack?) io.to(room).emit("room message", {room, from, msg}); ack {"ok":true}
//	echo (payload, ack)            ack(payload)
//	whoami (ack)                   ack {"node": node id, "id": socket id}
func registerChat(srv *node.Server, cfg config) {
	if cfg.testHooks {
		registerTestHooks(srv, cfg)
	}
	// Handlers that need no socket are built once; the others capture
	// only what they need (every idle socket keeps its closures).
	chatMessage := func(args node.Args, _ node.AckFunc) {
		_ = srv.Emit("chat message", arg0(args))
	}
	srv.OnConnection(func(s *node.Socket) {
		s.On("join", func(args node.Args, ack node.AckFunc) {
			room, err := roomArg(args)
			if err == "" {
				s.Join(room)
			}
			reply(ack, room, err)
		})
		s.On("leave", func(args node.Args, ack node.AckFunc) {
			room, err := roomArg(args)
			if err == "" {
				s.Leave(room)
			}
			reply(ack, room, err)
		})
		s.On("chat message", chatMessage)
		s.On("room message", func(args node.Args, ack node.AckFunc) {
			room, bad := roomArg(args)
			if bad != "" {
				reply(ack, room, bad)
				return
			}
			// s.Namespace() is "/", what srv.To addresses.
			err := s.Namespace().To(room).Emit("room message", roomMessage{Room: room, From: s.ID(), Msg: arg1(args)})
			if ack != nil {
				if err != nil {
					_ = ack(ackResult{OK: false, Error: err.Error()})
					return
				}
				_ = ack(ackResult{OK: true})
			}
		})
		s.On("echo", func(args node.Args, ack node.AckFunc) {
			if ack != nil {
				_ = ack(args...)
			}
		})
		s.On("whoami", func(_ node.Args, ack node.AckFunc) {
			if ack != nil {
				_ = ack(map[string]string{"node": cfg.nodeID, "id": s.ID()})
			}
		})
	})
}

func roomArg(args node.Args) (room, errText string) {
	room, ok := args.String(0)
	switch {
	case !ok:
		return "", "room must be a string"
	case room == "":
		return "", "room must not be empty"
	case len(room) > maxRoomName:
		return "", "room name longer than 128 bytes"
	}
	return room, ""
}

func reply(ack node.AckFunc, room, errText string) {
	if ack == nil {
		return
	}
	if errText != "" {
		_ = ack(ackResult{OK: false, Error: errText})
		return
	}
	_ = ack(ackResult{OK: true, Room: room})
}

func arg0(a node.Args) any {
	if a.Len() > 0 {
		return a[0]
	}
	return nil
}

func arg1(a node.Args) any {
	if a.Len() > 1 {
		return a[1]
	}
	return nil
}

// registerTestHooks adds the events the cross-language cluster tests use;
// integration_test/js/refserver.js implements the same ones on the Node.js
// reference node (its header comment is the specification). They expose
// other sockets' details, so they are off unless -test-hooks is set.
func registerTestHooks(srv *node.Server, cfg config) {
	nodeInfo := map[string]string{"node": cfg.nodeID}
	srv.Use(func(s *node.Socket, next func(error)) {
		var auth struct {
			Reject any `json:"reject"`
		}
		if json.Unmarshal(s.Handshake().Auth, &auth) == nil {
			if msg, ok := auth.Reject.(string); ok && msg != "" {
				next(node.NewConnectError(msg, map[string]string{"code": "REJECTED"}))
				return
			}
		}
		next(nil)
	})
	main := srv.Of("/")
	main.OnServerSideEmit("ping-from-peer", func(args node.Args, ack func(any)) {
		if ack != nil {
			ack(map[string]any{"node": cfg.nodeID, "arg": args.Value(0)})
		}
	})
	main.OnServerSideEmit("announce", func(args node.Args, _ func(any)) {
		var m struct {
			From any `json:"from"`
			Arg  any `json:"arg"`
		}
		_ = args.Decode(0, &m)
		_ = main.Local().Emit("announcement", map[string]any{"node": cfg.nodeID, "from": m.From, "arg": m.Arg})
	})
	srv.Of("/custom").OnConnection(func(s *node.Socket) {
		s.On("echo", func(args node.Args, ack node.AckFunc) {
			if ack != nil {
				_ = ack(args...)
			}
		})
	})
	fail := func(ack node.AckFunc, err error, extra map[string]any) {
		if ack == nil {
			return
		}
		res := map[string]any{"ok": false, "error": err.Error()}
		for k, v := range extra {
			res[k] = v
		}
		_ = ack(res)
	}
	srv.OnConnection(func(s *node.Socket) {
		s.SetData(nodeInfo)
		s.On("ask-ack", func(args node.Args, ack node.AckFunc) {
			go func() {
				res, err := s.Timeout(5*time.Second).EmitWithAck(context.Background(), "question", arg0(args))
				if err != nil {
					fail(ack, err, nil)
					return
				}
				if ack != nil {
					_ = ack(map[string]any{"ok": true, "answer": arg0(res)})
				}
			}()
		})
		s.On("room-ack", func(args node.Args, ack node.AckFunc) {
			room, _ := args.String(0)
			go func() {
				res, err := srv.To(room).Except(s.ID()).Timeout(2*time.Second).EmitWithAck(context.Background(), "ping-room")
				if err != nil {
					fail(ack, err, map[string]any{"responses": res})
					return
				}
				if ack != nil {
					_ = ack(map[string]any{"ok": true, "responses": nonNil(res)})
				}
			}()
		})
		s.On("fetch-sockets", func(args node.Args, ack node.AckFunc) {
			room, hasRoom := args.String(0)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				var socks []*node.RemoteSocket
				var err error
				if hasRoom {
					socks, err = srv.In(room).FetchSockets(ctx)
				} else {
					socks, err = srv.FetchSockets(ctx)
				}
				type info struct {
					ID    string   `json:"id"`
					Rooms []string `json:"rooms"`
					Data  any      `json:"data"`
				}
				out := make([]info, 0, len(socks))
				for _, rs := range socks {
					out = append(out, info{ID: rs.ID, Rooms: rs.Rooms, Data: rs.Data})
				}
				if err != nil {
					fail(ack, err, map[string]any{"sockets": out})
					return
				}
				if ack != nil {
					_ = ack(map[string]any{"ok": true, "sockets": out})
				}
			}()
		})
		s.On("server-side-emit", func(args node.Args, ack node.AckFunc) {
			event, _ := args.String(0)
			rest := []any(args)
			if len(rest) > 0 {
				rest = rest[1:]
			}
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				res, err := main.ServerSideEmitWithAck(ctx, event, rest...)
				if err != nil {
					fail(ack, err, map[string]any{"responses": res})
					return
				}
				if ack != nil {
					_ = ack(map[string]any{"ok": true, "responses": nonNil(res)})
				}
			}()
		})
		s.On("sockets-join", func(args node.Args, ack node.AckFunc) {
			room, _ := args.String(0)
			target, _ := args.String(1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := srv.In(room).SocketsJoin(ctx, target); err != nil {
					fail(ack, err, nil)
					return
				}
				if ack != nil {
					_ = ack(map[string]any{"ok": true})
				}
			}()
		})
		s.On("announce", func(args node.Args, ack node.AckFunc) {
			go func() {
				err := main.ServerSideEmit(context.Background(), "announce", map[string]any{"from": cfg.nodeID, "arg": arg0(args)})
				if err != nil {
					fail(ack, err, nil)
					return
				}
				if ack != nil {
					_ = ack(map[string]any{"ok": true})
				}
			}()
		})
	})
}

func nonNil(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}

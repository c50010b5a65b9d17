package node

import (
	"context"
	"sync"
	"time"

	"github.com/sio-go/sio/adapter"
	"github.com/sio-go/sio/node/parser"
)

// BroadcastOperator selects sockets (rooms, except, flags) for a broadcast
// or a server utility. It is immutable: every method returns a new
// operator, so one can be shared and extended from any goroutine.
type BroadcastOperator struct {
	ns     *Namespace
	rooms  []adapter.Room
	except []adapter.Room
	flags  adapter.BroadcastFlags
}

func (b *BroadcastOperator) clone() *BroadcastOperator {
	c := *b
	c.rooms = append([]adapter.Room(nil), b.rooms...)
	c.except = append([]adapter.Room(nil), b.except...)
	return &c
}

func toRooms(dst []adapter.Room, rooms []string) []adapter.Room {
	for _, r := range rooms {
		dst = append(dst, adapter.Room(r))
	}
	return dst
}

// To adds rooms; the broadcast reaches the union of all selected rooms.
func (b *BroadcastOperator) To(rooms ...string) *BroadcastOperator {
	c := b.clone()
	c.rooms = toRooms(c.rooms, rooms)
	return c
}

// In is To.
func (b *BroadcastOperator) In(rooms ...string) *BroadcastOperator { return b.To(rooms...) }

// Except excludes the sockets of rooms.
func (b *BroadcastOperator) Except(rooms ...string) *BroadcastOperator {
	c := b.clone()
	c.except = toRooms(c.except, rooms)
	return c
}

// Local restricts the operation to this node.
func (b *BroadcastOperator) Local() *BroadcastOperator {
	c := b.clone()
	c.flags.Local = true
	return c
}

// Volatile lets the packet be dropped for sockets not ready to write.
func (b *BroadcastOperator) Volatile() *BroadcastOperator {
	c := b.clone()
	c.flags.Volatile = true
	return c
}

// Compress sets the compress flag.
func (b *BroadcastOperator) Compress(compress bool) *BroadcastOperator {
	c := b.clone()
	c.flags.Compress = compress
	return c
}

// Timeout sets how long EmitWithAck and FetchSockets wait.
func (b *BroadcastOperator) Timeout(d time.Duration) *BroadcastOperator {
	c := b.clone()
	c.flags.Timeout = d
	return c
}

func (b *BroadcastOperator) opts() adapter.BroadcastOptions {
	return adapter.BroadcastOptions{Rooms: b.rooms, Except: b.except, Flags: b.flags}
}

func (b *BroadcastOperator) scope() string {
	if b.flags.Local {
		return "local"
	}
	return "cluster"
}

// Emit broadcasts event to the selected sockets. The packet is encoded
// once per node. The error reports a failure to reach the cluster (local
// delivery happens regardless).
func (b *BroadcastOperator) Emit(event string, args ...any) error {
	if parser.IsReservedEvent(event) {
		return reservedErr(event)
	}
	b.ns.srv.metrics.broadcasts.WithLabelValues(b.scope()).Inc()
	pkt := &adapter.Packet{Type: adapter.PacketEvent, Nsp: b.ns.name, Data: append([]any{event}, args...)}
	return b.ns.adapter.Broadcast(context.Background(), pkt, b.opts())
}

// EmitWithAck broadcasts event asking every client for an
// acknowledgement, and returns the first argument of each answer. It waits
// until every client of every node answered, the Timeout passes, or ctx
// ends; then it returns what arrived and ErrTimeout.
func (b *BroadcastOperator) EmitWithAck(ctx context.Context, event string, args ...any) ([]any, error) {
	if parser.IsReservedEvent(event) {
		return nil, reservedErr(event)
	}
	if b.flags.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.flags.Timeout)
		defer cancel()
	}
	b.ns.srv.metrics.broadcasts.WithLabelValues(b.scope()).Inc()
	var (
		mu              sync.Mutex
		responses       []any
		expectedServers = -1
		actualServers   int
		expectedClients int
		done            = make(chan struct{})
		finished        bool
	)
	check := func() { // mu held
		if !finished && expectedServers == actualServers && len(responses) == expectedClients {
			finished = true
			close(done)
		}
	}
	pkt := &adapter.Packet{Type: adapter.PacketEvent, Nsp: b.ns.name, Data: append([]any{event}, args...)}
	opts := b.opts()
	if opts.Flags.Timeout <= 0 {
		// Bounded by ctx alone: the sockets (on every node) drop their
		// entry for this broadcast when ctx's deadline passes, as with
		// Timeout, instead of keeping it until the client answers.
		if dl, ok := ctx.Deadline(); ok {
			opts.Flags.Timeout = max(time.Until(dl), time.Millisecond)
		}
	}
	err := b.ns.adapter.BroadcastWithAck(ctx, pkt, opts,
		func(n int) {
			mu.Lock()
			expectedClients += n
			actualServers++
			check()
			mu.Unlock()
		},
		func(arg any) {
			mu.Lock()
			if !finished {
				responses = append(responses, arg)
				check()
			}
			mu.Unlock()
		})
	if err != nil {
		return nil, err
	}
	servers := 1
	if !b.flags.Local {
		if servers, err = b.ns.adapter.ServerCount(ctx); err != nil {
			return nil, err
		}
	}
	mu.Lock()
	expectedServers = servers
	check()
	mu.Unlock()
	select {
	case <-done:
		mu.Lock()
		defer mu.Unlock()
		return responses, nil
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		finished = true
		b.ns.srv.metrics.ackTimeouts.Inc()
		return append([]any(nil), responses...), ErrTimeout
	}
}

// FetchSockets describes the selected sockets across the cluster.
func (b *BroadcastOperator) FetchSockets(ctx context.Context) ([]*RemoteSocket, error) {
	infos, err := b.ns.adapter.FetchSockets(ctx, b.opts())
	out := make([]*RemoteSocket, 0, len(infos))
	for _, in := range infos {
		rooms := make([]string, len(in.Rooms))
		for i, r := range in.Rooms {
			rooms[i] = string(r)
		}
		out = append(out, &RemoteSocket{ID: string(in.ID), Handshake: in.Handshake, Rooms: rooms, Data: in.Data, ns: b.ns})
	}
	return out, err
}

// SocketsJoin makes the selected sockets join rooms, across the cluster.
func (b *BroadcastOperator) SocketsJoin(ctx context.Context, rooms ...string) error {
	return b.ns.adapter.AddSockets(ctx, b.opts(), toRooms(nil, rooms))
}

// SocketsLeave makes the selected sockets leave rooms, across the cluster.
func (b *BroadcastOperator) SocketsLeave(ctx context.Context, rooms ...string) error {
	return b.ns.adapter.DelSockets(ctx, b.opts(), toRooms(nil, rooms))
}

// DisconnectSockets disconnects the selected sockets, across the cluster.
func (b *BroadcastOperator) DisconnectSockets(ctx context.Context, close bool) error {
	return b.ns.adapter.DisconnectSockets(ctx, b.opts(), close)
}

// RemoteSocket is a socket returned by FetchSockets, on this node or
// another. Its methods act through the cluster, addressing the socket's
// own room.
type RemoteSocket struct {
	ID        string
	Handshake adapter.Handshake
	Rooms     []string
	Data      any
	ns        *Namespace
}

func (r *RemoteSocket) op() *BroadcastOperator { return r.ns.op().To(r.ID) }

// Emit sends event to the socket.
func (r *RemoteSocket) Emit(event string, args ...any) error {
	return r.op().Emit(event, args...)
}

// EmitWithAck sends event to the socket and waits for its answer (first argument).
func (r *RemoteSocket) EmitWithAck(ctx context.Context, event string, args ...any) (any, error) {
	res, err := r.op().EmitWithAck(ctx, event, args...)
	if len(res) > 0 {
		return res[0], err
	}
	if err == nil {
		err = ErrDisconnected
	}
	return nil, err
}

// Join makes the socket join rooms.
func (r *RemoteSocket) Join(ctx context.Context, rooms ...string) error {
	return r.op().SocketsJoin(ctx, rooms...)
}

// Leave makes the socket leave rooms.
func (r *RemoteSocket) Leave(ctx context.Context, rooms ...string) error {
	return r.op().SocketsLeave(ctx, rooms...)
}

// Disconnect disconnects the socket.
func (r *RemoteSocket) Disconnect(ctx context.Context, close bool) error {
	return r.op().DisconnectSockets(ctx, close)
}

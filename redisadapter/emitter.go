package redisadapter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"
	"github.com/sio-go/sio/adapter"
	"github.com/vmihailenco/msgpack/v5"
)

// reservedEvents are the event names a Socket.IO client reserves; emitting
// them is an error (socket.io's RESERVED_EVENTS).
var reservedEvents = []string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}

// reservedServerEvents are the names socket.io refuses for server-side
// emits: a node would take them for its own namespace events.
var reservedServerEvents = []string{"connect", "connection", "new_namespace"}

// EmitterOptions configure an Emitter. The zero value is valid.
type EmitterOptions struct {
	// Key prefixes the channel names; it must match the nodes' Key. Zero
	// value means "socket.io".
	Key string
	// Nsp is the namespace to emit to; a missing leading "/" is added.
	// Zero value means "/".
	Nsp string
}

// Emitter publishes events and socket-management requests to a cluster of
// Socket.IO nodes through Redis, from a program that is not a node itself,
// in the format of @socket.io/redis-emitter 5.x: any node that uses the
// classic Redis adapter (Go or Node.js) applies them.
//
// An Emitter is immutable: To, In, Except, Of, Volatile and Compress
// return modified copies, so one Emitter may be shared and used from
// several goroutines. The Redis client is owned by the caller.
// Acknowledgements are not supported.
type Emitter struct {
	client   redis.UniversalClient
	key      string
	nsp      string
	rooms    []string
	except   []string
	volatile bool
	compress *bool
	// flagOrder lists the flags in the order they were first set, as the
	// Node emitter's Object.assign keeps them.
	flagOrder []string
}

// NewEmitter returns an Emitter for the namespace of opts that publishes
// with client.
func NewEmitter(client redis.UniversalClient, opts EmitterOptions) *Emitter {
	e := &Emitter{client: client, key: opts.Key}
	if e.key == "" {
		e.key = DefaultKey
	}
	e.nsp = normalizeNsp(opts.Nsp)
	return e
}

func normalizeNsp(nsp string) string {
	if nsp == "" || nsp[0] != '/' {
		return "/" + nsp
	}
	return nsp
}

func (e *Emitter) clone() *Emitter {
	c := *e
	c.rooms = slices.Clip(c.rooms)
	c.except = slices.Clip(c.except)
	c.flagOrder = slices.Clip(c.flagOrder)
	return &c
}

// addUnique appends the rooms not yet in set (JavaScript Set semantics).
func addUnique(set []string, rooms []string) []string {
	for _, r := range rooms {
		if !slices.Contains(set, r) {
			set = append(set, r)
		}
	}
	return set
}

// To returns an Emitter that targets the sockets in any of rooms (in
// addition to the rooms already targeted).
func (e *Emitter) To(rooms ...string) *Emitter {
	c := e.clone()
	c.rooms = addUnique(c.rooms, rooms)
	return c
}

// In is the same as To.
func (e *Emitter) In(rooms ...string) *Emitter { return e.To(rooms...) }

// Except returns an Emitter that skips the sockets in any of rooms.
func (e *Emitter) Except(rooms ...string) *Emitter {
	c := e.clone()
	c.except = addUnique(c.except, rooms)
	return c
}

// Of returns a fresh Emitter (no rooms, no flags) for namespace nsp, with
// the same client and key. A missing leading "/" is added.
func (e *Emitter) Of(nsp string) *Emitter {
	return &Emitter{client: e.client, key: e.key, nsp: normalizeNsp(nsp)}
}

// Volatile returns an Emitter whose events may be dropped for clients
// that are not ready to receive them.
func (e *Emitter) Volatile() *Emitter {
	c := e.clone()
	if !slices.Contains(c.flagOrder, "volatile") {
		c.flagOrder = append(c.flagOrder, "volatile")
	}
	c.volatile = true
	return c
}

// Compress returns an Emitter with the compress flag set to compress.
func (e *Emitter) Compress(compress bool) *Emitter {
	c := e.clone()
	if !slices.Contains(c.flagOrder, "compress") {
		c.flagOrder = append(c.flagOrder, "compress")
	}
	c.compress = &compress
	return c
}

func (e *Emitter) broadcastChannel() string { return e.key + "#" + e.nsp + "#" }
func (e *Emitter) requestChannel() string   { return e.key + "-request#" + e.nsp + "#" }

// Emit publishes the event to the targeted sockets of every node. args
// follow adapter.Packet.Data: json.RawMessage, []byte (sent as binary) or
// JSON-encodable values. Reserved event names ("connect", "disconnect",
// …) are rejected.
func (e *Emitter) Emit(ctx context.Context, event string, args ...any) error {
	if slices.Contains(reservedEvents, event) {
		return fmt.Errorf("redisadapter: %q is a reserved event name", event)
	}
	if e.client == nil {
		return errors.New("redisadapter: Emitter has no Redis client")
	}
	msg, err := e.encodeEmit(event, args)
	if err != nil {
		return err
	}
	channel := e.broadcastChannel()
	if len(e.rooms) == 1 {
		channel += e.rooms[0] + "#"
	}
	return e.publish(ctx, channel, msg)
}

// encodeEmit builds ["emitter", {type, data, nsp}, {rooms, flags, except}]
// (the emitter's key order).
func (e *Emitter) encodeEmit(event string, args []any) ([]byte, error) {
	var b bytes.Buffer
	enc := msgpack.NewEncoder(&b)
	data := append([]any{event}, args...)
	err := enc.EncodeArrayLen(3)
	for _, step := range []func() error{
		func() error { return enc.EncodeString(emitterUID) },
		func() error { return encodePacket(enc, adapter.PacketEvent, data, e.nsp) },
		func() error { return enc.EncodeMapLen(3) },
		func() error { return enc.EncodeString("rooms") },
		func() error { return encodeStrings(enc, nonNil(e.rooms)) },
		func() error { return enc.EncodeString("flags") },
		func() error { return e.encodeFlags(enc) },
		func() error { return enc.EncodeString("except") },
		func() error { return encodeStrings(enc, nonNil(e.except)) },
	} {
		if err != nil {
			break
		}
		err = step()
	}
	if err != nil {
		return nil, fmt.Errorf("redisadapter: encode emit: %w", err)
	}
	return b.Bytes(), nil
}

func (e *Emitter) encodeFlags(enc *msgpack.Encoder) error {
	if err := enc.EncodeMapLen(len(e.flagOrder)); err != nil {
		return err
	}
	for _, f := range e.flagOrder {
		if err := enc.EncodeString(f); err != nil {
			return err
		}
		v := e.volatile
		if f == "compress" {
			v = *e.compress
		}
		if err := enc.EncodeBool(v); err != nil {
			return err
		}
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (e *Emitter) opts() wireOpts {
	return wireOpts{Rooms: nonNil(e.rooms), Except: nonNil(e.except)}
}

// SocketsJoin makes the targeted sockets of every node join rooms.
func (e *Emitter) SocketsJoin(ctx context.Context, rooms ...string) error {
	return e.request(ctx, roomsRequest{Type: reqRemoteJoin, Opts: e.opts(), Rooms: nonNil(rooms)})
}

// SocketsLeave makes the targeted sockets of every node leave rooms.
func (e *Emitter) SocketsLeave(ctx context.Context, rooms ...string) error {
	return e.request(ctx, roomsRequest{Type: reqRemoteLeave, Opts: e.opts(), Rooms: nonNil(rooms)})
}

// DisconnectSockets disconnects the targeted sockets of every node; close
// also closes their underlying connections.
func (e *Emitter) DisconnectSockets(ctx context.Context, close bool) error {
	return e.request(ctx, disconnectRequest{Type: reqRemoteDisconnect, Opts: e.opts(), Close: close})
}

// ServerSideEmit sends [event, args...] to every node's server-side
// handlers. Arguments travel as JSON. Acknowledgements are not supported;
// the names socket.io reserves for namespaces ("connect", "connection",
// "new_namespace") are rejected.
func (e *Emitter) ServerSideEmit(ctx context.Context, event string, args ...any) error {
	if slices.Contains(reservedServerEvents, event) {
		return fmt.Errorf("redisadapter: %q is a reserved event name", event)
	}
	raw, err := appendJSON(nil, append([]any{event}, args...), 0)
	if err != nil {
		return err
	}
	return e.request(ctx, serverSideEmitRequest{UID: emitterUID, Type: reqServerSideEmit, Data: raw})
}

func (e *Emitter) request(ctx context.Context, req any) error {
	if e.client == nil {
		return errors.New("redisadapter: Emitter has no Redis client")
	}
	b, err := marshalJSON(req)
	if err != nil {
		return err
	}
	return e.publish(ctx, e.requestChannel(), b)
}

func (e *Emitter) publish(ctx context.Context, channel string, msg []byte) error {
	if err := e.client.Publish(ctx, channel, msg).Err(); err != nil {
		return fmt.Errorf("redisadapter: publish to %s: %w", channel, err)
	}
	return nil
}

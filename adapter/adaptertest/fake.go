package adaptertest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sio-go/sio/adapter"
)

// MaxRecords bounds each list a FakeNamespace records (deliveries, room
// events, disconnections, server-side emits). Records beyond it are
// counted by Overflow and otherwise dropped.
const MaxRecords = 1 << 16

// Delivery is one Namespace.Deliver call recorded by a FakeNamespace.
type Delivery struct {
	// Packet is the packet as the adapter passed it.
	Packet *adapter.Packet
	// Requested are the ids the adapter asked for, in its order.
	Requested []adapter.SocketID
	// Sids are the requested ids that were connected, i.e. the sockets
	// the packet was queued to (Deliver's result is len(Sids)).
	Sids []adapter.SocketID
	// Flags are the flags the adapter passed.
	Flags adapter.BroadcastFlags
	// WithAck is true when the adapter passed an AckFunc.
	WithAck bool
}

// Event returns the event name of the delivered packet (Data[0] when it is
// a string), or "".
func (d Delivery) Event() string { return eventOf(d.Packet) }

// RoomEvent is one Namespace.RoomEvent call recorded by a FakeNamespace.
type RoomEvent struct {
	Kind adapter.RoomEventKind
	Room adapter.Room
	// Sid is the socket of join-room and leave-room; "" for create-room
	// and delete-room.
	Sid adapter.SocketID
}

// Disconnection is one Namespace.DisconnectSockets call recorded by a
// FakeNamespace.
type Disconnection struct {
	Sids  []adapter.SocketID
	Close bool
}

// ServerSideEmitCall is one Namespace.ServerSideEmit call recorded by a
// FakeNamespace.
type ServerSideEmitCall struct {
	// Data is [event, args...] as the adapter passed it.
	Data []any
	// WithReply is true when the sender asked for an answer.
	WithReply bool
}

// fakeSocket is a connected socket of a FakeNamespace.
type fakeSocket struct {
	handshake adapter.Handshake
	data      any
}

// FakeNamespace is a recording adapter.Namespace for tests.
//
// Register local sockets with Connect; Deliver queues only to connected
// sockets, SocketInfo describes them, DisconnectSockets disconnects them
// (and removes them from the attached adapter, as a real namespace does).
// Every call is recorded and can be read back with the snapshot methods.
// By default no client acknowledges a broadcast and no server-side emit is
// answered; AckWith and OnServerSideEmit change that.
//
// All methods are goroutine-safe. The recording methods never block; acks
// are answered from a separate goroutine, as real clients answer later.
type FakeNamespace struct {
	name string

	mu          sync.Mutex
	sockets     map[adapter.SocketID]fakeSocket
	deliveries  []Delivery
	roomEvents  []RoomEvent
	disconnects []Disconnection
	emits       []ServerSideEmitCall
	overflow    int
	ackFn       func(sid adapter.SocketID) (arg any, ok bool)
	emitFn      func(data []any, reply func(arg any))
	attached    adapter.Adapter

	acks sync.WaitGroup // ack-answering goroutines
}

var _ adapter.Namespace = (*FakeNamespace)(nil)

// NewFakeNamespace returns an empty FakeNamespace named name (e.g. "/").
func NewFakeNamespace(name string) *FakeNamespace {
	return &FakeNamespace{name: name, sockets: make(map[adapter.SocketID]fakeSocket)}
}

// Attach makes DisconnectSockets remove the disconnected sockets from a
// with DelAll, as the node does. Call it once the adapter is built.
func (f *FakeNamespace) Attach(a adapter.Adapter) {
	f.mu.Lock()
	f.attached = a
	f.mu.Unlock()
}

// Connect registers a local socket with its handshake and data. It does
// not touch any adapter: join the socket's own room with AddAll.
func (f *FakeNamespace) Connect(sid adapter.SocketID, handshake adapter.Handshake, data any) {
	f.mu.Lock()
	f.sockets[sid] = fakeSocket{handshake: handshake, data: data}
	f.mu.Unlock()
}

// Disconnect forgets a local socket without recording anything; later
// deliveries skip it.
func (f *FakeNamespace) Disconnect(sid adapter.SocketID) {
	f.mu.Lock()
	delete(f.sockets, sid)
	f.mu.Unlock()
}

// Connected reports whether sid is a connected local socket.
func (f *FakeNamespace) Connected(sid adapter.SocketID) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.sockets[sid]
	return ok
}

// AckWith sets how clients answer broadcasts that ask for an ack: fn is
// called for each socket a packet was queued to and returns the ack
// argument, or ok false when that client does not answer. nil (the
// default) means no client answers.
func (f *FakeNamespace) AckWith(fn func(sid adapter.SocketID) (arg any, ok bool)) {
	f.mu.Lock()
	f.ackFn = fn
	f.mu.Unlock()
}

// OnServerSideEmit sets the handler of server-side emits from other nodes.
// reply is nil when the sender wants no answer. The handler runs on the
// adapter's goroutine and must not block. nil (the default) records only.
func (f *FakeNamespace) OnServerSideEmit(fn func(data []any, reply func(arg any))) {
	f.mu.Lock()
	f.emitFn = fn
	f.mu.Unlock()
}

// Name returns the namespace name.
func (f *FakeNamespace) Name() string { return f.name }

// Deliver records the call and returns the number of listed sockets that
// are connected. When onAck is set and AckWith configured answers, they
// are sent from a new goroutine.
func (f *FakeNamespace) Deliver(pkt *adapter.Packet, sids []adapter.SocketID, flags adapter.BroadcastFlags, onAck adapter.AckFunc) int {
	f.mu.Lock()
	delivered := make([]adapter.SocketID, 0, len(sids))
	for _, sid := range sids {
		if _, ok := f.sockets[sid]; ok {
			delivered = append(delivered, sid)
		}
	}
	if len(f.deliveries) < MaxRecords {
		f.deliveries = append(f.deliveries, Delivery{
			Packet:    pkt,
			Requested: slices.Clone(sids),
			Sids:      delivered,
			Flags:     flags,
			WithAck:   onAck != nil,
		})
	} else {
		f.overflow++
	}
	ackFn := f.ackFn
	if onAck != nil && ackFn != nil && len(delivered) > 0 {
		f.acks.Add(1)
		go func() {
			defer f.acks.Done()
			for _, sid := range delivered {
				if arg, ok := ackFn(sid); ok {
					onAck(arg)
				}
			}
		}()
	}
	f.mu.Unlock()
	return len(delivered)
}

// SocketInfo describes a connected socket: its id, handshake and data
// (Rooms is left for the adapter to fill).
func (f *FakeNamespace) SocketInfo(sid adapter.SocketID) (adapter.SocketInfo, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sockets[sid]
	if !ok {
		return adapter.SocketInfo{}, false
	}
	return adapter.SocketInfo{ID: sid, Handshake: s.handshake, Data: s.data}, true
}

// DisconnectSockets records the call, forgets the listed sockets and, when
// an adapter is attached, removes them from it with DelAll.
func (f *FakeNamespace) DisconnectSockets(sids []adapter.SocketID, close bool) {
	f.mu.Lock()
	if len(f.disconnects) < MaxRecords {
		f.disconnects = append(f.disconnects, Disconnection{Sids: slices.Clone(sids), Close: close})
	} else {
		f.overflow++
	}
	gone := make([]adapter.SocketID, 0, len(sids))
	for _, sid := range sids {
		if _, ok := f.sockets[sid]; ok {
			delete(f.sockets, sid)
			gone = append(gone, sid)
		}
	}
	a := f.attached
	f.mu.Unlock()
	if a != nil {
		for _, sid := range gone {
			a.DelAll(sid)
		}
	}
}

// ServerSideEmit records the call, then runs the OnServerSideEmit handler
// if one is set.
func (f *FakeNamespace) ServerSideEmit(data []any, reply func(arg any)) {
	f.mu.Lock()
	if len(f.emits) < MaxRecords {
		f.emits = append(f.emits, ServerSideEmitCall{Data: data, WithReply: reply != nil})
	} else {
		f.overflow++
	}
	fn := f.emitFn
	f.mu.Unlock()
	if fn != nil {
		fn(data, reply)
	}
}

// RoomEvent records the call.
func (f *FakeNamespace) RoomEvent(kind adapter.RoomEventKind, room adapter.Room, sid adapter.SocketID) {
	f.mu.Lock()
	if len(f.roomEvents) < MaxRecords {
		f.roomEvents = append(f.roomEvents, RoomEvent{Kind: kind, Room: room, Sid: sid})
	} else {
		f.overflow++
	}
	f.mu.Unlock()
}

// Delivered returns a copy of the recorded Deliver calls, oldest first.
func (f *FakeNamespace) Delivered() []Delivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.deliveries)
}

// DeliveredEvent returns the recorded Deliver calls whose event name is
// event.
func (f *FakeNamespace) DeliveredEvent(event string) []Delivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Delivery
	for _, d := range f.deliveries {
		if d.Event() == event {
			out = append(out, d)
		}
	}
	return out
}

// ReceivedBy returns, for each socket, how many recorded deliveries of
// event reached it.
func (f *FakeNamespace) ReceivedBy(event string) map[adapter.SocketID]int {
	out := make(map[adapter.SocketID]int)
	for _, d := range f.DeliveredEvent(event) {
		for _, sid := range d.Sids {
			out[sid]++
		}
	}
	return out
}

// RoomEvents returns a copy of the recorded room events, oldest first.
func (f *FakeNamespace) RoomEvents() []RoomEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.roomEvents)
}

// Disconnected returns a copy of the recorded DisconnectSockets calls.
func (f *FakeNamespace) Disconnected() []Disconnection {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.disconnects)
}

// ServerSideEmits returns a copy of the recorded ServerSideEmit calls.
func (f *FakeNamespace) ServerSideEmits() []ServerSideEmitCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.emits)
}

// Overflow returns the number of calls that were not recorded because a
// list held MaxRecords entries.
func (f *FakeNamespace) Overflow() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.overflow
}

// Reset clears every recorded list (not the sockets nor the handlers).
func (f *FakeNamespace) Reset() {
	f.mu.Lock()
	f.deliveries, f.roomEvents, f.disconnects, f.emits = nil, nil, nil, nil
	f.overflow = 0
	f.mu.Unlock()
}

// Wait waits for the goroutines answering acks to finish.
func (f *FakeNamespace) Wait() { f.acks.Wait() }

// WaitDelivered polls until at least n Deliver calls are recorded and
// returns them; it fails t when timeout passes first.
func (f *FakeNamespace) WaitDelivered(t testing.TB, n int, timeout time.Duration) []Delivery {
	t.Helper()
	var got []Delivery
	Eventually(t, timeout, func() bool {
		got = f.Delivered()
		return len(got) >= n
	}, "namespace %q: waiting for %d deliveries", f.name, n)
	return got
}

// Eventually polls cond, more and more slowly up to every 10ms, until it
// returns true; it fails t with the formatted message when timeout passes
// first. The message arguments are evaluated before polling starts.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	if !poll(timeout, cond) {
		t.Fatalf("timed out after %v: "+format, append([]any{timeout}, args...)...)
	}
}

// poll calls cond, more and more slowly up to every 10ms, until it returns
// true (poll returns true) or timeout passes (poll returns false).
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	pause := 100 * time.Microsecond
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
		if pause < 10*time.Millisecond {
			pause *= 2
		}
	}
	return true
}

// eventOf returns Data[0] of pkt when it is a string.
func eventOf(pkt *adapter.Packet) string {
	if pkt == nil || len(pkt.Data) == 0 {
		return ""
	}
	s, _ := pkt.Data[0].(string)
	return s
}

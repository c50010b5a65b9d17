package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unique"

	"github.com/sio-go/sio/adapter"
	"github.com/sio-go/sio/node/parser"
)

// maxPendingAcks bounds the acknowledgements one socket may owe.
const maxPendingAcks = 4096

// AckFunc answers a client's event that asked for an acknowledgement. It
// sends the ACK at most once; a second call returns ErrAckAlreadySent.
type AckFunc func(args ...any) error

// EventHandler handles one incoming event. ack is nil when the client
// asked for no acknowledgement. Handlers run on the connection's reading
// goroutine, one at a time: a handler that blocks delays that client's
// next packets (not other clients); do long work in a goroutine.
type EventHandler func(args Args, ack AckFunc)

// AnyHandler sees every incoming (OnAny) or outgoing (OnAnyOutgoing) event.
type AnyHandler func(event string, args Args)

// PacketMiddleware runs for every incoming event before its handlers, in
// registration order. next(err) stops the event and raises the socket's
// error handlers with err.
type PacketMiddleware func(event string, args Args, next func(error))

// Socket is one client's connection to one namespace. All methods are
// goroutine-safe.
type Socket struct {
	// Every connected socket holds one, idle or not: it is kept to 96
	// bytes (TestIdleStructSizes), and what most sockets never use lives
	// in socketExtras, allocated on first use.
	id     adapter.SocketID
	ns     *Namespace
	client *client
	auth   string        // CONNECT payload, "" for none ({}); the rest of the handshake is built on demand
	state  atomic.Uint32 // stConnected, stClosing, stReady

	mu sync.Mutex
	// handlers are the On handlers in registration order. The slice is
	// copy-on-write past its length: readers take it under mu and iterate
	// without it, so Off builds a new one.
	handlers []eventHandler
	// ext is set once, under mu, and never cleared; its fields are
	// guarded by mu. The atomic lets hot paths skip mu when it is nil.
	ext atomic.Pointer[socketExtras]
}

// eventHandler is one On registration. The event name is interned: 16
// bytes a registration instead of 24, and every socket registering the
// same events shares one copy of each name.
type eventHandler struct {
	event unique.Handle[string]
	fn    EventHandler
}

// socketExtras is the part of a Socket allocated on first use.
type socketExtras struct {
	// hooks are the OnAny, OnAnyOutgoing, Use, OnDisconnecting,
	// OnDisconnect and OnError registrations in registration order,
	// copy-on-write like Socket.handlers.
	hooks []hook
	acks  map[uint64]func(Args, error)
	data  any
	// held are the socket's events that arrived before its connection
	// handlers ran (see hold), heldBytes their size; markReady
	// dispatches them.
	held      []parser.Packet
	heldBytes int
	// closedEarly is the reason of an onClose that ran before the
	// connection handlers had returned, and closeHooks how many hooks it
	// ran: markReady runs the disconnect hooks registered after those.
	closedEarly string
	closeHooks  int
}

// hookKind tells what a hook is; its fn has the matching type.
type hookKind uint8

const (
	hookAnyIn         hookKind = iota // AnyHandler
	hookAnyOut                        // AnyHandler
	hookMiddleware                    // PacketMiddleware
	hookDisconnecting                 // func(string)
	hookDisconnect                    // func(string)
	hookError                         // func(error)
)

// hook is one registration of a socketExtras.
type hook struct {
	kind hookKind
	fn   any
}

// tightGrowth is the length up to which handler lists grow one element at
// a time: a socket's handlers are registered once, at connection, and
// doubling would leave up to half of the list unused for its lifetime.
const tightGrowth = 8

// appendTight appends v to list, growing a small full list by one element.
func appendTight[T any](list []T, v T) []T {
	if len(list) < cap(list) || len(list) >= tightGrowth {
		return append(list, v)
	}
	grown := make([]T, len(list)+1)
	copy(grown, list)
	grown[len(list)] = v
	return grown
}

// emptyAuth is the handshake auth of a client that sent none.
const emptyAuth = "{}"

func newSocket(ns *Namespace, c *client, auth json.RawMessage) *Socket {
	s := &Socket{
		id:     adapter.SocketID(newID()),
		ns:     ns,
		client: c,
	}
	if string(auth) != emptyAuth {
		s.auth = string(auth)
	}
	return s
}

// extrasLocked returns the socket's extras, allocating them. s.mu must be held.
func (s *Socket) extrasLocked() *socketExtras {
	e := s.ext.Load()
	if e == nil {
		e = new(socketExtras)
		s.ext.Store(e)
	}
	return e
}

// addHook registers a hook.
func (s *Socket) addHook(kind hookKind, fn any) {
	s.mu.Lock()
	e := s.extrasLocked()
	e.hooks = appendTight(e.hooks, hook{kind, fn})
	s.mu.Unlock()
}

// removeHooks removes every hook of kind.
func (s *Socket) removeHooks(kind hookKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.ext.Load()
	if e == nil {
		return
	}
	var kept []hook
	ran := e.closeHooks
	for i, h := range e.hooks {
		if h.kind != kind {
			kept = appendTight(kept, h)
		} else if i < e.closeHooks {
			ran-- // keep closeHooks pointing past the hooks onClose ran
		}
	}
	e.hooks = kept
	e.closeHooks = ran
}

// hooks returns the current hooks (nil when none); the caller iterates
// the snapshot without s.mu.
func (s *Socket) hooks() []hook {
	e := s.ext.Load()
	if e == nil {
		return nil
	}
	s.mu.Lock()
	hs := e.hooks
	s.mu.Unlock()
	return hs
}

// handshakeAuth returns the CONNECT payload as the client sent it, {}
// when none; each call returns a fresh copy.
func (s *Socket) handshakeAuth() json.RawMessage {
	if s.auth == "" {
		return json.RawMessage(emptyAuth)
	}
	return json.RawMessage(s.auth)
}

func buildHandshake(c *client, auth json.RawMessage) adapter.Handshake {
	req := c.conn.Request()
	h := adapter.Handshake{Headers: make(map[string]string, len(req.Header)), Query: make(map[string]string, len(req.Query)), Auth: auth}
	for k, v := range req.Header {
		h.Headers[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	for k, v := range req.Query {
		if len(v) > 0 {
			h.Query[k] = v[0]
		}
	}
	t := req.Time
	if t.IsZero() {
		t = time.Now()
	}
	h.Time = t.Format("Mon Jan 02 2006 15:04:05 GMT-0700 (MST)")
	h.Issued = t.UnixMilli()
	h.Address = req.RemoteAddr
	if host, _, err := net.SplitHostPort(req.RemoteAddr); err == nil {
		h.Address = host
	}
	h.XDomain = req.Header.Get("Origin") != ""
	h.Secure = req.Secure
	h.URL = req.URL
	return h
}

// ID returns the socket's id (also the name of its own room).
func (s *Socket) ID() string { return string(s.id) }

// Namespace returns the socket's namespace.
func (s *Socket) Namespace() *Namespace { return s.ns }

// Handshake returns how the socket connected. It is built from the
// Engine.IO session's request details on each call (sockets keep no copy,
// which matters at tens of thousands of idle connections).
func (s *Socket) Handshake() adapter.Handshake { return buildHandshake(s.client, s.handshakeAuth()) }

// Transport returns the current transport: "polling" or "websocket".
func (s *Socket) Transport() string { return s.client.conn.Transport() }

// Connected reports whether the socket is connected.
func (s *Socket) Connected() bool { return s.isConnected() }

func (s *Socket) isConnected() bool { return s.state.Load()&(stConnected|stClosing) == stConnected }

// The bits of Socket.state.
const (
	// stConnected: accepted, until onClose ends.
	stConnected uint32 = 1 << iota
	// stClosing: onClose has begun (set once).
	stClosing
	// stReady: the connection handlers have run (or never will): the
	// socket's packets are dispatched, not held (see hold).
	stReady
)

// The bounds of the events held for a socket whose connection handlers
// have not run yet: a client past them is closed. They are far above what
// a client sends in the moments the handlers take (socket.io-client
// flushes its whole send buffer on connect), and bound the memory.
const (
	maxHeldEvents = 1 << 16
	maxHeldBytes  = 4 << 20
)

// hold queues an event for this socket while the socket's connection
// handlers have not run, and reports whether it did; full reports a
// client past the bounds. An accept that runs on another goroutine (a
// middleware called next from one) sends CONNECT before it runs the
// handlers, and the client may emit at once: its events wait here, as in
// Node, where the handlers run before any later packet is read, rather
// than reach a socket with no handlers yet. The connection's goroutine
// does not wait: acks, DISCONNECT and other namespaces' packets go on,
// so a handler may await the client. After an inline accept the socket
// is ready before its next packet.
func (s *Socket) hold(pkt *parser.Packet) (held, full bool) {
	if s.state.Load()&stReady != 0 {
		return false, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state.Load()&stReady != 0 {
		return false, false
	}
	ext := s.extrasLocked()
	n := len(pkt.Data)
	for _, a := range pkt.Attachments {
		n += len(a)
	}
	if len(ext.held) >= maxHeldEvents || len(ext.held) > 0 && ext.heldBytes+n > maxHeldBytes {
		return true, true
	}
	ext.held = append(ext.held, *pkt) // its Data and attachments are its own
	ext.heldBytes += n
	return true, false
}

// markReady records that the connection handlers have run (or never
// will: the socket closed first) and dispatches, in order, the events
// held meanwhile, including those that arrive while it does.
func (s *Socket) markReady() {
	for {
		s.mu.Lock()
		var batch []parser.Packet
		if e := s.ext.Load(); e != nil && len(e.held) > 0 {
			batch, e.held, e.heldBytes = e.held, nil, 0
		}
		if batch == nil {
			s.state.Or(stReady)
			var (
				reason string
				late   []hook
			)
			if e := s.ext.Load(); e != nil && e.closedEarly != "" {
				reason, e.closedEarly = e.closedEarly, ""
				if e.closeHooks < len(e.hooks) {
					late = e.hooks[e.closeHooks:]
				}
			}
			s.mu.Unlock()
			// Hooks the handlers registered on a socket that had already
			// closed (the client left at once): they run now, after the
			// handlers, as in Node.
			if reason != "" {
				runHooks(late, hookDisconnecting, reason)
				// Read again: an OnDisconnecting hook may have registered
				// an OnDisconnect.
				runHooks(s.hooksSinceClose(), hookDisconnect, reason)
			}
			return
		}
		s.mu.Unlock()
		for i := range batch {
			s.client.dispatch(s, &batch[i])
		}
	}
}

// isClosing reports whether onClose has begun.
func (s *Socket) isClosing() bool { return s.state.Load()&stClosing != 0 }

// beginClose sets stClosing on a connected socket; only the first call
// for a connected socket returns true.
func (s *Socket) beginClose() bool {
	for {
		st := s.state.Load()
		if st&stConnected == 0 || st&stClosing != 0 {
			return false
		}
		if s.state.CompareAndSwap(st, st|stClosing) {
			return true
		}
	}
}

// Data returns the application's data for this socket (shared with other
// nodes through FetchSockets, so keep it JSON-serialisable).
func (s *Socket) Data() any {
	e := s.ext.Load()
	if e == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return e.data
}

// SetData sets the application's data for this socket.
func (s *Socket) SetData(v any) {
	if v == nil && s.ext.Load() == nil {
		return // already nil: no need to allocate the extras
	}
	s.mu.Lock()
	s.extrasLocked().data = v
	s.mu.Unlock()
}

// On registers a handler for event.
func (s *Socket) On(event string, h EventHandler) {
	s.mu.Lock()
	s.handlers = appendTight(s.handlers, eventHandler{unique.Make(event), h})
	s.mu.Unlock()
}

// Off removes every handler of event.
func (s *Socket) Off(event string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var kept []eventHandler
	for _, h := range s.handlers {
		if h.event.Value() != event {
			kept = appendTight(kept, h)
		}
	}
	s.handlers = kept
}

// OnAny registers a catch-all handler for incoming events, run before the
// event's own handlers.
func (s *Socket) OnAny(h AnyHandler) { s.addHook(hookAnyIn, h) }

// OffAny removes the catch-all handlers for incoming events.
func (s *Socket) OffAny() { s.removeHooks(hookAnyIn) }

// OnAnyOutgoing registers a catch-all handler for outgoing events,
// broadcasts included. It must not block.
func (s *Socket) OnAnyOutgoing(h AnyHandler) { s.addHook(hookAnyOut, h) }

// OffAnyOutgoing removes the catch-all handlers for outgoing events.
func (s *Socket) OffAnyOutgoing() { s.removeHooks(hookAnyOut) }

// Use adds a per-packet middleware.
func (s *Socket) Use(mw PacketMiddleware) { s.addHook(hookMiddleware, mw) }

// OnDisconnecting registers fn, called when the socket is about to
// disconnect; its rooms are still populated.
func (s *Socket) OnDisconnecting(fn func(reason string)) { s.addHook(hookDisconnecting, fn) }

// OnDisconnect registers fn, called once the socket has disconnected, with
// socket.io's reason ("client namespace disconnect", "transport close", ...).
// Registered from a connection handler on a socket whose client already
// left (after an asynchronous middleware), fn runs once the connection
// handlers have returned, as if they had run first as in Node: a handler
// must not wait for its own socket's disconnect hooks (check Connected).
func (s *Socket) OnDisconnect(fn func(reason string)) { s.addHook(hookDisconnect, fn) }

// OnError registers fn for errors raised by per-packet middlewares.
func (s *Socket) OnError(fn func(err error)) { s.addHook(hookError, fn) }

// Emit sends event to this client.
func (s *Socket) Emit(event string, args ...any) error {
	return s.emit(event, args, false)
}

// Volatile returns an emitter whose packets may be dropped when the client
// is not ready to receive them.
func (s *Socket) Volatile() *SocketEmitter { return &SocketEmitter{s: s, volatile: true} }

// Timeout returns an emitter whose EmitWithAck fails with ErrTimeout after d.
func (s *Socket) Timeout(d time.Duration) *SocketEmitter { return &SocketEmitter{s: s, timeout: d} }

// EmitWithAck sends event to this client and waits for its
// acknowledgement until ctx ends (ErrTimeout) or the socket disconnects
// (ErrDisconnected).
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	return (&SocketEmitter{s: s}).EmitWithAck(ctx, event, args...)
}

// SocketEmitter is a socket emit with flags (volatile, timeout).
type SocketEmitter struct {
	s        *Socket
	volatile bool
	timeout  time.Duration
}

// Emit sends event to the socket's client.
func (e *SocketEmitter) Emit(event string, args ...any) error {
	return e.s.emit(event, args, e.volatile)
}

// EmitWithAck sends event and waits for the client's acknowledgement.
func (e *SocketEmitter) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	s := e.s
	if parser.IsReservedEvent(event) {
		return nil, reservedErr(event)
	}
	if !s.isConnected() {
		return nil, ErrDisconnected
	}
	if e.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.timeout)
		defer cancel()
	}
	id := s.ns.ids.Add(1) - 1
	type result struct {
		args Args
		err  error
	}
	ch := make(chan result, 1)
	if err := s.addAck(id, func(a Args, err error) { ch <- result{a, err} }); err != nil {
		return nil, err
	}
	values := append([]any{event}, args...)
	if err := s.sendEvent(values, id, true, e.volatile); err != nil {
		s.dropAck(id)
		return nil, err
	}
	s.notifyOutgoing(event, args)
	select {
	case r := <-ch:
		return r.args, r.err
	case <-ctx.Done():
		s.dropAck(id)
		s.ns.srv.metrics.ackTimeouts.Inc()
		return nil, ErrTimeout
	}
}

// addAck registers fn as the answer to ack id. It fails with
// ErrDisconnected once the socket is disconnecting: onClose sets closing
// before it takes s.mu to fail the pending acks, so an entry added after
// that would never be answered (checked under s.mu, not before it). It
// fails with ErrTooManyAcks past maxPendingAcks.
func (s *Socket) addAck(id uint64, fn func(Args, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isClosing() {
		return ErrDisconnected
	}
	ext := s.extrasLocked()
	if ext.acks == nil {
		ext.acks = make(map[uint64]func(Args, error))
	}
	if len(ext.acks) >= maxPendingAcks {
		return ErrTooManyAcks
	}
	ext.acks[id] = fn
	return nil
}

func (s *Socket) dropAck(id uint64) {
	s.mu.Lock()
	if e := s.ext.Load(); e != nil {
		delete(e.acks, id)
	}
	s.mu.Unlock()
}

func (s *Socket) emit(event string, args []any, volatile bool) error {
	if parser.IsReservedEvent(event) {
		return reservedErr(event)
	}
	if !s.isConnected() {
		return ErrDisconnected
	}
	values := append([]any{event}, args...)
	if err := s.sendEvent(values, 0, false, volatile); err != nil {
		return err
	}
	s.notifyOutgoing(event, args)
	return nil
}

func (s *Socket) sendEvent(values []any, id uint64, hasID, volatile bool) error {
	return s.sendValues(parser.Event, values, id, hasID, volatile)
}

// sendValues encodes and queues an EVENT or ACK packet carrying values
// (BINARY_EVENT or BINARY_ACK when they hold binary).
func (s *Socket) sendValues(t parser.Type, values []any, id uint64, hasID, volatile bool) error {
	// One spare byte for the Engine.IO packet type: the buffer becomes
	// the message as it is.
	b, atts, err := parser.EncodePacket(&parser.Packet{Type: t, Nsp: s.ns.name, ID: id, HasID: hasID}, values, 1)
	if err != nil {
		return err
	}
	if len(atts) > 0 {
		t += parser.BinaryEvent - parser.Event // the BINARY_ twin of EVENT or ACK
	}
	s.ns.srv.metrics.packetOut(t, 1)
	return s.client.sendEncoded(b, atts, volatile)
}

func (s *Socket) notifyOutgoing(event string, args []any) {
	for _, h := range s.hooks() {
		if h.kind == hookAnyOut {
			h.fn.(AnyHandler)(event, Args(args))
		}
	}
}

// Join adds the socket to rooms (on this node's adapter).
func (s *Socket) Join(rooms ...string) {
	if !s.isConnected() || len(rooms) == 0 {
		return
	}
	rs := make([]adapter.Room, len(rooms))
	for i, r := range rooms {
		rs[i] = adapter.Room(r)
	}
	s.ns.adapter.AddAll(s.id, rs...)
	if s.state.Load()&stConnected == 0 {
		// The socket disconnected between the check above and the join:
		// onClose cleared stConnected after its last DelAll, which may
		// have come before the join brought the socket back. A join that
		// lands earlier, while onClose runs (its OnDisconnecting hooks
		// still see the rooms), is removed by that last DelAll.
		s.ns.adapter.DelAll(s.id)
	}
}

// Leave removes the socket from room.
func (s *Socket) Leave(room string) {
	s.ns.adapter.Del(s.id, adapter.Room(room))
}

// Rooms returns the rooms the socket is in, its own id included.
func (s *Socket) Rooms() []string {
	rs := s.ns.adapter.SocketRooms(s.id)
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

// Broadcast returns an operator reaching every socket of the namespace
// except this one.
func (s *Socket) Broadcast() *BroadcastOperator {
	return s.ns.op().Except(string(s.id))
}

// To returns an operator reaching rooms, except this socket.
func (s *Socket) To(rooms ...string) *BroadcastOperator {
	return s.Broadcast().To(rooms...)
}

// In is To.
func (s *Socket) In(rooms ...string) *BroadcastOperator { return s.To(rooms...) }

// Except returns an operator reaching every socket but those in rooms and
// this one.
func (s *Socket) Except(rooms ...string) *BroadcastOperator {
	return s.Broadcast().Except(rooms...)
}

// Disconnect disconnects the socket from its namespace (the client gets a
// DISCONNECT packet and reason "server namespace disconnect"). With close,
// the whole underlying connection is closed too.
func (s *Socket) Disconnect(close bool) {
	if !s.isConnected() {
		return
	}
	if close {
		s.client.disconnectAll()
		return
	}
	_ = s.client.sendPacket(&parser.Packet{Type: parser.Disconnect, Nsp: s.ns.name})
	s.onClose(ReasonServerNamespaceDisconnect)
}

func (s *Socket) onClose(reason string) {
	if !s.beginClose() {
		return
	}
	// first: the hooks registered so far; closeHooks counts them, and
	// removeHooks (OffAny) keeps it pointing past them from now on.
	var first []hook
	s.mu.Lock()
	if e := s.ext.Load(); e != nil {
		first = e.hooks
		e.closeHooks = len(first)
	}
	s.mu.Unlock()
	runHooks(first, hookDisconnecting, reason)
	s.ns.adapter.DelAll(s.id)
	s.ns.remove(s)
	s.client.remove(s)
	s.state.And(^stConnected)
	// A Join from another goroutine may have added rooms since the DelAll
	// above (see Join): remove them; a later one sees stConnected cleared.
	s.ns.adapter.DelAll(s.id)
	var acks map[uint64]func(Args, error)
	var hooks []hook
	s.mu.Lock()
	if e := s.ext.Load(); e != nil {
		acks, e.acks = e.acks, nil
		hooks = e.hooks
		e.held, e.heldBytes = nil, 0 // would be dropped: free them now
	}
	// Hooks registered since the first snapshot (while its
	// OnDisconnecting hooks ran, or from another goroutine): their
	// OnDisconnecting ones have not run yet.
	var since []hook
	if e := s.ext.Load(); e != nil && len(hooks) > e.closeHooks {
		since = hooks[e.closeHooks:]
	}
	early := s.state.Load()&stReady == 0
	if early {
		// The connection handlers have not returned (an async accept's
		// may not even have started): those hooks, and any registered
		// later, run in markReady once they have; here only the first
		// snapshot's.
		s.extrasLocked().closedEarly = reason
		since = nil
	}
	s.mu.Unlock()
	for _, fn := range acks {
		fn(nil, ErrDisconnected)
	}
	s.ns.srv.metrics.disconnects.WithLabelValues(reason).Inc()
	runHooks(since, hookDisconnecting, reason)
	if early {
		hooks = first
	} else {
		// Read after every OnDisconnecting hook ran, as Node's emit of
		// "disconnect" reads its listeners: one an OnDisconnecting hook
		// registered runs too.
		hooks = s.hooks()
	}
	runHooks(hooks, hookDisconnect, reason)
}

// hooksSinceClose returns the hooks registered since onClose took its
// first snapshot (see closeHooks).
func (s *Socket) hooksSinceClose() []hook {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.ext.Load(); e != nil && e.closeHooks < len(e.hooks) {
		return e.hooks[e.closeHooks:]
	}
	return nil
}

// runHooks calls the hooks of kind (func(string) hooks) with reason.
func runHooks(hooks []hook, kind hookKind, reason string) {
	for _, h := range hooks {
		if h.kind == kind {
			h.fn.(func(string))(reason)
		}
	}
}

func (s *Socket) onEvent(pkt *parser.Packet) {
	var (
		ack AckFunc
		dst []any
	)
	if pkt.HasID {
		// The ack's state and the room for the arguments of a typical
		// event come in one allocation.
		a := &ackState{s: s, id: pkt.ID}
		ack, dst = a.ack, a.args[:0]
	}
	name, values, err := parser.DecodeEvent(pkt.Data, pkt.Attachments, dst)
	if err != nil {
		s.client.conn.Close(ReasonParseError)
		return
	}
	event := s.eventName(name)
	args := Args(values)
	hooks := s.hooks()
	for _, h := range hooks {
		if h.kind == hookAnyIn {
			h.fn.(AnyHandler)(event, args)
		}
	}
	s.runPacketMiddlewares(hooks, 0, event, args, ack)
}

// runPacketMiddlewares runs the middlewares among hooks[i:], then the
// event's handlers.
func (s *Socket) runPacketMiddlewares(hooks []hook, i int, event string, args Args, ack AckFunc) {
	for i < len(hooks) && hooks[i].kind != hookMiddleware {
		i++
	}
	if i == len(hooks) {
		s.dispatch(event, args, ack)
		return
	}
	var once sync.Once
	hooks[i].fn.(PacketMiddleware)(event, args, func(err error) {
		once.Do(func() {
			if err != nil {
				s.raiseError(err)
				return
			}
			s.runPacketMiddlewares(hooks, i+1, event, args, ack)
		})
	})
}

func (s *Socket) dispatch(event string, args Args, ack AckFunc) {
	if !s.isConnected() {
		return
	}
	s.mu.Lock()
	hs := s.handlers
	s.mu.Unlock()
	for _, h := range hs {
		if h.event.Value() == event {
			h.fn(args, ack)
		}
	}
}

func (s *Socket) raiseError(err error) {
	for _, h := range s.hooks() {
		if h.kind == hookError {
			h.fn.(func(error))(err)
		}
	}
}

// ackState is an acknowledgement owed to the client, whose ack method is
// the event's AckFunc.
type ackState struct {
	s    *Socket
	id   uint64
	sent atomic.Bool
	// args is room for the event's arguments (a handler keeping them
	// keeps the ack's few bytes too): most events carry one or two.
	args [2]any
}

func (a *ackState) ack(args ...any) error {
	if !a.sent.CompareAndSwap(false, true) {
		return ErrAckAlreadySent
	}
	return a.s.sendValues(parser.Ack, args, a.id, true, false)
}

func (s *Socket) onAck(pkt *parser.Packet) {
	if !pkt.HasID {
		return
	}
	var fn func(Args, error)
	if e := s.ext.Load(); e != nil {
		s.mu.Lock()
		fn = e.acks[pkt.ID]
		delete(e.acks, pkt.ID)
		s.mu.Unlock()
	}
	if fn == nil {
		return // unknown or late ack: ignored, as socket.io does
	}
	values, err := parser.DecodeData(pkt.Data, pkt.Attachments)
	if err != nil {
		s.client.conn.Close(ReasonParseError)
		return
	}
	fn(Args(values), nil)
}

// registerBroadcastAck registers the ack of a broadcast packet: onAck gets
// the client's first argument. The entry is dropped after timeout.
//
// It returns false, registering nothing, when the socket is disconnecting:
// its pending acks have been or are being failed, so the broadcast must
// not count it among the clients that will answer.
func (s *Socket) registerBroadcastAck(id uint64, timeout time.Duration, onAck adapter.AckFunc) bool {
	err := s.addAck(id, func(a Args, err error) {
		if err != nil {
			return
		}
		var first any
		if len(a) > 0 {
			first = a[0]
		}
		onAck(first)
	})
	switch {
	case errors.Is(err, ErrDisconnected):
		return false
	case err != nil:
		// The client answers none of its acks: the packet still goes out,
		// but its answer is not awaited (the broadcast times out for it).
		return true
	}
	if timeout > 0 {
		time.AfterFunc(timeout, func() { s.dropAck(id) })
	}
	return true
}

// eventName returns the event name whose first array element is name (a
// JSON string or number, as parser.DecodeEvent checks). A plain string
// naming one of the socket's handlers is returned as the handler's
// interned name, without allocating.
func (s *Socket) eventName(name json.RawMessage) string {
	n := len(name)
	if n >= 2 && name[0] == '"' && name[n-1] == '"' && bytes.IndexByte(name, '\\') < 0 {
		text := name[1 : n-1]
		s.mu.Lock()
		hs := s.handlers
		s.mu.Unlock()
		for _, h := range hs {
			if ev := h.event.Value(); ev == string(text) {
				return ev
			}
		}
		return string(text)
	}
	var str string
	if json.Unmarshal(name, &str) == nil {
		return str
	}
	return string(name) // a number: its JSON text
}

package node

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sio-go/sio/adapter"
	"github.com/sio-go/sio/node/parser"
)

// Middleware runs for every connection to a namespace before it is
// accepted, in registration order. It must call next exactly once, from any
// goroutine: next(nil) continues, next(err) rejects the connection with
// CONNECT_ERROR {message: err.Error()} (plus data for a *ConnectError).
// When next is called from another goroutine (after an asynchronous
// check), the connection handlers run there; the events the client
// sends once connected are held until they have run, so none reaches a
// socket whose handlers are not registered yet.
type Middleware func(s *Socket, next func(error))

// ServerSideHandler handles an event emitted by another node with
// ServerSideEmit. ack is nil unless the sender waits for an answer; then it
// must be called once.
type ServerSideHandler func(args Args, ack func(arg any))

// Namespace is a communication channel multiplexed over connections, with
// its own sockets, middlewares, rooms (its adapter) and handlers.
// All methods are goroutine-safe.
type Namespace struct {
	srv     *Server
	name    string
	adapter adapter.Adapter
	ids     atomic.Uint64 // ack ids, as socket.io's nsp._ids

	mu          sync.RWMutex
	sockets     map[adapter.SocketID]*Socket
	middlewares []Middleware
	onConn      []func(*Socket)
	onRoom      []func(kind adapter.RoomEventKind, room adapter.Room, sid adapter.SocketID)
	sse         map[string][]ServerSideHandler
	children    *ParentNamespace // the parent that created this one, if any
}

// hooks is the adapter.Namespace view of a Namespace: the callbacks its
// adapter uses to reach local sockets. It is separate so that Namespace's
// own API keeps socket.io's method names.
type hooks struct{ ns *Namespace }

var _ adapter.Namespace = hooks{}

func (h hooks) Name() string { return h.ns.name }
func (h hooks) Deliver(pkt *adapter.Packet, sids []adapter.SocketID, flags adapter.BroadcastFlags, onAck adapter.AckFunc) int {
	return h.ns.deliver(pkt, sids, flags, onAck)
}
func (h hooks) SocketInfo(sid adapter.SocketID) (adapter.SocketInfo, bool) {
	return h.ns.socketInfo(sid)
}
func (h hooks) DisconnectSockets(sids []adapter.SocketID, close bool) {
	h.ns.disconnectLocal(sids, close)
}
func (h hooks) ServerSideEmit(data []any, reply func(arg any)) { h.ns.serverSideEmitLocal(data, reply) }
func (h hooks) RoomEvent(kind adapter.RoomEventKind, room adapter.Room, sid adapter.SocketID) {
	h.ns.roomEvent(kind, room, sid)
}

func newNamespace(s *Server, name string) (*Namespace, error) {
	ns := &Namespace{
		srv:     s,
		name:    name,
		sockets: make(map[adapter.SocketID]*Socket),
		sse:     make(map[string][]ServerSideHandler),
	}
	a, err := s.cfg.Adapter(hooks{ns})
	if err != nil {
		return nil, err
	}
	ns.adapter = a
	if err := a.Init(context.Background()); err != nil {
		return nil, err
	}
	return ns, nil
}

// Name returns the namespace name, e.g. "/".
func (ns *Namespace) Name() string { return ns.name }

// Adapter returns the namespace's adapter (rooms: Adapter().Rooms()).
func (ns *Namespace) Adapter() adapter.Adapter { return ns.adapter }

// Server returns the server the namespace belongs to.
func (ns *Namespace) Server() *Server { return ns.srv }

// Use adds a connection middleware.
func (ns *Namespace) Use(mw Middleware) {
	ns.mu.Lock()
	ns.middlewares = append(ns.middlewares, mw)
	ns.mu.Unlock()
}

// OnConnection registers fn, called for every accepted socket after its
// CONNECT reply was queued (so anything fn emits arrives after it).
func (ns *Namespace) OnConnection(fn func(*Socket)) {
	ns.mu.Lock()
	ns.onConn = append(ns.onConn, fn)
	ns.mu.Unlock()
}

// OnRoomEvent registers fn for the adapter's create-room, delete-room,
// join-room and leave-room events. fn must not block.
func (ns *Namespace) OnRoomEvent(fn func(kind adapter.RoomEventKind, room adapter.Room, sid adapter.SocketID)) {
	ns.mu.Lock()
	ns.onRoom = append(ns.onRoom, fn)
	ns.mu.Unlock()
}

// OnServerSideEmit registers a handler for event emitted by other nodes.
func (ns *Namespace) OnServerSideEmit(event string, h ServerSideHandler) {
	ns.mu.Lock()
	ns.sse[event] = append(ns.sse[event], h)
	ns.mu.Unlock()
}

// Socket returns the local socket with id, or nil.
func (ns *Namespace) Socket(id string) *Socket {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	return ns.sockets[adapter.SocketID(id)]
}

// Sockets returns the connected local sockets.
func (ns *Namespace) Sockets() []*Socket {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	out := make([]*Socket, 0, len(ns.sockets))
	for _, s := range ns.sockets {
		out = append(out, s)
	}
	return out
}

// SocketCount returns the number of connected local sockets.
func (ns *Namespace) SocketCount() int {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	return len(ns.sockets)
}

func (ns *Namespace) op() *BroadcastOperator { return &BroadcastOperator{ns: ns} }

// To selects rooms for a broadcast (several rooms: their union).
func (ns *Namespace) To(rooms ...string) *BroadcastOperator { return ns.op().To(rooms...) }

// In is To.
func (ns *Namespace) In(rooms ...string) *BroadcastOperator { return ns.op().To(rooms...) }

// Except excludes the sockets of rooms from a broadcast.
func (ns *Namespace) Except(rooms ...string) *BroadcastOperator { return ns.op().Except(rooms...) }

// Local restricts the operation to this node.
func (ns *Namespace) Local() *BroadcastOperator { return ns.op().Local() }

// Volatile lets the broadcast be dropped for sockets not ready to write.
func (ns *Namespace) Volatile() *BroadcastOperator { return ns.op().Volatile() }

// Compress sets the compress flag.
func (ns *Namespace) Compress(c bool) *BroadcastOperator { return ns.op().Compress(c) }

// Timeout sets the acknowledgement timeout of EmitWithAck.
func (ns *Namespace) Timeout(d time.Duration) *BroadcastOperator { return ns.op().Timeout(d) }

// Emit broadcasts event to every socket of the namespace, cluster-wide.
func (ns *Namespace) Emit(event string, args ...any) error { return ns.op().Emit(event, args...) }

// EmitWithAck broadcasts and collects one answer per client.
func (ns *Namespace) EmitWithAck(ctx context.Context, event string, args ...any) ([]any, error) {
	return ns.op().EmitWithAck(ctx, event, args...)
}

// FetchSockets describes every socket of the namespace, cluster-wide.
func (ns *Namespace) FetchSockets(ctx context.Context) ([]*RemoteSocket, error) {
	return ns.op().FetchSockets(ctx)
}

// SocketsJoin makes every socket join rooms, cluster-wide.
func (ns *Namespace) SocketsJoin(ctx context.Context, rooms ...string) error {
	return ns.op().SocketsJoin(ctx, rooms...)
}

// SocketsLeave makes every socket leave rooms, cluster-wide.
func (ns *Namespace) SocketsLeave(ctx context.Context, rooms ...string) error {
	return ns.op().SocketsLeave(ctx, rooms...)
}

// DisconnectSockets disconnects every socket, cluster-wide.
func (ns *Namespace) DisconnectSockets(ctx context.Context, close bool) error {
	return ns.op().DisconnectSockets(ctx, close)
}

// ServerSideEmit sends event to this namespace on every other node.
func (ns *Namespace) ServerSideEmit(ctx context.Context, event string, args ...any) error {
	if isReservedServerSide(event) {
		return reservedErr(event)
	}
	return ns.adapter.ServerSideEmit(ctx, append([]any{event}, args...))
}

// ServerSideEmitWithAck sends event to every other node and returns one
// answer per node; on timeout, the answers that arrived and an error.
func (ns *Namespace) ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]any, error) {
	if isReservedServerSide(event) {
		return nil, reservedErr(event)
	}
	return ns.adapter.ServerSideEmitWithAck(ctx, append([]any{event}, args...))
}

func isReservedServerSide(ev string) bool {
	return ev == "connection" || ev == "connect" || ev == "new_namespace" || parser.IsReservedEvent(ev)
}

// add runs the middlewares for a new socket of client c and accepts or
// rejects it.
func (ns *Namespace) add(c *client, auth json.RawMessage) {
	s := newSocket(ns, c, auth)
	ns.mu.RLock()
	mws := ns.middlewares
	ns.mu.RUnlock()
	ns.runMiddlewares(s, mws, 0)
}

func (ns *Namespace) runMiddlewares(s *Socket, mws []Middleware, i int) {
	if i == len(mws) {
		ns.accept(s)
		return
	}
	var once sync.Once
	mws[i](s, func(err error) {
		once.Do(func() {
			if err != nil {
				ns.reject(s, err)
				return
			}
			ns.runMiddlewares(s, mws, i+1)
		})
	})
}

func (ns *Namespace) reject(s *Socket, err error) {
	payload := map[string]any{"message": err.Error()}
	var ce *ConnectError
	if errors.As(err, &ce) && ce.Data != nil {
		payload["data"] = ce.Data
	}
	data, mErr := json.Marshal(payload)
	if mErr != nil {
		data = []byte(`{"message":"connection rejected"}`)
	}
	ns.srv.metrics.connectErrors.Inc()
	_ = s.client.sendPacket(&parser.Packet{Type: parser.ConnectError, Nsp: ns.name, Data: data})
}

// connectFlushTimeout bounds how long accept waits for the CONNECT reply
// to be written before running the connection handlers; connectPacing is
// the pause after it, long enough for the client to read the reply alone
// (measured: 30µs suffices on loopback; Node's event-loop turn gives the
// same spacing). It costs once per connection, on that connection only.
const (
	connectFlushTimeout = 100 * time.Millisecond
	connectPacing       = 200 * time.Microsecond
)

func (ns *Namespace) accept(s *Socket) {
	if !s.client.register(s) {
		return
	}
	// The socket's events are held until the handlers below have run,
	// or the accept ended early (Socket.hold).
	defer s.markReady()
	ns.mu.Lock()
	ns.sockets[s.id] = s
	handlers := ns.onConn
	ns.mu.Unlock()
	ns.srv.metrics.sockets.WithLabelValues(ns.name).Inc()
	ns.adapter.AddAll(s.id, adapter.Room(s.id))
	s.state.Or(stConnected)
	// A middleware may call next from another goroutine, after the
	// connection closed: the client's OnClose then found the socket not
	// yet connected and left it. The socket is connected now, so its
	// onClose undoes the registration (once, whichever runs it).
	if reason, closed := s.client.closedReason(); closed {
		s.onClose(reason)
		return
	}
	data, _ := json.Marshal(map[string]string{"sid": string(s.id)})
	_ = s.client.sendPacket(&parser.Packet{Type: parser.Connect, Nsp: ns.name, Data: data})
	// Let the CONNECT reply leave on its own before the handlers' first
	// packets, as Node's write pacing does: clients that handle one frame
	// per read (the official protocol suite among them) rely on it.
	if s.client.conn.Flush(connectFlushTimeout) && len(handlers) > 0 {
		// A sleep, not a yield loop: yielding measured no gap at the
		// client (the reply and the next frame shared a read again).
		time.Sleep(connectPacing)
	}
	for _, h := range handlers {
		h(s)
	}
}

func (ns *Namespace) remove(s *Socket) {
	ns.mu.Lock()
	if ns.sockets[s.id] == s {
		delete(ns.sockets, s.id)
		ns.srv.metrics.sockets.WithLabelValues(ns.name).Dec()
	}
	ns.mu.Unlock()
}

// deliver implements adapter.Namespace.Deliver: the packet is encoded once and the
// same messages are queued to every recipient.
func (ns *Namespace) deliver(pkt *adapter.Packet, sids []adapter.SocketID, flags adapter.BroadcastFlags, onAck adapter.AckFunc) int {
	if len(sids) == 0 {
		return 0
	}
	data, atts, err := parser.EncodeData(pkt.Data)
	if err != nil {
		ns.srv.cfg.Logger.Error("encoding broadcast", "nsp", ns.name, "err", err)
		return 0
	}
	p := &parser.Packet{Type: parser.Event, Nsp: ns.name, Data: data, Attachments: atts}
	if len(atts) > 0 {
		p.Type = parser.BinaryEvent
	}
	var id uint64
	if onAck != nil {
		id = ns.ids.Add(1) - 1
		p.ID, p.HasID = id, true
	}
	msgs := encodeMessages(p)

	socks := make([]*Socket, 0, len(sids))
	ns.mu.RLock()
	for _, sid := range sids {
		if s := ns.sockets[sid]; s != nil {
			socks = append(socks, s)
		}
	}
	ns.mu.RUnlock()

	// A packet from another node may carry no event name at all.
	var (
		event string
		args  []any
	)
	if len(pkt.Data) > 0 {
		event, _ = pkt.Data[0].(string)
		args = pkt.Data[1:]
	}
	n := 0
	for _, s := range socks {
		if onAck != nil && !s.registerBroadcastAck(id, flags.Timeout, onAck) {
			continue // disconnecting: it will not answer
		}
		s.notifyOutgoing(event, args)
		if flags.Volatile {
			if !s.client.conn.TrySend(msgs...) {
				continue // counted by the engine's VolatileDropped hook
			}
		} else if s.client.conn.Send(msgs...) != nil {
			continue
		}
		n++
	}
	ns.srv.metrics.deliveries.Add(float64(n))
	ns.srv.metrics.packetOut(p.Type, n)
	return n
}

// socketInfo implements adapter.Namespace.SocketInfo.
func (ns *Namespace) socketInfo(sid adapter.SocketID) (adapter.SocketInfo, bool) {
	ns.mu.RLock()
	s := ns.sockets[sid]
	ns.mu.RUnlock()
	if s == nil {
		return adapter.SocketInfo{}, false
	}
	return adapter.SocketInfo{ID: sid, Handshake: s.Handshake(), Rooms: ns.adapter.SocketRooms(sid), Data: s.Data()}, true
}

// disconnectLocal implements adapter.Namespace.DisconnectSockets.
func (ns *Namespace) disconnectLocal(sids []adapter.SocketID, close bool) {
	for _, sid := range sids {
		ns.mu.RLock()
		s := ns.sockets[sid]
		ns.mu.RUnlock()
		if s != nil {
			s.Disconnect(close)
		}
	}
}

// serverSideEmitLocal implements adapter.Namespace.ServerSideEmit: an
// event from another node.
func (ns *Namespace) serverSideEmitLocal(data []any, reply func(arg any)) {
	if len(data) == 0 {
		return
	}
	event, _ := data[0].(string)
	if r, ok := data[0].(json.RawMessage); ok {
		_ = json.Unmarshal(r, &event)
	}
	ns.mu.RLock()
	hs := ns.sse[event]
	ns.mu.RUnlock()
	for _, h := range hs {
		h(Args(data[1:]), reply)
	}
}

// roomEvent implements adapter.Namespace.RoomEvent.
func (ns *Namespace) roomEvent(kind adapter.RoomEventKind, room adapter.Room, sid adapter.SocketID) {
	switch kind {
	case adapter.CreateRoom:
		ns.srv.metrics.rooms.WithLabelValues(ns.name).Inc()
	case adapter.DeleteRoom:
		ns.srv.metrics.rooms.WithLabelValues(ns.name).Dec()
	}
	ns.mu.RLock()
	fns := ns.onRoom
	ns.mu.RUnlock()
	for _, fn := range fns {
		fn(kind, room, sid)
	}
}

// ParentNamespace is a dynamic namespace: it creates a child namespace for
// each matching name a client connects to. Middlewares and connection
// handlers registered on the parent apply to children created afterwards,
// and Emit reaches every child.
type ParentNamespace struct {
	srv   *Server
	match func(string, json.RawMessage) bool

	mu          sync.Mutex
	middlewares []Middleware
	onConn      []func(*Socket)
	children    map[string]*Namespace
}

// Use adds a middleware to every child created from now on.
func (p *ParentNamespace) Use(mw Middleware) {
	p.mu.Lock()
	p.middlewares = append(p.middlewares, mw)
	p.mu.Unlock()
}

// OnConnection adds a connection handler to every child created from now on.
func (p *ParentNamespace) OnConnection(fn func(*Socket)) {
	p.mu.Lock()
	p.onConn = append(p.onConn, fn)
	p.mu.Unlock()
}

// Children returns the namespaces created so far.
func (p *ParentNamespace) Children() []*Namespace {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*Namespace, 0, len(p.children))
	for _, c := range p.children {
		out = append(out, c)
	}
	return out
}

// Emit broadcasts event to every child namespace.
func (p *ParentNamespace) Emit(event string, args ...any) error {
	var first error
	for _, c := range p.Children() {
		if err := c.Emit(event, args...); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// child returns the child namespace name, creating it with the parent's
// middlewares and connection handlers. No lock of the parent is held while
// the namespace is created or the OnNewNamespace listeners run (they may
// call back into the parent).
func (p *ParentNamespace) child(name string) (*Namespace, error) {
	p.mu.Lock()
	if c := p.children[name]; c != nil {
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	return p.srv.create(name, func(ns *Namespace) {
		p.mu.Lock()
		ns.middlewares = append(ns.middlewares, p.middlewares...)
		ns.onConn = append(ns.onConn, p.onConn...)
		ns.children = p
		p.children[name] = ns
		p.mu.Unlock()
	})
}

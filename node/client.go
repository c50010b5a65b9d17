package node

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/sio-go/sio/node/engineio"
	"github.com/sio-go/sio/node/parser"
)

// client is one Engine.IO connection and the sockets it opened, one per
// namespace. Packets arrive on one goroutine at a time (the engine's
// handler contract); the sockets list is also read by other goroutines.
//
// Every idle connection holds one: keep it small (112 bytes) and free
// what is only needed until the first namespace is joined.
type client struct {
	srv  *Server
	conn *engineio.Conn
	dec  parser.Decoder // used only from the engine's handler goroutine

	mu        sync.Mutex
	sockets   []*Socket // joined namespaces, one socket each; nearly always one
	connected bool      // at least one namespace joined
	closed    bool
	// tokens and lastFill are the rate limiter's token bucket (handler
	// goroutine only); lastFill is in monoNow's nanoseconds.
	tokens       float32
	lastFill     int64
	connectTimer *time.Timer // nil once a namespace is joined or the client closed
}

// clockBase is the origin of monoNow.
var clockBase = time.Now()

// monoNow returns monotonic nanoseconds since clockBase (8 bytes to store,
// where a time.Time takes 24).
func monoNow() int64 { return int64(time.Since(clockBase)) }

func newClient(s *Server, c *engineio.Conn) *client {
	cl := &client{
		srv:  s,
		conn: c,
		dec:  *parser.NewDecoder(s.cfg.MaxAttachments),
	}
	if n := s.cfg.MaxPacketsPerSecond; n > 0 {
		cl.tokens = float32(n)
		cl.lastFill = monoNow()
	}
	// The timer is set before any packet can arrive: register stops it.
	cl.connectTimer = time.AfterFunc(s.cfg.ConnectTimeout, cl.onConnectTimeout)
	c.SetHandler(cl)
	return cl
}

func (c *client) onConnectTimeout() {
	c.mu.Lock()
	joined := c.connected
	c.mu.Unlock()
	if !joined {
		c.srv.cfg.Logger.Debug("no namespace joined in time, closing", "sid", c.conn.ID())
		c.conn.Close(ReasonForcedServerClose)
	}
}

// OnMessage implements engineio.Handler.
func (c *client) OnMessage(data []byte, binary bool) {
	// The packet lives on the stack: nothing keeps it past this call
	// (what a socket keeps, it copies or keeps the Data of).
	var p parser.Packet
	pkt := &p
	done, err := c.dec.AddTo(pkt, data, binary)
	if err != nil {
		c.srv.cfg.Logger.Debug("invalid packet, closing", "sid", c.conn.ID(), "err", err)
		c.srv.metrics.invalidPackets.Inc()
		c.conn.Close(ReasonParseError)
		return
	}
	if !done {
		return // waiting for attachments
	}
	if !c.allowPacket() {
		c.srv.cfg.Logger.Info("packet rate over the limit, closing", "sid", c.conn.ID())
		c.conn.Close(ReasonRateLimited)
		return
	}
	c.srv.metrics.packetIn(pkt.Type)
	if pkt.Type == parser.Connect {
		c.onConnect(pkt)
		return
	}
	c.mu.Lock()
	sock := c.socketLocked(pkt.Nsp)
	c.mu.Unlock()
	if sock == nil || !sock.isConnected() {
		c.srv.cfg.Logger.Debug("packet for a namespace not joined, closing", "sid", c.conn.ID(), "nsp", pkt.Nsp)
		c.conn.Close(ReasonParseError)
		return
	}
	if pkt.Type == parser.Event || pkt.Type == parser.BinaryEvent {
		// Events wait for the socket's connection handlers (Socket.hold);
		// acks and DISCONNECT never do: a handler may await the client,
		// and a client that leaves must fail that wait at once.
		if held, full := sock.hold(pkt); full {
			c.srv.cfg.Logger.Info("events held for the connection handlers over the bound, closing", "sid", c.conn.ID())
			c.conn.Close(ReasonForcedServerClose)
			return
		} else if held {
			return // dispatched once the connection handlers ran
		}
	}
	c.dispatch(sock, pkt)
}

// dispatch hands one packet to its socket. A held event (see
// Socket.hold) may come after the socket closed: it is dropped, so no
// OnAny handler or packet middleware runs after OnDisconnect.
func (c *client) dispatch(sock *Socket, pkt *parser.Packet) {
	if !sock.isConnected() {
		return
	}
	switch pkt.Type {
	case parser.Event, parser.BinaryEvent:
		sock.onEvent(pkt)
	case parser.Ack, parser.BinaryAck:
		sock.onAck(pkt)
	case parser.Disconnect:
		sock.onClose(ReasonClientNamespaceDisconnect)
	default: // CONNECT_ERROR from a client is invalid
		c.conn.Close(ReasonParseError)
	}
}

func (c *client) allowPacket() bool {
	limit := c.srv.cfg.MaxPacketsPerSecond
	if limit <= 0 {
		return true
	}
	now := monoNow()
	tokens := float64(c.tokens) + float64(now-c.lastFill)/float64(time.Second)*float64(limit)
	c.lastFill = now
	if tokens > float64(limit) {
		tokens = float64(limit)
	}
	if tokens < 1 {
		c.tokens = float32(tokens)
		c.srv.metrics.rateLimited.Inc()
		return false
	}
	c.tokens = float32(tokens - 1)
	return true
}

func (c *client) onConnect(pkt *parser.Packet) {
	c.mu.Lock()
	dup := c.socketLocked(pkt.Nsp) != nil
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return
	}
	if dup {
		c.srv.cfg.Logger.Debug("second CONNECT for a namespace, closing", "sid", c.conn.ID(), "nsp", pkt.Nsp)
		c.conn.Close(ReasonParseError)
		return
	}
	auth := pkt.Data
	if len(auth) == 0 {
		auth = json.RawMessage("{}")
	} else {
		auth = append(json.RawMessage(nil), auth...)
	}
	ns := c.srv.lookup(pkt.Nsp, auth)
	if ns == nil || c.srv.closing.Load() {
		c.sendPacket(&parser.Packet{Type: parser.ConnectError, Nsp: pkt.Nsp, Data: json.RawMessage(`{"message":"Invalid namespace"}`)})
		return
	}
	ns.add(c, auth)
}

// register records a socket as the client's socket of its namespace; it
// fails when the client closed meanwhile.
func (c *client) register(s *Socket) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	if c.socketLocked(s.ns.name) != nil {
		return false
	}
	c.sockets = append(c.sockets, s)
	if !c.connected {
		c.connected = true
		c.stopConnectTimerLocked()
	}
	return true
}

// closedReason reports whether the connection has closed (OnClose ran
// or runs now), and why.
func (c *client) closedReason() (string, bool) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if !closed {
		return "", false
	}
	return c.conn.CloseReason(), true
}

// socketLocked returns the socket of namespace nsp, or nil. c.mu must be held.
func (c *client) socketLocked(nsp string) *Socket {
	for _, s := range c.sockets {
		if s.ns.name == nsp {
			return s
		}
	}
	return nil
}

// stopConnectTimerLocked stops the connect timeout and drops the timer,
// which an idle connection would otherwise keep. c.mu must be held.
func (c *client) stopConnectTimerLocked() {
	if c.connectTimer != nil {
		c.connectTimer.Stop()
		c.connectTimer = nil
	}
}

func (c *client) remove(s *Socket) {
	c.mu.Lock()
	for i, x := range c.sockets {
		if x == s {
			// In place: readers copy the list under c.mu.
			last := len(c.sockets) - 1
			c.sockets[i] = c.sockets[last]
			c.sockets[last] = nil
			c.sockets = c.sockets[:last]
			if last == 0 {
				c.sockets = nil
			}
			break
		}
	}
	c.mu.Unlock()
}

// OnClose implements engineio.Handler.
func (c *client) OnClose(reason string) {
	c.mu.Lock()
	c.closed = true
	c.stopConnectTimerLocked()
	socks := append([]*Socket(nil), c.sockets...)
	c.mu.Unlock()
	for _, s := range socks {
		s.onClose(reason)
	}
	if reason == ReasonSlowConsumer {
		c.srv.metrics.slowConsumers.Inc()
	}
}

// disconnectAll sends DISCONNECT on every socket, then closes the connection
// (socket.disconnect(true)).
func (c *client) disconnectAll() {
	c.mu.Lock()
	socks := append([]*Socket(nil), c.sockets...)
	c.mu.Unlock()
	for _, s := range socks {
		s.Disconnect(false)
	}
	c.conn.Close(ReasonForcedServerClose)
}

// sendPacket encodes and queues one packet for this client.
func (c *client) sendPacket(p *parser.Packet) error {
	return c.send(encodeMessages(p), false)
}

// sendEncoded queues one packet encoded by parser.EncodePacket with one
// spare leading byte, and its attachments.
func (c *client) sendEncoded(b []byte, atts [][]byte, volatile bool) error {
	m := engineio.NewTextMessageOwned(b)
	if len(atts) == 0 {
		// The common case: no slice to build (Send's variadic argument
		// stays on the stack).
		if volatile {
			c.conn.TrySend(m)
			return nil
		}
		return c.conn.Send(m)
	}
	msgs := make([]*engineio.Message, 0, 1+len(atts))
	msgs = append(msgs, m)
	for _, a := range atts {
		msgs = append(msgs, engineio.NewBinaryMessage(a))
	}
	return c.send(msgs, volatile)
}

func (c *client) send(msgs []*engineio.Message, volatile bool) error {
	if volatile {
		c.conn.TrySend(msgs...) // a drop is counted by the engine's VolatileDropped hook
		return nil
	}
	// Queued to the connection's writer like every other packet: callers
	// never write to the network themselves (engineio.Conn.SendDirect
	// would save a hand-off, ~6% on echo, at that cost).
	return c.conn.Send(msgs...)
}

// encodeMessages turns a packet into its Engine.IO messages: the text
// header and one binary message per attachment.
func encodeMessages(p *parser.Packet) []*engineio.Message {
	msgs := make([]*engineio.Message, 0, 1+len(p.Attachments))
	msgs = append(msgs, engineio.NewTextMessage(parser.Encode(p)))
	for _, a := range p.Attachments {
		msgs = append(msgs, engineio.NewBinaryMessage(a))
	}
	return msgs
}

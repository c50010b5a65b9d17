package engineio

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Close reasons, with Node's wording.
const (
	reasonTransportClose = "transport close"
	reasonTransportError = "transport error"
	reasonPingTimeout    = "ping timeout"
	reasonParseError     = "parse error"
	reasonSlowConsumer   = "slow consumer"
)

// connState is a session's lifecycle state.
type connState uint8

const (
	// stateOpen: packets flow both ways.
	stateOpen connState = iota
	// stateClosing: Close was called; the queue is being flushed, incoming
	// packets are ignored and Send fails.
	stateClosing
	// stateClosed: the session is gone; OnClose is delivered (or about to be).
	stateClosed
)

// pollCloseTimeout bounds how long a graceful Close of a polling session
// waits for the client's next GET to deliver the queued packets and the
// close packet (Node's polling closeTimeout).
const pollCloseTimeout = 30 * time.Second

// serverClosePollWait is that wait during Server.Close, kept short so a
// shutdown is not held up by a client that stopped polling.
const serverClosePollWait = time.Second

// Conn is one Engine.IO session. Its methods are goroutine-safe.
//
// Locks: hmu serializes Handler calls; mu guards the rest. Order: hmu, then
// mu, then the scheduler's or the flusher's lock. No lock is held across
// network I/O.
type Conn struct {
	srv *Server
	id  string
	req *reqInfo

	// hmu is held while calling the Handler, so its methods run one at a
	// time; handlerDone (under hmu) is set before OnClose.
	hmu         sync.Mutex
	handlerDone bool

	// closed mirrors state == stateClosed for lock-free checks.
	closed atomic.Bool

	mu          sync.Mutex
	handler     Handler
	state       connState
	websocket   bool // current transport is websocket (ws-only session or upgraded)
	closeReason string

	// queue holds the messages not yet handed to the network; queueBytes
	// counts them plus those a websocket writer is writing.
	queue      []*Message
	queueBytes int
	// queue1 backs the queue's first message when no writer is running, so
	// a broadcast's enqueue to an idle connection allocates nothing.
	queue1 [1]*Message

	// Long-polling: getWaiter is the pending GET's wake channel (nil when
	// none); getFinal is the body a GET released by finalization writes.
	getWaiter  chan struct{}
	getFinal   string
	postActive bool
	closeTimer *time.Timer

	// WebSocket: ws is the main connection; writerRunning is true while a
	// writer goroutine owns it; inflight is true while that writer holds a
	// batch taken from the queue and not yet written.
	ws            *wsConn
	writerRunning bool
	inflight      bool
	// flushed, when not nil, is closed once the writer has written
	// everything queued (see Flush).
	flushed chan struct{}
	// wdl is the write deadline last set on the websocket, in scheduler
	// time; owned by the writer (writers never overlap, and each starts
	// under mu after the previous one stopped under mu).
	wdl int64
	// partial holds the unwritten tail of a direct write (SendDirect) for
	// the writer goroutine to write first: a pooled buffer and the offset
	// of the first unwritten byte; partialQueued is the queue bytes it
	// accounts for. Set under mu before that goroutine starts, then owned
	// by it.
	partial       *[]byte
	partialOff    int
	partialQueued int

	// Upgrade: probe is the websocket being probed; probed is set once
	// "2probe" was answered; upgrading while a websocket request for the
	// session is completing its handshake, before it becomes the probe.
	probe        *wsConn
	probed       bool
	upgrading    bool
	upgradeTimer *time.Timer
	// wsCloseCode is the code of the close frame a graceful websocket
	// close sends (0: 1000, normal closure).
	wsCloseCode uint16

	// Heartbeat, under mu: hbDue is when the armed timer is due (the pong
	// deadline while awaitingPong), in scheduler time.
	awaitingPong bool
	hbGen        uint64
	hbDue        int64
	// Heartbeat scheduler entry, under scheduler.mu.
	hbIdx      int
	hbAt       int64
	hbSchedGen uint64
}

// RequestInfo describes a session's handshake request (the request
// itself is not retained).
type RequestInfo struct {
	Header     http.Header
	RemoteAddr string
	URL        string // path and raw query as received
	Query      url.Values
	Secure     bool
	Time       time.Time
}

// reqInfo is the compact form a session keeps of its handshake request:
// no header map and no parsed query, which Request rebuilds on demand
// (they cost about 1 KB per idle session).
type reqInfo struct {
	// header holds canonical key, value pairs, one pair per value; the
	// strings are shared with the request, only the slice is new.
	header     []string
	remoteAddr string
	uri        string
	secure     bool
	time       time.Time
}

func newReqInfo(r *http.Request) *reqInfo {
	n := 0
	for _, v := range r.Header {
		n += 2 * len(v)
	}
	h := make([]string, 0, n)
	for k, vs := range r.Header {
		for _, v := range vs {
			h = append(h, k, v)
		}
	}
	return &reqInfo{
		header:     h,
		remoteAddr: r.RemoteAddr,
		uri:        r.URL.RequestURI(),
		secure:     r.TLS != nil,
		time:       time.Now(),
	}
}

func newConn(s *Server, id string, req *reqInfo) *Conn {
	return &Conn{srv: s, id: id, req: req, hbIdx: -1}
}

// ID returns the Engine.IO session id.
func (c *Conn) ID() string { return c.id }

// Request returns the handshake request's details. The session keeps
// them in a compact form and builds a new RequestInfo on each call: keep
// the result rather than calling it repeatedly. It returns nil for a
// session created without a request (tests).
func (c *Conn) Request() *RequestInfo {
	r := c.req
	if r == nil {
		return nil
	}
	h := make(http.Header, len(r.header)/2)
	for i := 0; i+1 < len(r.header); i += 2 {
		h[r.header[i]] = append(h[r.header[i]], r.header[i+1])
	}
	var q url.Values
	if i := strings.IndexByte(r.uri, '?'); i >= 0 {
		q, _ = url.ParseQuery(r.uri[i+1:])
	} else {
		q = url.Values{}
	}
	return &RequestInfo{
		Header:     h,
		RemoteAddr: r.remoteAddr,
		URL:        r.uri,
		Query:      q,
		Secure:     r.secure,
		Time:       r.time,
	}
}

// Transport returns "polling" or "websocket" (the current transport).
func (c *Conn) Transport() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transportLocked()
}

func (c *Conn) transportLocked() string {
	if c.websocket {
		return transportWebSocket
	}
	return transportPolling
}

// CloseReason returns why the session ended (the reason OnClose gets), or
// "" while it is open.
func (c *Conn) CloseReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateClosed {
		return ""
	}
	return c.closeReason
}

// SetHandler sets the event handler; call it from onConnection.
func (c *Conn) SetHandler(h Handler) {
	c.mu.Lock()
	c.handler = h
	c.mu.Unlock()
}

// Send queues messages, in order and contiguously (a packet and its
// binary attachments), to the connection's writer. It never blocks. It
// returns ErrClosed on a closed session and ErrSlowConsumer when the queue
// bound is passed (the session is then closed with "slow consumer").
func (c *Conn) Send(msgs ...*Message) error {
	n := msgsSize(msgs)
	c.mu.Lock()
	if err := c.admitLocked(n); err != nil {
		return err
	}
	c.enqueueLocked(msgs, n)
	c.mu.Unlock()
	return nil
}

// msgsSize returns the bytes msgs take in a queue.
func msgsSize(msgs []*Message) int {
	n := 0
	for _, m := range msgs {
		n += m.size()
	}
	return n
}

// admitLocked checks that n more bytes may be queued. On refusal it
// releases c.mu (closing the session when the bound is passed) and returns
// the error; on success c.mu stays held.
func (c *Conn) admitLocked(n int) error {
	if c.state != stateOpen {
		c.mu.Unlock()
		return ErrClosed
	}
	if c.queueBytes+n > c.srv.cfg.MaxQueueBytes {
		after := c.finalizeLocked(reasonSlowConsumer, false)
		c.mu.Unlock()
		after()
		return ErrSlowConsumer
	}
	return nil
}

// SendDirect is Send for a packet addressed to this one connection (a
// reply, an ack, an emit to one socket): when the connection is a
// websocket whose writer is idle with nothing queued, the caller writes the
// frames itself in one non-blocking write call, saving the hand-off to a
// writer goroutine; what the kernel does not take at once (socket buffer
// full) is left to a writer goroutine, in order. It never blocks. Use Send
// for broadcasts: queueing lets many connections' writers run in parallel
// and batch their frames.
func (c *Conn) SendDirect(msgs ...*Message) error {
	n := msgsSize(msgs)
	c.mu.Lock()
	if err := c.admitLocked(n); err != nil {
		return err
	}
	if !c.websocket || c.writerRunning || len(c.queue) > 0 || c.ws == nil {
		c.enqueueLocked(msgs, n)
		c.mu.Unlock()
		return nil
	}
	if c.ws.rc == nil {
		c.enqueueLocked(msgs, n)
		c.mu.Unlock()
		return nil
	}
	// This goroutine is the writer until it hands over or goes idle.
	ws := c.ws
	c.writerRunning = true
	c.inflight = true
	c.queueBytes += n
	c.srv.cfg.Hooks.queueBytes(n)
	c.mu.Unlock()
	c.writeNow(ws, msgs, false)
	return nil
}

// TrySend is Send for volatile messages: it drops them (returning false)
// when the transport is not ready to write (queue not empty, no pending
// GET, upgrade in progress).
func (c *Conn) TrySend(msgs ...*Message) bool {
	n := msgsSize(msgs)
	c.mu.Lock()
	ready := c.state == stateOpen && len(c.queue) == 0 && c.probe == nil &&
		c.queueBytes+n <= c.srv.cfg.MaxQueueBytes
	if ready {
		if c.websocket {
			ready = !c.inflight
		} else {
			ready = c.getWaiter != nil
		}
	}
	if !ready {
		c.mu.Unlock()
		c.srv.cfg.Hooks.volatileDropped()
		return false
	}
	c.enqueueLocked(msgs, n)
	c.mu.Unlock()
	return true
}

// Close flushes what is queued and closes the session; OnClose gets
// reason. A polling session without a pending GET waits for the client's
// next GET (at most 30s, as Node) to deliver the queue and the close
// packet.
func (c *Conn) Close(reason string) { c.closeGraceful(reason, pollCloseTimeout) }

// closeGraceful starts a graceful close: stop accepting packets, flush the
// queue, then send the close (websocket close frame, or "1" to a GET).
func (c *Conn) closeGraceful(reason string, pollWait time.Duration) {
	c.mu.Lock()
	if c.state != stateOpen {
		// Already closing: a polling session waiting for its client's
		// next GET gets the shorter of the two waits (Server.Close's
		// one second, not the 30 s of an earlier Conn.Close).
		if c.state == stateClosing && c.closeTimer != nil && pollWait < pollCloseTimeout {
			c.closeTimer.Reset(pollWait)
		}
		c.mu.Unlock()
		return
	}
	c.state = stateClosing
	c.closeReason = reason
	probe := c.abortProbeLocked()
	if c.websocket {
		c.kickLocked()
	} else if c.getWaiter != nil {
		c.signalGETLocked()
	} else {
		c.closeTimer = time.AfterFunc(pollWait, func() { c.closeNow(reason) })
	}
	c.mu.Unlock()
	if probe != nil {
		probe.close()
	}
}

// closeNow closes the session at once, dropping what is queued.
func (c *Conn) closeNow(reason string) {
	c.mu.Lock()
	after := c.finalizeLocked(reason, false)
	c.mu.Unlock()
	after()
}

// enqueueLocked appends msgs (n bytes) and wakes the transport.
func (c *Conn) enqueueLocked(msgs []*Message, n int) {
	if c.queue == nil && !c.writerRunning {
		// No writer holds a batch, so queue1 is free.
		c.queue = c.queue1[:0]
	}
	c.queue = append(c.queue, msgs...)
	c.queueBytes += n
	c.srv.cfg.Hooks.queueBytes(n)
	c.kickLocked()
}

// writerIdleLocked marks the websocket writer stopped (queue written or
// session over) and releases Flush waiters.
func (c *Conn) writerIdleLocked() {
	c.writerRunning = false
	c.inflight = false
	c.releaseFlushLocked()
}

// releaseFlushLocked wakes the Flush waiters: everything queued so far has
// been written (or the writer stopped).
func (c *Conn) releaseFlushLocked() {
	if c.flushed != nil {
		close(c.flushed)
		c.flushed = nil
	}
}

// Flush waits, at most timeout, until every message queued on a websocket
// session before the call has been written to the network. It returns at
// once for a polling session (its messages go out with the next GET).
// Socket.IO uses it to let a CONNECT reply reach the client on its own,
// before the connection handlers' first packets, as Node's write-callback
// pacing does.
func (c *Conn) Flush(timeout time.Duration) bool {
	c.mu.Lock()
	if !c.websocket || !c.writerRunning || c.state == stateClosed || (len(c.queue) == 0 && !c.inflight) {
		c.mu.Unlock()
		return true
	}
	if c.flushed == nil {
		c.flushed = make(chan struct{})
	}
	ch := c.flushed
	c.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// kickLocked makes the current transport write what is queued: it starts
// the websocket writer if none runs, or wakes the pending GET.
func (c *Conn) kickLocked() {
	if c.websocket {
		if !c.writerRunning && c.ws != nil && c.state != stateClosed {
			c.writerRunning = true
			if c.ws.rc != nil {
				c.srv.flusher.push(c)
			} else {
				c.srv.wg.Add(1)
				go c.writeLoop(c.ws)
			}
		}
		return
	}
	c.signalGETLocked()
}

// signalGETLocked wakes the pending GET, if any.
func (c *Conn) signalGETLocked() {
	if c.getWaiter != nil {
		select {
		case c.getWaiter <- struct{}{}:
		default:
		}
	}
}

// abortProbeLocked abandons an upgrade in progress and returns the probe
// websocket for the caller to close after unlocking.
func (c *Conn) abortProbeLocked() *wsConn {
	p := c.probe
	c.probe = nil
	c.probed = false
	if c.upgradeTimer != nil {
		c.upgradeTimer.Stop()
		c.upgradeTimer = nil
	}
	return p
}

// finalizeLocked ends the session and returns the work to do once c.mu is
// released (closing sockets, unregistering, hooks, OnClose). It is
// idempotent: a second call returns a no-op. graceful leaves the main
// websocket open for the reader to finish the close handshake.
func (c *Conn) finalizeLocked(reason string, graceful bool) func() {
	if c.state == stateClosed {
		return func() {}
	}
	if c.state == stateClosing {
		reason = c.closeReason
	}
	transport := c.transportLocked()
	c.state = stateClosed
	c.closeReason = reason
	c.closed.Store(true)
	c.srv.sched.cancel(c)
	if c.closeTimer != nil {
		c.closeTimer.Stop()
		c.closeTimer = nil
	}
	probe := c.abortProbeLocked()
	if c.queueBytes != 0 {
		c.srv.cfg.Hooks.queueBytes(-c.queueBytes)
	}
	c.queue = nil
	c.queueBytes = 0
	if c.getWaiter != nil {
		// Node: a client close releases the GET with a noop, any other
		// close sends the close packet.
		if reason == reasonTransportClose {
			c.getFinal = "6"
		} else {
			c.getFinal = "1"
		}
		c.signalGETLocked()
	}
	var ws *wsConn
	if !graceful {
		ws = c.ws
	}
	return func() {
		if ws != nil {
			ws.close()
		}
		if probe != nil {
			probe.close()
		}
		c.srv.remove(c)
		c.srv.cfg.Hooks.sessionClosed(transport, reason)
		if l := c.srv.cfg.Logger; l.Enabled(context.Background(), slog.LevelDebug) {
			l.Debug("engineio: session closed", "sid", c.id, "transport", transport, "reason", reason)
		}
		go c.deliverClose(reason)
	}
}

// deliverClose calls OnClose once, after any OnMessage in progress.
func (c *Conn) deliverClose(reason string) {
	defer c.srv.wg.Done()
	c.hmu.Lock()
	defer c.hmu.Unlock()
	c.handlerDone = true
	c.mu.Lock()
	h := c.handler
	c.mu.Unlock()
	if h != nil {
		h.OnClose(reason)
	}
}

// dispatch hands one message to the Handler.
func (c *Conn) dispatch(data []byte, binary bool) {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	if c.handlerDone {
		return
	}
	c.mu.Lock()
	h, open := c.handler, c.state == stateOpen
	c.mu.Unlock()
	if h != nil && open {
		h.OnMessage(data, binary)
	}
}

// onPacket handles one packet received on the main transport. It returns
// false when the session closed and the caller must stop reading.
func (c *Conn) onPacket(p packet) bool {
	c.srv.cfg.Hooks.packetIn(p.typ, len(p.data))
	switch p.typ {
	case ptMessage:
		c.dispatch(p.data, p.binary)
	case ptPong:
		c.onPong()
	case ptPing:
		// In v4 only the server pings ("invalid heartbeat direction").
		c.closeNow(reasonTransportError)
		return false
	case ptClose:
		c.onClientClose()
		return false
	}
	// open, upgrade and noop are ignored on the main transport, as Node.
	return !c.closed.Load()
}

// clientCloseGrace is how long a polling session closed by the client
// (a "1" in a POST) waits for a GET that is already on its way, to release
// it with a noop as Node does for a GET that arrived first.
const clientCloseGrace = 50 * time.Millisecond

// onClientClose handles a close packet from the client. On polling with no
// pending GET, the GET the client issued alongside the POST may still be in
// flight on another connection: the session stays closing for a short
// grace, answering that GET with "6", then closes.
func (c *Conn) onClientClose() {
	c.mu.Lock()
	if c.state == stateOpen && !c.websocket && c.getWaiter == nil {
		c.state = stateClosing
		c.closeReason = reasonTransportClose
		c.closeTimer = time.AfterFunc(clientCloseGrace, func() { c.closeNow(reasonTransportClose) })
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.closeNow(reasonTransportClose)
}

// scheduleLocked arms the heartbeat timer d from now.
func (c *Conn) scheduleLocked(d time.Duration) {
	c.scheduleAtLocked(c.srv.sched.now() + int64(d))
}

// scheduleAtLocked arms the heartbeat timer at the scheduler time at.
func (c *Conn) scheduleAtLocked(at int64) {
	c.hbGen++
	c.hbDue = at
	c.srv.sched.set(c, at, c.hbGen)
}

// pingExpiredLocked reports a pong deadline already passed whose timer has
// not fired yet; callers treat it as the timeout, so the outcome does not
// depend on timer latency.
func (c *Conn) pingExpiredLocked() bool {
	return c.awaitingPong && c.state == stateOpen && c.srv.sched.now() >= c.hbDue
}

// onHeartbeat runs on the scheduler goroutine when the heartbeat timer
// tagged gen fires: send a ping, or close on a missing pong.
func (c *Conn) onHeartbeat(gen uint64) {
	c.mu.Lock()
	if gen != c.hbGen || c.state != stateOpen {
		c.mu.Unlock()
		return
	}
	if c.awaitingPong {
		after := c.finalizeLocked(reasonPingTimeout, false)
		c.mu.Unlock()
		after()
		return
	}
	c.awaitingPong = true
	c.enqueueLocked([]*Message{pingMessage}, pingMessage.size())
	// The pong deadline counts from when the ping was due, so timer
	// latency does not stretch it; but a badly late ping still leaves the
	// client half the timeout to answer.
	timeout := int64(c.srv.cfg.PingTimeout)
	at := c.hbDue + timeout
	if floor := c.srv.sched.now() + timeout/2; at < floor {
		at = floor
	}
	c.scheduleAtLocked(at)
	c.mu.Unlock()
}

// onPong handles a pong: the next ping is due PingInterval from now. A pong
// after the deadline is a timeout.
func (c *Conn) onPong() {
	c.mu.Lock()
	if c.pingExpiredLocked() {
		after := c.finalizeLocked(reasonPingTimeout, false)
		c.mu.Unlock()
		after()
		return
	}
	if c.state == stateOpen && c.awaitingPong {
		c.awaitingPong = false
		c.scheduleLocked(c.srv.cfg.PingInterval)
	}
	c.mu.Unlock()
}

// expireIfLate closes the session with "ping timeout" when its pong
// deadline passed; it reports whether it did.
func (c *Conn) expireIfLate() bool {
	c.mu.Lock()
	if !c.pingExpiredLocked() {
		c.mu.Unlock()
		return false
	}
	after := c.finalizeLocked(reasonPingTimeout, false)
	c.mu.Unlock()
	after()
	return true
}

package engineio

import (
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// wsCloseGrace is how long a websocket closed by the server stays open for
// the client's close frame, after ours, before it is dropped.
const wsCloseGrace = time.Second

// onFrame handles one websocket data message. It returns false when the
// reader must stop and close the connection.
func (c *Conn) onFrame(ws *wsConn, binary bool, data []byte) bool {
	c.mu.Lock()
	isProbe, isMain := c.probe == ws, c.ws == ws
	c.mu.Unlock()
	switch {
	case isProbe:
		return c.onProbeFrame(ws, binary, data)
	case !isMain:
		return false
	}
	if binary {
		return c.onPacket(packet{typ: ptMessage, data: data, binary: true})
	}
	var scratch []byte
	p, err := decodePacket(data, &scratch)
	if err != nil {
		c.closeNow(reasonParseError)
		return false
	}
	return c.onPacket(p)
}

// onProbeFrame runs the upgrade dance on the probe websocket: "2probe" is
// answered "3probe" (and a pending GET released with a noop), "5"
// completes the upgrade, anything else aborts it.
func (c *Conn) onProbeFrame(ws *wsConn, binary bool, data []byte) bool {
	if !binary && string(data) == "2probe" {
		if err := ws.writeDirect(pongProbeMessage.appendFrame(nil)); err != nil {
			c.abortProbe(ws)
			return false
		}
		c.srv.cfg.Hooks.packetOut(ptPong, len("probe"))
		c.mu.Lock()
		if c.probe == ws {
			c.probed = true
			c.signalGETLocked()
		}
		c.mu.Unlock()
		return true
	}
	if !binary && string(data) == "5" {
		c.mu.Lock()
		if c.probe != ws || !c.probed || c.state != stateOpen {
			c.mu.Unlock()
			c.abortProbe(ws)
			return false
		}
		c.probe = nil
		c.probed = false
		if c.upgradeTimer != nil {
			c.upgradeTimer.Stop()
			c.upgradeTimer = nil
		}
		c.ws = ws
		c.websocket = true
		c.signalGETLocked() // a GET still pending gets a noop
		if len(c.queue) > 0 {
			c.kickLocked()
		}
		c.mu.Unlock()
		c.srv.cfg.Hooks.packetIn(ptUpgrade, 0)
		c.srv.cfg.Hooks.upgraded()
		return true
	}
	c.abortProbe(ws)
	return false
}

// abortProbe abandons the upgrade if ws is still the probe, and closes
// ws unless the upgrade completed with it: the upgrade timer's callback
// can run late, after "5" made ws the session's websocket (Stop returns
// false once the callback started), and must not close it then.
func (c *Conn) abortProbe(ws *wsConn) {
	c.mu.Lock()
	if c.probe == ws {
		c.abortProbeLocked()
	}
	upgraded := c.ws == ws
	c.mu.Unlock()
	if !upgraded {
		ws.close()
	}
}

// onReadError handles the end of a websocket's read side.
func (c *Conn) onReadError(ws *wsConn, err error) {
	c.mu.Lock()
	if c.probe == ws {
		c.abortProbeLocked()
		c.mu.Unlock()
		return
	}
	if c.ws != ws || c.state == stateClosed {
		c.mu.Unlock()
		return
	}
	after := c.finalizeLocked(readErrorReason(err), false)
	c.mu.Unlock()
	after()
}

// onWSError handles a websocket protocol violation: the session closes
// with "transport error" after a close frame with the violation's code (a
// probe is just dropped).
func (c *Conn) onWSError(ws *wsConn, err error) readNext {
	code := uint16(closeProtocolError)
	var we *wsError
	if errors.As(err, &we) {
		code = we.code
	}
	return c.closeByPeer(ws, reasonTransportError, code)
}

// onWSClose handles the client's close frame: the session closes with
// "transport close", echoing the client's code.
func (c *Conn) onWSClose(ws *wsConn, code uint16) readNext {
	return c.closeByPeer(ws, reasonTransportClose, code)
}

// closeByPeer ends reading on ws after the client closed it or broke the
// protocol. On the main websocket of an open session it starts a graceful
// close whose close frame carries code; the writer then closes ws.
func (c *Conn) closeByPeer(ws *wsConn, reason string, code uint16) readNext {
	c.mu.Lock()
	if c.probe == ws {
		c.abortProbeLocked()
		c.mu.Unlock()
		return readClose
	}
	if c.ws != ws {
		c.mu.Unlock()
		return readClose
	}
	switch c.state {
	case stateOpen:
		c.wsCloseCode = code
		c.mu.Unlock()
		c.closeGraceful(reason, pollCloseTimeout)
		return readStop
	case stateClosing:
		c.mu.Unlock()
		return readStop // the writer is finishing the close
	}
	c.mu.Unlock()
	return readClose // our close frame was sent: this was the answer
}

// afterReadStop runs when the reader stopped for a close the writer
// finishes: if the writer already finished it, the connection is closed
// here (finishClose closes it otherwise).
func (c *Conn) afterReadStop(ws *wsConn) {
	c.mu.Lock()
	done := c.state == stateClosed
	c.mu.Unlock()
	if done {
		ws.close()
	}
}

// onWSPing answers a client ping with a pong carrying its payload: queued
// to the writer on the main websocket, written at once on a probe.
func (c *Conn) onWSPing(ws *wsConn, payload []byte) readNext {
	c.mu.Lock()
	if c.probe == ws {
		c.mu.Unlock()
		if err := ws.writeDirect(controlFrame(opPong, payload)); err != nil {
			c.abortProbe(ws)
			return readClose
		}
		return readMore
	}
	if c.ws != ws {
		c.mu.Unlock()
		return readClose
	}
	if c.state != stateOpen {
		c.mu.Unlock()
		return readMore
	}
	m := &Message{op: opPong, data: append([]byte(nil), payload...)}
	if err := c.admitLocked(m.size()); err != nil {
		return readClose
	}
	c.enqueueLocked([]*Message{m}, m.size())
	c.mu.Unlock()
	return readMore
}

// readErrorReason maps a read error to Node's close reason: the peer going
// away is "transport close", anything else is "transport error".
func readErrorReason(err error) string {
	switch {
	case errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET):
		return reasonTransportClose
	}
	return reasonTransportError
}

// Writer tuning.
const (
	// maxWriteBatch is the most bytes the writer gathers for one write
	// call; a larger batch is written in several calls, and a frame larger
	// than this is written on its own, without copying its payload.
	maxWriteBatch = 64 << 10
	// frameBufSize is the initial capacity of a pooled batch buffer.
	frameBufSize = 4 << 10
)

// writerLinger is how many times a connection's own writer goroutine (TLS
// sessions, and sessions whose socket buffer filled up) yields the
// processor after draining its queue, re-checking it each time, before it
// exits: under fan-out load more frames arrive meanwhile and go out in the
// same write call (measured: without it, one frame per write). An idle
// connection still keeps no goroutine.
const writerLinger = 2

// frameBufs pools the writers' batch buffers, so an idle connection holds
// none.
var frameBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, frameBufSize)
	return &b
}}

// writeLoop is the websocket writer. It runs while the queue is non-empty
// and takes everything queued at once: the frames of the batch are encoded
// into one pooled buffer and written with one write call (and at most one
// SetWriteDeadline) on the underlying network connection. It exits when
// the queue stays empty for writerLinger yields. When the session is
// closing and the queue is empty it sends the close frame and finalizes.
//
// This goroutine is the connection's only writer while it runs: control
// frames (the pong answering a client ping) are queued like messages, and
// the close frame is written here, by finishClose.
func (c *Conn) writeLoop(ws *wsConn) {
	defer c.srv.wg.Done()
	nc := ws.nc
	var spare []*Message
	idle := 0
	c.mu.Lock()
	hasPartial := c.partial != nil
	c.mu.Unlock()
	if hasPartial {
		if err := c.writePartial(nc); err != nil {
			c.closeNow(writeErrReason(err))
			c.mu.Lock()
			c.writerIdleLocked()
			c.mu.Unlock()
			return
		}
	}
	for {
		c.mu.Lock()
		if c.state == stateClosed || c.ws != ws {
			c.writerIdleLocked()
			c.mu.Unlock()
			return
		}
		if len(c.queue) == 0 {
			c.inflight = false
			c.releaseFlushLocked()
			if c.state == stateClosing {
				c.mu.Unlock()
				c.finishClose(ws)
				return
			}
			if idle < writerLinger {
				idle++
				c.mu.Unlock()
				runtime.Gosched()
				continue
			}
			c.writerIdleLocked()
			c.queue = nil
			c.mu.Unlock()
			return
		}
		idle = 0
		batch := c.queue
		c.queue = spare[:0]
		c.inflight = true
		c.mu.Unlock()

		written, err := c.writeBatch(nc, batch)
		clear(batch)
		spare = batch
		if err != nil {
			c.closeNow(writeErrReason(err))
			c.mu.Lock()
			c.writerIdleLocked()
			c.mu.Unlock()
			return
		}
		c.mu.Lock()
		if c.state != stateClosed {
			c.queueBytes -= written
			c.srv.cfg.Hooks.queueBytes(-written)
		}
		c.mu.Unlock()
	}
}

// writeBatch writes the frames of batch to nc and returns the queue bytes
// they accounted for.
func (c *Conn) writeBatch(nc net.Conn, batch []*Message) (int, error) {
	hooks := &c.srv.cfg.Hooks
	bp := frameBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() {
		if cap(buf) <= 2*maxWriteBatch {
			*bp = buf[:0]
			frameBufs.Put(bp)
		}
	}()
	written := 0
	var out packetsOut
	for _, m := range batch {
		if len(buf) > 0 && len(buf)+maxWSHeaderLen+len(m.data) > maxWriteBatch {
			if err := c.write(nc, buf); err != nil {
				return written, err
			}
			buf = buf[:0]
		}
		buf = m.appendWSHeader(buf)
		if len(m.data) > maxWriteBatch {
			// A big frame: header and payload in one writev, no copy.
			bufs := net.Buffers{buf, m.data}
			if err := c.setWriteDeadline(nc); err != nil {
				return written, err
			}
			if _, err := bufs.WriteTo(nc); err != nil {
				return written, err
			}
			buf = buf[:0]
		} else {
			buf = append(buf, m.data...)
		}
		out.add(hooks, m)
		written += m.size()
	}
	out.flush(hooks)
	if len(buf) > 0 {
		if err := c.write(nc, buf); err != nil {
			return written, err
		}
	}
	return written, nil
}

// write writes b to nc in one call, under the write deadline.
func (c *Conn) write(nc net.Conn, b []byte) error {
	if err := c.setWriteDeadline(nc); err != nil {
		return err
	}
	_, err := nc.Write(b)
	return err
}

// setWriteDeadline makes sure a write starting now is bounded by about
// WriteTimeout: the deadline is moved only when less than 7/8 of
// WriteTimeout is left, which saves re-arming the runtime's timer on every
// write of a busy connection (a write may thus get between 7/8 and all of
// WriteTimeout).
func (c *Conn) setWriteDeadline(nc net.Conn) error {
	timeout := int64(c.srv.cfg.WriteTimeout)
	now := c.srv.sched.now()
	if c.wdl-now >= timeout-timeout/8 {
		return nil
	}
	c.wdl = now + timeout
	return nc.SetWriteDeadline(time.Now().Add(time.Duration(timeout)))
}

// rawWrite writes b with non-blocking write calls until the kernel takes
// no more; it returns the bytes written.
func rawWrite(rc syscall.RawConn, b []byte) (int, error) {
	w := rawWriters.Get().(*rawWriter)
	w.b, w.n, w.err = b, 0, nil
	err := rc.Write(w.fn)
	n, werr := w.n, w.err
	w.b, w.err = nil, nil
	rawWriters.Put(w)
	if werr == nil {
		werr = err
	}
	return n, werr
}

// rawWriter is rawWrite's callback state, pooled with its bound callback
// so that a write allocates nothing.
type rawWriter struct {
	b   []byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

var rawWriters = sync.Pool{New: func() any {
	w := &rawWriter{}
	w.fn = w.write
	return w
}}

func (w *rawWriter) write(fd uintptr) bool {
	w.n, w.err = writeSome(fd, w.b)
	return true // never wait
}

// writeSome writes b to the non-blocking socket fd until it is all
// written or the kernel takes no more (EAGAIN), and returns the bytes
// written; it never waits.
func writeSome(fd uintptr, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := sysWrite(fd, b[n:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return n, nil // the socket buffer is full
		case err != nil:
			return n, err
		case k <= 0:
			return n, nil
		}
		n += k
	}
	return n, nil
}

// writeNow writes msgs, whose bytes are counted in queueBytes, as the
// connection's writer (writerRunning held) without ever blocking: frames
// are encoded into one pooled buffer, up to maxWriteBatch bytes per write
// call. What the kernel does not take (socket buffer full) is left to the
// connection's own writer goroutine, in order: the unwritten tail in
// c.partial, the messages not yet encoded back at the queue's front. Then
// the connection goes idle, back to the flusher (more queued meanwhile),
// or to a writer goroutine (a tail to write, a close to finish). owned
// means msgs is a batch taken from the queue, cleared here before the
// writer role is released.
func (c *Conn) writeNow(ws *wsConn, msgs []*Message, owned bool) {
	hooks := &c.srv.cfg.Hooks
	bp := frameBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	var out packetsOut
	done, doneBytes := 0, 0
	partial := false
	partialOff, partialBytes := 0, 0
	var err error
	if ws.fd < 0 {
		// RawConn.Write fails once the write deadline has passed; the
		// direct writes never look at it (they never wait), and the
		// writer goroutine a partial write hands over to sets its own.
		err = c.setWriteDeadline(ws.nc)
	}
	for err == nil && done < len(msgs) {
		buf = buf[:0]
		end, chunkBytes := done, 0
		for end < len(msgs) {
			m := msgs[end]
			if len(buf) > 0 && len(buf)+maxWSHeaderLen+len(m.data) > maxWriteBatch {
				break
			}
			buf = m.appendWSHeader(buf)
			buf = append(buf, m.data...)
			chunkBytes += m.size()
			end++
		}
		var n int
		n, err = ws.sendNow(buf)
		if err != nil {
			break
		}
		for _, m := range msgs[done:end] {
			out.add(hooks, m)
		}
		done = end
		if n < len(buf) {
			partial, partialOff, partialBytes = true, n, chunkBytes
			break
		}
		doneBytes += chunkBytes
	}
	out.flush(hooks)
	var rest []*Message
	if partial && done < len(msgs) {
		rest = append(rest, msgs[done:]...)
	}
	if owned {
		clear(msgs)
	}
	if !partial {
		if cap(buf) <= 2*maxWriteBatch {
			*bp = buf[:0]
			frameBufs.Put(bp)
		}
	} else {
		*bp = buf
	}
	if err != nil {
		c.closeNow(writeErrReason(err))
		c.mu.Lock()
		c.writerIdleLocked()
		c.mu.Unlock()
		return
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateClosed || c.ws != ws {
		c.writerIdleLocked()
		return
	}
	c.queueBytes -= doneBytes
	hooks.queueBytes(-doneBytes)
	if partial {
		c.partial, c.partialOff, c.partialQueued = bp, partialOff, partialBytes
		if len(rest) > 0 {
			c.queue = append(rest, c.queue...)
		}
		c.inflight = true
		c.srv.wg.Add(1)
		go c.writeLoop(ws)
		return
	}
	c.inflight = false
	switch {
	case len(c.queue) > 0:
		c.srv.flusher.push(c)
	case c.state == stateClosing:
		c.srv.wg.Add(1)
		go c.writeLoop(ws) // sends the close frame
	default:
		c.writerIdleLocked()
		c.queue = nil
	}
}

// flush runs on a flusher goroutine: write what is queued without
// blocking (see writeNow).
func (c *Conn) flush() {
	c.mu.Lock()
	ws := c.ws
	if c.state == stateClosed || ws == nil || ws.rc == nil {
		c.writerIdleLocked()
		c.mu.Unlock()
		return
	}
	if len(c.queue) == 0 {
		if c.state == stateClosing {
			c.srv.wg.Add(1)
			go c.writeLoop(ws) // sends the close frame
		} else {
			c.writerIdleLocked()
			c.queue = nil
		}
		c.mu.Unlock()
		return
	}
	batch := c.queue
	c.queue = nil
	c.inflight = true
	c.mu.Unlock()
	c.writeNow(ws, batch, true)
}

// writePartial writes the tail a direct write left, blocking under the
// write deadline, and returns its pooled buffer.
func (c *Conn) writePartial(nc net.Conn) error {
	c.mu.Lock()
	bp, off, n := c.partial, c.partialOff, c.partialQueued
	c.partial, c.partialOff, c.partialQueued = nil, 0, 0
	c.mu.Unlock()
	err := c.write(nc, (*bp)[off:])
	*bp = (*bp)[:0]
	frameBufs.Put(bp)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.state != stateClosed {
		c.queueBytes -= n
		c.srv.cfg.Hooks.queueBytes(-n)
	}
	c.mu.Unlock()
	return nil
}

// finishClose ends a graceful websocket close: close frame, then finalize.
// The connection stays open for the client's answering close frame, at
// most wsCloseGrace, unless reading already ended or the server is
// shutting down.
func (c *Conn) finishClose(ws *wsConn) {
	c.mu.Lock()
	code := c.wsCloseCode
	c.mu.Unlock()
	if code == 0 {
		code = closeNormal
	}
	if err := c.setWriteDeadline(ws.nc); err == nil {
		_, _ = ws.nc.Write(closeFrame(code))
	}
	c.mu.Lock()
	c.writerIdleLocked()
	after := c.finalizeLocked(c.closeReason, true)
	c.mu.Unlock()
	after()
	s := c.srv
	s.mu.RLock()
	shutdown := s.closed
	s.mu.RUnlock()
	if shutdown || ws.readDone.Load() {
		ws.close()
		return
	}
	ws.closeAfterGrace()
}

// writeErrReason names the close reason for a failed write: a client that
// did not take its data within WriteTimeout is a slow consumer (as a
// queue over its bound is); any other failure is a transport error.
func writeErrReason(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return reasonSlowConsumer
	}
	return reasonTransportError
}

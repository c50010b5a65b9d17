package engineio

import (
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// wsCloseGrace is how long the reader waits for the client's close frame
// after a graceful close before dropping the connection.
const wsCloseGrace = time.Second

// Websocket buffer sizes: small, and the write buffer comes from a pool
// shared by every connection, so an idle connection holds none.
const (
	wsReadBufferSize  = 256
	wsWriteBufferSize = 1024
)

// startReaderLocked starts the read goroutine for ws (main or probe).
func (c *Conn) startReaderLocked(ws *websocket.Conn) {
	// Answer client pings as gorilla does, but with our WriteTimeout as the
	// deadline: gorilla's default (1s) would cut short a batch the writer
	// is writing at the same time on the same net.Conn.
	timeout := c.srv.cfg.WriteTimeout
	ws.SetPingHandler(func(data string) error {
		err := ws.WriteControl(websocket.PongMessage, []byte(data), deadline(timeout))
		if err == nil || errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		return err
	})
	c.srv.wg.Add(1)
	go c.readLoop(ws)
}

// readLoop reads frames from ws until it fails or the session no longer
// uses it. While ws is the probe it runs the upgrade dance; once ws is the
// main transport it decodes packets. It owns closing the network
// connection.
func (c *Conn) readLoop(ws *websocket.Conn) {
	defer c.srv.wg.Done()
	defer ws.Close()
	for {
		mt, r, err := ws.NextReader()
		if err != nil {
			c.onReadError(ws, err)
			return
		}
		buf := getBuf()
		if _, err := buf.ReadFrom(r); err != nil {
			putBuf(buf)
			c.onReadError(ws, err)
			return
		}
		ok := c.onFrame(ws, mt, buf.Bytes())
		putBuf(buf)
		if !ok {
			return
		}
	}
}

// onFrame handles one websocket message. It returns false when the reader
// must stop.
func (c *Conn) onFrame(ws *websocket.Conn, mt int, data []byte) bool {
	c.mu.Lock()
	isProbe, isMain := c.probe == ws, c.ws == ws
	c.mu.Unlock()
	switch {
	case isProbe:
		return c.onProbeFrame(ws, mt, data)
	case !isMain:
		return false
	}
	if mt == websocket.BinaryMessage {
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
func (c *Conn) onProbeFrame(ws *websocket.Conn, mt int, data []byte) bool {
	if mt == websocket.TextMessage && string(data) == "2probe" {
		_ = ws.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
		if err := pongProbeMessage.writeWS(ws); err != nil {
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
	if mt == websocket.TextMessage && string(data) == "5" {
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
		c.ws, c.rc = ws, rawConnOf(ws)
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

// abortProbe abandons the upgrade if ws is still the probe.
func (c *Conn) abortProbe(ws *websocket.Conn) {
	c.mu.Lock()
	if c.probe == ws {
		c.abortProbeLocked()
	}
	c.mu.Unlock()
	_ = ws.Close()
}

// onReadError handles the end of a websocket's read side.
func (c *Conn) onReadError(ws *websocket.Conn, err error) {
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

// readErrorReason maps a read error to Node's close reason: the peer going
// away is "transport close", anything else (oversized message, protocol
// violation) is "transport error".
func readErrorReason(err error) string {
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce),
		errors.Is(err, io.EOF),
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
// Writing to ws.NetConn() directly is sound because this goroutine is the
// connection's only data writer; the few control frames written through
// gorilla (the pong answering a client ping, the close frame) are each one
// write call on the same net.Conn, whose Write calls do not interleave.
func (c *Conn) writeLoop(ws *websocket.Conn) {
	defer c.srv.wg.Done()
	nc := ws.NetConn()
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

// rawConnOf returns the raw connection under ws for non-blocking writes,
// nil when there is none (a TLS connection, a test double).
func rawConnOf(ws *websocket.Conn) syscall.RawConn {
	sc, ok := ws.NetConn().(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
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
	for w.n < len(w.b) {
		k, err := syscall.Write(int(fd), w.b[w.n:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return true // the socket buffer is full: do not wait
		case err != nil:
			w.err = err
			return true
		case k <= 0:
			return true
		}
		w.n += k
	}
	return true
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
func (c *Conn) writeNow(ws *websocket.Conn, rc syscall.RawConn, msgs []*Message, owned bool) {
	hooks := &c.srv.cfg.Hooks
	bp := frameBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	var out packetsOut
	done, doneBytes := 0, 0
	partial := false
	partialOff, partialBytes := 0, 0
	err := c.setWriteDeadline(ws.NetConn())
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
		n, err = rawWrite(rc, buf)
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
	ws, rc := c.ws, c.rc
	if c.state == stateClosed || ws == nil || rc == nil {
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
	c.writeNow(ws, rc, batch, true)
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

// finishClose ends a graceful websocket close: close frame, then finalize;
// the reader drops the connection once the client answers (or after
// wsCloseGrace).
func (c *Conn) finishClose(ws *websocket.Conn) {
	now := time.Now()
	_ = ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), now.Add(c.srv.cfg.WriteTimeout))
	_ = ws.SetReadDeadline(now.Add(wsCloseGrace))
	c.mu.Lock()
	c.writerIdleLocked()
	after := c.finalizeLocked(c.closeReason, true)
	c.mu.Unlock()
	after()
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

package engineio

import (
	"errors"
	"io"
	"net"
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

// writeLoop is the websocket writer: it runs while the queue is non-empty,
// writes everything queued (one frame per packet, with WriteTimeout per
// write) and exits when the queue is drained. When the session is closing
// and the queue is empty it sends the close frame and finalizes.
func (c *Conn) writeLoop(ws *websocket.Conn) {
	defer c.srv.wg.Done()
	hooks := &c.srv.cfg.Hooks
	timeout := c.srv.cfg.WriteTimeout
	for {
		c.mu.Lock()
		if c.state == stateClosed || c.ws != ws {
			c.writerIdleLocked()
			c.mu.Unlock()
			return
		}
		if len(c.queue) == 0 {
			if c.state == stateClosing {
				c.mu.Unlock()
				c.finishClose(ws)
				return
			}
			c.writerIdleLocked()
			c.queue = nil
			c.mu.Unlock()
			return
		}
		batch := c.queue
		c.queue = nil
		c.mu.Unlock()

		written := 0
		for i, m := range batch {
			_ = ws.SetWriteDeadline(time.Now().Add(timeout))
			if err := m.writeWS(ws); err != nil {
				c.closeNow(reasonTransportError)
				c.mu.Lock()
				c.writerIdleLocked()
				c.mu.Unlock()
				return
			}
			hooks.packetOut(m.typ, m.payloadLen())
			written += m.size()
			batch[i] = nil
		}
		c.mu.Lock()
		if c.state != stateClosed {
			c.queueBytes -= written
			hooks.queueBytes(-written)
		}
		c.mu.Unlock()
	}
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

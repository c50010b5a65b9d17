package engineio

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// bufPool recycles request/response buffers; large ones are not kept.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBuf = 64 << 10

func getBuf() *bytes.Buffer { return bufPool.Get().(*bytes.Buffer) }

func putBuf(b *bytes.Buffer) {
	if b.Cap() > maxPooledBuf {
		return
	}
	b.Reset()
	bufPool.Put(b)
}

// writePollBody answers a GET with an Engine.IO payload.
func writePollBody(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// writeOK answers a POST as Node does.
func writeOK(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html")
	h.Set("Content-Length", "2")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("ok"))
}

// drainPollingLocked appends every queued message, joined by the record
// separator, to dst and empties the queue.
func (c *Conn) drainPollingLocked(dst []byte) []byte {
	hooks := &c.srv.cfg.Hooks
	for i, m := range c.queue {
		if len(dst) > 0 {
			dst = append(dst, recordSeparator)
		}
		dst = m.appendPolling(dst)
		hooks.packetOut(m.typ, m.payloadLen())
		c.queue[i] = nil
	}
	hooks.queueBytes(-c.queueBytes)
	c.queue = c.queue[:0]
	if cap(c.queue) > 64 {
		c.queue = nil
	}
	c.queueBytes = 0
	return dst
}

// pollTakeLocked computes the body for the pending GET, if it can be
// answered now: the close/noop release, the queue, or a noop during an
// upgrade. after (non-nil) must run once c.mu is released.
func (c *Conn) pollTakeLocked(dst []byte) (body []byte, ready bool, after func()) {
	switch {
	case c.state == stateClosed:
		f := c.getFinal
		c.getFinal = ""
		if f == "" {
			f = "1"
		}
		return append(dst, f...), true, nil
	case c.websocket:
		// Upgraded while this GET was pending.
		return append(dst, '6'), true, nil
	case c.state == stateClosing && c.closeReason == reasonTransportClose:
		// Closed by the client: release the GET with a noop (Node).
		return append(dst, '6'), true, c.finalizeLocked(reasonTransportClose, false)
	case c.state == stateClosing:
		dst = c.drainPollingLocked(dst)
		if len(dst) > 0 {
			dst = append(dst, recordSeparator)
		}
		dst = append(dst, '1')
		return dst, true, c.finalizeLocked(c.closeReason, true)
	case len(c.queue) > 0:
		return c.drainPollingLocked(dst), true, nil
	case c.probed:
		// Release the GET so the client can finish the upgrade.
		return append(dst, '6'), true, nil
	}
	return dst, false, nil
}

// upgradeCheckInterval is how long a GET arriving during an upgrade probe
// may wait for the upgrade to settle (Node's checkIntervalTimer).
const upgradeCheckInterval = 100 * time.Millisecond

// servePollGET handles a long-polling GET: answer at once if something is
// pending, otherwise hold the request until there is.
func (c *Conn) servePollGET(w http.ResponseWriter, r *http.Request) {
	buf := getBuf()
	defer putBuf(buf)

	c.mu.Lock()
	switch {
	case c.state == stateClosed:
		c.mu.Unlock()
		writeError(w, codeUnknownSID, 0)
		return
	case c.websocket:
		c.mu.Unlock()
		writeError(w, codeBadRequest, 0)
		return
	case c.getWaiter != nil:
		// A second concurrent GET: Node closes the session ("overlap
		// from client"); the pending GET gets the close packet.
		after := c.finalizeLocked(reasonTransportError, false)
		c.mu.Unlock()
		after()
		writeError(w, codeBadRequest, 0)
		return
	}
	if (c.probe != nil || c.probed || c.upgrading) && len(c.queue) == 0 {
		// A GET that arrives while an upgrade websocket is open: Node
		// answers it from a 100 ms check timer, so a "5" the client sent
		// just before this GET completes the upgrade first. Give it that
		// window, then answer as the state then requires (400 once
		// upgraded, "6" otherwise).
		c.mu.Unlock()
		for deadline := time.Now().Add(upgradeCheckInterval); time.Now().Before(deadline); {
			time.Sleep(2 * time.Millisecond)
			c.mu.Lock()
			waiting := (c.probe != nil || c.probed || c.upgrading) && !c.websocket && c.state == stateOpen
			c.mu.Unlock()
			if !waiting {
				break
			}
		}
		c.mu.Lock()
		if c.websocket || c.getWaiter != nil || c.state == stateClosed {
			c.mu.Unlock()
			writeError(w, codeBadRequest, 0)
			return
		}
	}
	body, ready, after := c.pollTakeLocked(buf.Bytes())
	if ready {
		c.mu.Unlock()
		if after != nil {
			after()
		}
		writePollBody(w, body)
		return
	}
	ch := make(chan struct{}, 1)
	c.getWaiter = ch
	c.mu.Unlock()

	done := r.Context().Done()
	for {
		aborted := false
		select {
		case <-ch:
		case <-done:
			aborted = true
		}
		c.mu.Lock()
		if aborted {
			if c.getWaiter == ch {
				c.getWaiter = nil
			}
			// Node: "poll connection closed prematurely".
			after := c.finalizeLocked(reasonTransportError, false)
			c.mu.Unlock()
			after()
			return
		}
		body, ready, after = c.pollTakeLocked(buf.Bytes())
		if !ready {
			c.mu.Unlock()
			continue
		}
		if c.getWaiter == ch {
			c.getWaiter = nil
		}
		c.mu.Unlock()
		if after != nil {
			after()
		}
		writePollBody(w, body)
		return
	}
}

// servePollPOST handles a long-polling POST: decode its payload, handle
// every packet, then answer "ok".
func (c *Conn) servePollPOST(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	switch {
	case c.state == stateClosed:
		c.mu.Unlock()
		writeError(w, codeUnknownSID, 0)
		return
	case c.websocket:
		c.mu.Unlock()
		writeError(w, codeBadRequest, 0)
		return
	case c.postActive:
		// Node: "data request overlap from client".
		after := c.finalizeLocked(reasonTransportError, false)
		c.mu.Unlock()
		after()
		writeError(w, codeBadRequest, 0)
		return
	}
	c.postActive = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.postActive = false
		c.mu.Unlock()
	}()

	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt == "application/octet-stream" {
			// Binary POSTs are not part of v4 polling: Node rejects them.
			c.closeNow(reasonTransportError)
			writeError(w, codeBadRequest, 0)
			return
		}
	}
	limit := c.srv.cfg.MaxHTTPBufferSize
	if r.ContentLength > limit {
		c.closeNow(reasonTransportError)
		writeTooLarge(w)
		return
	}
	buf := getBuf()
	defer putBuf(buf)
	n, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	if n > limit {
		c.closeNow(reasonTransportError)
		writeTooLarge(w)
		return
	}
	if err != nil {
		// The client went away mid-body; nothing to answer.
		return
	}
	var scratch []byte
	perr := decodePayload(buf.Bytes(), &scratch, c.onPacket)
	if perr != nil {
		c.closeNow(reasonParseError)
		writeError(w, codeBadRequest, 0)
		return
	}
	writeOK(w)
}

// writeTooLarge answers 413 as Node does for an oversized POST.
func writeTooLarge(w http.ResponseWriter) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusRequestEntityTooLarge)
}

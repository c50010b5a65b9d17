package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	handshakeTimeout = 10 * time.Second
	writeTimeout     = 5 * time.Second
	// writeDeadlineSlack is how much of writeTimeout may elapse before a
	// write moves the deadline again: re-arming the timer on every frame
	// costs more than the frame. A write may therefore time out after
	// 7/8 of writeTimeout.
	writeDeadlineSlack = writeTimeout / 8
)

// handler receives the Socket.IO packets of a connection. It is called by
// the connection's reader (its own goroutine, or the poller that serves
// it among many others) and must not block.
type handler interface {
	onEvent(c *client, body []byte)
	onAck(c *client, id uint64, payload []byte)
}

// client is one Socket.IO connection of the generator. Exactly one reader
// (a goroutine, or the poller serving the connection) owns rd, pbuf,
// lastSeq and the scenario fields marked "reader". Any goroutine may
// write with send: each frame is built in the caller's own frameBuf and
// goes out in one write, which the connection keeps whole under
// concurrent use, so no lock is held around the network write.
type client struct {
	b    *bench
	idx  int // index among the scenario's clients; also the histogram shard key
	node int // index into the target URLs
	conn net.Conn
	raw  syscall.RawConn // conn's descriptor when conn is plain TCP, else nil

	rd   wsReader     // reader
	pbuf frameBuf     // reader: the frames the reader writes (pongs, handshake)
	wdl  atomic.Int64 // write deadline set on conn, in b.now() time
	pc   pollConn     // reader: state of a connection served by a poller

	// Scenario state.
	recv    atomic.Int64 // deliveries (fanout) or round trips (echo)
	last    atomic.Int64 // ns since bench start of the last delivery
	ooo     atomic.Int64 // deliveries whose seq was not above the previous one
	lastSeq int64        // reader
	sbuf    []byte       // reader (echo): packet scratch
	fbuf    frameBuf     // reader (echo): the request frame
	ackID   uint64       // reader (echo): id of the request in flight
	sentAt  int64        // reader (echo): ns since bench start
	done    bool         // reader (echo): loop finished
}

// connect dials node, completes the Engine.IO and Socket.IO handshakes on
// namespace "/" and returns the connection with no reader running yet.
func (b *bench) connect(ctx context.Context, node int) (*client, error) {
	dctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	conn, leftover, err := dialWS(dctx, b.wsURLs[node])
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", b.wsURLs[node], err)
	}
	c := b.newClient(node, conn, leftover)
	deadline := time.Now().Add(handshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetReadDeadline(deadline)
	err = c.await(func(k frameKind, body []byte) (bool, error) {
		if k != kindOpen {
			return false, fmt.Errorf("expected open packet, got %q", truncate(body, 80))
		}
		_, err := parseOpen(body)
		return true, err
	})
	if err == nil {
		err = c.send(&c.pbuf, frameConnect)
	}
	if err == nil {
		err = c.await(func(k frameKind, body []byte) (bool, error) {
			switch k {
			case kindConnect:
				return true, nil
			case kindConnectError:
				return true, fmt.Errorf("connect refused: %s", connectErrorMessage(body))
			}
			return false, nil
		})
	}
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	_ = conn.SetReadDeadline(deadline) // reset by the caller after its own setup
	return c, nil
}

// newClient wraps an open WebSocket connection to node whose handshake
// left leftover unread.
func (b *bench) newClient(node int, conn net.Conn, leftover []byte) *client {
	c := &client{b: b, node: node, conn: conn, lastSeq: -1}
	if tc, ok := conn.(*net.TCPConn); ok {
		c.raw, _ = tc.SyscallConn()
	}
	c.rd.init(conn, b.cfg.MaxFrame, leftover)
	return c
}

// join sends join(room) with ack id 0 and waits for {"ok":true}. It must
// run before the reader goroutine starts.
func (c *client) join(roomJSON []byte) error {
	if err := c.send(&c.pbuf, appendJoin(nil, 0, roomJSON)); err != nil {
		return err
	}
	return c.await(func(k frameKind, body []byte) (bool, error) {
		if k != kindAck {
			return false, nil
		}
		id, payload, ok := splitAckID(body)
		if !ok || id != 0 {
			return false, nil
		}
		if !ackOK(payload) {
			return true, fmt.Errorf("join refused: %s", truncate(payload, 200))
		}
		return true, nil
	})
}

// await reads frames synchronously (before the reader goroutine exists),
// answering pings, until match says done or fails. Closing frames end it
// with an error.
func (c *client) await(match func(frameKind, []byte) (bool, error)) error {
	for {
		f, err := c.next()
		if err != nil {
			return err
		}
		k, body := classify(f)
		switch k {
		case kindPing:
			if err := c.send(&c.pbuf, framePong); err != nil {
				return err
			}
			continue
		case kindClose:
			return errSessionClosed
		case kindDisconnect:
			return errSocketDisconnected
		}
		if done, err := match(k, body); done || err != nil {
			return err
		}
	}
}

// next returns the next text message, in the connection's read buffer
// (valid until the following call). Binary messages are skipped and
// control frames are handled by control.
func (c *client) next() ([]byte, error) {
	for {
		op, p, err := c.rd.next()
		if err != nil {
			return nil, err
		}
		if op == opText {
			return p, nil
		}
		if err := c.control(op, p); err != nil {
			return nil, err
		}
	}
}

// control handles a WebSocket control frame on the reader: a ping is
// answered with a pong, and a close frame is answered and ends the
// connection with the returned error.
func (c *client) control(op byte, p []byte) error {
	switch op {
	case opPing:
		return c.write(&c.pbuf, opPong, p)
	case opClose:
		code, reason := closeCode(p)
		_ = c.write(&c.pbuf, opClose, p[:min(len(p), 2)])
		return fmt.Errorf("websocket: close %d %s", code, reason)
	}
	return nil
}

// frameBuf is where one writer of a connection builds its frames. A
// connection may be written by several goroutines at once as long as
// each uses a frameBuf of its own.
type frameBuf struct {
	b    []byte
	rest []byte                // not written yet (raw writes)
	err  error                 // error of the last raw write
	fn   func(fd uintptr) bool // raw write callback bound to this frameBuf
}

// send writes packet as one text frame built in fb.
func (c *client) send(fb *frameBuf, packet []byte) error {
	return c.write(fb, opText, packet)
}

// write sends one frame with opcode op, built in fb, with a single write
// (more only if the socket takes it in parts).
func (c *client) write(fb *frameBuf, op byte, payload []byte) error {
	fb.b = appendClientFrame(fb.b[:0], op, payload, rand.Uint32())
	if now := c.b.now(); c.wdl.Load()-now < int64(writeTimeout-writeDeadlineSlack) {
		c.wdl.Store(now + int64(writeTimeout))
		_ = c.conn.SetWriteDeadline(c.b.start.Add(time.Duration(now) + writeTimeout))
	}
	if c.raw != nil && rawWrites {
		return c.writeRaw(fb)
	}
	_, err := c.conn.Write(fb.b)
	return err
}

// start clears the handshake read deadline and hands the connection to
// its reader: one of the bench's pollers when the platform and the
// connection allow it, else a goroutine of its own. The caller must not
// touch the reader's fields afterwards.
func (c *client) start(h handler) {
	_ = c.conn.SetReadDeadline(time.Time{})
	if p := c.b.pollerFor(c); p != nil {
		p.add(c, h)
		return
	}
	c.b.readers.Add(1)
	go c.readLoop(h)
}

// readLoop is the connection's reader goroutine when no poller serves
// it: it hands every text message to dispatch until the connection fails
// or is closed.
func (c *client) readLoop(h handler) {
	defer c.b.readers.Done()
	for {
		f, err := c.next()
		if err == nil {
			err = c.dispatch(h, f)
		}
		if err != nil {
			c.b.lost(c, err)
			return
		}
	}
}

var (
	errSessionClosed      = errors.New("server closed the session")
	errSocketDisconnected = errors.New("server disconnected the socket")
)

// dispatch handles one Engine.IO text packet on the reader: it answers
// Engine.IO pings and hands events and acks to h. An error ends the
// connection.
func (c *client) dispatch(h handler, f []byte) error {
	k, body := classify(f)
	switch k {
	case kindPing:
		c.b.pings.Add(1)
		return c.send(&c.pbuf, framePong)
	case kindEvent:
		h.onEvent(c, body)
	case kindAck:
		id, payload, ok := splitAckID(body)
		if !ok {
			c.b.badFrames.Add(1)
			return nil
		}
		h.onAck(c, id, payload)
	case kindClose:
		return errSessionClosed
	case kindDisconnect:
		return errSocketDisconnected
	}
	return nil
}

// noHandler ignores events and acks (idle connections).
type noHandler struct{}

func (noHandler) onEvent(*client, []byte)       {}
func (noHandler) onAck(*client, uint64, []byte) {}

// jsonString returns s encoded as a JSON string.
func jsonString(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

const (
	handshakeTimeout = 10 * time.Second
	writeTimeout     = 5 * time.Second
	initialReadBuf   = 256
)

// handler receives the Socket.IO packets of a connection. It is called on
// the connection's reader goroutine and must not block.
type handler interface {
	onEvent(c *client, body []byte)
	onAck(c *client, id uint64, payload []byte)
}

// client is one Socket.IO connection of the generator. Exactly one reader
// goroutine owns rbuf, lastSeq and the scenario fields marked "reader";
// writes from any goroutine go through send, which serialises them with
// wmu as gorilla/websocket allows one concurrent writer.
type client struct {
	b    *bench
	idx  int // index among the scenario's clients; also the histogram shard key
	node int // index into the target URLs
	ws   *websocket.Conn

	wmu sync.Mutex

	rbuf []byte // reader

	// Scenario state.
	recv    atomic.Int64 // deliveries (fanout) or round trips (echo)
	last    atomic.Int64 // ns since bench start of the last delivery
	ooo     atomic.Int64 // deliveries whose seq was not above the previous one
	lastSeq int64        // reader
	sbuf    []byte       // reader (echo): frame scratch
	ackID   uint64       // reader (echo): id of the request in flight
	sentAt  int64        // reader (echo): ns since bench start
	done    bool         // reader (echo): loop finished
}

// connect dials node, completes the Engine.IO and Socket.IO handshakes on
// namespace "/" and returns the connection with no reader running yet.
func (b *bench) connect(ctx context.Context, node int) (*client, error) {
	dctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	ws, resp, err := b.dialer.DialContext(dctx, b.wsURLs[node], nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: %w (HTTP %d)", b.wsURLs[node], err, resp.StatusCode)
		}
		return nil, fmt.Errorf("dial %s: %w", b.wsURLs[node], err)
	}
	c := &client{b: b, node: node, ws: ws, rbuf: make([]byte, initialReadBuf), lastSeq: -1}
	ws.SetReadLimit(int64(b.cfg.MaxFrame))
	deadline := time.Now().Add(handshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = ws.SetReadDeadline(deadline)
	err = c.await(func(k frameKind, body []byte) (bool, error) {
		if k != kindOpen {
			return false, fmt.Errorf("expected open packet, got %q", truncate(body, 80))
		}
		_, err := parseOpen(body)
		return true, err
	})
	if err == nil {
		err = c.send(frameConnect)
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
		_ = ws.Close()
		return nil, err
	}
	_ = ws.SetReadDeadline(deadline) // reset by the caller after its own setup
	return c, nil
}

// join sends join(room) with ack id 0 and waits for {"ok":true}. It must
// run before the reader goroutine starts.
func (c *client) join(roomJSON []byte) error {
	if err := c.send(appendJoin(nil, 0, roomJSON)); err != nil {
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
			if err := c.send(framePong); err != nil {
				return err
			}
			continue
		case kindClose:
			return errors.New("server closed the session")
		case kindDisconnect:
			return errors.New("server disconnected the socket")
		}
		if done, err := match(k, body); done || err != nil {
			return err
		}
	}
}

// next returns the next text frame, read into the connection's reusable
// buffer (valid until the following call). Binary frames are skipped.
func (c *client) next() ([]byte, error) {
	for {
		typ, r, err := c.ws.NextReader()
		if err != nil {
			return nil, err
		}
		n := 0
		for {
			if n == len(c.rbuf) {
				if len(c.rbuf) >= c.b.cfg.MaxFrame {
					return nil, fmt.Errorf("frame longer than %d bytes", c.b.cfg.MaxFrame)
				}
				nb := make([]byte, min(2*len(c.rbuf), c.b.cfg.MaxFrame))
				copy(nb, c.rbuf)
				c.rbuf = nb
			}
			m, err := r.Read(c.rbuf[n:])
			n += m
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
		}
		if typ == websocket.TextMessage {
			return c.rbuf[:n], nil
		}
	}
}

// send writes one text frame. It is safe for concurrent use.
func (c *client) send(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	return c.ws.WriteMessage(websocket.TextMessage, frame)
}

// start clears the handshake read deadline and runs the reader goroutine.
func (c *client) start(h handler) {
	_ = c.ws.SetReadDeadline(time.Time{})
	c.b.readers.Add(1)
	go c.readLoop(h)
}

// readLoop is the connection's only reader: it answers pings and hands
// events and acks to h until the connection fails or is closed.
func (c *client) readLoop(h handler) {
	defer c.b.readers.Done()
	for {
		f, err := c.next()
		if err != nil {
			c.b.lost(c, err)
			return
		}
		k, body := classify(f)
		switch k {
		case kindPing:
			c.b.pings.Add(1)
			if err := c.send(framePong); err != nil {
				c.b.lost(c, err)
				return
			}
		case kindEvent:
			h.onEvent(c, body)
		case kindAck:
			id, payload, ok := splitAckID(body)
			if !ok {
				c.b.badFrames.Add(1)
				continue
			}
			h.onAck(c, id, payload)
		case kindClose:
			c.b.lost(c, errors.New("server closed the session"))
			return
		case kindDisconnect:
			c.b.lost(c, errors.New("server disconnected the socket"))
			return
		}
	}
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

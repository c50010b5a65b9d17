package siotest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sio-go/sio/node/parser"
)

// EventBuffer bounds the events a Client holds before Next reads them.
const EventBuffer = 4096

// ErrOverflow is returned by Next after events were dropped.
var ErrOverflow = errors.New("siotest: event buffer overflow")

// ErrClosed is returned once the connection is closed.
var ErrClosed = errors.New("siotest: connection closed")

// Event is an incoming EVENT (or DISCONNECT, with Name "disconnect").
type Event struct {
	Nsp  string
	Name string
	// Args holds each argument: json.RawMessage, or []byte for a binary
	// placeholder at top level.
	Args []any
	// Ack answers the event when the server asked for an ack; nil otherwise.
	Ack func(args ...any) error
}

// Raw returns argument i as JSON text ("" when binary or missing).
func (e Event) Raw(i int) string {
	if i < len(e.Args) {
		if r, ok := e.Args[i].(json.RawMessage); ok {
			return string(r)
		}
	}
	return ""
}

// Client is one Engine.IO websocket session.
type Client struct {
	conn *websocket.Conn
	// SID is the Engine.IO session id.
	SID string

	wmu sync.Mutex // serializes writes

	mu        sync.Mutex
	acks      map[uint64]chan []any
	nextID    uint64
	connects  map[string]chan connectResult
	events    chan Event
	overflow  bool
	closed    chan struct{}
	closeOnce sync.Once
	err       error
}

type connectResult struct {
	sid string
	err error
}

// Dial opens a websocket session to base, e.g. "http://127.0.0.1:3000"
// (path "/socket.io/"), and waits for the Engine.IO handshake.
func Dial(ctx context.Context, base string, header http.Header) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/socket.io/"
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	q := u.Query()
	q.Set("EIO", "4")
	q.Set("transport", "websocket")
	u.RawQuery = q.Encode()
	conn, resp, err := websocket.DefaultDialer.DialContext(ctx, u.String(), header)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	c := &Client{
		conn:     conn,
		acks:     make(map[uint64]chan []any),
		connects: make(map[string]chan connectResult),
		events:   make(chan Event, EventBuffer),
		closed:   make(chan struct{}),
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetReadDeadline(dl)
	}
	_, msg, err := conn.ReadMessage()
	if err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetReadDeadline(time.Time{})
	if len(msg) == 0 || msg[0] != '0' {
		conn.Close()
		return nil, fmt.Errorf("siotest: unexpected handshake %q", msg)
	}
	var open struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(msg[1:], &open); err != nil {
		conn.Close()
		return nil, err
	}
	c.SID = open.SID
	go c.readLoop()
	return c, nil
}

// Close closes the connection.
func (c *Client) Close() error {
	c.shutdown(ErrClosed)
	return nil
}

// Done is closed when the connection ends.
func (c *Client) Done() <-chan struct{} { return c.closed }

func (c *Client) shutdown(err error) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		close(c.closed)
		c.conn.Close()
	})
}

func (c *Client) write(typ int, data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.conn.WriteMessage(typ, data)
}

// SendRaw sends one Engine.IO text frame as is (e.g. "42[\"x\"]").
func (c *Client) SendRaw(frame string) error { return c.write(websocket.TextMessage, []byte(frame)) }

func (c *Client) sendPacket(p *parser.Packet) error {
	if err := c.write(websocket.TextMessage, append([]byte{'4'}, parser.Encode(p)...)); err != nil {
		return err
	}
	for _, a := range p.Attachments {
		if err := c.write(websocket.BinaryMessage, a); err != nil {
			return err
		}
	}
	return nil
}

// Connect joins namespace nsp with auth (nil for none) and returns the
// Socket.IO socket id, or the CONNECT_ERROR's message as an error.
func (c *Client) Connect(ctx context.Context, nsp string, auth any) (string, error) {
	ch := make(chan connectResult, 1)
	c.mu.Lock()
	c.connects[nsp] = ch
	c.mu.Unlock()
	p := &parser.Packet{Type: parser.Connect, Nsp: nsp}
	if auth != nil {
		b, err := json.Marshal(auth)
		if err != nil {
			return "", err
		}
		p.Data = b
	}
	if err := c.sendPacket(p); err != nil {
		return "", err
	}
	select {
	case r := <-ch:
		return r.sid, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	case <-c.closed:
		return "", c.closeErr()
	}
}

// Disconnect leaves namespace nsp.
func (c *Client) Disconnect(nsp string) error {
	return c.sendPacket(&parser.Packet{Type: parser.Disconnect, Nsp: nsp})
}

// Emit sends event on namespace nsp.
func (c *Client) Emit(nsp, event string, args ...any) error {
	data, atts, err := parser.EncodeData(append([]any{event}, args...))
	if err != nil {
		return err
	}
	p := &parser.Packet{Type: parser.Event, Nsp: nsp, Data: data, Attachments: atts}
	if len(atts) > 0 {
		p.Type = parser.BinaryEvent
	}
	return c.sendPacket(p)
}

// EmitWithAck sends event on nsp and waits for the server's ack.
func (c *Client) EmitWithAck(ctx context.Context, nsp, event string, args ...any) ([]any, error) {
	data, atts, err := parser.EncodeData(append([]any{event}, args...))
	if err != nil {
		return nil, err
	}
	ch := make(chan []any, 1)
	c.mu.Lock()
	id := c.nextID
	c.nextID++
	c.acks[id] = ch
	c.mu.Unlock()
	p := &parser.Packet{Type: parser.Event, Nsp: nsp, ID: id, HasID: true, Data: data, Attachments: atts}
	if len(atts) > 0 {
		p.Type = parser.BinaryEvent
	}
	if err := c.sendPacket(p); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.acks, id)
		c.mu.Unlock()
		return nil, ctx.Err()
	case <-c.closed:
		return nil, c.closeErr()
	}
}

// Next returns the next incoming event.
func (c *Client) Next(ctx context.Context) (Event, error) {
	select {
	case e := <-c.events:
		return e, nil
	default:
	}
	c.mu.Lock()
	of := c.overflow
	c.mu.Unlock()
	if of {
		return Event{}, ErrOverflow
	}
	select {
	case e := <-c.events:
		return e, nil
	case <-ctx.Done():
		return Event{}, ctx.Err()
	case <-c.closed:
		select {
		case e := <-c.events:
			return e, nil
		default:
		}
		return Event{}, c.closeErr()
	}
}

// Wait returns the next event named name, discarding others.
func (c *Client) Wait(ctx context.Context, name string) (Event, error) {
	for {
		e, err := c.Next(ctx)
		if err != nil || e.Name == name {
			return e, err
		}
	}
}

func (c *Client) closeErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	return ErrClosed
}

func (c *Client) readLoop() {
	dec := parser.NewDecoder(0)
	for {
		typ, msg, err := c.conn.ReadMessage()
		if err != nil {
			c.shutdown(err)
			return
		}
		if typ == websocket.TextMessage {
			if len(msg) == 0 {
				continue
			}
			switch msg[0] {
			case '2':
				_ = c.write(websocket.TextMessage, []byte("3"))
				continue
			case '1':
				c.shutdown(ErrClosed)
				return
			case '4':
				msg = msg[1:]
			default:
				continue
			}
		}
		p, err := dec.Add(msg, typ == websocket.BinaryMessage)
		if err != nil {
			c.shutdown(err)
			return
		}
		if p != nil {
			c.handle(p)
		}
	}
}

func (c *Client) handle(p *parser.Packet) {
	switch p.Type {
	case parser.Connect, parser.ConnectError:
		var body struct {
			SID     string `json:"sid"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(p.Data, &body)
		c.mu.Lock()
		ch := c.connects[p.Nsp]
		delete(c.connects, p.Nsp)
		c.mu.Unlock()
		if ch == nil {
			return
		}
		if p.Type == parser.Connect {
			ch <- connectResult{sid: body.SID}
		} else {
			ch <- connectResult{err: &ConnectError{Message: body.Message, Raw: p.Data}}
		}
	case parser.Event, parser.BinaryEvent:
		vals, err := parser.DecodeData(p.Data, p.Attachments)
		if err != nil || len(vals) == 0 {
			return
		}
		var name string
		if r, ok := vals[0].(json.RawMessage); ok {
			_ = json.Unmarshal(r, &name)
		}
		e := Event{Nsp: p.Nsp, Name: name, Args: vals[1:]}
		if p.HasID {
			id, nsp := p.ID, p.Nsp
			var once sync.Once
			e.Ack = func(args ...any) error {
				err := errors.New("siotest: ack already sent")
				once.Do(func() {
					data, atts, encErr := parser.EncodeData(args)
					if encErr != nil {
						err = encErr
						return
					}
					ap := &parser.Packet{Type: parser.Ack, Nsp: nsp, ID: id, HasID: true, Data: data, Attachments: atts}
					if len(atts) > 0 {
						ap.Type = parser.BinaryAck
					}
					err = c.sendPacket(ap)
				})
				return err
			}
		}
		c.push(e)
	case parser.Ack, parser.BinaryAck:
		vals, err := parser.DecodeData(p.Data, p.Attachments)
		if err != nil {
			return
		}
		c.mu.Lock()
		ch := c.acks[p.ID]
		delete(c.acks, p.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- vals
		}
	case parser.Disconnect:
		c.push(Event{Nsp: p.Nsp, Name: "disconnect"})
	}
}

func (c *Client) push(e Event) {
	select {
	case c.events <- e:
	default:
		c.mu.Lock()
		c.overflow = true
		c.mu.Unlock()
	}
}

// ConnectError is a CONNECT_ERROR answer.
type ConnectError struct {
	Message string
	Raw     json.RawMessage
}

// Error returns the message.
func (e *ConnectError) Error() string { return "connect_error: " + e.Message }

package engineio

// API CONTRACT (written first so node/ can build against it; the
// implementation fills in the bodies and may add unexported fields, but the
// exported names and signatures below are fixed).

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Config configures a Server. The zero value works; defaults are on each field.
type Config struct {
	// PingInterval is the heartbeat period. Default 25s.
	PingInterval time.Duration
	// PingTimeout is how long the server waits for a pong. Default 20s.
	PingTimeout time.Duration
	// UpgradeTimeout bounds the polling→websocket upgrade. Default 10s.
	UpgradeTimeout time.Duration
	// MaxHTTPBufferSize bounds one message and one POST body (bytes). Default 1e6.
	MaxHTTPBufferSize int64
	// Transports lists the allowed transports, "polling" and/or
	// "websocket". Default both.
	Transports []string
	// MaxQueueBytes bounds the bytes queued for one connection; past it the
	// session closes with reason "slow consumer". Default 4 MiB.
	MaxQueueBytes int
	// WriteTimeout bounds one network write on a websocket. Default 10s.
	WriteTimeout time.Duration
	// CORS configures cross-origin polling requests and websocket origin checks.
	CORS CORS
	// AllowRequest, when set, may reject a handshake: a non-nil error
	// answers code 4 "Forbidden" (HTTP 403).
	AllowRequest func(r *http.Request) error
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// Hooks receive transport-level events for metrics; nil fields are skipped.
	Hooks Hooks
}

// CORS configures cross-origin access.
type CORS struct {
	// Origins lists the allowed origins ("https://a.example"); "*" allows
	// any. Empty: requests with an Origin header different from the Host
	// are refused (same-origin only), as Node does without cors options.
	Origins []string
	// Credentials sets Access-Control-Allow-Credentials: true.
	Credentials bool
}

// Hooks observe the server for metrics. Every field may be nil. Hooks must
// be fast and must not block.
type Hooks struct {
	// SessionOpened/SessionClosed track sessions by transport name.
	SessionOpened func(transport string)
	SessionClosed func(transport string, reason string)
	// Upgraded reports a polling session that moved to websocket.
	Upgraded func()
	// PacketIn/PacketOut count Engine.IO packets by type name
	// ("message", "ping", ...) and their payload bytes.
	PacketIn  func(typ string, bytes int)
	PacketOut func(typ string, bytes int)
	// QueueBytes reports a change (+/-) of bytes queued for writing.
	QueueBytes func(delta int)
	// VolatileDropped counts messages dropped by TrySend.
	VolatileDropped func()
}

// Handler receives a connection's events. Methods are called from one
// goroutine at a time per connection, in order.
type Handler interface {
	// OnMessage receives one message packet's payload. data is only valid
	// during the call. binary tells a binary message from a text one. For
	// polling, the POST that carried it is answered only after OnMessage
	// returns for all its packets.
	OnMessage(data []byte, binary bool)
	// OnClose is called once when the session ends, with Node's reason
	// ("transport close", "transport error", "ping timeout",
	// "forced close", "parse error", "slow consumer",
	// "server shutting down").
	OnClose(reason string)
}

// Message is an encoded outgoing Engine.IO message packet. It is immutable
// once built and may be shared by many connections (a broadcast builds it
// once); the websocket frame is prepared once, lazily.
type Message struct {
	// unexported: the payload, binary flag, lazily prepared frames.
}

// NewTextMessage returns a text message packet carrying s.
func NewTextMessage(s []byte) *Message { panic("todo") }

// NewBinaryMessage returns a binary message packet carrying b.
func NewBinaryMessage(b []byte) *Message { panic("todo") }

// Server is an Engine.IO v4 server. It is an http.Handler for the path it
// is mounted at.
type Server struct{}

// NewServer returns a Server. onConnection is called for every new session
// before any of its packets is handled; it must call Conn.SetHandler.
func NewServer(cfg Config, onConnection func(c *Conn)) *Server { panic("todo") }

// ServeHTTP handles Engine.IO polling and websocket requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { panic("todo") }

// SetAccepting(false) makes new handshakes fail with 503 (draining);
// existing sessions keep working.
func (s *Server) SetAccepting(ok bool) { panic("todo") }

// Count returns the number of open sessions.
func (s *Server) Count() int { panic("todo") }

// Close closes every session with the given reason, flushing what is queued.
func (s *Server) Close(reason string) { panic("todo") }

// Conn is one Engine.IO session. Its methods are goroutine-safe.
type Conn struct{}

// RequestInfo is what a session keeps of its handshake request (the request
// itself is not retained).
type RequestInfo struct {
	Header     http.Header
	RemoteAddr string
	URL        string // path and raw query as received
	Query      url.Values
	Secure     bool
	Time       time.Time
}

// ID returns the Engine.IO session id.
func (c *Conn) ID() string { panic("todo") }

// Request returns the handshake request's details.
func (c *Conn) Request() *RequestInfo { panic("todo") }

// Transport returns "polling" or "websocket" (the current transport).
func (c *Conn) Transport() string { panic("todo") }

// SetHandler sets the event handler; call it from onConnection.
func (c *Conn) SetHandler(h Handler) { panic("todo") }

// Send queues messages, in order and contiguously (a packet and its
// binary attachments), to the connection's writer. It never blocks. It
// returns ErrClosed on a closed session and ErrSlowConsumer when the queue
// bound is passed (the session is then closed with "slow consumer").
func (c *Conn) Send(msgs ...*Message) error { panic("todo") }

// TrySend is Send for volatile messages: it drops them (returning false)
// when the transport is not ready to write (queue not empty, no pending
// GET, upgrade in progress).
func (c *Conn) TrySend(msgs ...*Message) bool { panic("todo") }

// Close flushes what is queued and closes the session; OnClose gets
// reason.
func (c *Conn) Close(reason string) { panic("todo") }

// ErrClosed is returned by Send on a closed session.
var ErrClosed = errors.New("engineio: session closed")

// ErrSlowConsumer is returned by Send when the queue bound is passed.
var ErrSlowConsumer = errors.New("engineio: slow consumer")

package engineio

import (
	"log/slog"
	"net/http"
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
	// MaxHTTPBufferSize bounds one message and one POST body (bytes).
	// Default 1e6; values above 1 TiB (math.MaxInt64 for "no limit") count
	// as 1 TiB, which keeps the size arithmetic from overflowing.
	MaxHTTPBufferSize int64
	// Transports lists the allowed transports, "polling" and/or
	// "websocket". Default both. Unknown names are ignored; a list with no
	// known name means the default.
	Transports []string
	// MaxQueueBytes bounds the bytes queued for one connection; past it the
	// session closes with reason "slow consumer". A pong answering a
	// client's websocket ping counts 64 bytes more than its payload.
	// Default 4 MiB.
	MaxQueueBytes int
	// WriteTimeout bounds one network write on a websocket. Default 10s.
	WriteTimeout time.Duration
	// CORS configures cross-origin polling requests and websocket origin checks.
	CORS CORS
	// AllowRequest, when set, may reject a handshake: a non-nil error
	// answers HTTP 403 {"code":4,"message":<the error's text>}, as Node's
	// allowRequest does with its message ("Forbidden" for an empty one);
	// ErrUnavailable answers 503 instead (over capacity).
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
	// A listed origin is echoed in Access-Control-Allow-Origin; under "*"
	// the others get "*", as Node's cors package answers for origin "*",
	// so browsers refuse them credentialed requests (cookies): list the
	// origins that may send credentials.
	Origins []string
	// Credentials sets Access-Control-Allow-Credentials: true.
	Credentials bool
}

// Hooks observe the server for metrics. Every field may be nil. Hooks must
// be fast and must not block; they may be called with a session's lock
// held, so they must not call back into this package.
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
	// PacketsOut, when set, replaces PacketOut for websocket writes: one
	// call per run of same-type packets in a written batch, with their
	// count and payload bytes (fewer metric updates on a busy connection).
	PacketsOut func(typ string, packets, bytes int)
	// QueueBytes reports a change (+/-) of bytes queued for writing.
	QueueBytes func(delta int)
	// VolatileDropped counts messages dropped by TrySend (one call per
	// dropped TrySend call).
	VolatileDropped func()
}

// Default configuration values (Node's engine.io defaults where it has one).
const (
	defaultPingInterval      = 25 * time.Second
	defaultPingTimeout       = 20 * time.Second
	defaultUpgradeTimeout    = 10 * time.Second
	defaultMaxHTTPBufferSize = 1_000_000
	maxMaxHTTPBufferSize     = 1 << 40
	defaultMaxQueueBytes     = 4 << 20
	defaultWriteTimeout      = 10 * time.Second
)

// Transport names as they appear in the "transport" query parameter.
const (
	transportPolling   = "polling"
	transportWebSocket = "websocket"
)

// withDefaults returns cfg with every zero field replaced by its default.
func (cfg Config) withDefaults() Config {
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = defaultPingInterval
	}
	if cfg.PingTimeout <= 0 {
		cfg.PingTimeout = defaultPingTimeout
	}
	if cfg.UpgradeTimeout <= 0 {
		cfg.UpgradeTimeout = defaultUpgradeTimeout
	}
	if cfg.MaxHTTPBufferSize <= 0 {
		cfg.MaxHTTPBufferSize = defaultMaxHTTPBufferSize
	}
	cfg.MaxHTTPBufferSize = min(cfg.MaxHTTPBufferSize, maxMaxHTTPBufferSize)
	if cfg.MaxQueueBytes <= 0 {
		cfg.MaxQueueBytes = defaultMaxQueueBytes
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = defaultWriteTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// allowedTransports resolves cfg.Transports.
func (cfg Config) allowedTransports() (polling, websocket bool) {
	for _, t := range cfg.Transports {
		switch t {
		case transportPolling:
			polling = true
		case transportWebSocket:
			websocket = true
		}
	}
	if !polling && !websocket {
		return true, true
	}
	return polling, websocket
}

// Nil-safe hook calls.

func (h *Hooks) sessionOpened(t string) {
	if h.SessionOpened != nil {
		h.SessionOpened(t)
	}
}

func (h *Hooks) sessionClosed(t, reason string) {
	if h.SessionClosed != nil {
		h.SessionClosed(t, reason)
	}
}

func (h *Hooks) upgraded() {
	if h.Upgraded != nil {
		h.Upgraded()
	}
}

func (h *Hooks) packetIn(t packetType, n int) {
	if h.PacketIn != nil {
		h.PacketIn(t.String(), n)
	}
}

func (h *Hooks) packetOut(t packetType, n int) {
	if h.PacketOut != nil {
		h.PacketOut(t.String(), n)
	}
}

// packetsOut aggregates the PacketOut events of a written batch into runs
// of one packet type, for Hooks.PacketsOut.
type packetsOut struct {
	typ     packetType
	packets int
	bytes   int
}

// add records m as written.
func (o *packetsOut) add(h *Hooks, m *Message) {
	if m.op != 0 {
		return // a websocket control frame, not a packet
	}
	if h.PacketsOut == nil {
		h.packetOut(m.typ, m.payloadLen())
		return
	}
	if o.packets > 0 && o.typ != m.typ {
		o.flush(h)
	}
	o.typ = m.typ
	o.packets++
	o.bytes += m.payloadLen()
}

// flush reports the current run.
func (o *packetsOut) flush(h *Hooks) {
	if o.packets > 0 && h.PacketsOut != nil {
		h.PacketsOut(o.typ.String(), o.packets, o.bytes)
	}
	o.packets, o.bytes = 0, 0
}

func (h *Hooks) queueBytes(delta int) {
	if h.QueueBytes != nil && delta != 0 {
		h.QueueBytes(delta)
	}
}

func (h *Hooks) volatileDropped() {
	if h.VolatileDropped != nil {
		h.VolatileDropped()
	}
}

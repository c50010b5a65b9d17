package node

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sio-go/sio/adapter"
	"github.com/sio-go/sio/node/engineio"
)

// Config configures a Server. The zero value works: every field documents
// its default, which matches socket.io's.
type Config struct {
	// Path is where the server is mounted by the embedding program, used
	// for documentation and by Handler. Default "/socket.io/".
	Path string
	// PingInterval is the Engine.IO heartbeat period. Default 25s.
	PingInterval time.Duration
	// PingTimeout is how long a pong may take. Default 20s.
	PingTimeout time.Duration
	// UpgradeTimeout bounds the polling→websocket upgrade. Default 10s.
	UpgradeTimeout time.Duration
	// ConnectTimeout closes a connection that joins no namespace in time.
	// Default 45s.
	ConnectTimeout time.Duration
	// MaxHTTPBufferSize bounds one message and one polling POST, in bytes.
	// Default 1e6; at most 1 TiB (larger values, math.MaxInt64 included,
	// count as 1 TiB).
	MaxHTTPBufferSize int64
	// MaxAttachments bounds the binary attachments of one packet. Default 10.
	MaxAttachments int
	// Transports lists the allowed transports ("polling", "websocket").
	// Default both.
	Transports []string
	// MaxQueueBytes bounds the bytes queued for one connection; a client
	// that falls further behind is disconnected ("slow consumer").
	// Default 4 MiB.
	MaxQueueBytes int
	// WriteTimeout bounds one websocket write. Default 10s.
	WriteTimeout time.Duration
	// CORS configures cross-origin access. Default: same-origin only.
	CORS engineio.CORS
	// AllowRequest may reject a handshake: HTTP 403, code 4, with the
	// error's text as the message (as Node's allowRequest).
	AllowRequest func(r *http.Request) error
	// MaxConnections bounds the Engine.IO sessions of this node; further
	// handshakes are refused with 503. Default 0: unlimited.
	MaxConnections int
	// MaxPacketsPerSecond bounds the Socket.IO packets one connection may
	// send per second (burst of the same size); a client over it is
	// disconnected with reason "rate limited". Default 0: unlimited.
	MaxPacketsPerSecond int
	// Adapter creates each namespace's adapter. Default adapter.MemoryFactory.
	Adapter adapter.Factory
	// Logger receives diagnostics. Default: discard.
	Logger *slog.Logger
	// Registerer receives the server's Prometheus metrics. Default: none
	// (metrics are still counted and readable through Server.Metrics).
	Registerer prometheus.Registerer
}

func (c Config) withDefaults() Config {
	if c.Path == "" {
		c.Path = "/socket.io/"
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 25 * time.Second
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = 20 * time.Second
	}
	if c.UpgradeTimeout <= 0 {
		c.UpgradeTimeout = 10 * time.Second
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 45 * time.Second
	}
	if c.MaxHTTPBufferSize <= 0 {
		c.MaxHTTPBufferSize = 1e6
	}
	if c.MaxAttachments <= 0 {
		c.MaxAttachments = 10
	}
	if c.MaxQueueBytes <= 0 {
		c.MaxQueueBytes = 4 << 20
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.Adapter == nil {
		c.Adapter = adapter.MemoryFactory
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

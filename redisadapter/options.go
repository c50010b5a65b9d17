package redisadapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// Default values of Options.
const (
	DefaultKey             = "socket.io"
	DefaultRequestsTimeout = 5 * time.Second
	DefaultWorkers         = 4
	DefaultQueueSize       = 1024

	DefaultPublishQueueSize = 4096
	DefaultPublishBatchSize = 128
)

// logEvery is the minimum interval between two repeated warnings of the
// same kind (publish errors, drops, lost subscriptions).
const logEvery = 10 * time.Second

// Options configure the Redis adapter. The zero value is valid.
type Options struct {
	// Key prefixes every channel name. It must match the key of the other
	// nodes and emitters of the cluster. Zero value means "socket.io".
	Key string

	// RequestsTimeout bounds cluster requests that wait for answers
	// (Sockets, AllRooms, FetchSockets, ServerSideEmitWithAck),
	// BroadcastWithAck without a flags timeout, and the wait of AddSockets,
	// DelSockets and DisconnectSockets for their own request, in each
	// case including the time the message waits in the publish queue.
	// Publish round trips get it as a context deadline, which go-redis
	// applies only with redis.Options.ContextTimeoutEnabled (its
	// ReadTimeout and WriteTimeout apply in any case). Zero value means 5s.
	RequestsTimeout time.Duration

	// PublishOnSpecificResponseChannel makes this node publish its answers
	// on the requester's own channel <key>-response#<nsp>#<uid>#
	// instead of the shared <key>-response#<nsp>#. Zero value means the
	// shared channel, the Node adapter's default.
	PublishOnSpecificResponseChannel bool

	// Workers is the number of goroutines that process messages received
	// from Redis. The namespace's requests and broadcasts (all its
	// channels but the responses) go to one worker, so they are applied
	// in the order Redis delivered them, as in the Node adapter; answers
	// to this node's requests go to the worker of their channel. Zero
	// value means 4.
	Workers int

	// QueueSize is the number of received messages each worker buffers.
	// When a worker's queue is full new messages for it are dropped and
	// counted (Hooks.Dropped). Zero value means 1024.
	QueueSize int

	// PublishQueueSize is the number of outgoing messages (broadcasts,
	// requests, answers to other nodes) that may wait to be published,
	// in one FIFO per namespace, while Redis is slow or unresponsive.
	// When it is full, Broadcast and ServerSideEmit return an error
	// matching ErrPublishQueueFull (counted with Hooks.PublishError), the
	// methods that wait for their request fail with it, and answers to
	// other nodes are dropped (Hooks.Dropped). Zero value means 4096;
	// at most 1048576.
	PublishQueueSize int

	// PublishBatchSize is the largest number of queued messages sent to
	// Redis in one pipeline (one round trip). Zero value means 128; at
	// most 4096.
	PublishBatchSize int

	// Logger receives warnings (rate limited) and debug messages. Zero
	// value means no logging.
	Logger *slog.Logger

	// Hooks are metric callbacks. Zero value means no metrics.
	Hooks Hooks
}

// Hooks are optional callbacks for metrics. Each may be nil. They are
// called synchronously from the adapter's goroutines and must not block.
type Hooks struct {
	// Published is called after each successful PUBLISH.
	Published func()
	// PublishError is called for each failed PUBLISH, and for each
	// broadcast or server-side emit that could not be queued because the
	// publish queue was full (err matches ErrPublishQueueFull).
	PublishError func(err error)
	// SubscribeError is called for each error of the subscription:
	// subscribing, reading, a ping left unanswered (while Redis is down,
	// about once per reconnection attempt).
	SubscribeError func(err error)
	// Received is called for each message read from Redis.
	Received func()
	// Dropped is called for each received message dropped because its
	// worker queue was full, for each answer to another node dropped
	// because the publish queue was full, and for each queued message
	// discarded by Close.
	Dropped func()
	// RequestLatency is called when a cluster request completes or times
	// out, with its kind ("sockets", "allRooms", "fetchSockets",
	// "serverSideEmit", "serverCount") and duration.
	RequestLatency func(kind string, d time.Duration)
}

func (h *Hooks) published() {
	if h.Published != nil {
		h.Published()
	}
}

func (h *Hooks) publishError(err error) {
	if h.PublishError != nil {
		h.PublishError(err)
	}
}

func (h *Hooks) subscribeError(err error) {
	if h.SubscribeError != nil {
		h.SubscribeError(err)
	}
}

func (h *Hooks) received() {
	if h.Received != nil {
		h.Received()
	}
}

func (h *Hooks) dropped() {
	if h.Dropped != nil {
		h.Dropped()
	}
}

func (h *Hooks) latency(kind string, start time.Time) {
	if h.RequestLatency != nil {
		h.RequestLatency(kind, time.Since(start))
	}
}

// withDefaults returns o with zero values replaced by the defaults.
func (o Options) withDefaults() Options {
	if o.Key == "" {
		o.Key = DefaultKey
	}
	if o.RequestsTimeout == 0 {
		o.RequestsTimeout = DefaultRequestsTimeout
	}
	if o.Workers == 0 {
		o.Workers = DefaultWorkers
	}
	if o.QueueSize == 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.PublishQueueSize == 0 {
		o.PublishQueueSize = DefaultPublishQueueSize
	}
	if o.PublishBatchSize == 0 {
		o.PublishBatchSize = DefaultPublishBatchSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// validate reports options that cannot work.
func (o Options) validate() error {
	var errs []error
	if o.RequestsTimeout < 0 {
		errs = append(errs, fmt.Errorf("RequestsTimeout %v is negative", o.RequestsTimeout))
	}
	if o.Workers < 0 || o.Workers > 1024 {
		errs = append(errs, fmt.Errorf("Workers %d is outside 0..1024", o.Workers))
	}
	if o.QueueSize < 0 || o.QueueSize > 1<<20 {
		errs = append(errs, fmt.Errorf("QueueSize %d is outside 0..1048576", o.QueueSize))
	}
	if o.PublishQueueSize < 0 || o.PublishQueueSize > 1<<20 {
		errs = append(errs, fmt.Errorf("PublishQueueSize %d is outside 0..1048576", o.PublishQueueSize))
	}
	if o.PublishBatchSize < 0 || o.PublishBatchSize > 4096 {
		errs = append(errs, fmt.Errorf("PublishBatchSize %d is outside 0..4096", o.PublishBatchSize))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("redisadapter: invalid options: %w", err)
	}
	return nil
}

// limitedLog logs one kind of warning at most once per interval and
// reports how many were suppressed in between.
type limitedLog struct {
	log        *slog.Logger
	every      time.Duration
	last       atomic.Int64 // unix nanos of the last logged warning
	suppressed atomic.Int64
}

func (l *limitedLog) warn(msg string, attrs ...any) {
	if !l.log.Enabled(context.Background(), slog.LevelWarn) {
		return
	}
	now := time.Now().UnixNano()
	last := l.last.Load()
	if last != 0 && now-last < int64(l.every) || !l.last.CompareAndSwap(last, now) {
		l.suppressed.Add(1)
		return
	}
	if n := l.suppressed.Swap(0); n > 0 {
		attrs = append(attrs, slog.Int64("suppressed", n))
	}
	l.log.Warn(msg, attrs...)
}

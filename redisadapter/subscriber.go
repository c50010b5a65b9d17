package redisadapter

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Tuning of the receive loop.
const (
	// healthInterval is how long the receive loop waits for a message
	// before it pings Redis; a ping left unanswered for another interval
	// means the connection is dead and it is replaced.
	healthInterval = 3 * time.Second
	// minBackoff and maxBackoff bound the wait between two attempts to
	// reach Redis after an error.
	minBackoff = 50 * time.Millisecond
	maxBackoff = 500 * time.Millisecond
)

// errNotSubscribed is Ready's answer before the first subscription is
// confirmed.
var errNotSubscribed = errors.New("redisadapter: not subscribed yet")

// subscriber owns the PubSub connection of one adapter: it subscribes to
// the adapter's channels, reads messages and hands them to a fixed set of
// worker goroutines through bounded queues. The read loop never blocks on
// a worker: when a queue is full the message is dropped and counted.
// Messages with the same route (route(channel)) go to the same worker, so
// they are processed in the order Redis delivered them.
type subscriber struct {
	client   redis.UniversalClient
	channels []string // SUBSCRIBE
	pattern  string   // PSUBSCRIBE
	handle   func(msg *redis.Message)
	route    func(channel string) string // the ordering key of a channel
	hooks    *Hooks
	log      *slog.Logger
	dropLog  *limitedLog
	subLog   *limitedLog
	health   time.Duration

	queues []chan *redis.Message
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	dropped atomic.Int64

	mu        sync.Mutex
	ps        *redis.PubSub
	closed    bool
	readyErr  error
	confirmed map[string]bool
	readyCh   chan struct{} // closed at the first full confirmation
	readyOnce sync.Once
}

// newSubscriber returns a subscriber to chans and pattern whose workers
// run handle; route maps a channel to its ordering key (nil: the channel
// itself).
func newSubscriber(client redis.UniversalClient, chans []string, pattern string, workers, queueSize int,
	hooks *Hooks, log *slog.Logger, route func(string) string, handle func(*redis.Message)) *subscriber {
	if route == nil {
		route = func(ch string) string { return ch }
	}
	s := &subscriber{
		client:    client,
		channels:  chans,
		pattern:   pattern,
		handle:    handle,
		route:     route,
		hooks:     hooks,
		log:       log,
		dropLog:   &limitedLog{log: log, every: logEvery},
		subLog:    &limitedLog{log: log, every: logEvery},
		health:    healthInterval,
		queues:    make([]chan *redis.Message, workers),
		readyErr:  errNotSubscribed,
		confirmed: make(map[string]bool),
		readyCh:   make(chan struct{}),
	}
	for i := range s.queues {
		s.queues[i] = make(chan *redis.Message, queueSize)
	}
	return s
}

// start subscribes and starts the read loop and the workers. Subscription
// errors are not fatal: the read loop retries until Redis answers, and
// Ready reports the error meanwhile.
//
// start and close may run concurrently (Init and Close of the adapter):
// the context, the PubSub and the goroutines' WaitGroup count are set
// under s.mu, and a start that finds the subscriber closed stops there,
// so close never sees half a start and nothing outlives it.
func (s *subscriber) start() {
	s.mu.Lock()
	if s.closed || s.cancel != nil {
		s.mu.Unlock()
		return
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mu.Unlock()
	ps := s.subscribe()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ps.Close()
		return
	}
	s.ps = ps
	s.wg.Add(len(s.queues) + 1)
	s.mu.Unlock()
	for _, q := range s.queues {
		go s.work(q)
	}
	go s.read()
}

// subscribe creates a PubSub subscribed to the channels and the pattern.
// go-redis records the subscriptions even when Redis is unreachable and
// sends them again on every reconnection.
func (s *subscriber) subscribe() *redis.PubSub {
	ctx, cancel := context.WithTimeout(s.ctx, time.Second)
	defer cancel()
	ps := s.client.Subscribe(ctx)
	if err := ps.Subscribe(ctx, s.channels...); err != nil {
		s.setNotReady(err)
	}
	if err := ps.PSubscribe(ctx, s.pattern); err != nil {
		s.setNotReady(err)
	}
	return ps
}

// close stops the read loop and the workers and waits for them. Messages
// still queued are discarded.
func (s *subscriber) close() {
	s.mu.Lock()
	if s.closed || s.cancel == nil {
		s.closed = true
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.cancel()
	ps := s.ps // nil while a start is subscribing: it closes its own
	s.readyErr = errors.New("redisadapter: adapter closed")
	s.mu.Unlock()
	if ps != nil {
		_ = ps.Close()
	}
	s.wg.Wait()
}

// ready returns nil while every channel and the pattern are subscribed.
func (s *subscriber) ready() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readyErr
}

// waitReady waits until the subscriptions are confirmed or ctx ends.
func (s *subscriber) waitReady(ctx context.Context) error {
	select {
	case <-s.readyCh:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setNotReadyLocked records err as the reason the subscriber is not
// ready. s.mu must be held.
func (s *subscriber) setNotReadyLocked(err error) {
	if s.closed {
		return
	}
	s.readyErr = fmt.Errorf("redisadapter: not subscribed: %w", err)
	clear(s.confirmed)
	s.subLog.warn("redisadapter: lost the subscription to Redis; retrying", "err", err)
}

// setNotReady is setNotReadyLocked, and counts err (Hooks.SubscribeError)
// once the lock is released.
func (s *subscriber) setNotReady(err error) {
	s.mu.Lock()
	closed := s.closed
	s.setNotReadyLocked(err)
	s.mu.Unlock()
	if !closed {
		s.hooks.subscribeError(err)
	}
}

// confirm records a subscription confirmation; the subscriber is ready
// when all of them arrived.
func (s *subscriber) confirm(sub *redis.Subscription) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch sub.Kind {
	case "subscribe", "psubscribe":
		s.confirmed[sub.Channel] = true
	case "unsubscribe", "punsubscribe":
		delete(s.confirmed, sub.Channel)
	}
	if s.closed || !s.confirmed[s.pattern] {
		return
	}
	for _, ch := range s.channels {
		if !s.confirmed[ch] {
			return
		}
	}
	if s.readyErr != nil {
		if !errors.Is(s.readyErr, errNotSubscribed) {
			s.log.Info("redisadapter: subscribed to Redis again")
		}
		s.readyErr = nil
	}
	s.readyOnce.Do(func() { close(s.readyCh) })
}

// resetPubSub replaces a PubSub whose connection stopped answering.
func (s *subscriber) resetPubSub() {
	s.mu.Lock()
	old := s.ps
	s.mu.Unlock()
	_ = old.Close()
	ps := s.subscribe()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = ps.Close()
		return
	}
	s.ps = ps
}

func (s *subscriber) current() *redis.PubSub {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ps
}

// read is the receive loop. It never blocks on anything but Redis.
func (s *subscriber) read() {
	defer s.wg.Done()
	backoff := time.Duration(0)
	pinged := false
	for {
		ps := s.current()
		msg, err := ps.ReceiveTimeout(s.ctx, s.health)
		if s.ctx.Err() != nil {
			return
		}
		if err != nil {
			if isTimeout(err) {
				if pinged {
					s.setNotReady(errors.New("no answer to PING"))
					s.resetPubSub()
					pinged = false
					continue
				}
				if err := ps.Ping(s.ctx); err != nil {
					s.setNotReady(err)
				}
				pinged = true
				continue
			}
			s.setNotReady(err)
			pinged = false
			backoff = min(max(2*backoff, minBackoff), maxBackoff)
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			s.confirm(m)
		case *redis.Message:
			s.hooks.received()
			s.dispatch(m)
		}
	}
}

// dispatch hands m to the worker of its route, or drops it when that
// worker's queue is full.
func (s *subscriber) dispatch(m *redis.Message) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s.route(m.Channel)))
	q := s.queues[h.Sum32()%uint32(len(s.queues))]
	select {
	case q <- m:
	default:
		s.dropped.Add(1)
		s.hooks.dropped()
		s.dropLog.warn("redisadapter: worker queue full, message dropped", "channel", m.Channel)
	}
}

// work processes the messages of one queue until the subscriber closes.
func (s *subscriber) work(q chan *redis.Message) {
	defer s.wg.Done()
	for {
		select {
		case m := <-q:
			s.safeHandle(m)
		case <-s.ctx.Done():
			return
		}
	}
}

// safeHandle runs the handler, turning a panic into a logged error so that
// one bad message cannot stop the node.
func (s *subscriber) safeHandle(m *redis.Message) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("redisadapter: panic while handling a message", "channel", m.Channel, "panic", r)
		}
	}()
	s.handle(m)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded)
}

package redisadapter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sio-go/sio/adapter"
)

// ErrPublishQueueFull is matched (with errors.Is) by the error of a
// publishing method whose message could not be queued because
// Options.PublishQueueSize messages were already waiting to be published
// (typically because Redis is slow or unresponsive).
var ErrPublishQueueFull = errors.New("redisadapter: publish queue full")

// outgoing is a message waiting to be published.
type outgoing struct {
	channel string
	payload []byte
	w       *pubWaiter // nil for fire-and-forget messages
}

// pubWaiter receives the publish result of one message.
type pubWaiter struct {
	// state is waiterQueued until the publisher takes the message
	// (waiterTaken) or the caller gives up first (waiterCancelled).
	state atomic.Int32
	done  chan error // buffered(1): the publish result
}

const (
	waiterQueued int32 = iota
	waiterTaken
	waiterCancelled
)

// publisher publishes the messages of one adapter in FIFO order: callers
// enqueue without blocking into a bounded queue, one goroutine takes up to
// batch queued messages at a time and sends them in one pipeline (one
// round trip), then reports each result.
type publisher struct {
	client  redis.UniversalClient
	hooks   *Hooks
	log     *limitedLog
	batch   int
	timeout time.Duration // bound of one round trip

	queue chan outgoing

	mu      sync.RWMutex // held (read) while sending to queue, (write) to close
	closed  bool
	started atomic.Bool

	ctx    context.Context // cancelled when Close gives up draining
	cancel context.CancelFunc
	stop   chan struct{} // closed by close: drain what is queued, then exit
	done   chan struct{} // closed when the goroutine has exited
}

func newPublisher(client redis.UniversalClient, hooks *Hooks, log *limitedLog, size, batch int, timeout time.Duration) *publisher {
	p := &publisher{
		client:  client,
		hooks:   hooks,
		log:     log,
		batch:   batch,
		timeout: timeout,
		queue:   make(chan outgoing, size),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p
}

// start runs the publishing goroutine.
func (p *publisher) start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return // close ran first: nothing would stop the goroutine
	}
	if p.started.CompareAndSwap(false, true) {
		go p.run()
	}
}

// enqueue queues o without blocking. It fails with an error matching
// ErrPublishQueueFull when the queue is full and adapter.ErrClosed after
// close.
func (p *publisher) enqueue(o outgoing) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return adapter.ErrClosed
	}
	select {
	case p.queue <- o:
		return nil
	default:
		return fmt.Errorf("redisadapter: publish to %s: %w (%d messages waiting)",
			o.channel, ErrPublishQueueFull, cap(p.queue))
	}
}

// publish queues a message and waits for its publish result until ctx
// (whose cause is then returned) or stopped ends. maybeSent is false when
// the message certainly was not and will not be published (not queued,
// publish failed, or still queued when the caller gave up, in which case
// it is withdrawn), true when it was published or was already being
// published when the caller gave up.
func (p *publisher) publish(ctx context.Context, stopped <-chan struct{}, channel string, payload []byte) (maybeSent bool, err error) {
	w := &pubWaiter{done: make(chan error, 1)}
	if err := p.enqueue(outgoing{channel, payload, w}); err != nil {
		return false, err
	}
	select {
	case err := <-w.done:
		return err == nil, err
	case <-ctx.Done():
		err = context.Cause(ctx)
	case <-stopped:
		err = adapter.ErrClosed
	}
	if w.state.CompareAndSwap(waiterQueued, waiterCancelled) {
		return false, err
	}
	// Already taken by the publisher: it may or may not get through.
	return true, err
}

// len returns the number of queued messages.
func (p *publisher) len() int { return len(p.queue) }

// close stops accepting messages and lets the goroutine publish what is
// queued until ctx ends. Then it returns; the goroutine drops what is left
// and exits once its round trip in flight, if any, ends (bounded by the
// client's ReadTimeout and WriteTimeout, or by closing the client).
func (p *publisher) close(ctx context.Context) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	defer p.cancel()
	if !p.started.Load() {
		p.dropAll(nil)
		return
	}
	close(p.stop)
	select {
	case <-p.done:
	case <-ctx.Done():
		// go-redis cannot interrupt a round trip in flight: the goroutine
		// drops the rest as soon as the client's timeouts end it.
		p.cancel()
	}
}

// run publishes queued messages until close has been called and the
// queue is empty (or close gave up).
func (p *publisher) run() {
	defer close(p.done)
	buf := make([]outgoing, 0, p.batch)
	cmds := make([]*redis.IntCmd, 0, p.batch)
	for {
		select {
		case o := <-p.queue:
			buf = append(buf, o)
		case <-p.stop:
			for p.ctx.Err() == nil {
				buf = p.fill(buf)
				if len(buf) == 0 {
					return
				}
				cmds = p.send(buf, cmds)
				clear(buf)
				buf = buf[:0]
			}
			p.dropAll(nil)
			return
		}
		buf = p.fill(buf)
		if p.ctx.Err() != nil {
			// Close gave up: drop instead of failing one batch after another.
			p.dropAll(buf)
			return
		}
		cmds = p.send(buf, cmds)
		clear(buf)
		buf = buf[:0]
	}
}

// fill appends queued messages to buf without waiting, up to the batch
// size.
func (p *publisher) fill(buf []outgoing) []outgoing {
	for len(buf) < p.batch {
		select {
		case o := <-p.queue:
			buf = append(buf, o)
		default:
			return buf
		}
	}
	return buf
}

// send publishes buf in one round trip and reports each result; messages
// whose waiter gave up are skipped. cmds is scratch space, returned for
// reuse.
func (p *publisher) send(buf []outgoing, cmds []*redis.IntCmd) []*redis.IntCmd {
	n := 0
	for _, o := range buf {
		if o.w != nil && !o.w.state.CompareAndSwap(waiterQueued, waiterTaken) {
			continue // the caller gave up: do not publish
		}
		buf[n] = o
		n++
	}
	buf = buf[:n]
	if n == 0 {
		return cmds
	}
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	defer cancel()
	cmds = cmds[:0]
	if n == 1 {
		cmds = append(cmds, p.client.Publish(ctx, buf[0].channel, buf[0].payload))
	} else {
		// Errors are per command (set on every command when the whole
		// pipeline fails).
		_, _ = p.client.Pipelined(ctx, func(pl redis.Pipeliner) error {
			for _, o := range buf {
				cmds = append(cmds, pl.Publish(ctx, o.channel, o.payload))
			}
			return nil
		})
	}
	for i, o := range buf {
		var err error
		if i < len(cmds) {
			err = cmds[i].Err()
		} else {
			err = errors.New("redisadapter: message not sent")
		}
		if err != nil {
			p.hooks.publishError(err)
			p.log.warn("redisadapter: publish failed", "channel", o.channel, "err", err)
			err = fmt.Errorf("redisadapter: publish to %s: %w", o.channel, err)
		} else {
			p.hooks.published()
		}
		if o.w != nil {
			o.w.done <- err
		}
	}
	clear(cmds)
	return cmds[:0]
}

// dropAll discards buf and every queued message: waiters get
// adapter.ErrClosed and each message is counted with Hooks.Dropped.
func (p *publisher) dropAll(buf []outgoing) {
	drop := func(o outgoing) {
		p.hooks.dropped()
		if o.w != nil && o.w.state.CompareAndSwap(waiterQueued, waiterTaken) {
			o.w.done <- adapter.ErrClosed
		}
	}
	for _, o := range buf {
		drop(o)
	}
	for {
		select {
		case o := <-p.queue:
			drop(o)
		default:
			return
		}
	}
}

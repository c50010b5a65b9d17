package redisadapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sio-go/sio/adapter"
	"github.com/sio-go/sio/adapter/adaptertest"
)

// label names a message published by an adapter: the first datum of a
// broadcast or server-side emit, or the first room of a socketsJoin.
func label(t *testing.T, m *redis.Message) string {
	t.Helper()
	if m.Payload != "" && m.Payload[0] == '{' {
		var req struct {
			Type  int               `json:"type"`
			Data  []json.RawMessage `json:"data"`
			Rooms []string          `json:"rooms"`
		}
		if err := json.Unmarshal([]byte(m.Payload), &req); err != nil {
			t.Fatalf("bad request %q: %v", m.Payload, err)
		}
		switch {
		case req.Type == reqServerSideEmit && len(req.Data) > 0:
			var s string
			_ = json.Unmarshal(req.Data[0], &s)
			return s
		case req.Type == reqRemoteJoin && len(req.Rooms) > 0:
			return req.Rooms[0]
		}
		return fmt.Sprintf("request type %d", req.Type)
	}
	b, err := decodeBroadcast([]byte(m.Payload))
	if err != nil {
		t.Fatalf("bad broadcast on %s: %v", m.Channel, err)
	}
	s, _ := b.pkt.Data[0].(string)
	return s
}

// TestPublishOrderMixedTraffic checks that broadcasts (to the namespace
// and to rooms), server-side emits and socketsJoin requests, queued and
// pipelined, reach Redis in the order this node issued them.
func TestPublishOrderMixedTraffic(t *testing.T) {
	_, client := newMiniredis(t)
	opts := testOptions(uniqueKey(t))
	opts.PublishBatchSize = 7 // many pipelines of various fill levels
	n := newNode(t, client, "/", opts)
	n.connect("s1", "r")
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	ps := client.PSubscribe(ctx, opts.Key+"*")
	t.Cleanup(func() { _ = ps.Close() })
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}

	var want []string
	for i := range 300 {
		l := fmt.Sprint("m", i)
		var err error
		switch {
		case i%50 == 49:
			// Waits for its own echo: everything before it is published.
			err = n.a.AddSockets(ctx, adapter.BroadcastOptions{Rooms: []adapter.Room{"r"}}, []adapter.Room{adapter.Room(l)})
		case i%3 == 0:
			err = n.a.Broadcast(ctx, &adapter.Packet{Type: adapter.PacketEvent, Data: []any{l}}, adapter.BroadcastOptions{})
		case i%3 == 1:
			err = n.a.Broadcast(ctx, &adapter.Packet{Type: adapter.PacketEvent, Data: []any{l}},
				adapter.BroadcastOptions{Rooms: []adapter.Room{"r"}})
		default:
			err = n.a.ServerSideEmit(ctx, []any{l})
		}
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		want = append(want, l)
	}
	var got []string
	for len(got) < len(want) {
		m, err := ps.ReceiveMessage(ctx)
		if err != nil {
			t.Fatalf("after %d messages: %v", len(got), err)
		}
		got = append(got, label(t, m))
	}
	if !slices.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("message %d is %s; want %s (order not preserved)", i, got[i], want[i])
			}
		}
	}
}

// countingHook counts the commands and round trips of a client.
type countingHook struct {
	publishes  atomic.Int64 // PUBLISH commands sent
	roundTrips atomic.Int64 // single commands and pipelines
	maxBatch   atomic.Int64
}

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "publish" {
			h.publishes.Add(1)
			h.roundTrips.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		n := int64(0)
		for _, c := range cmds {
			if c.Name() == "publish" {
				n++
			}
		}
		if n == 0 {
			return next(ctx, cmds) // connection setup
		}
		h.publishes.Add(n)
		h.roundTrips.Add(1)
		if n > h.maxBatch.Load() {
			h.maxBatch.Store(n)
		}
		return next(ctx, cmds)
	}
}

// TestPublisherPipelines checks that queued messages go out in pipelines
// of at most PublishBatchSize, exactly one PUBLISH each, in order, and
// that each waiter gets its own result.
func TestPublisherPipelines(t *testing.T) {
	_, client := newMiniredis(t)
	hook := &countingHook{}
	client.AddHook(hook)
	var published atomic.Int64
	hooks := &Hooks{Published: func() { published.Add(1) }}
	p := newPublisher(client, hooks, &limitedLog{log: testOptions("").withDefaults().Logger, every: logEvery}, 1000, 128, waitTime)
	ps := rawSub(t, client, "pipe")
	const total = 300
	for i := range total - 1 {
		if err := p.enqueue(outgoing{channel: "pipe", payload: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if p.len() != total-1 {
		t.Fatalf("queue holds %d messages; want %d", p.len(), total-1)
	}
	// The publisher starts with the queue full: 3 pipelines (128+128+44).
	result := make(chan error, 1)
	go func() {
		_, err := p.publish(context.Background(), nil, "pipe", []byte(fmt.Sprint(total-1)))
		result <- err
	}()
	adaptertest.Eventually(t, waitTime, func() bool { return p.len() == total }, "waiter not queued")
	p.start()
	if err := <-result; err != nil {
		t.Fatalf("waited publish: %v", err)
	}
	for i := range total {
		if m := recv(t, ps); m.Payload != fmt.Sprint(i) {
			t.Fatalf("message %d is %q", i, m.Payload)
		}
	}
	p.close(context.Background())
	if got := hook.publishes.Load(); got != total {
		t.Errorf("%d PUBLISH commands for %d messages", got, total)
	}
	if got := hook.roundTrips.Load(); got != 3 {
		t.Errorf("%d round trips for %d queued messages; want 3", got, total)
	}
	if got := hook.maxBatch.Load(); got != 128 {
		t.Errorf("largest pipeline %d; want 128", got)
	}
	if published.Load() != total {
		t.Errorf("Published hook called %d times; want %d", published.Load(), total)
	}
}

// TestPublishWithdrawnWhenCallerGivesUp checks that a waited message whose
// caller gave up while it was queued is not published later.
func TestPublishWithdrawnWhenCallerGivesUp(t *testing.T) {
	_, client := newMiniredis(t)
	p := newPublisher(client, &Hooks{}, &limitedLog{log: testOptions("").withDefaults().Logger, every: logEvery}, 10, 10, waitTime)
	ps := rawSub(t, client, "w")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	maybeSent, err := p.publish(ctx, nil, "w", []byte("withdrawn"))
	if !errors.Is(err, context.DeadlineExceeded) || maybeSent {
		t.Fatalf("publish = %v, %v; want not sent, deadline exceeded", maybeSent, err)
	}
	p.start()
	if _, err := p.publish(context.Background(), nil, "w", []byte("sent")); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, ps); m.Payload != "sent" {
		t.Errorf("published %q; the withdrawn message went out", m.Payload)
	}
	p.close(context.Background())
	if maybeSent, err := p.publish(context.Background(), nil, "w", nil); !errors.Is(err, adapter.ErrClosed) || maybeSent {
		t.Errorf("publish after close = %v, %v; want ErrClosed", maybeSent, err)
	}
}

// freezeProxy forwards TCP connections to a Redis server until it is
// frozen; then it forwards nothing in either direction, like a Redis
// stopped with SIGSTOP: connections stay open and nothing answers.
type freezeProxy struct {
	l      net.Listener
	frozen atomic.Bool
	held   atomic.Int64 // bytes read while frozen, not forwarded (yet)
	done   chan struct{}
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func startFreezeProxy(t *testing.T, target string) *freezeProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezeProxy{l: l, done: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			p.wg.Add(2)
			go p.pipe(c, s)
			go p.pipe(s, c)
		}
	}()
	t.Cleanup(func() {
		close(p.done)
		_ = l.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *freezeProxy) addr() string { return p.l.Addr().String() }

// pipe copies from src to dst, holding the data while frozen.
func (p *freezeProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			_ = dst.Close()
			return
		}
		if p.frozen.Load() {
			p.held.Add(int64(n))
		}
		for p.frozen.Load() {
			select {
			case <-p.done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			_ = src.Close()
			return
		}
	}
}

// frozenNode returns a subscribed node whose Redis then stops answering.
// Its client waits 5s for each reply, without retries.
func frozenNode(t *testing.T, opts Options) *testNode {
	t.Helper()
	n, _ := frozenNodeProxy(t, opts)
	return n
}

// frozenNodeProxy is frozenNode, with its proxy.
func frozenNodeProxy(t *testing.T, opts Options) (*testNode, *freezeProxy) {
	t.Helper()
	mr, _ := newMiniredis(t)
	proxy := startFreezeProxy(t, mr.Addr())
	client := redis.NewClient(&redis.Options{Addr: proxy.addr(), MaxRetries: -1, DialTimeout: time.Second,
		ReadTimeout: 5 * time.Second, WriteTimeout: time.Second})
	t.Cleanup(func() { _ = client.Close() })
	n := newNode(t, client, "/", opts)
	// Runs before the adapter's Close: ends the round trip in flight.
	t.Cleanup(func() { _ = client.Close() })
	if err := n.a.Ready(); err != nil {
		t.Fatal(err)
	}
	proxy.frozen.Store(true)
	return n, proxy
}

// TestUnresponsiveRedisDoesNotBlockPublishers points an adapter at a
// server that never answers: Broadcast and ServerSideEmit return at once,
// a full queue makes them fail immediately with ErrPublishQueueFull
// (counted), waiting operations honour their ctx and fall back to local
// application, and Close gives up draining when its ctx ends and stops
// the publisher.
func TestUnresponsiveRedisDoesNotBlockPublishers(t *testing.T) {
	var queueFull, failed, dropped, published atomic.Int64
	opts := testOptions(uniqueKey(t))
	opts.RequestsTimeout = 5 * time.Second
	opts.PublishQueueSize = 16
	opts.PublishBatchSize = 4
	rec := &logRecorder{}
	opts.Logger = slog.New(rec)
	opts.Hooks = Hooks{
		PublishError: func(err error) {
			if errors.Is(err, ErrPublishQueueFull) {
				queueFull.Add(1)
			} else {
				failed.Add(1)
			}
		},
		Dropped:   func() { dropped.Add(1) },
		Published: func() { published.Add(1) },
	}
	n, proxy := frozenNodeProxy(t, opts)
	a, ns := n.a, n.ns
	n.connect("s1")

	const total = 100
	var full int64
	start := time.Now()
	for i := range total {
		if i == 1 {
			// The first message is on its way to Redis, alone: the
			// publisher waits for its answer and takes nothing more, so
			// the queue's 16 places are all the loop can fill.
			adaptertest.Eventually(t, waitTime, func() bool { return a.pub.len() == 0 && proxy.held.Load() > 0 },
				"the first publish did not reach the frozen Redis")
		}
		var err error
		if i%10 == 9 {
			err = a.ServerSideEmit(context.Background(), []any{"e"})
		} else {
			err = a.Broadcast(context.Background(), &adapter.Packet{Type: adapter.PacketEvent, Data: []any{"b"}}, adapter.BroadcastOptions{})
		}
		switch {
		case err == nil:
		case errors.Is(err, ErrPublishQueueFull):
			full++
		default:
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("%d publishes took %v with Redis unresponsive; want no blocking", total, d)
	}
	// 16 queued plus the one in flight.
	if full != total-16-1 {
		t.Errorf("%d of %d publishes failed with a full queue of 16 and one in flight; want %d", full, total, total-17)
	}
	if queueFull.Load() != full {
		t.Errorf("PublishError counted %d queue-full errors; %d returned", queueFull.Load(), full)
	}
	if got := rec.count("publish queue full"); got != 1 {
		t.Errorf("%d queue-full warnings logged for %d refusals; want 1 (rate limited)", got, full)
	}
	if got := ns.ReceivedBy("b")["s1"]; got != total-total/10 {
		t.Errorf("local socket got %d broadcasts; want %d", got, total-total/10)
	}

	// A waiting operation with the queue full fails at once and applies
	// locally (it knows its request will not come back).
	start = time.Now()
	err := a.AddSockets(context.Background(), adapter.BroadcastOptions{}, []adapter.Room{"full"})
	if !errors.Is(err, ErrPublishQueueFull) {
		t.Errorf("AddSockets with a full queue: %v; want ErrPublishQueueFull", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("AddSockets with a full queue took %v", d)
	}
	if !slices.Contains(a.SocketRooms("s1"), "full") {
		t.Error("AddSockets with a full queue was not applied locally")
	}

	// Close gives up draining when its ctx ends.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v with Redis unresponsive and a 50ms ctx", d)
	}
	// The round trip in flight ends with the client's ReadTimeout (5s);
	// closing the client ends it at once, then the goroutine drops the rest.
	_ = n.a.client.Close()
	select {
	case <-a.pub.done:
	case <-time.After(waitTime):
		t.Fatal("publisher goroutine still running after Close")
	}
	// Every accepted message is accounted for: failed in flight or
	// discarded (and counted) by Close.
	if accepted := total - full; failed.Load()+dropped.Load() != accepted || published.Load() != 0 {
		t.Errorf("%d messages queued: %d failed, %d discarded, %d published", accepted, failed.Load(), dropped.Load(), published.Load())
	}
	if err := a.Broadcast(context.Background(), &adapter.Packet{Type: adapter.PacketEvent, Data: []any{"late"}},
		adapter.BroadcastOptions{}); !errors.Is(err, adapter.ErrClosed) {
		t.Errorf("Broadcast after Close: %v; want ErrClosed", err)
	}
}

// TestWaitingOperationHonoursCtxWhileRedisUnresponsive checks that a
// method waiting for its publication returns when its ctx ends, with the
// request applied locally since it was never sent.
func TestWaitingOperationHonoursCtxWhileRedisUnresponsive(t *testing.T) {
	opts := testOptions(uniqueKey(t))
	opts.RequestsTimeout = 5 * time.Second
	opts.PublishBatchSize = 1
	n := frozenNode(t, opts)
	a := n.a
	n.connect("s1")
	// Occupy the publisher with a message it cannot get through.
	if err := a.Broadcast(context.Background(), &adapter.Packet{Type: adapter.PacketEvent, Data: []any{"x"}}, adapter.BroadcastOptions{}); err != nil {
		t.Fatal(err)
	}
	adaptertest.Eventually(t, waitTime, func() bool { return a.pub.len() == 0 }, "publisher did not take the broadcast")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := a.DelSockets(ctx, adapter.BroadcastOptions{}, []adapter.Room{"s1"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("DelSockets: %v; want the ctx deadline", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("DelSockets took %v with a 100ms ctx", d)
	}
	if slices.Contains(a.SocketRooms("s1"), "s1") {
		t.Error("DelSockets that was never published was not applied locally")
	}
	if a.pub.len() != 1 {
		t.Errorf("queue holds %d messages; want the withdrawn request still there, skipped later", a.pub.len())
	}
	if msg := fmt.Sprint(err); !strings.Contains(msg, "deadline") {
		t.Errorf("error %q does not say what happened", msg)
	}
}

// TestBroadcastWithAckPublishTimeout checks that BroadcastWithAck, which
// waits for its publication, gives up after the flags timeout with an
// error matching ErrTimeout.
func TestBroadcastWithAckPublishTimeout(t *testing.T) {
	opts := testOptions(uniqueKey(t))
	opts.RequestsTimeout = 5 * time.Second
	a := frozenNode(t, opts).a
	start := time.Now()
	err := a.BroadcastWithAck(context.Background(), &adapter.Packet{Type: adapter.PacketEvent, Data: []any{"a"}},
		adapter.BroadcastOptions{Flags: adapter.BroadcastFlags{Timeout: 100 * time.Millisecond}}, nil, nil)
	if !errors.Is(err, ErrTimeout) {
		t.Errorf("BroadcastWithAck: %v; want ErrTimeout", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("BroadcastWithAck took %v with a 100ms timeout", d)
	}
}

// TestCloseDrainsPublishQueue checks that Close publishes what is queued
// when Redis answers, then refuses new messages.
func TestCloseDrainsPublishQueue(t *testing.T) {
	_, client := newMiniredis(t)
	opts := testOptions(uniqueKey(t))
	ns := adaptertest.NewFakeNamespace("/")
	a, err := newAdapter(client, ns, opts)
	if err != nil {
		t.Fatal(err)
	}
	ns.Attach(a)
	ps := rawSub(t, client, a.ch.broadcast)
	ctx := context.Background()
	if err := a.Init(ctx); err != nil {
		t.Fatal(err)
	}
	const total = 200
	for i := range total {
		if err := a.Broadcast(ctx, &adapter.Packet{Type: adapter.PacketEvent, Data: []any{fmt.Sprint(i)}}, adapter.BroadcastOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, waitTime)
	defer cancel()
	if err := a.Close(cctx); err != nil {
		t.Fatal(err)
	}
	ns.Wait()
	for i := range total {
		if got := label(t, recv(t, ps)); got != fmt.Sprint(i) {
			t.Fatalf("message %d is %s", i, got)
		}
	}
	if err := a.ServerSideEmit(ctx, []any{"late"}); !errors.Is(err, adapter.ErrClosed) {
		t.Errorf("ServerSideEmit after Close: %v; want ErrClosed", err)
	}
}

func TestPublishOptionsValidation(t *testing.T) {
	for _, o := range []Options{{PublishQueueSize: -1}, {PublishQueueSize: 1<<20 + 1}, {PublishBatchSize: -1}, {PublishBatchSize: 4097}} {
		if err := o.validate(); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	d := Options{}.withDefaults()
	if d.PublishQueueSize != DefaultPublishQueueSize || d.PublishBatchSize != DefaultPublishBatchSize {
		t.Errorf("defaults %d/%d", d.PublishQueueSize, d.PublishBatchSize)
	}
}

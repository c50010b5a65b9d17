package redisadapter

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sio-go/sio/adapter"
	"github.com/sio-go/sio/adapter/adaptertest"
)

// redisServer is a private redis-server process on a loopback port.
type redisServer struct {
	t    *testing.T
	bin  string
	port int
	cmd  *exec.Cmd
}

// startRedisServer starts redis-server on a free loopback port, or skips
// when the binary is absent. It never touches the shared server on 6379.
func startRedisServer(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		skipOrFail(t, "redis-server is not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := &redisServer{t: t, bin: bin, port: port}
	s.start()
	t.Cleanup(s.kill)
	return s
}

func (s *redisServer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

func (s *redisServer) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr(), 100*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not start: %v", s.addr(), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill stops the server abruptly (SIGKILL), as a crash would.
func (s *redisServer) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// TestRedisServerRestart kills a real redis-server under two nodes: local
// delivery goes on and Ready reports the loss; after a restart on the
// same port cross-node broadcasts resume within 2 s, and the number of
// goroutines does not grow over restart cycles.
func TestRedisServerRestart(t *testing.T) {
	srv := startRedisServer(t)
	opts := testOptions(uniqueKey(t))
	var pubErrs atomic.Int64
	opts1 := opts
	opts1.Hooks.PublishError = func(error) { pubErrs.Add(1) }
	// n2 publishes nothing: only its subscription sees the outage.
	var subErrs atomic.Int64
	opts2 := opts
	opts2.Hooks.SubscribeError = func(error) { subErrs.Add(1) }
	n1 := newNode(t, outageClient(t, srv.addr()), "/", opts1)
	n2 := newNode(t, outageClient(t, srv.addr()), "/", opts2)
	n1.connect("a1")
	n2.connect("b1")
	ctx := context.Background()
	cross := func(event string) bool {
		_ = n1.a.Broadcast(ctx, &adapter.Packet{Type: adapter.PacketEvent, Data: []any{event}}, adapter.BroadcastOptions{})
		return len(n2.received(event)) == 1
	}
	adaptertest.Eventually(t, waitTime, func() bool { return cross("warmup") }, "no cross-node delivery before the restart")
	baseline := runtime.NumGoroutine()

	for cycle := range 2 {
		srv.kill()
		adaptertest.Eventually(t, waitTime, func() bool { return n1.a.Ready() != nil && n2.a.Ready() != nil },
			"cycle %d: Ready() stayed nil after redis-server died", cycle)
		adaptertest.Eventually(t, waitTime, func() bool { return subErrs.Load() > 0 },
			"cycle %d: the lost subscription was not counted (Hooks.SubscribeError)", cycle)
		subErrs.Store(0)
		down := fmt.Sprint("down-", cycle)
		errsBefore := pubErrs.Load()
		if err := n1.a.Broadcast(ctx, &adapter.Packet{Type: adapter.PacketEvent, Data: []any{down}}, adapter.BroadcastOptions{}); err != nil {
			t.Errorf("cycle %d: Broadcast with Redis down: %v (want nil: queued)", cycle, err)
		}
		adaptertest.Eventually(t, waitTime, func() bool { return pubErrs.Load() > errsBefore },
			"cycle %d: the failed publish with Redis down was not counted", cycle)
		if got := n1.received(down); len(got) != 1 {
			t.Errorf("cycle %d: local delivery with Redis down reached %v", cycle, got)
		}

		srv.start()
		restarted := time.Now()
		up := fmt.Sprint("up-", cycle)
		adaptertest.Eventually(t, 2*time.Second, func() bool { return cross(up) },
			"cycle %d: cross-node broadcasts did not resume within 2s of the restart", cycle)
		t.Logf("cycle %d: cross-node delivery resumed %v after the restart", cycle, time.Since(restarted).Round(time.Millisecond))
		adaptertest.Eventually(t, 2*time.Second, func() bool { return n1.a.Ready() == nil && n2.a.Ready() == nil },
			"cycle %d: Ready() did not recover", cycle)
	}
	var now int
	adaptertest.Eventually(t, 3*time.Second, func() bool { now = runtime.NumGoroutine(); return now <= baseline+2 },
		"goroutines grew from %d to %d over the restarts", baseline, now)
}

// TestRealRedisServerCount checks PUBSUB NUMSUB on the real Redis.
func TestRealRedisServerCount(t *testing.T) {
	client := realRedis(t)
	opts := testOptions(uniqueKey(t))
	var uc redis.UniversalClient = client
	n1 := newNode(t, uc, "/", opts)
	_ = newNode(t, uc, "/", opts)
	_ = newNode(t, uc, "/other", opts)
	if c, err := n1.a.ServerCount(context.Background()); err != nil || c != 2 {
		t.Fatalf("ServerCount = %d, %v; want 2", c, err)
	}
}

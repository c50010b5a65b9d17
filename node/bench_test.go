//go:build linux

package node

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// benchText is the broadcast payload: plain ASCII, so its encoding is
// exactly json.Marshal's.
const benchText = "hello everyone, this is a broadcast of typical chat size"

// BenchmarkBroadcastRoom measures one broadcast through a real namespace
// (adapter room lookup, encode once, enqueue per socket) to rooms of 1,
// 100, 1,000 and 10,000 sockets, until every frame has been written. The
// connections are in-process but take the production write path: a real
// Engine.IO websocket session (gorilla upgrade, reader goroutine, the
// engine's flushers doing non-blocking write syscalls, the reader parked
// in the engine's poller) over a Unix socket pair each, except that the
// server's writes go to the write end of one shared pipe, drained by the
// benchmark goroutine that counts the bytes. So the numbers include a
// write syscall per batch but not the cost of TCP on loopback nor of the
// clients. The 10,000 case needs about 20,100 file descriptors.
//
//	go test -run '^$' -bench BroadcastRoom -benchmem ./node
func BenchmarkBroadcastRoom(b *testing.B) {
	for _, n := range []int{1, 100, 1000, 10000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			env := newBenchEnv(b, n)
			defer env.close()
			frame := benchFrameLen(b)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				want := env.written.Load() + int64(n*frame)
				if err := env.srv.To("bench").Emit("chat", benchText); err != nil {
					b.Fatal(err)
				}
				env.waitWritten(b, want)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
		})
	}
}

// BenchmarkEmitOneSocket measures an emit to one socket (the path of
// replies and acks) until its frame is written.
func BenchmarkEmitOneSocket(b *testing.B) {
	env := newBenchEnv(b, 1)
	defer env.close()
	frame := benchFrameLen(b)
	s := env.socks[0]
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		want := env.written.Load() + int64(frame)
		if err := s.Emit("chat", benchText); err != nil {
			b.Fatal(err)
		}
		env.waitWritten(b, want)
	}
}

// benchFrameLen is the websocket frame length of the benchmark broadcast.
func benchFrameLen(b *testing.B) int {
	data, err := json.Marshal([]string{"chat", benchText})
	if err != nil {
		b.Fatal(err)
	}
	n := 2 + len(data) // "42" + JSON
	if n >= 126 {
		b.Fatal("benchmark payload must fit a 2-byte frame header")
	}
	return 2 + n
}

// benchEnv is a Server with n in-process websocket clients connected to
// "/" and joined to room "bench".
type benchEnv struct {
	srv     *Server
	written atomic.Int64 // bytes the server wrote to every client
	conns   []*benchConn
	socks   []*Socket
	// pipe: every connection's raw writes go to pipeW (non-blocking);
	// waitWritten drains pipeR into written.
	pipeW, pipeR int
	buf          []byte
}

func newBenchEnv(b *testing.B, n int) *benchEnv {
	b.Helper()
	srv, err := NewServer(Config{})
	if err != nil {
		b.Fatal(err)
	}
	env := &benchEnv{srv: srv, buf: make([]byte, 1<<20)}
	raiseFDLimit(b, 2*n+100)
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		b.Fatal(err)
	}
	const fSetPipeSz = 1031 // F_SETPIPE_SZ: a 1 MiB pipe takes big batches
	_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, uintptr(p[1]), fSetPipeSz, 1<<20)
	env.pipeW, env.pipeR = p[1], p[0]
	var mu sync.Mutex
	joined := make(chan struct{}, n)
	srv.OnConnection(func(s *Socket) {
		s.Join("bench")
		mu.Lock()
		env.socks = append(env.socks, s)
		mu.Unlock()
		joined <- struct{}{}
	})
	// Connect in parallel: each CONNECT waits for its reply to be written.
	work := make(chan int)
	var wg sync.WaitGroup
	env.conns = make([]*benchConn, n)
	for range min(n, 64) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				env.conns[i] = env.dial(b)
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	timeout := time.After(time.Minute)
	for range n {
		select {
		case <-joined:
		case <-timeout:
			b.Fatal("sockets did not connect")
		}
	}
	// Let the writers of the handshake frames finish.
	for range 100 {
		runtime.Gosched()
	}
	return env
}

// dial opens one in-process websocket session and sends CONNECT "/".
func (env *benchEnv) dial(b *testing.B) *benchConn {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	nc, err := fileConn(fds[0]) // a dup, registered with the runtime poller
	if err != nil {
		b.Fatal(err)
	}
	uc := nc.(*net.UnixConn)
	rc, err := uc.SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	c := &benchConn{UnixConn: uc, client: fds[1], written: &env.written, raw: benchRaw{rc, env.pipeW}}
	env.srv.ServeHTTP(&benchHijacker{httptest.NewRecorder(), c}, wsUpgradeRequest())
	if _, err := syscall.Write(c.client, maskedTextFrame("40")); err != nil {
		b.Error(err)
	}
	return c
}

// raiseFDLimit makes sure the process may open n file descriptors, or
// skips the benchmark.
func raiseFDLimit(b *testing.B, n int) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Skipf("getrlimit: %v", err)
	}
	if lim.Cur >= uint64(n) {
		return
	}
	lim.Cur = max(lim.Cur, uint64(n))
	lim.Max = max(lim.Max, lim.Cur)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Skipf("needs %d file descriptors (RLIMIT_NOFILE): %v", n, err)
	}
}

// waitWritten drains the pipe until the clients received want bytes in
// all (reading it here, not from a goroutine parked in the netpoller,
// keeps wake-up latency out of the numbers).
func (env *benchEnv) waitWritten(b *testing.B, want int64) {
	deadline := time.Now().Add(30 * time.Second)
	for env.written.Load() < want {
		n, err := syscall.Read(env.pipeR, env.buf)
		if n > 0 {
			env.written.Add(int64(n))
			continue
		}
		if err != nil && err != syscall.EAGAIN && err != syscall.EINTR {
			b.Fatal(err)
		}
		if time.Now().After(deadline) {
			b.Fatalf("written %d of %d bytes", env.written.Load(), want)
		}
		runtime.Gosched()
	}
}

func (env *benchEnv) close() {
	for _, c := range env.conns {
		if c != nil {
			_ = syscall.Close(c.client) // the session ends with "transport close"
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = env.srv.Shutdown(ctx)
	_ = syscall.Close(env.pipeW)
	_ = syscall.Close(env.pipeR)
}

// maskedTextFrame returns a client text frame (masked, as RFC 6455 requires).
func maskedTextFrame(s string) []byte {
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	f := append([]byte{0x81, 0x80 | byte(len(s))}, mask[:]...)
	for i := 0; i < len(s); i++ {
		f = append(f, s[i]^mask[i%4])
	}
	return f
}

// benchConn is the server side of an in-process client: a Unix socket
// pair whose other end (client) the benchmark writes client frames into;
// raw (syscall.Conn) writes go to the shared counting pipe, and Write
// calls (the handshake, a writer goroutine after the pipe was full) are
// counted and discarded.
type benchConn struct {
	*net.UnixConn
	client  int
	written *atomic.Int64
	raw     benchRaw
}

func (c *benchConn) SyscallConn() (syscall.RawConn, error) { return c.raw, nil }

func (c *benchConn) Write(p []byte) (int, error) {
	c.written.Add(int64(len(p)))
	return len(p), nil
}

// benchRaw is the server socket's RawConn, except that writes go to the
// shared pipe.
type benchRaw struct {
	syscall.RawConn
	pipeW int
}

func (r benchRaw) Write(f func(fd uintptr) bool) error {
	f(uintptr(r.pipeW))
	return nil
}

// benchHijacker is a ResponseWriter whose Hijack returns a benchConn.
type benchHijacker struct {
	*httptest.ResponseRecorder
	c net.Conn
}

func (h *benchHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.c, bufio.NewReadWriter(bufio.NewReader(h.c), bufio.NewWriter(h.c)), nil
}

var _ http.Hijacker = (*benchHijacker)(nil)

// echoPayload is the argument of the benchmark echo: a chat-sized object.
const echoPayload = `{"user":"bob","text":"hello world, how are you today?","at":1700000000}`

// BenchmarkEchoAck measures one echo-with-ack round trip, the issue #6
// scenario: the client sends EVENT "echo" with an ack id, the handler
// (as cmd/sioserver's) calls ack(args...), and the ACK frame is written.
// The socket is a real websocket session (benchEnv).
//
//   - handler: the EVENT text is handed to the client's OnMessage, as the
//     engine's reader does once it has read a frame (the node's share of
//     the round trip plus the engine's write path).
//   - wire: the EVENT is written as a masked frame into the socket, so the
//     engine's reader (poller wake-up, read syscall, frame parsing) runs
//     too, and the goroutine hand-offs of a real round trip are counted.
//
// Run it with
//
//	go test -run '^$' -bench EchoAck -benchmem ./node
func BenchmarkEchoAck(b *testing.B) {
	event := `421["echo",` + echoPayload + `]`
	ackFrame := 2 + len(`431[`+echoPayload+`]`)
	if ackFrame-2 >= 126 {
		b.Fatal("benchmark ack must fit a 2-byte frame header")
	}
	setup := func(b *testing.B) (*benchEnv, *Socket) {
		env := newBenchEnv(b, 1)
		s := env.socks[0]
		s.On("echo", func(args Args, ack AckFunc) {
			if ack != nil {
				_ = ack(args...)
			}
		})
		return env, s
	}
	b.Run("handler", func(b *testing.B) {
		env, s := setup(b)
		defer env.close()
		c := s.client
		msg := []byte(event[1:]) // the engine strips its "4"
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			want := env.written.Load() + int64(ackFrame)
			c.OnMessage(msg, false)
			env.waitWritten(b, want)
		}
	})
	b.Run("wire", func(b *testing.B) {
		env, _ := setup(b)
		defer env.close()
		fd := env.conns[0].client
		frame := maskedTextFrame(event)
		// The ack is awaited parked in the runtime's poller, not spinning
		// as waitWritten does: the engine's reader is woken through that
		// poller, which a spinning goroutine would keep from running.
		rfd, err := syscall.Dup(env.pipeR)
		if err != nil {
			b.Fatal(err)
		}
		pipe := os.NewFile(uintptr(rfd), "bench-pipe") // non-blocking: read in the poller
		defer pipe.Close()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			want := env.written.Load() + int64(ackFrame)
			if _, err := syscall.Write(fd, frame); err != nil {
				b.Fatal(err)
			}
			for env.written.Load() < want {
				n, err := pipe.Read(env.buf)
				if err != nil {
					b.Fatal(err)
				}
				env.written.Add(int64(n))
			}
		}
	})
}

// BenchmarkMetricsPerEcho measures the metric updates of one echo round
// trip, uncontended: the engine's hooks for the message in and out
// (packet, bytes, queue bytes up and down) and the Socket.IO packet
// counters. (With both cores updating the same counters, -cpu 2 and
// RunParallel, cache-line contention makes it 2-3 times as much.)
func BenchmarkMetricsPerEcho(b *testing.B) {
	m := newMetrics(nil)
	h := m.engineHooks()
	b.ReportAllocs()
	for b.Loop() {
		h.PacketIn("message", 80)
		m.packetIn(2)
		m.packetOut(3, 1)
		h.QueueBytes(75)
		h.PacketsOut("message", 1, 74)
		h.QueueBytes(-75)
	}
}

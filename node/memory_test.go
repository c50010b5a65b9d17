//go:build linux

package node

import (
	"flag"
	"os"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/sio-go/sio/node/engineio"
)

// idleHeapProfile names a file prefix: BenchmarkIdleSocketMemory writes
// there a heap profile taken while the sockets are connected (the one of
// -memprofile is taken after they are gone). Use with -memprofilerate=1.
var idleHeapProfile = flag.String("idleheapprofile", "", "write the heap profile of the connected idle sockets to `prefix`-<case>.pprof")

// idleSockets is how many sockets BenchmarkIdleSocketMemory connects.
const idleSockets = 2000

// BenchmarkIdleSocketMemory reports the heap held by idle connected
// sockets. It connects idleSockets in-process websocket sessions (the
// harness of BenchmarkBroadcastRoom) twice: to a bare Engine.IO server
// whose handler does nothing, and to a Server where each one joins "/".
// B/conn-engine is the live heap per session of the first (engine and
// harness); B/socket is what the Socket.IO layer adds per socket (client,
// Socket, namespace and adapter entries, handlers). Live heap is
// HeapAlloc after two GCs; with GOGC=100 the process's RSS grows by about
// twice that.
//
//	go test -run '^$' -bench IdleSocketMemory -benchtime=1x ./node
//	go test -run '^$' -bench IdleSocketMemory/chat -benchtime=1x -memprofilerate=1 -idleheapprofile=/tmp/idle ./node
//	go tool pprof -sample_index=inuse_space -top /tmp/idle-chat.pprof
func BenchmarkIdleSocketMemory(b *testing.B) {
	// Warm up: the first sessions allocate goroutine descriptors that the
	// runtime keeps for reuse, which would count as engine heap.
	idleEngineHeap(b, idleSockets)
	for _, tc := range []struct {
		name  string
		setup func(*Server) func(*Socket)
	}{
		{"nohandlers", nil},
		{"chat", chatLikeHandlers}, // what cmd/sioserver registers
	} {
		b.Run(tc.name, func(b *testing.B) {
			var engine, full float64
			for range b.N {
				engine += idleEngineHeap(b, idleSockets)
				full += idleServerHeap(b, idleSockets, tc.setup, tc.name)
			}
			n := float64(b.N)
			b.ReportMetric(engine/n, "B/conn-engine")
			b.ReportMetric((full-engine)/n, "B/socket")
		})
	}
}

// chatLikeHandlers returns a connection handler shaped like cmd/sioserver's
// chat contract: six events; the handlers that need the socket are
// closures over it, the others are built once.
func chatLikeHandlers(srv *Server) func(*Socket) {
	chatMessage := func(args Args, _ AckFunc) { _ = srv.Emit("chat message", args.Value(0)) }
	nodeID := &struct{ id string }{"node-1"}
	return func(s *Socket) {
		s.On("join", func(args Args, ack AckFunc) {
			room, _ := args.String(0)
			s.Join(room)
			replyAck(ack, room)
		})
		s.On("leave", func(args Args, ack AckFunc) {
			room, _ := args.String(0)
			s.Leave(room)
			replyAck(ack, room)
		})
		s.On("chat message", chatMessage)
		s.On("room message", func(args Args, ack AckFunc) {
			room, _ := args.String(0)
			_ = s.Namespace().To(room).Emit("room message", s.ID(), args.Value(1))
			replyAck(ack, true)
		})
		s.On("echo", func(args Args, ack AckFunc) { replyAck(ack, args.Value(0)) })
		s.On("whoami", func(_ Args, ack AckFunc) { replyAck(ack, []string{nodeID.id, s.ID()}) })
	}
}

func replyAck(ack AckFunc, v any) {
	if ack != nil {
		_ = ack(v)
	}
}

// TestIdleStructSizes keeps the structures every connection holds within
// their allocation size class (64-bit platforms).
func TestIdleStructSizes(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes are for 64-bit platforms")
	}
	for _, c := range []struct {
		name      string
		size, max uintptr
	}{
		{"client", unsafe.Sizeof(client{}), 112},
		{"Socket", unsafe.Sizeof(Socket{}), 96},
		{"eventHandler", unsafe.Sizeof(eventHandler{}), 16},
	} {
		if c.size > c.max {
			t.Errorf("%s is %d bytes, want at most %d", c.name, c.size, c.max)
		}
	}
}

// liveHeap returns the bytes of live heap objects.
func liveHeap() float64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc)
}

// nopEngineHandler counts the messages of a bare Engine.IO session.
type nopEngineHandler struct{ msgs *atomic.Int64 }

func (h nopEngineHandler) OnMessage([]byte, bool) { h.msgs.Add(1) }
func (h nopEngineHandler) OnClose(string)         {}

// idleEngineHeap returns the live heap per session of n idle sessions of
// a bare Engine.IO server, each having sent CONNECT "/".
func idleEngineHeap(b *testing.B, n int) float64 {
	var msgs atomic.Int64
	eng := engineio.NewServer(engineio.Config{}, func(c *engineio.Conn) {
		c.SetHandler(nopEngineHandler{&msgs})
	})
	env := newPipeEnv(b, eng)
	env.eng = eng
	defer env.close()
	before := liveHeap()
	env.dialAll(b, n)
	env.waitCount(b, "CONNECT messages", n, msgs.Load)
	env.drain()
	return (liveHeap() - before) / float64(n)
}

// idleServerHeap returns the live heap per connection of n idle sockets
// connected to "/" of a Server, each set up by setup(srv) (if not nil).
func idleServerHeap(b *testing.B, n int, setup func(*Server) func(*Socket), name string) float64 {
	srv, err := NewServer(Config{})
	if err != nil {
		b.Fatal(err)
	}
	env := newPipeEnv(b, srv)
	env.srv = srv
	defer env.close()
	var joined atomic.Int64
	var onSocket func(*Socket)
	if setup != nil {
		onSocket = setup(srv)
	}
	srv.OnConnection(func(s *Socket) {
		if onSocket != nil {
			onSocket(s)
		}
		joined.Add(1)
	})
	before := liveHeap()
	env.dialAll(b, n)
	env.waitCount(b, "sockets", n, joined.Load)
	env.drain()
	after := liveHeap()
	if *idleHeapProfile != "" {
		f, err := os.Create(*idleHeapProfile + "-" + name + ".pprof")
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			b.Fatal(err)
		}
		_ = f.Close()
	}
	if got := srv.Of("/").SocketCount(); got != n {
		b.Fatalf("%d sockets connected, want %d", got, n)
	}
	return (after - before) / float64(n)
}

// waitCount waits until count() reaches n.
func (env *benchEnv) waitCount(b *testing.B, what string, n int, count func() int64) {
	deadline := time.Now().Add(time.Minute)
	for count() < int64(n) {
		if time.Now().After(deadline) {
			b.Fatalf("%s: %d of %d", what, count(), n)
		}
		env.drain()
	}
}

// drain reads the counting pipe until nothing arrived for 20ms.
func (env *benchEnv) drain() {
	quiet := time.Now()
	for time.Since(quiet) < 20*time.Millisecond {
		n, err := syscall.Read(env.pipeR, env.buf)
		if n > 0 {
			env.written.Add(int64(n))
			quiet = time.Now()
			continue
		}
		if err != nil && err != syscall.EAGAIN && err != syscall.EINTR {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

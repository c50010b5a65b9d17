//go:build linux

package node

import (
	"crypto/rand"
	"encoding/base64"
	"flag"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
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

// idleSettle is how long the connections stay idle before the heap is
// measured: long enough for the engine to park idle readers (and free
// their buffers), as it does after its read linger.
const idleSettle = 500 * time.Millisecond

// BenchmarkIdleSocketMemory reports the heap held by idle connected
// sockets. It connects idleSockets in-process websocket sessions, each
// over its own Unix socket pair (a real descriptor, so the engine takes
// its production path), twice: to a bare Engine.IO server whose handler
// does nothing, and to a Server where each one joins "/".
// B/conn-engine is the live heap per session of the first (engine and
// harness); B/socket is what the Socket.IO layer adds per socket (client,
// Socket, namespace and adapter entries, handlers). Live heap is
// HeapAlloc after two GCs; with GOGC=100 the process's RSS grows by about
// twice that.
//
//	go test -run '^$' -bench IdleSocketMemory -benchtime=1x ./node
//	go test ./node -run '^$' -bench IdleSocketMemory/chat -benchtime=1x -memprofilerate=1 -idleheapprofile=/tmp/idle
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
	defer eng.Close(ReasonServerShuttingDown)
	before := liveHeap()
	clients := dialIdle(b, eng, n)
	defer closeAll(clients)
	waitCount(b, "CONNECT messages", n, msgs.Load)
	time.Sleep(idleSettle)
	return (liveHeap() - before) / float64(n)
}

// idleServerHeap returns the live heap per connection of n idle sockets
// connected to "/" of a Server, each set up by setup(srv) (if not nil).
func idleServerHeap(b *testing.B, n int, setup func(*Server) func(*Socket), name string) float64 {
	srv, err := NewServer(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
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
	clients := dialIdle(b, srv, n)
	defer closeAll(clients)
	waitCount(b, "sockets", n, joined.Load)
	time.Sleep(idleSettle)
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

// dialIdle opens n websocket sessions on h, 64 at a time, each over its
// own Unix socket pair, and sends CONNECT "/" on each. It returns the
// client ends, which it never reads: the few frames the server writes fit
// in the socket buffer.
func dialIdle(b *testing.B, h http.Handler, n int) []net.Conn {
	clients := make([]net.Conn, n)
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(n, 64) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				c, err := dialIdleOne(h)
				if err != nil {
					b.Error(err)
					continue
				}
				clients[i] = c
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if b.Failed() {
		closeAll(clients)
		b.FailNow()
	}
	return clients
}

func dialIdleOne(h http.Handler) (net.Conn, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	server, err := fileConn(fds[0])
	if err != nil {
		_ = syscall.Close(fds[1])
		return nil, err
	}
	client, err := fileConn(fds[1])
	if err != nil {
		_ = server.Close()
		return nil, err
	}
	h.ServeHTTP(&benchHijacker{httptest.NewRecorder(), server}, wsUpgradeRequest())
	if _, err := client.Write(maskedTextFrame("40")); err != nil {
		_ = client.Close()
		return nil, err
	}
	return client, nil
}

// wsUpgradeRequest is a client's websocket upgrade request for an
// in-process Engine.IO session.
func wsUpgradeRequest() *http.Request {
	var key [16]byte
	_, _ = rand.Read(key[:])
	req := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", base64.StdEncoding.EncodeToString(key[:]))
	return req
}

// fileConn turns a socket descriptor into a net.Conn (and closes fd: the
// conn holds a duplicate).
func fileConn(fd int) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "socketpair")
	defer f.Close()
	return net.FileConn(f)
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			_ = c.Close()
		}
	}
}

// waitCount waits until count() reaches n.
func waitCount(b *testing.B, what string, n int, count func() int64) {
	deadline := time.Now().Add(time.Minute)
	for count() < int64(n) {
		if time.Now().After(deadline) {
			b.Fatalf("%s: %d of %d", what, count(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

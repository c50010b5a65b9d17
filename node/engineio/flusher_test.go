//go:build unix

package engineio

import (
	"net"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
)

// rawSessionPair returns a websocket session of srv over one end of a Unix
// socket pair (a raw socket, so the flushers write it) and the other end's
// descriptor.
func rawSessionPair(t *testing.T, srv *Server, id string) (*Conn, int) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[0]), "server")
	nc, err := net.FileConn(f) // a dup, registered with the runtime poller
	_ = f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close(); _ = syscall.Close(fds[1]) })
	ws := newWSConn(srv, nc)
	if ws.rc == nil {
		t.Skip("no raw socket I/O on this platform")
	}
	return wsSession(srv, ws, id), fds[1]
}

// TestFlusherYields checks that a flusher lets other goroutines run during
// a long fan-out: with one CPU, a goroutine woken by the first write gets
// to run after about flusherYieldEvery connections, not after all of them.
// (A broadcast wakes the Redis publisher just before its local fan-out; a
// flusher that never yields holds every remote delivery back.)
func TestFlusherYields(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const n = 8 * flusherYieldEvery
	var written atomic.Int64
	first := make(chan struct{})
	srv := NewServer(Config{Hooks: Hooks{PacketsOut: func(_ string, packets, _ int) {
		if written.Add(int64(packets)) == 1 {
			close(first)
		}
	}}}, nil)
	conns := make([]*Conn, n)
	for i := range conns {
		conns[i], _ = rawSessionPair(t, srv, "s"+strconv.Itoa(i))
	}
	at := make(chan int64, 1)
	go func() {
		<-first
		at <- written.Load()
	}()
	runtime.Gosched() // the probe waits on first
	for _, c := range conns {
		if err := c.Send(NewTextMessage([]byte("x"))); err != nil {
			t.Fatal(err)
		}
	}
	got := <-at
	for _, c := range conns {
		waitWritten(t, c)
	}
	if written.Load() != n {
		t.Fatalf("%d messages written, want %d", written.Load(), n)
	}
	if got > n/2 {
		t.Errorf("a goroutine woken by the first write ran after %d of %d writes; want about %d (the flusher must yield)",
			got, n, flusherYieldEvery)
	}
	t.Logf("woken goroutine ran after %d of %d writes", got, n)
}

//go:build linux

package engineio

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// rawFD returns the descriptor of a syscall.Conn; the caller keeps c open.
func rawFD(t *testing.T, c syscall.Conn) uintptr {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd uintptr
	if err := rc.Control(func(f uintptr) { fd = f }); err != nil {
		t.Fatal(err)
	}
	return fd
}

// tcpPair returns both ends of a loopback TCP connection, closed when
// the test ends.
func tcpPair(t testing.TB) (a, b net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	b, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return a, b
}

func TestSysReadWriteSocket(t *testing.T) {
	a, b := tcpPair(t)
	afd, bfd := rawFD(t, a.(*net.TCPConn)), rawFD(t, b.(*net.TCPConn))
	if n, err := sysWrite(afd, []byte("hello")); n != 5 || err != nil {
		t.Fatalf("sysWrite = %d, %v", n, err)
	}
	buf := make([]byte, 16)
	n, err := 0, error(syscall.EAGAIN)
	for err == syscall.EAGAIN {
		n, err = sysRead(bfd, buf)
	}
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("sysRead = %q, %v", buf[:n], err)
	}
	if n, err := sysRead(bfd, buf); n != 0 || err != syscall.EAGAIN {
		t.Fatalf("sysRead on an empty socket = %d, %v, want EAGAIN", n, err)
	}
	// Once the peer reset the connection, writes fail with EPIPE or
	// ECONNRESET.
	_ = b.(*net.TCPConn).SetLinger(0)
	_ = b.Close()
	for i := 0; ; i++ {
		_, err := sysWrite(afd, []byte("x"))
		if errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
			break
		}
		if i == 1000 {
			t.Fatalf("writes to a reset connection still succeed: %v", err)
		}
	}
}

// TestSysReadWriteNotSocket checks the fallback to read(2) and write(2)
// on a descriptor that is not a socket.
func TestSysReadWriteNotSocket(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if n, err := sysWrite(rawFD(t, w), []byte("pipe")); n != 4 || err != nil {
		t.Fatalf("sysWrite = %d, %v", n, err)
	}
	buf := make([]byte, 8)
	if n, err := sysRead(rawFD(t, r), buf); err != nil || string(buf[:n]) != "pipe" {
		t.Fatalf("sysRead = %q, %v", buf[:n], err)
	}
}

// TestSendNowDefersClose checks the guard of the writer's direct writes:
// close called while a sendNow holds the descriptor leaves the socket
// open (the number cannot go to another connection) until that call
// releases it; after close, sendNow writes nothing and reports
// net.ErrClosed.
func TestSendNowDefersClose(t *testing.T) {
	a, b := tcpPair(t)
	w := newWSConn(&Server{}, a)
	if w.fd < 0 {
		t.Fatal("newWSConn kept no descriptor for a TCP connection")
	}
	if n, err := w.sendNow([]byte("one,")); n != 4 || err != nil {
		t.Fatalf("sendNow = %d, %v", n, err)
	}
	w.users.Add(1) // a sendNow between its check and its release
	w.close()
	if w.ncClosed.Load() {
		t.Fatal("close closed the connection under a writer")
	}
	if n, err := sysWrite(uintptr(w.fd), []byte("two")); n != 3 || err != nil {
		t.Fatalf("the writer's write after close = %d, %v", n, err)
	}
	w.releaseFD()
	if !w.ncClosed.Load() {
		t.Fatal("the writer's release did not close the connection")
	}
	if n, err := w.sendNow([]byte("three")); n != 0 || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("sendNow after close = %d, %v; want 0, net.ErrClosed", n, err)
	}
	_ = b.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(b)
	if err != nil || string(got) != "one,two" {
		t.Fatalf("peer read %q, %v; want \"one,two\" then EOF", got, err)
	}
	w.close() // idempotent
	if u := w.users.Load(); u != closingUsers {
		t.Fatalf("users = %#x after close, want %#x", u, int64(closingUsers))
	}
}

// TestSendNowCloseRace runs writers against close (for the race detector)
// and checks that the connection ends closed with every use released.
func TestSendNowCloseRace(t *testing.T) {
	a, b := tcpPair(t)
	go func() { _, _ = io.Copy(io.Discard, b) }()
	w := newWSConn(&Server{}, a)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10000; i++ {
				if _, err := w.sendNow([]byte("x")); errors.Is(err, net.ErrClosed) {
					return
				}
			}
		}()
	}
	time.Sleep(time.Millisecond)
	w.close()
	wg.Wait()
	if !w.ncClosed.Load() || w.users.Load() != closingUsers {
		t.Fatalf("after close and the writers: closed %v, users %#x", w.ncClosed.Load(), w.users.Load())
	}
}

// BenchmarkSocketWrite measures what the writer's non-blocking write adds
// around the system call, through net's RawConn.Write and through
// sendNow's direct write on the descriptor. The peer does not read and
// the socket buffer is full, so each sendto returns EAGAIN at once: the
// kernel's TCP work, the same for both and most of a real write, is left
// out.
func BenchmarkSocketWrite(b *testing.B) {
	frame := append(NewTextMessage(benchPayload).appendWSHeader(nil), benchPayload...)
	for _, mode := range []string{"rawconn", "direct"} {
		b.Run(mode, func(b *testing.B) {
			a, peer := tcpPair(b)
			// Fixed buffer sizes turn the kernel's autotuning off: once
			// full, the socket stays full.
			_ = a.(*net.TCPConn).SetWriteBuffer(8 << 10)
			_ = peer.(*net.TCPConn).SetReadBuffer(8 << 10)
			w := newWSConn(&Server{}, a)
			defer w.close()
			write := func() (int, error) { return rawWrite(w.rc, frame) }
			if mode == "direct" {
				write = func() (int, error) { return w.sendNow(frame) }
			}
			for i := 0; ; i++ { // fill the socket buffers
				n, err := write()
				if err != nil {
					b.Fatal(err)
				}
				if n == 0 {
					break
				}
				if i == 1e7 {
					b.Fatal("the socket never filled")
				}
			}
			time.Sleep(10 * time.Millisecond) // data in flight settles
			for n := 1; n > 0; {
				n, _ = write()
			}
			b.ReportAllocs()
			b.ResetTimer()
			taken := 0
			for i := 0; i < b.N; i++ {
				n, err := write()
				if err != nil {
					b.Fatal(err)
				}
				taken += n
			}
			b.ReportMetric(float64(taken)/float64(b.N), "B/op-taken")
		})
	}
}

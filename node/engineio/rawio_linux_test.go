//go:build linux

package engineio

import (
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
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

func TestSysReadWriteSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	afd, bfd := rawFD(t, a.(*net.TCPConn)), rawFD(t, b.(*net.TCPConn))
	if n, err := sysWrite(afd, []byte("hello")); n != 5 || err != nil {
		t.Fatalf("sysWrite = %d, %v", n, err)
	}
	buf := make([]byte, 16)
	n, err := 0, syscall.EAGAIN
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

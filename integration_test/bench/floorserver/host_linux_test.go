package main

import (
	"net"
	"runtime"
	"syscall"
	"testing"
	"unsafe"
)

// The host's unit costs, which bound every server's echo and rate results
// on the machine they run on (RESULTS.md, "the host's unit costs"):
//
//	go test -run '^$' -bench Host ./integration_test/bench/floorserver
//
// The benchmarks use raw system calls on threads of their own, so that
// they measure the kernel and not Go's scheduler.

// BenchmarkHostSyscall measures the cheapest system call, getppid: the
// fixed cost of entering and leaving the kernel.
func BenchmarkHostSyscall(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for b.Loop() {
		syscall.RawSyscall(syscall.SYS_GETPPID, 0, 0, 0)
	}
}

// BenchmarkHostLoopbackMessage measures the kernel's work for one small
// message over loopback TCP: a 50-byte write on one end of a connection
// and the read of it on the other, in one thread. Over loopback the
// writer's system call also runs the receiving socket's TCP processing,
// so this is the sender's and the receiver's share together, without a
// wake-up (the data is there when the read comes). An echo round trip
// costs two of these (the request and the answer) plus the epoll waits
// and thread switches both ends share.
func BenchmarkHostLoopbackMessage(b *testing.B) {
	wfd, rfd := loopbackPair(b)
	msg := make([]byte, 50)
	buf := make([]byte, 512)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for b.Loop() {
		if n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(wfd), uintptr(unsafe.Pointer(&msg[0])), uintptr(len(msg))); errno != 0 || n != uintptr(len(msg)) {
			b.Fatalf("write: %d, %v", n, errno)
		}
		for got := 0; got < len(msg); {
			n, _, errno := syscall.RawSyscall(syscall.SYS_READ, uintptr(rfd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
			if errno != 0 || n == 0 {
				b.Fatalf("read: %d, %v", n, errno)
			}
			got += int(n)
		}
	}
}

// loopbackPair returns the two ends of a loopback TCP connection as
// blocking descriptors (with Nagle off, as every server here sets it),
// closed at the end of the benchmark.
func loopbackPair(b *testing.B) (client, server int) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	fds := make([]int, 2)
	for i, nc := range []net.Conn{c, s} {
		f, err := nc.(*net.TCPConn).File() // a dup, closed with the benchmark
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		fds[i] = int(f.Fd())
		if err := syscall.SetNonblock(fds[i], false); err != nil {
			b.Fatal(err)
		}
		if err := syscall.SetsockoptInt(fds[i], syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1); err != nil {
			b.Fatal(err)
		}
	}
	return fds[0], fds[1]
}

// BenchmarkHostWakeup measures a wake-up: two threads pass one byte back
// and forth through two pipes, each blocked in its read until the other
// writes, so every op is two wake-ups and two switches. same-cpu pins
// both threads to CPU 0, where each wake-up is a switch between them;
// other-cpu pins them apart, where each is a wake-up of an idle CPU (on
// a virtual machine, of a halted virtual CPU).
func BenchmarkHostWakeup(b *testing.B) {
	b.Run("same-cpu", func(b *testing.B) { benchWakeup(b, 0, 0) })
	if runtime.NumCPU() > 1 {
		b.Run("other-cpu", func(b *testing.B) { benchWakeup(b, 0, 1) })
	}
}

func benchWakeup(b *testing.B, cpuA, cpuB int) {
	var ping, pong [2]int
	for _, p := range []*[2]int{&ping, &pong} {
		if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { syscall.Close(p[0]); syscall.Close(p[1]) })
	}
	// The answering thread learns the count first, then answers that
	// many bytes. The blocking reads go through syscall.Syscall, which
	// tells the runtime: a thread blocked in a raw call could never stop
	// for the collector or the benchmark's own ReadMemStats, and the other
	// thread, stopped, would never write the byte it waits for.
	count := make(chan int)
	done := make(chan error, 1)
	go func() {
		// Never unlocked: the pinned thread exits with this goroutine.
		runtime.LockOSThread()
		if _, err := pin(cpuB); err != nil {
			done <- err
			return
		}
		n := <-count
		var c [1]byte
		for range n {
			if _, _, errno := syscall.Syscall(syscall.SYS_READ, uintptr(ping[0]), uintptr(unsafe.Pointer(&c[0])), 1); errno != 0 {
				done <- errno
				return
			}
			if _, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(pong[1]), uintptr(unsafe.Pointer(&c[0])), 1); errno != 0 {
				done <- errno
				return
			}
		}
		done <- nil
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	restore, err := pin(cpuA)
	if err != nil {
		b.Fatal(err)
	}
	defer restore()
	var c [1]byte
	b.ResetTimer()
	count <- b.N
	for range b.N {
		if _, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(ping[1]), uintptr(unsafe.Pointer(&c[0])), 1); errno != 0 {
			b.Fatal(errno)
		}
		if _, _, errno := syscall.Syscall(syscall.SYS_READ, uintptr(pong[0]), uintptr(unsafe.Pointer(&c[0])), 1); errno != 0 {
			b.Fatal(errno)
		}
	}
	b.StopTimer()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// cpuMask is a kernel CPU set of 1024 CPUs.
type cpuMask [16]uint64

// pin binds the calling (locked) thread to one CPU and returns what
// restores the thread's previous CPUs.
func pin(cpu int) (restore func(), err error) {
	var old, mask cpuMask
	if err := affinity(syscall.SYS_SCHED_GETAFFINITY, &old); err != nil {
		return nil, err
	}
	mask[cpu/64] |= 1 << (cpu % 64)
	if err := affinity(syscall.SYS_SCHED_SETAFFINITY, &mask); err != nil {
		return nil, err
	}
	return func() { _ = affinity(syscall.SYS_SCHED_SETAFFINITY, &old) }, nil
}

// affinity gets or sets the calling thread's CPU set.
func affinity(trap uintptr, m *cpuMask) error {
	if _, _, errno := syscall.RawSyscall(trap, 0, unsafe.Sizeof(*m), uintptr(unsafe.Pointer(m))); errno != 0 {
		return errno
	}
	return nil
}

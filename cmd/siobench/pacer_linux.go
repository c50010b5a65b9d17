package main

import (
	"context"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// pacer wakes the rate scenario's publisher at its scheduled send times.
//
// A time.Timer is not precise enough for that on Linux: when every
// thread of the runtime is idle, it waits in epoll_pwait, whose timeout
// is whole milliseconds, so a timer fires up to about a millisecond
// late. The rate scenario stamps each message with its scheduled time
// (a late sender shows up as latency), so that lateness, uniform between
// 0 and ~1 ms, was added to every latency it measured: a generator
// artefact, not the server's. A timerfd is a descriptor the runtime's
// netpoller watches like a socket; the kernel's high-resolution timer
// makes it readable at the set time (plus the thread's timer slack,
// 50 µs by default), which wakes the netpoller at once.
type pacer struct {
	f   *os.File        // the timerfd, non-blocking, in the netpoller; nil: use time.Timer
	raw syscall.RawConn // f's descriptor
}

// newPacer returns a pacer on a timerfd, or one on time.Timer when the
// kernel refuses a timerfd.
func newPacer() *pacer {
	fd, _, e := syscall.RawSyscall(syscall.SYS_TIMERFD_CREATE, clockMonotonic,
		syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if e != 0 {
		return &pacer{}
	}
	f := os.NewFile(fd, "timerfd")
	raw, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return &pacer{}
	}
	return &pacer{f: f, raw: raw}
}

// clockMonotonic is CLOCK_MONOTONIC, the clock of Go's monotonic time.
const clockMonotonic = 1

// itimerspec is struct itimerspec: the interval (zero: one shot) and the
// first expiry, relative to now (zero: disarmed).
type itimerspec struct {
	interval, value syscall.Timespec
}

// set arms the timer to expire once after d, or disarms it when d is 0.
func (p *pacer) set(d time.Duration) error {
	var spec itimerspec
	if d > 0 {
		spec.value = syscall.NsecToTimespec(int64(d))
	}
	var e syscall.Errno
	if err := p.raw.Control(func(fd uintptr) {
		_, _, e = syscall.RawSyscall6(syscall.SYS_TIMERFD_SETTIME, fd, 0,
			uintptr(unsafe.Pointer(&spec)), 0, 0, 0)
	}); err != nil {
		return err
	}
	if e != 0 {
		return os.NewSyscallError("timerfd_settime", e)
	}
	return nil
}

// sleep waits for d, or until ctx is done (returning its error). It never
// returns early: if the timerfd fails, it falls back to time.Timer.
func (p *pacer) sleep(ctx context.Context, d time.Duration) error {
	if p.f == nil {
		return sleep(ctx, d)
	}
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	deadline := time.Now().Add(d)
	if p.set(d) != nil {
		return sleep(ctx, d)
	}
	// A done ctx interrupts the read through the file's deadline.
	stop := context.AfterFunc(ctx, func() { _ = p.f.SetReadDeadline(time.Unix(1, 0)) })
	var buf [8]byte // the number of expirations
	_, err := p.f.Read(buf[:])
	if !stop() { // ctx is done; the deadline may be set
		_ = p.set(0)
		_ = p.f.SetReadDeadline(time.Time{})
		_ = p.raw.Read(func(fd uintptr) bool { // drop an expiry that raced the disarm
			_, _ = syscall.Read(int(fd), buf[:])
			return true
		})
		return ctx.Err()
	}
	if err != nil {
		return sleep(ctx, time.Until(deadline))
	}
	return nil
}

// precise reports whether the pacer waits on a timerfd.
func (p *pacer) precise() bool { return p.f != nil }

// close releases the timerfd.
func (p *pacer) close() {
	if p.f != nil {
		_ = p.f.Close()
	}
}

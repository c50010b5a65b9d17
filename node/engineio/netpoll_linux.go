//go:build linux

package engineio

import (
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// poller watches parked websockets with an epoll instance of its own. Each
// socket is registered EPOLLONESHOT: one readiness event disarms it, so
// exactly one reader is started per park. The epoll descriptor itself is
// watched by the Go runtime's network poller, so the poller goroutine
// sleeps in the scheduler, not in a blocking system call.
//
// Events carry a key, not a descriptor number: a descriptor closed and
// reused by a new connection cannot wake the old one. Registration goes
// through the socket's RawConn.Control, which keeps the descriptor open
// for the duration of the call.
type poller struct {
	file *os.File
	rc   syscall.RawConn
	epfd int

	mu     sync.Mutex
	conns  map[uint64]*wsConn
	next   uint64
	closed bool

	// Owned by the run goroutine.
	events []syscall.EpollEvent
	n      int
	err    error
	waitFn func(fd uintptr) bool
	ready  []*wsConn
}

// pollerBatch is the most events taken per epoll_wait call.
const pollerBatch = 256

func newPoller() (*poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		_ = syscall.Close(fd)
		return nil, os.NewSyscallError("setnonblock", err)
	}
	f := os.NewFile(uintptr(fd), "engineio-epoll")
	// Only a file the runtime poller watches supports deadlines.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("epoll descriptor not pollable: %w", err)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	p := &poller{
		file:   f,
		rc:     rc,
		epfd:   fd,
		conns:  make(map[uint64]*wsConn),
		events: make([]syscall.EpollEvent, pollerBatch),
	}
	p.waitFn = p.wait
	return p, nil
}

// park registers w for one readiness event and reports whether it did. On
// success the reader state belongs to whoever the event wakes. The first
// park adds w to the poller; it stays registered (disarmed while a reader
// runs) until forget.
func (p *poller) park(w *wsConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	op := syscall.EPOLL_CTL_MOD
	if w.pl.Load() != p {
		p.next++
		w.pollKey = p.next
		p.conns[w.pollKey] = w
		w.pl.Store(p)
		op = syscall.EPOLL_CTL_ADD
	}
	ev := syscall.EpollEvent{
		Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT,
		Fd:     int32(uint32(w.pollKey)),
		Pad:    int32(uint32(w.pollKey >> 32)),
	}
	w.parked.Store(true)
	var cerr error
	err := w.rc.Control(func(fd uintptr) {
		cerr = syscall.EpollCtl(p.epfd, op, int(fd), &ev)
	})
	if err != nil || cerr != nil {
		w.parked.Store(false)
		return false
	}
	return true
}

// forget drops w (being closed) from the poller and returns how many
// connections remain registered.
func (p *poller) forget(w *wsConn) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns[w.pollKey] == w {
		delete(p.conns, w.pollKey)
	}
	return len(p.conns)
}

// close stops the poller.
func (p *poller) close() {
	p.mu.Lock()
	already := p.closed
	p.closed = true
	p.mu.Unlock()
	if !already {
		_ = p.file.Close()
	}
}

// wait is the epoll descriptor's read callback: it takes the ready events
// without blocking; false (none) lets the runtime wait for readability.
func (p *poller) wait(fd uintptr) bool {
	for {
		n, err := syscall.EpollWait(int(fd), p.events, 0)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			p.n, p.err = 0, os.NewSyscallError("epoll_wait", err)
			return true
		case n == 0:
			return false
		}
		p.n, p.err = n, nil
		return true
	}
}

// run takes readiness events and starts a reader for each woken
// connection, until the poller is closed. It holds a count in s.wg, so the
// readers it starts are counted while the server waits for them.
func (p *poller) run(s *Server) {
	defer s.wg.Done()
	for {
		err := p.rc.Read(p.waitFn)
		if err == nil {
			err = p.err
		}
		if err != nil {
			return
		}
		p.mu.Lock()
		for _, ev := range p.events[:p.n] {
			key := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if w := p.conns[key]; w != nil {
				p.ready = append(p.ready, w)
			}
		}
		p.mu.Unlock()
		for i, w := range p.ready {
			p.ready[i] = nil
			if w.parked.CompareAndSwap(true, false) {
				s.wg.Add(1)
				go w.run()
			}
		}
		p.ready = p.ready[:0]
	}
}

//go:build linux

package main

import (
	"errors"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// A poller reads many plain-TCP connections on one goroutine, with an
// epoll instance of its own. A goroutine per connection costs a park, a
// wake-up, a scheduler pass and an extra read that only returns EAGAIN
// for every message received; the poller pays for one epoll_wait per
// batch of ready connections and one read per connection and batch.
//
// The epoll instance is itself registered with the Go runtime's
// netpoller (an epoll descriptor is readable while it has ready
// entries), so waiting for it parks the poller's goroutine like any
// network read and takes no thread. Connections are registered
// edge-triggered; a read that does not fill the buffer proves the socket
// drained, so no read is spent on EAGAIN.
//
// The connections stay owned by their net.Conn (deadlines and Close go
// through it, and a write that finds the socket full waits in the
// netpoller); every read is done inside RawConn.Control so that the
// descriptor cannot be closed and reused under it.
type poller struct {
	b    *bench
	file *os.File // the epoll instance
	raw  syscall.RawConn

	mu    sync.Mutex
	conns map[int32]*client // registered connections by registration id
	next  int32

	events [128]syscall.EpollEvent // loop only
	ready  []readyConn             // loop only
}

// readyConn is a connection epoll reported, with its events.
type readyConn struct {
	c      *client
	events uint32
}

// pollConn is the part of a client that its poller uses.
type pollConn struct {
	id       int32
	h        handler
	read     func(fd uintptr) // reads c.pc.buf into c.pc.n, c.pc.err; made once
	buf      []byte
	n        int
	err      error
	delayAck bool  // the next read first turns quick-ACK mode off
	lastRead int64 // b.now() of the batch of the last read
}

// delayedAckGap is how long a connection may go without a read before
// the poller turns quick-ACK mode off again ahead of the next one.
//
// A Linux receiver that has not sent data recently is in quick-ACK mode:
// reading a small pushed segment that empties the socket sends a pure
// ACK at once (tcp_cleanup_rbuf). Over loopback that ACK is a full trip
// through the TCP stack, paid by the generator on the cores it shares
// with the nodes: measured at 46% of its CPU when 1,000 receivers each
// get 50 messages/s. A client across a real network delays its
// ACKs, so the poller sets TCP_QUICKACK to 0, which makes the kernel ACK
// every second small segment or on its delayed-ACK timer. The kernel
// returns to quick-ACK mode when that timer fires, which needs a quiet
// spell longer than its minimum of 40 ms; the poller sets the option
// again before a read that follows a gap of delayedAckGap, kept under
// that minimum. Connections read more often than that (fanout, echo, and
// rate above 33 messages/s each) never pay for the extra system call: at
// 50 messages/s each the generator's CPU went from 52-59 % with a 10 ms
// gap to 49-53 %, with the same number of ACKs.
const delayedAckGap = 30 * time.Millisecond

// quickAckOff sets TCP_QUICKACK to 0 on the socket fd. It fails only on
// a socket that is not TCP, where it does not matter.
func quickAckOff(fd uintptr) {
	var off int32
	_, _, _ = syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_QUICKACK,
		uintptr(unsafe.Pointer(&off)), unsafe.Sizeof(off), 0)
}

// The poller's reads, its epoll_wait and the writes to plain TCP
// connections use raw system calls. They never block (the descriptors
// are non-blocking and epoll_wait does not wait), and syscall.Syscall
// would tell the scheduler about each of them: at tens of thousands per
// second that keeps waking the runtime's sysmon thread, which cost more
// CPU than the reads themselves.
const rawWrites = true

// rawRead reads from the non-blocking socket fd into p. recvfrom(2)
// without an address skips read(2)'s file layer (file position lock,
// permission and notification hooks).
func rawRead(fd uintptr, p []byte) (int, error) {
	for {
		r, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), 0, 0, 0)
		switch e {
		case 0:
			return int(r), nil
		case syscall.EINTR:
			continue
		}
		return 0, e
	}
}

// writeRaw writes fb.b to c.raw with send(2) (no SIGPIPE, no file layer);
// a full socket buffer waits in the netpoller, bounded by the write
// deadline, as net.Conn.Write does.
func (c *client) writeRaw(fb *frameBuf) error {
	if fb.fn == nil {
		fb.fn = func(fd uintptr) bool {
			for len(fb.rest) > 0 {
				r, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd,
					uintptr(unsafe.Pointer(&fb.rest[0])), uintptr(len(fb.rest)), syscall.MSG_NOSIGNAL, 0, 0)
				switch e {
				case 0:
					fb.rest = fb.rest[r:]
				case syscall.EINTR:
				case syscall.EAGAIN:
					return false
				default:
					fb.err = e
					return true
				}
			}
			return true
		}
	}
	fb.rest, fb.err = fb.b, nil
	err := c.raw.Write(fb.fn)
	fb.rest = nil
	if err != nil {
		return err
	}
	return fb.err
}

// disablePoller makes every connection use a reader goroutine (tests).
var disablePoller bool

// newPoller creates a poller and starts its goroutine, counted in
// b.readers; close stops it.
func newPoller(b *bench) (*poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		_ = syscall.Close(fd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(fd), "epoll")
	// Only a descriptor the netpoller accepted supports deadlines.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		_ = f.Close()
		return nil, err
	}
	raw, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	p := &poller{b: b, file: f, raw: raw, conns: map[int32]*client{}}
	b.readers.Add(1)
	go p.loop()
	return p, nil
}

// loop waits for the epoll instance and serves the ready connections
// until close.
func (p *poller) loop() {
	defer p.b.readers.Done()
	// The callback never reports done: Read returns only once the file
	// is closed.
	_ = p.raw.Read(func(fd uintptr) bool {
		p.poll(int(fd))
		return false
	})
}

// close stops the poller; its connections are closed by the caller.
func (p *poller) close() { _ = p.file.Close() }

// poll serves every connection the epoll instance epfd reports ready.
func (p *poller) poll(epfd int) {
	for {
		r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd),
			uintptr(unsafe.Pointer(&p.events[0])), uintptr(len(p.events)), 0, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		n := int(r)
		if e != 0 || n <= 0 {
			return
		}
		p.ready = p.ready[:0]
		p.mu.Lock()
		for _, ev := range p.events[:n] {
			if c := p.conns[ev.Fd]; c != nil {
				p.ready = append(p.ready, readyConn{c, ev.Events})
			}
		}
		p.mu.Unlock()
		now := int64(0)
		if !p.b.cfg.QuickAck {
			now = p.b.now()
		}
		for i, r := range p.ready {
			if now != 0 {
				pc := &r.c.pc
				pc.delayAck = now-pc.lastRead >= int64(delayedAckGap)
				pc.lastRead = now
			}
			p.serve(r.c, r.events)
			p.ready[i] = readyConn{}
		}
		if n < len(p.events) {
			return
		}
	}
}

// add hands c to the poller with handler h. Frames the handshake already
// buffered are dispatched first, on the caller's goroutine, as the
// socket will not report them.
func (p *poller) add(c *client, h handler) {
	pc := &c.pc
	pc.h = h
	pc.lastRead = -int64(delayedAckGap) // the first read turns quick-ACK off
	pc.read = func(fd uintptr) {
		if pc.delayAck {
			pc.delayAck = false
			quickAckOff(fd)
		}
		pc.n, pc.err = rawRead(fd, pc.buf)
	}
	if !p.decodeAll(c) {
		return
	}
	p.mu.Lock()
	p.next++
	pc.id = p.next
	p.conns[pc.id] = c
	p.mu.Unlock()
	var ctlErr error
	err := c.raw.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | epollET, Fd: pc.id}
		ctlErr = os.NewSyscallError("epoll_ctl", syscall.EpollCtl(p.epfd(), syscall.EPOLL_CTL_ADD, int(fd), &ev))
	})
	if err = errors.Join(err, ctlErr); err != nil {
		p.drop(c, err)
	}
}

// epollET is EPOLLET as the uint32 of EpollEvent.Events.
const epollET = 1 << 31

// epfd is the epoll descriptor; valid while the poller is open.
func (p *poller) epfd() int {
	fd := -1
	_ = p.raw.Control(func(f uintptr) { fd = int(f) })
	return fd
}

// serve reads what the socket of c holds and dispatches every complete
// frame. events are the epoll events reported for it.
func (p *poller) serve(c *client, events uint32) {
	// After a hang-up or an error, read until EOF or the error shows:
	// no further event will come.
	hup := events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0
	for {
		rd := &c.rd
		free := len(rd.buf) - rd.w
		c.pc.buf = rd.buf[rd.w:]
		err := c.raw.Control(c.pc.read)
		n := c.pc.n
		if err == nil {
			err = c.pc.err
		}
		c.pc.buf = nil
		switch {
		case err == syscall.EAGAIN:
			return
		case err != nil:
			p.drop(c, err)
			return
		case n == 0:
			if rd.w > rd.r {
				err = io.ErrUnexpectedEOF
			} else {
				err = io.EOF
			}
			p.drop(c, err)
			return
		}
		rd.w += n
		if !p.decodeAll(c) {
			return
		}
		if n < free && !hup {
			return // drained
		}
	}
}

// decodeAll dispatches every complete frame buffered for c and leaves
// room for the rest of the next one. It returns false when it dropped c.
func (p *poller) decodeAll(c *client) bool {
	for {
		op, f, need, err := c.rd.decode()
		if err == nil {
			if need > 0 {
				c.rd.makeRoom(need)
				return true
			}
			if op == opText {
				err = c.dispatch(c.pc.h, f)
			} else {
				err = c.control(op, f)
			}
		}
		if err != nil {
			p.drop(c, err)
			return false
		}
	}
}

// drop unregisters c after a failure and reports it lost; the
// connection is closed with the others at the end of the run.
func (p *poller) drop(c *client, err error) {
	p.mu.Lock()
	registered := c.pc.id != 0 && p.conns[c.pc.id] == c
	delete(p.conns, c.pc.id)
	p.mu.Unlock()
	if registered {
		_ = c.raw.Control(func(fd uintptr) {
			_ = syscall.EpollCtl(p.epfd(), syscall.EPOLL_CTL_DEL, int(fd), nil)
		})
	}
	p.b.lost(c, err)
}

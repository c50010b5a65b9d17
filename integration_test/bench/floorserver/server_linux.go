package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"net"
	"os"
	"strconv"
	"syscall"
)

const (
	maxInput  = 64 << 10  // unread input per connection
	maxOutput = 256 << 10 // unwritten output per connection
	wsGUID    = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
)

// server is the epoll loop. Only serve's goroutine touches conns; close
// may be called from any goroutine.
type server struct {
	lfd   int      // listening socket (non-blocking)
	lfile *os.File // keeps lfd open
	ep    int      // epoll instance
	stop  int      // eventfd: close writes it, serve returns
	conns map[int]*conn
	next  uint64 // ids for sids
	rbuf  []byte
}

// conn is one client socket.
type conn struct {
	fd    int
	in    []byte // unread input
	out   []byte // unwritten output
	ws    bool   // upgraded
	armed bool   // EPOLLOUT requested
}

// newServer takes over ln's socket. The listener must not be used after.
func newServer(ln *net.TCPListener) (*server, error) {
	f, err := ln.File() // a dup of the socket, in blocking mode
	_ = ln.Close()
	if err != nil {
		return nil, err
	}
	lfd := int(f.Fd())
	if err := syscall.SetNonblock(lfd, true); err != nil {
		return nil, err
	}
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	stop, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if errno != 0 {
		return nil, errno
	}
	s := &server{lfd: lfd, lfile: f, ep: ep, stop: int(stop), conns: map[int]*conn{}, rbuf: make([]byte, 64<<10)}
	for _, fd := range []int{lfd, s.stop} {
		if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// close makes serve return.
func (s *server) close() {
	one := [8]byte{1}
	_, _ = syscall.Write(s.stop, one[:])
}

// serve runs the loop until close; it closes every socket on return.
func (s *server) serve() error {
	defer func() {
		for fd := range s.conns {
			_ = syscall.Close(fd)
		}
		_ = s.lfile.Close()
		_ = syscall.Close(s.ep)
		_ = syscall.Close(s.stop)
	}()
	evs := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(s.ep, evs, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		for _, ev := range evs[:n] {
			switch fd := int(ev.Fd); fd {
			case s.stop:
				return nil
			case s.lfd:
				s.accept()
			default:
				if c := s.conns[fd]; c != nil {
					s.handle(c, ev.Events)
				}
			}
		}
	}
}

func (s *server) accept() {
	for {
		fd, _, err := syscall.Accept4(s.lfd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
		if err != nil {
			return // EAGAIN, or an error the next event retries
		}
		_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		if err := syscall.EpollCtl(s.ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}); err != nil {
			_ = syscall.Close(fd)
			continue
		}
		s.conns[fd] = &conn{fd: fd, in: make([]byte, 0, 4096), out: make([]byte, 0, 4096)}
	}
}

func (s *server) drop(c *conn) {
	delete(s.conns, c.fd)
	_ = syscall.Close(c.fd) // also removes it from the epoll set
}

// handle reads once, answers every complete frame and writes once.
func (s *server) handle(c *conn, events uint32) {
	if events&syscall.EPOLLIN != 0 || events&(syscall.EPOLLERR|syscall.EPOLLHUP) != 0 {
		n, err := syscall.Read(c.fd, s.rbuf)
		switch {
		case n > 0:
			if len(c.in)+n > maxInput {
				s.drop(c)
				return
			}
			c.in = append(c.in, s.rbuf[:n]...)
			if !s.process(c) {
				s.drop(c)
				return
			}
		case err == syscall.EAGAIN || err == syscall.EINTR:
		default: // EOF or error
			s.drop(c)
			return
		}
	}
	if len(c.out) > 0 && !s.flush(c) {
		s.drop(c)
	}
}

// flush writes c.out; what the socket does not take waits for EPOLLOUT.
func (s *server) flush(c *conn) bool {
	n, err := syscall.Write(c.fd, c.out)
	if n > 0 {
		c.out = c.out[:copy(c.out, c.out[n:])]
	}
	if err != nil && err != syscall.EAGAIN && err != syscall.EINTR {
		return false
	}
	if want := len(c.out) > 0; want != c.armed {
		// Only on the (rare) transitions: the echo never fills a socket.
		ev := uint32(syscall.EPOLLIN)
		if want {
			ev |= syscall.EPOLLOUT
		}
		if syscall.EpollCtl(s.ep, syscall.EPOLL_CTL_MOD, c.fd, &syscall.EpollEvent{Events: ev, Fd: int32(c.fd)}) != nil {
			return false
		}
		c.armed = want
	}
	return len(c.out) <= maxOutput
}

// process consumes the complete request or frames in c.in, appending the
// answers to c.out. It reports false when the connection must be closed.
func (s *server) process(c *conn) bool {
	if !c.ws {
		end := bytes.Index(c.in, []byte("\r\n\r\n"))
		if end < 0 {
			return true
		}
		req := c.in[:end]
		if !s.upgrade(c, req) {
			return false
		}
		c.in = c.in[:copy(c.in, c.in[end+4:])]
	}
	p := c.in
	for {
		payload, op, rest, ok := nextFrame(p)
		if !ok {
			return false
		}
		if payload == nil && op == 0 {
			break // incomplete
		}
		p = rest
		switch op {
		case 0x8: // close
			return false
		case 0x1: // text
			s.answer(c, payload)
		}
	}
	c.in = c.in[:copy(c.in, p)]
	return true
}

// nextFrame unmasks the first frame of p in place. An incomplete frame
// gives a nil payload and op 0; a malformed one ok false.
func nextFrame(p []byte) (payload []byte, op byte, rest []byte, ok bool) {
	if len(p) < 2 {
		return nil, 0, p, true
	}
	if p[1]&0x80 == 0 || p[0]&0x80 == 0 {
		return nil, 0, nil, false // unmasked, or fragmented: not from a client we serve
	}
	n, hl := int(p[1]&0x7f), 6
	switch n {
	case 126:
		if len(p) < 4 {
			return nil, 0, p, true
		}
		n, hl = int(p[2])<<8|int(p[3]), 8
	case 127:
		return nil, 0, nil, false
	}
	if len(p) < hl+n {
		return nil, 0, p, true
	}
	mask := p[hl-4 : hl]
	payload = p[hl : hl+n]
	for i := range payload {
		payload[i] ^= mask[i&3]
	}
	return payload, p[0] & 0x0f, p[hl+n:], true
}

// upgrade answers the HTTP request req: /readyz, or the WebSocket upgrade
// of /socket.io/ followed by the Engine.IO open packet.
func (s *server) upgrade(c *conn, req []byte) bool {
	line, headers, _ := bytes.Cut(req, []byte("\r\n"))
	if bytes.HasPrefix(line, []byte("GET /readyz ")) {
		c.out = append(c.out, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"...)
		_ = s.flush(c)
		return false
	}
	key := header(headers, "Sec-WebSocket-Key")
	if !bytes.HasPrefix(line, []byte("GET /socket.io/")) || len(key) == 0 {
		c.out = append(c.out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"...)
		_ = s.flush(c)
		return false
	}
	sum := sha1.Sum(append(append([]byte(nil), key...), wsGUID...))
	c.out = append(c.out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	c.out = base64.StdEncoding.AppendEncode(c.out, sum[:])
	c.out = append(c.out, "\r\n\r\n"...)
	s.next++
	var b [160]byte
	open := append(b[:0], `0{"sid":"floor`...)
	open = strconv.AppendUint(open, s.next, 10)
	open = append(open, `","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`...)
	c.out = appendFrame(c.out, open)
	c.ws = true
	return true
}

// answer appends the reply to one Socket.IO packet: CONNECT to "/" and
// the echo event; everything else is ignored.
func (s *server) answer(c *conn, p []byte) {
	var b [64]byte
	switch {
	case string(p) == "40" || bytes.HasPrefix(p, []byte("40{")):
		s.next++
		m := append(b[:0], `40{"sid":"floor`...)
		m = strconv.AppendUint(m, s.next, 10)
		c.out = appendFrame(c.out, append(m, `"}`...))
	case bytes.HasPrefix(p, []byte("42")):
		i := 2
		for i < len(p) && p[i] >= '0' && p[i] <= '9' {
			i++
		}
		const event = `["echo",`
		if i == 2 || !bytes.HasPrefix(p[i:], []byte(event)) {
			return // no ack id, or not echo
		}
		// 42<id>["echo",<payload>] -> 43<id>[<payload>]: the ack is the
		// request with its type and first element cut, written as one frame.
		args := p[i+len(event):]
		n := 2 + (i - 2) + 1 + len(args)
		c.out = appendFrameHeader(c.out, n)
		c.out = append(c.out, '4', '3')
		c.out = append(c.out, p[2:i]...)
		c.out = append(c.out, '[')
		c.out = append(c.out, args...)
	}
}

func appendFrameHeader(dst []byte, n int) []byte {
	if n < 126 {
		return append(dst, 0x81, byte(n))
	}
	return append(dst, 0x81, 126, byte(n>>8), byte(n))
}

func appendFrame(dst, p []byte) []byte {
	return append(appendFrameHeader(dst, len(p)), p...)
}

// header returns the value of the first header named name.
func header(headers []byte, name string) []byte {
	for len(headers) > 0 {
		var line []byte
		line, headers, _ = bytes.Cut(headers, []byte("\r\n"))
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(bytes.TrimSpace(k), []byte(name)) {
			return bytes.TrimSpace(v)
		}
	}
	return nil
}

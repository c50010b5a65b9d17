package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

const (
	maxInput  = 64 << 10  // unprocessed input per client: a request head, or the start of one frame
	maxOutput = 256 << 10 // unwritten output per connection
	wsGUID    = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
)

// config is what the flags set.
type config struct {
	redisAddr string // host:port; "" runs without Redis (rooms are local)
	channel   string // the Redis channel every node publishes room messages on
	nodeID    string // tells a node its own messages apart on the channel
}

// server is the epoll loop. Only serve's goroutine touches its state;
// close may be called from any goroutine.
type server struct {
	cfg   config
	lfd   int      // listening socket (non-blocking)
	lfile *os.File // keeps lfd open
	ep    int      // epoll instance
	stop  int      // eventfd: close writes it, serve returns
	conns map[int]*conn
	rooms map[string]*room // by the room name's JSON token
	pub   *conn            // Redis connection for PUBLISH, nil without Redis
	dead  []*conn          // closed by reap at the end of each batch
	next  uint64           // ids for sids
	rbuf  []byte

	// Scratch reused for every room message, so that none allocates.
	frame []byte   // the room message frame
	cmd   []byte   // the PUBLISH command
	elems [][]byte // the elements of a Redis push
}

// conn kinds.
const (
	client   = iota
	redisSub // the SUBSCRIBEd connection: room messages of the other nodes
	redisPub // the PUBLISH connection: replies are read and dropped
)

// conn is one socket in the epoll set.
type conn struct {
	fd    int
	kind  int
	in    []byte // unread input
	out   []byte // unwritten output
	ws    bool   // upgraded
	armed bool   // EPOLLOUT requested
	dead  bool   // queued for reap
	sid   []byte
	rooms []*room
}

// room is the local members of one room.
type room struct {
	name    string
	members []*conn
}

// newServer takes over ln's socket (the listener must not be used
// after) and, with cfg.redisAddr, connects to Redis and subscribes.
func newServer(ln *net.TCPListener, cfg config) (_ *server, err error) {
	f, err := ln.File() // a dup of the socket, in blocking mode
	_ = ln.Close()
	if err != nil {
		return nil, err
	}
	s := &server{cfg: cfg, lfd: int(f.Fd()), lfile: f, ep: -1, stop: -1,
		conns: map[int]*conn{}, rooms: map[string]*room{}, rbuf: make([]byte, 64<<10)}
	defer func() {
		if err != nil {
			s.closeAll()
		}
	}()
	if err := syscall.SetNonblock(s.lfd, true); err != nil {
		return nil, err
	}
	if s.ep, err = syscall.EpollCreate1(syscall.EPOLL_CLOEXEC); err != nil {
		return nil, err
	}
	stop, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if errno != 0 {
		return nil, errno
	}
	s.stop = int(stop)
	for _, fd := range []int{s.lfd, s.stop} {
		if err := syscall.EpollCtl(s.ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}); err != nil {
			return nil, err
		}
	}
	if cfg.redisAddr != "" {
		if _, err := s.dialRedis(redisSub, respCommand(nil, "SUBSCRIBE", cfg.channel)); err != nil {
			return nil, err
		}
		if s.pub, err = s.dialRedis(redisPub, nil); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// dialRedis connects to Redis, sends hello and, when it is a command,
// waits for its reply before the socket joins the epoll set.
func (s *server) dialRedis(kind int, hello []byte) (*conn, error) {
	nc, err := net.DialTimeout("tcp", s.cfg.redisAddr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	if len(hello) > 0 {
		_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := nc.Write(hello); err != nil {
			return nil, err
		}
		var b [256]byte
		n, err := nc.Read(b[:])
		if err != nil {
			return nil, fmt.Errorf("redis: %w", err)
		}
		if n == 0 || b[0] == '-' {
			return nil, fmt.Errorf("redis: %q", b[:n])
		}
	}
	f, err := nc.(*net.TCPConn).File()
	if err != nil {
		return nil, err
	}
	fd, err := syscall.Dup(int(f.Fd()))
	_ = f.Close()
	if err != nil {
		return nil, err
	}
	_ = syscall.SetNonblock(fd, true)
	c := &conn{fd: fd, kind: kind, in: make([]byte, 0, 4096)}
	if err := syscall.EpollCtl(s.ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: connEvents, Fd: int32(fd)}); err != nil {
		_ = syscall.Close(fd)
		return nil, err
	}
	s.conns[fd] = c
	return c, nil
}

// close makes serve return.
func (s *server) close() {
	one := [8]byte{1}
	_, _ = syscall.Write(s.stop, one[:])
}

func (s *server) closeAll() {
	for fd := range s.conns {
		_ = syscall.Close(fd)
	}
	_ = s.lfile.Close()
	for _, fd := range []int{s.ep, s.stop} {
		if fd >= 0 {
			_ = syscall.Close(fd)
		}
	}
}

// serve runs the loop until close, or until the Redis connection fails;
// it closes every socket on return.
func (s *server) serve() error {
	defer s.closeAll()
	evs := make([]syscall.EpollEvent, 256)
	for {
		n, err := epollWait(s.ep, evs)
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
				if c := s.conns[fd]; c != nil && !c.dead {
					s.handle(c, ev.Events)
				}
			}
		}
		if err := s.reap(); err != nil {
			return err
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
		if err := syscall.EpollCtl(s.ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: connEvents, Fd: int32(fd)}); err != nil {
			_ = syscall.Close(fd)
			continue
		}
		s.conns[fd] = &conn{fd: fd, in: make([]byte, 0, 4096), out: make([]byte, 0, 4096)}
	}
}

// kill queues c for reap; its descriptor stays open until then, so that
// no event of the batch can name a reused descriptor.
func (s *server) kill(c *conn) {
	if !c.dead {
		c.dead = true
		s.dead = append(s.dead, c)
	}
}

// reap closes the connections killed in the batch. Losing Redis ends
// the server: without it the rooms would silently become node-local.
func (s *server) reap() error {
	var err error
	for _, c := range s.dead {
		for _, r := range c.rooms {
			r.remove(c)
			if len(r.members) == 0 {
				delete(s.rooms, r.name)
			}
		}
		delete(s.conns, c.fd)
		_ = syscall.Close(c.fd) // also removes it from the epoll set
		if c.kind != client {
			err = errors.New("redis connection lost")
		}
	}
	clear(s.dead)
	s.dead = s.dead[:0]
	return err
}

func (r *room) remove(c *conn) {
	for i, m := range r.members {
		if m == c {
			last := len(r.members) - 1
			r.members[i] = r.members[last]
			r.members[last] = nil
			r.members = r.members[:last]
			return
		}
	}
}

// connEvents registers a connection edge-triggered: an event per
// arrival of data, so a drained socket is not polled again (level
// triggering re-checks every socket it reported on the next wait).
const connEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | 1<<31 // EPOLLET

// handle reads what c's socket holds (one read, unless it fills the
// buffer or the peer hung up), answers every complete frame and writes
// once.
func (s *server) handle(c *conn, events uint32) {
	hup := events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0
	for events&syscall.EPOLLIN != 0 || hup {
		n, err := syscall.Read(c.fd, s.rbuf)
		if n <= 0 {
			if err == syscall.EAGAIN || err == syscall.EINTR {
				break
			}
			s.kill(c) // EOF or error
			return
		}
		c.in = append(c.in, s.rbuf[:n]...)
		// The answers wait for the write below, so the loop bounds them
		// too: a client that keeps sending without reading fills them.
		if !s.process(c) || len(c.in) > maxInput && c.kind == client || len(c.out) > maxOutput {
			s.kill(c)
			return
		}
		if n < len(s.rbuf) && !hup {
			break // drained: the next data brings a new event
		}
	}
	if len(c.out) > 0 && !s.flush(c) {
		s.kill(c)
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
	return s.arm(c)
}

// arm asks for EPOLLOUT while c has output left, and only then: the
// benchmarks never fill a socket, so this costs nothing per message.
func (s *server) arm(c *conn) bool {
	if want := len(c.out) > 0; want != c.armed {
		ev := uint32(connEvents)
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

// send writes frame to c at once when nothing is queued before it.
func (s *server) send(c *conn, frame []byte) {
	if c.dead {
		return
	}
	if len(c.out) == 0 {
		n, err := syscall.Write(c.fd, frame)
		if n == len(frame) {
			return
		}
		if err != nil && err != syscall.EAGAIN && err != syscall.EINTR {
			s.kill(c)
			return
		}
		frame = frame[max(n, 0):]
	}
	c.out = append(c.out, frame...)
	if !s.arm(c) {
		s.kill(c)
	}
}

// process consumes the complete requests, frames or Redis replies in
// c.in. It reports false when the connection must be closed.
func (s *server) process(c *conn) bool {
	switch c.kind {
	case redisPub:
		c.in = c.in[:0] // PUBLISH replies: the receiver count, not needed
		return true
	case redisSub:
		return s.processSub(c)
	}
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

var (
	echoEvent = []byte(`["echo",`)
	joinEvent = []byte(`["join",`)
	roomEvent = []byte(`["room message",`)
)

// answer handles one Socket.IO packet: CONNECT to "/", echo, join and
// room message; everything else is ignored.
func (s *server) answer(c *conn, p []byte) {
	if string(p) == "40" || bytes.HasPrefix(p, []byte("40{")) {
		s.next++
		c.sid = strconv.AppendUint(append(c.sid[:0], "floor"...), s.next, 10)
		c.out = appendFrameHeader(c.out, len(`40{"sid":""}`)+len(c.sid))
		c.out = append(c.out, `40{"sid":"`...)
		c.out = append(c.out, c.sid...)
		c.out = append(c.out, `"}`...)
		return
	}
	if !bytes.HasPrefix(p, []byte("42")) {
		return
	}
	i := 2
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		i++
	}
	id, args := p[2:i], p[i:]
	switch {
	case bytes.HasPrefix(args, echoEvent) && len(id) > 0:
		// 42<id>["echo",<payload>] -> 43<id>[<payload>]: the ack is the
		// request with its type and first element cut.
		rest := args[len(echoEvent):]
		c.out = appendFrameHeader(c.out, 2+len(id)+1+len(rest))
		c.out = append(append(append(append(c.out, '4', '3'), id...), '['), rest...)
	case bytes.HasPrefix(args, joinEvent) && args[len(args)-1] == ']':
		name := args[len(joinEvent) : len(args)-1]
		if !jsonString(name) {
			return
		}
		s.join(c, name)
		if len(id) > 0 {
			c.out = appendFrameHeader(c.out, 2+len(id)+len(`[{"ok":true,"room":}]`)+len(name))
			c.out = append(append(append(c.out, '4', '3'), id...), `[{"ok":true,"room":`...)
			c.out = append(append(c.out, name...), `}]`...)
		}
	case bytes.HasPrefix(args, roomEvent):
		rest := args[len(roomEvent):]
		end := stringEnd(rest)
		if end < 0 || end >= len(rest) || rest[end] != ',' || rest[len(rest)-1] != ']' {
			return
		}
		s.roomMessage(c, rest[:end], rest[end+1:len(rest)-1])
		if len(id) > 0 {
			c.out = appendFrameHeader(c.out, 2+len(id)+len(`[{"ok":true}]`))
			c.out = append(append(append(c.out, '4', '3'), id...), `[{"ok":true}]`...)
		}
	}
}

func (s *server) join(c *conn, name []byte) {
	r := s.rooms[string(name)]
	if r == nil {
		r = &room{name: string(name)}
		s.rooms[r.name] = r
	}
	for _, have := range c.rooms {
		if have == r {
			return
		}
	}
	r.members = append(r.members, c)
	c.rooms = append(c.rooms, r)
}

// roomMessage builds the frame
//
//	42["room message",{"room":<name>,"from":"<sid>","msg":<msg>}]
//
// once, writes it to the room's local members and publishes it, with
// the room and this node's id, for the other nodes.
func (s *server) roomMessage(c *conn, name, msg []byte) {
	const head, mid, tail = `42["room message",{"room":`, `,"from":"`, `","msg":`
	size := len(head) + len(name) + len(mid) + len(c.sid) + len(tail) + len(msg) + 2
	if size > 0xffff {
		return // beyond the 16-bit frame lengths this server writes
	}
	frame := appendFrameHeader(s.frame[:0], size)
	frame = append(append(frame, head...), name...)
	frame = append(append(append(frame, mid...), c.sid...), tail...)
	frame = append(append(frame, msg...), '}', ']')
	s.frame = frame
	if r := s.rooms[string(name)]; r != nil {
		for _, m := range r.members {
			s.send(m, frame) // send copies what it cannot write at once
		}
	}
	if s.pub != nil {
		s.cmd = appendPublish(s.cmd[:0], s.cfg.channel, s.cfg.nodeID, name, frame)
		s.send(s.pub, s.cmd)
	}
}

// appendPublish appends PUBLISH channel "<node>\n<room>\n<frame>".
func appendPublish(dst []byte, channel, node string, room, frame []byte) []byte {
	dst = append(dst, "*3\r\n$7\r\nPUBLISH\r\n$"...)
	dst = append(strconv.AppendInt(dst, int64(len(channel)), 10), '\r', '\n')
	dst = append(append(dst, channel...), "\r\n$"...)
	dst = strconv.AppendInt(dst, int64(len(node)+1+len(room)+1+len(frame)), 10)
	dst = append(append(append(dst, '\r', '\n'), node...), '\n')
	dst = append(append(append(dst, room...), '\n'), frame...)
	return append(dst, '\r', '\n')
}

// processSub delivers every complete "message" push in c.in.
func (s *server) processSub(c *conn) bool {
	p := c.in
	for {
		elems, rest, ok := parseArray(s.elems[:0], p)
		s.elems = elems
		if !ok {
			return false
		}
		if rest == nil {
			break // incomplete
		}
		p = rest
		if len(elems) != 3 || string(elems[0]) != "message" {
			continue // the subscribe confirmation
		}
		node, rest2, _ := bytes.Cut(elems[2], []byte("\n"))
		name, frame, found := bytes.Cut(rest2, []byte("\n"))
		if !found || string(node) == s.cfg.nodeID {
			continue
		}
		if r := s.rooms[string(name)]; r != nil {
			for _, m := range r.members {
				s.send(m, frame)
			}
		}
	}
	c.in = c.in[:copy(c.in, p)]
	return true
}

// parseArray parses one RESP array of bulk strings and integers,
// appending its elements to elems. An incomplete array gives a nil rest;
// a malformed one ok false.
func parseArray(elems [][]byte, p []byte) (_ [][]byte, rest []byte, ok bool) {
	n, p, ok := respLine(p, '*')
	if !ok || p == nil {
		return elems[:0], nil, ok
	}
	for range n {
		if len(p) == 0 {
			return elems[:0], nil, true
		}
		if p[0] == ':' {
			i := bytes.Index(p, []byte("\r\n"))
			if i < 0 {
				return elems[:0], nil, true
			}
			elems, p = append(elems, p[1:i]), p[i+2:]
			continue
		}
		var size int
		size, p, ok = respLine(p, '$')
		if !ok || p == nil {
			return elems[:0], nil, ok
		}
		if len(p) < size+2 {
			return elems[:0], nil, true
		}
		elems, p = append(elems, p[:size]), p[size+2:]
	}
	if p == nil {
		p = []byte{}
	}
	return elems, p, true
}

// respLine parses "<kind><n>\r\n"; an incomplete line gives a nil rest.
func respLine(p []byte, kind byte) (n int, rest []byte, ok bool) {
	i := bytes.Index(p, []byte("\r\n"))
	if i < 0 {
		return 0, nil, len(p) < 32
	}
	if i < 2 || p[0] != kind {
		return 0, nil, false
	}
	n, err := strconv.Atoi(string(p[1:i]))
	if err != nil || n < 0 || n > maxInput {
		return 0, nil, false
	}
	rest = p[i+2:]
	if rest == nil {
		rest = []byte{}
	}
	return n, rest, true
}

// respCommand appends a RESP command.
func respCommand(dst []byte, args ...string) []byte {
	dst = append(strconv.AppendInt(append(dst, '*'), int64(len(args)), 10), '\r', '\n')
	for _, a := range args {
		dst = append(strconv.AppendInt(append(dst, '$'), int64(len(a)), 10), '\r', '\n')
		dst = append(append(dst, a...), '\r', '\n')
	}
	return dst
}

// stringEnd returns the index just past the JSON string at the start of
// p, or -1.
func stringEnd(p []byte) int {
	if len(p) == 0 || p[0] != '"' {
		return -1
	}
	for i := 1; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// jsonString reports whether p is exactly one JSON string token.
func jsonString(p []byte) bool { return stringEnd(p) == len(p) }

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

// epollWait blocks in epoll_pwait without telling the Go scheduler, as
// a C event loop would. Through syscall.EpollWait the runtime's sysmon
// takes the processor from the blocked thread after 20 us and starts
// another thread to look for work, which measured 0.24 context switches,
// 0.06 futex and 0.05 nanosleep calls per echo round trip on top of the
// loop's own (0.17, 0.007 and 0.02 this way). The goroutine keeps its
// processor while it waits: the binary runs one server, and its signal
// goroutine has the other processors (or preemption, which ends the wait
// with EINTR); tests that run several servers give them processors.
func epollWait(ep int, evs []syscall.EpollEvent) (int, error) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(ep),
		uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)), ^uintptr(0), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

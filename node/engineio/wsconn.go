package engineio

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"
)

// wsReadLinger is how long a websocket's reader goroutine keeps waiting
// for data after the last read before the connection parks: the goroutine
// exits and the server's poller watches the socket, starting a new reader
// when data arrives. A busy connection keeps its reader (no hand-off per
// message); an idle one holds no goroutine, stack or buffer.
const wsReadLinger = 100 * time.Millisecond

// wsReadBufSize is the size of the pooled read buffers. A frame larger
// than a buffer is read into one of its own size.
const wsReadBufSize = 4 << 10

var readBufs = sync.Pool{New: func() any {
	b := make([]byte, wsReadBufSize)
	return &b
}}

// wsConn is one websocket connection of a session: its main transport or
// an upgrade probe. Reading runs on one goroutine at a time: the reader
// started with the connection, or after the connection parked, the one the
// poller starts when data arrives. Writing is done by the session's writer
// (see Conn.writeLoop and Conn.flush), except for the probe dance and the
// refusals written before a session owns the connection.
type wsConn struct {
	srv *Server
	c   *Conn
	nc  net.Conn
	// rc is nc's raw socket, for non-blocking reads and writes and for
	// parking; nil when there is none (TLS, test doubles): then the reader
	// blocks in nc.Read and never parks.
	rc syscall.RawConn
	// fd is rc's descriptor, for the writer's non-blocking writes that go
	// around rc (see sendNow); -1 when there is none.
	fd int
	// users counts the sendNow calls using fd and a reader inside its
	// read callback (low bits), and holds closingUsers once close was
	// called: the descriptor is closed by whichever of close and the last
	// such user comes second, so a write never reaches a number the kernel
	// has reused for another socket, and a close never waits for a
	// handler running in the read callback (see readDispatch).
	users atomic.Int64
	// ncClosed is set by the one call that closes nc.
	ncClosed atomic.Bool

	closed atomic.Bool
	// grace is the timer dropping the connection wsCloseGrace after our
	// close frame; it holds a count in srv.wg until stopped or fired.
	grace atomic.Pointer[time.Timer]
	// readDone is set once the read side has ended for good.
	readDone atomic.Bool
	// parked is true while the connection waits in the poller with no
	// reader; the poller's swap to false hands the reader state over.
	parked atomic.Bool
	// pl is the poller the connection is registered with (nil: never
	// parked); pollKey names it there, under the poller's lock.
	pl      atomic.Pointer[poller]
	pollKey uint64

	// Reader state, owned by the running reader. With a raw socket, rbuf
	// is held only while there are bytes to read or a partial frame in it:
	// a reader waiting for data (lingering) holds none.
	rbuf     *[]byte // nil while waiting or parked with nothing buffered
	rn       int     // bytes in *rbuf
	frag     []byte  // fragmented message being assembled
	fragOp   byte
	fragging bool
	hot      bool                  // the reader never parks (no poller)
	lastRead int64                 // scheduler time of the last read that got data
	readFn   func(fd uintptr) bool // w.readDispatch, bound once
	holding  bool                  // readDispatch holds a count in users
	next     readNext              // readDispatch's outcome of consume
	rerr     error                 // readDispatch's read error (io.EOF for a closed peer)
}

func newWSConn(s *Server, nc net.Conn) *wsConn {
	w := &wsConn{srv: s, nc: nc, fd: -1}
	if sc, ok := nc.(syscall.Conn); ok && rawSocketIO {
		if rc, err := sc.SyscallConn(); err == nil {
			w.rc = rc
			// The descriptor RawConn.Write hands its callback: the
			// socket's own, unless a wrapper redirects writes (the
			// benchmarks count them in a pipe).
			_ = rc.Write(func(fd uintptr) bool { w.fd = int(fd); return true })
		}
	}
	return w
}

// start runs a reader goroutine for the connection.
func (w *wsConn) start() {
	w.srv.wg.Add(1)
	go w.run()
}

// close closes the network connection once.
func (w *wsConn) close() {
	w.stopGrace()
	if w.closed.Swap(true) {
		return
	}
	w.srv.forgetWS(w)
	if w.users.Add(closingUsers) == closingUsers {
		w.closeNC()
	}
}

// closingUsers is the bit of wsConn.users that close sets.
const closingUsers = 1 << 62

// closeNC closes the network connection; only the first call does.
func (w *wsConn) closeNC() {
	if !w.ncClosed.Swap(true) {
		_ = w.nc.Close()
	}
}

// sendNow writes b with non-blocking write calls until the kernel takes
// no more, and returns the bytes written; it never waits. It is the
// writer's path (one writer at a time per connection) and goes straight
// to the descriptor: net's RawConn.Write would add its descriptor lock
// and a reset of the runtime's poll state around each call, about a
// twentieth of a broadcast's CPU on a node, and neither is needed by a
// write that never parks. users keeps the descriptor open meanwhile.
// After close it returns net.ErrClosed.
func (w *wsConn) sendNow(b []byte) (int, error) {
	if w.fd < 0 {
		return rawWrite(w.rc, b)
	}
	if w.users.Add(1)&closingUsers != 0 {
		w.releaseFD()
		return 0, net.ErrClosed
	}
	n, err := writeSome(uintptr(w.fd), b)
	w.releaseFD()
	return n, err
}

// releaseFD ends a sendNow's use of fd, closing the connection if close
// was called meanwhile.
func (w *wsConn) releaseFD() {
	if w.users.Add(-1) == closingUsers {
		w.closeNC()
	}
}

// closeAfterGrace closes the connection after wsCloseGrace unless it is
// closed before.
func (w *wsConn) closeAfterGrace() {
	w.srv.wg.Add(1)
	w.grace.Store(time.AfterFunc(wsCloseGrace, w.close))
	if w.closed.Load() {
		w.stopGrace()
	}
}

// stopGrace stops the grace timer, if any, releasing its count.
func (w *wsConn) stopGrace() {
	if t := w.grace.Swap(nil); t != nil {
		t.Stop()
		w.srv.wg.Done()
	}
}

// Reader outcomes of handling frames.
type readNext uint8

const (
	readMore  readNext = iota // keep reading
	readClose                 // stop and close the connection
	readStop                  // stop; the session's writer sends the close frame and closes
)

// run is the reader: it reads what the socket has, handles every complete
// frame, and waits for more; after wsReadLinger without data it parks the
// connection and returns.
func (w *wsConn) run() {
	defer w.srv.wg.Done()
	if w.rc == nil {
		w.runPlain()
		return
	}
	if !w.hot {
		w.lastRead = w.srv.sched.now()
		_ = w.nc.SetReadDeadline(time.Now().Add(w.srv.readLinger))
	}
	if w.readFn == nil {
		w.readFn = w.readDispatch
	}
	for {
		w.next, w.rerr = readMore, nil
		err := w.rc.Read(w.readFn)
		if w.holding {
			// Outside the callback: a close requested meanwhile may
			// close the socket here.
			w.holding = false
			w.releaseFD()
		}
		switch {
		case w.next != readMore:
			w.stopRead(w.next)
			return
		case w.rerr != nil:
			err = w.rerr
		case err == nil:
			continue
		case errors.Is(err, os.ErrDeadlineExceeded) && !w.hot:
			if w.lingerDone() && w.park() {
				return
			}
			continue
		}
		w.readFailed(err)
		return
	}
}

// stopRead ends the reader after consume returned next (readClose or
// readStop).
func (w *wsConn) stopRead(next readNext) {
	w.endRead()
	if next == readStop {
		w.c.afterReadStop(w)
		return
	}
	w.close()
}

// readFailed ends the reader after a read error (io.EOF for a closed
// peer).
func (w *wsConn) readFailed(err error) {
	w.endRead()
	w.c.onReadError(w, err)
	w.close()
}

// runPlain is the reader of a connection without a raw socket (TLS, test
// doubles): blocking reads, no parking.
func (w *wsConn) runPlain() {
	for {
		if w.rbuf == nil {
			w.rbuf = readBufs.Get().(*[]byte)
		}
		n, err := w.nc.Read((*w.rbuf)[w.rn:])
		if n > 0 {
			w.rn += n
			if next := w.consume(); next != readMore {
				w.stopRead(next)
				return
			}
			continue
		}
		if err == nil {
			err = io.ErrNoProgress
		}
		w.readFailed(err)
		return
	}
}

// testHookReadWait, when set (tests only, before any connection), runs on
// the reader goroutine each time a raw read finds the socket empty and the
// reader is about to wait.
var testHookReadWait func(w *wsConn)

// testHookReadEAGAIN, when set (tests only, before any connection), runs
// on the reader goroutine each time a raw read returns EAGAIN.
var testHookReadEAGAIN func(w *wsConn)

// readDispatch is the raw read callback (false means "wait for
// readability"): it reads what the socket has and handles the complete
// frames right there, inside net's RawConn.Read, so that after a short
// read (the socket drained) it waits without another read: the runtime
// resets a socket's readiness only when RawConn.Read starts, so data that
// arrives while the frames are handled still ends the wait. A message
// answered at once (an echo, an ack) thus costs one read call, not two
// (the second returning EAGAIN).
//
// Handling frames here holds the descriptor's read reference, and
// closing a net.Conn waits for every reference: a handler that closes
// the connection, or a goroutine that closes it while holding a lock a
// handler waits for, would deadlock. So the callback also holds a count
// in w.users, which makes wsConn.close leave the socket open; it drops
// the count before it waits (unless a close came: then it returns
// instead), or run drops it once RawConn.Read returned, closing the
// socket if a close came meanwhile.
//
// It takes a buffer from the pool for the read and, when the socket is
// empty and no partial frame is buffered, returns it before waiting, so
// that only readers with bytes in hand hold one (a burst of new
// connections, each lingering 100 ms, would otherwise fill the pool with
// buffers that stay in the heap until two GC cycles after it).
func (w *wsConn) readDispatch(fd uintptr) bool {
	w.holding = true
	if w.users.Add(1)&closingUsers != 0 {
		w.rerr = net.ErrClosed
		return true
	}
	for {
		if w.rbuf == nil {
			w.rbuf = readBufs.Get().(*[]byte)
		}
		space := len(*w.rbuf) - w.rn
		n, err := sysRead(fd, (*w.rbuf)[w.rn:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			if testHookReadEAGAIN != nil {
				testHookReadEAGAIN(w)
			}
			return w.readWait()
		case err != nil:
			w.rerr = err
			return true
		case n == 0:
			w.rerr = io.EOF
			return true
		}
		w.rn += n
		if !w.hot {
			w.lastRead = w.srv.sched.now()
		}
		if w.next = w.consume(); w.next != readMore {
			return true
		}
		if n < space {
			return w.readWait() // the socket was drained
		}
	}
}

// readWait ends a readDispatch that is to wait for readability: it drops
// the read buffer when nothing is buffered and the callback's count in
// w.users, and returns false; if a close came, it keeps the count and
// returns true (run then drops it, outside the callback).
func (w *wsConn) readWait() bool {
	if w.rn == 0 {
		w.dropBuf()
	}
	if testHookReadWait != nil {
		testHookReadWait(w)
	}
	for {
		u := w.users.Load()
		if u&closingUsers != 0 {
			w.rerr = net.ErrClosed
			return true
		}
		if w.users.CompareAndSwap(u, u-1) {
			w.holding = false
			return false
		}
	}
}

// lingerDone is called when the read deadline passed: it reports whether
// the connection has been without data for wsReadLinger, and otherwise
// moves the deadline to wsReadLinger after the last read (so a busy
// connection re-arms its timer once per linger period, not per read).
func (w *wsConn) lingerDone() bool {
	linger := int64(w.srv.readLinger)
	idle := w.srv.sched.now() - w.lastRead
	if idle >= linger {
		return true
	}
	_ = w.nc.SetReadDeadline(time.Now().Add(time.Duration(linger - idle)))
	return false
}

// park hands the connection to the poller and reports whether it did; the
// caller must then return without touching the reader state. When the
// connection cannot park (no poller on this platform, server closing,
// socket closed) the reader stops lingering and stays.
func (w *wsConn) park() bool {
	if w.rn == 0 {
		w.dropBuf()
	}
	if w.srv.parkWS(w) {
		return true
	}
	w.hot = true
	_ = w.nc.SetReadDeadline(time.Time{})
	return false
}

// endRead releases the reader's buffers when the read side ends.
func (w *wsConn) endRead() {
	w.readDone.Store(true)
	w.dropBuf()
	w.rn = 0
	w.frag = nil
}

// dropBuf lets go of the read buffer, back to the pool if it came from it
// (a buffer grown for a big frame is left to the GC).
func (w *wsConn) dropBuf() {
	if w.rbuf != nil && len(*w.rbuf) == wsReadBufSize {
		readBufs.Put(w.rbuf)
	}
	w.rbuf = nil
}

// consume handles the complete frames in the read buffer and keeps a
// trailing partial frame at its start. A frame larger than the buffer gets
// a bigger one, doubled as its bytes arrive (up to the frame's size), so a
// client announcing a big frame holds memory only for what it sent.
func (w *wsConn) consume() readNext {
	buf := (*w.rbuf)[:w.rn]
	limit := w.srv.cfg.MaxHTTPBufferSize
	off, need := 0, 0
	for {
		h, ok, err := parseFrameHeader(buf[off:])
		if err != nil {
			return w.c.onWSError(w, err)
		}
		if !ok {
			break
		}
		if h.op < opClose {
			// Compare with what the message may still take, never add to
			// the frame's length: it can be up to 2^63-1 and would wrap.
			room := limit
			if h.op == opContinuation {
				room -= int64(len(w.frag))
			}
			if h.length > room {
				return w.c.onWSError(w, errWSTooBig)
			}
		}
		end := off + h.hdrLen + int(h.length)
		if end > len(buf) {
			need = h.hdrLen + int(h.length)
			break
		}
		payload := buf[off+h.hdrLen : end]
		unmask(payload, buf[off+h.hdrLen-4:off+h.hdrLen])
		off = end
		if next := w.onFrame(h, payload); next != readMore {
			return next
		}
	}
	w.rn = copy(*w.rbuf, buf[off:])
	switch {
	case w.rn == 0 && len(*w.rbuf) != wsReadBufSize:
		w.rbuf = nil // a big frame was handled: back to a pooled buffer
	case w.rn == len(*w.rbuf) && need > w.rn:
		nb := make([]byte, min(need, 2*len(*w.rbuf)))
		copy(nb, (*w.rbuf)[:w.rn])
		w.dropBuf()
		w.rbuf = &nb
	}
	return readMore
}

// onFrame handles one unmasked frame: data frames are assembled into
// messages, pings answered, a close ends reading.
func (w *wsConn) onFrame(h frameHeader, payload []byte) readNext {
	switch h.op {
	case opText, opBinary:
		if w.fragging {
			return w.c.onWSError(w, errWSFragmentPending)
		}
		if !h.fin {
			w.fragging, w.fragOp = true, h.op
			w.frag = append(make([]byte, 0, len(payload)), payload...)
			return readMore
		}
		return w.onMessage(h.op, payload)
	case opContinuation:
		if !w.fragging {
			return w.c.onWSError(w, errWSContinuation)
		}
		w.frag = append(w.frag, payload...)
		if !h.fin {
			return readMore
		}
		msg, op := w.frag, w.fragOp
		w.frag, w.fragging = nil, false
		return w.onMessage(op, msg)
	case opPing:
		return w.c.onWSPing(w, payload)
	case opClose:
		code := uint16(closeNormal)
		switch {
		case len(payload) == 1:
			return w.c.onWSError(w, errWSBadClose)
		case len(payload) >= 2:
			code = uint16(payload[0])<<8 | uint16(payload[1])
			if !validCloseCode(code) || !utf8.Valid(payload[2:]) {
				return w.c.onWSError(w, errWSBadClose)
			}
		}
		return w.c.onWSClose(w, code)
	}
	return readMore // pong
}

// onMessage hands a complete data message to the session.
func (w *wsConn) onMessage(op byte, data []byte) readNext {
	if op == opText && !utf8.Valid(data) {
		return w.c.onWSError(w, errWSBadUTF8)
	}
	if !w.c.onFrame(w, op == opBinary, data) {
		return readClose
	}
	return readMore
}

// writeDirect writes frame to the connection at once, under WriteTimeout.
// Only for connections no session writer owns: the probe before the
// upgrade completes, and refusals before a session exists.
func (w *wsConn) writeDirect(frame []byte) error {
	if err := w.nc.SetWriteDeadline(time.Now().Add(w.srv.cfg.WriteTimeout)); err != nil {
		return err
	}
	_, err := w.nc.Write(frame)
	return err
}

// refuse closes a connection no session owns with a close frame.
func (w *wsConn) refuse(code uint16) {
	_ = w.writeDirect(closeFrame(code))
	w.close()
}

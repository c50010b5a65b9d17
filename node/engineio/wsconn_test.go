package engineio

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// clientFrame builds a client frame: masked with a random key unless
// unmasked, with the given first byte (FIN, RSV, opcode).
func clientFrame(b0 byte, payload []byte, unmasked bool) []byte {
	f := []byte{b0}
	maskBit := byte(0x80)
	if unmasked {
		maskBit = 0
	}
	switch n := len(payload); {
	case n < 126:
		f = append(f, maskBit|byte(n))
	case n <= 0xffff:
		f = append(f, maskBit|126, byte(n>>8), byte(n))
	default:
		f = append(f, maskBit|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	if unmasked {
		return append(f, payload...)
	}
	var key [4]byte
	_, _ = rand.Read(key[:])
	f = append(f, key[:]...)
	for i, c := range payload {
		f = append(f, c^key[i&3])
	}
	return f
}

func TestParseFrameHeader(t *testing.T) {
	mask := []byte{1, 2, 3, 4}
	hdr := func(b ...byte) []byte { return append(b, mask...) }
	tests := []struct {
		name   string
		in     []byte
		ok     bool
		err    error
		op     byte
		fin    bool
		length int64
		hdrLen int
	}{
		{"empty", nil, false, nil, 0, false, 0, 0},
		{"one byte", []byte{0x81}, false, nil, 0, false, 0, 0},
		{"no mask key yet", []byte{0x81, 0x85, 1, 2}, false, nil, 0, false, 0, 0},
		{"small text", hdr(0x81, 0x85), true, nil, opText, true, 5, 6},
		{"16-bit binary, not final", hdr(0x02, 0xfe, 0x01, 0x00), true, nil, opBinary, false, 256, 8},
		{"16-bit length incomplete", []byte{0x82, 0xfe, 0x01}, false, nil, 0, false, 0, 0},
		{"64-bit", hdr(0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0), true, nil, opBinary, true, 65536, 14},
		{"64-bit with MSB", hdr(0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0), false, errWSBadLength, 0, false, 0, 0},
		{"unmasked", []byte{0x81, 0x05}, false, errWSUnmasked, 0, false, 0, 0},
		{"rsv1", hdr(0xc1, 0x80), false, errWSReservedBits, 0, false, 0, 0},
		{"opcode 3", hdr(0x83, 0x80), false, errWSBadOpcode, 0, false, 0, 0},
		{"opcode 0xb", hdr(0x8b, 0x80), false, errWSBadOpcode, 0, false, 0, 0},
		{"fragmented ping", hdr(0x09, 0x80), false, errWSControlFrame, 0, false, 0, 0},
		{"long close", hdr(0x88, 0xfe, 0, 126), false, errWSControlFrame, 0, false, 0, 0},
		{"ping", hdr(0x89, 0x82), true, nil, opPing, true, 2, 6},
		{"continuation", hdr(0x80, 0x80), true, nil, opContinuation, true, 0, 6},
	}
	for _, tt := range tests {
		h, ok, err := parseFrameHeader(tt.in)
		if ok != tt.ok || !errors.Is(err, tt.err) {
			t.Errorf("%s: ok %v err %v, want %v %v", tt.name, ok, err, tt.ok, tt.err)
			continue
		}
		if ok && (h.op != tt.op || h.fin != tt.fin || h.length != tt.length || h.hdrLen != tt.hdrLen) {
			t.Errorf("%s: got %+v", tt.name, h)
		}
	}
}

func TestUnmask(t *testing.T) {
	key := []byte{0xa1, 0x52, 0x03, 0xf4}
	for n := 0; n < 40; n++ {
		src := make([]byte, n)
		_, _ = rand.Read(src)
		got := append([]byte(nil), src...)
		unmask(got, key)
		for i := range src {
			if got[i] != src[i]^key[i%4] {
				t.Fatalf("len %d: byte %d = %#x, want %#x", n, i, got[i], src[i]^key[i%4])
			}
		}
	}
}

// dialRaw opens a websocket session and returns the gorilla client (for
// reading), its network connection (for raw writes) and the recorder.
func dialRaw(t *testing.T, e *testEnv) (*websocket.Conn, net.Conn, *recorder) {
	t.Helper()
	ws := e.mustDial("EIO=4&transport=websocket")
	readWS(t, ws) // open packet
	return ws, ws.NetConn(), e.nextConn()
}

func netWrite(t *testing.T, nc net.Conn, b []byte) {
	t.Helper()
	if _, err := nc.Write(b); err != nil {
		t.Fatalf("raw write: %v", err)
	}
}

// TestWSFrameAssembly covers how frames arrive: several in one write, one
// split across many writes, a fragmented message with a ping inside, and a
// message larger than the read buffer.
func TestWSFrameAssembly(t *testing.T) {
	e := newEnv(t, Config{})
	ws, nc, r := dialRaw(t, e)

	var batch []byte
	for _, s := range []string{"4a", "4bb", "4ccc"} {
		batch = append(batch, clientFrame(0x81, []byte(s), false)...)
	}
	netWrite(t, nc, batch)
	for _, want := range []string{"a", "bb", "ccc"} {
		if m := r.waitMsg(t); m.data != want || m.binary {
			t.Fatalf("got %+v, want %q", m, want)
		}
		if _, s := readWS(t, ws); s != "4"+want {
			t.Fatalf("echo %q", s)
		}
	}

	f := clientFrame(0x81, []byte("4split"), false)
	for i := range f {
		netWrite(t, nc, f[i:i+1])
		time.Sleep(time.Millisecond)
	}
	if m := r.waitMsg(t); m.data != "split" {
		t.Fatalf("split frame: got %q", m.data)
	}
	readWS(t, ws)

	pongs := make(chan string, 1)
	ws.SetPongHandler(func(s string) error { pongs <- s; return nil })
	var frag []byte
	frag = append(frag, clientFrame(0x01, []byte("4he"), false)...)
	frag = append(frag, clientFrame(0x89, []byte("xy"), false)...) // ping between fragments
	frag = append(frag, clientFrame(0x00, []byte("ll"), false)...)
	frag = append(frag, clientFrame(0x80, []byte("o"), false)...)
	netWrite(t, nc, frag)
	if m := r.waitMsg(t); m.data != "hello" {
		t.Fatalf("fragmented: got %q", m.data)
	}
	if _, s := readWS(t, ws); s != "4hello" { // the pong is handled while reading
		t.Fatalf("echo %q", s)
	}
	select {
	case p := <-pongs:
		if p != "xy" {
			t.Fatalf("pong payload %q", p)
		}
	default:
		t.Fatal("no pong before the echo")
	}

	big := make([]byte, 3*wsReadBufSize+17)
	_, _ = rand.Read(big)
	netWrite(t, nc, clientFrame(0x82, big, false))
	if m := r.waitMsg(t); !m.binary || m.data != string(big) {
		t.Fatalf("big binary: %d bytes, binary %v", len(m.data), m.binary)
	}
	if mt, s := readWS(t, ws); mt != websocket.BinaryMessage || s != string(big) {
		t.Fatal("big echo differs")
	}
	netWrite(t, nc, clientFrame(0x81, []byte("4after"), false))
	if m := r.waitMsg(t); m.data != "after" {
		t.Fatalf("after big: %q", m.data)
	}
}

// TestWSProtocolErrors checks that each violation closes the session
// with "transport error" after a close frame with the right code.
func TestWSProtocolErrors(t *testing.T) {
	e := newEnv(t, Config{MaxHTTPBufferSize: 100})
	tests := []struct {
		name  string
		frame []byte
		code  int
	}{
		{"unmasked", clientFrame(0x81, []byte("4x"), true), websocket.CloseProtocolError},
		{"rsv bit", clientFrame(0xc1, []byte("4x"), false), websocket.CloseProtocolError},
		{"unknown opcode", clientFrame(0x83, []byte("4x"), false), websocket.CloseProtocolError},
		{"long ping", clientFrame(0x89, make([]byte, 126), false), websocket.CloseProtocolError},
		{"continuation first", clientFrame(0x80, []byte("4x"), false), websocket.CloseProtocolError},
		{"text inside fragments", append(clientFrame(0x01, []byte("4x"), false), clientFrame(0x81, []byte("4y"), false)...), websocket.CloseProtocolError},
		{"one-byte close", clientFrame(0x88, []byte{3}, false), websocket.CloseProtocolError},
		{"close code 1005", clientFrame(0x88, []byte{0x03, 0xed}, false), websocket.CloseProtocolError},
		{"invalid UTF-8", clientFrame(0x81, []byte("4\xff\xfe"), false), websocket.CloseInvalidFramePayloadData},
		{"too big", clientFrame(0x81, bytes.Repeat([]byte("x"), 101), false), websocket.CloseMessageTooBig},
		{"too big in fragments", append(clientFrame(0x01, bytes.Repeat([]byte("x"), 60), false), clientFrame(0x80, bytes.Repeat([]byte("x"), 60), false)...), websocket.CloseMessageTooBig},
		// Lengths near the 63-bit maximum must not overflow the checks
		// (a continuation's length plus what is assembled wrapped
		// negative and crashed the reader).
		{"max length", maxLengthHeader(0x81), websocket.CloseMessageTooBig},
		{"max length continuation", append(clientFrame(0x01, []byte("4"), false), maxLengthHeader(0x80)...), websocket.CloseMessageTooBig},
	}
	for _, tt := range tests {
		ws, nc, r := dialRaw(t, e)
		netWrite(t, nc, tt.frame)
		err := readWSErr(t, ws)
		if !websocket.IsCloseError(err, tt.code) {
			t.Errorf("%s: client got %v, want close %d", tt.name, err, tt.code)
		}
		if reason := r.waitClose(t); reason != "transport error" {
			t.Errorf("%s: reason %q", tt.name, reason)
		}
	}
}

// TestPingFloodIsBounded checks that pongs answering a client's pings
// count against MaxQueueBytes even when empty: a client that sends pings
// and does not read is closed as a slow consumer, not left to grow its
// queue. The session's writer is held busy, as by a full socket.
func TestPingFloodIsBounded(t *testing.T) {
	const bound = 16 << 10
	e := newEnvEcho(t, Config{MaxQueueBytes: bound}, false)
	_, nc, r := dialRaw(t, e)
	r.c.mu.Lock()
	r.c.writerRunning = true // a writer blocked on the socket holds the role
	r.c.mu.Unlock()
	ping := clientFrame(0x89, nil, false)
	const pings = 4 * bound / controlOverhead
	netWrite(t, nc, bytes.Repeat(ping, pings))
	if reason := r.waitClose(t); reason != "slow consumer" {
		t.Errorf("close reason %q; want slow consumer", reason)
	}
	r.c.mu.Lock()
	queued := len(r.c.queue)
	r.c.mu.Unlock()
	if queued > bound/controlOverhead {
		t.Errorf("%d pongs were queued under a %d-byte bound", queued, bound)
	}
}

// maxLengthHeader is a masked frame header (b0 its first byte) announcing
// the largest length RFC 6455 allows, 2^63-1 bytes, with no payload.
func maxLengthHeader(b0 byte) []byte {
	h := []byte{b0, 0x80 | 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	return append(h, 1, 2, 3, 4) // mask key
}

// TestWSClientCloseFrame checks that a client's close frame is answered
// with its code and ends the session with "transport close".
func TestWSClientCloseFrame(t *testing.T) {
	e := newEnv(t, Config{})
	ws, _, r := dialRaw(t, e)
	msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "bye")
	if err := ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := readWSErr(t, ws); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("client got %v, want close 1001", err)
	}
	if reason := r.waitClose(t); reason != "transport close" {
		t.Fatalf("reason %q", reason)
	}
}

// TestWSHandshakeRefusals checks the opening handshake's validation.
func TestWSHandshakeRefusals(t *testing.T) {
	e := newEnv(t, Config{})
	tests := []struct {
		name    string
		version string
		key     string
		status  int
	}{
		{"version 12", "12", "dGhlIHNhbXBsZSBub25jZQ==", 400},
		{"no key", "13", "", 400},
		{"short key", "13", "c2hvcnQ=", 400},
	}
	for _, tt := range tests {
		hdr := http.Header{
			"Connection":            {"keep-alive, Upgrade"},
			"Upgrade":               {"websocket"},
			"Sec-Websocket-Version": {tt.version},
		}
		if tt.key != "" {
			hdr.Set("Sec-WebSocket-Key", tt.key)
		}
		st, _, h := e.do("GET", "EIO=4&transport=websocket", "", hdr)
		if st != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, st, tt.status)
		}
		if tt.version != "13" && h.Get("Sec-WebSocket-Version") != "13" {
			t.Errorf("%s: no Sec-WebSocket-Version: 13 in the answer", tt.name)
		}
	}
	if e.srv.Count() != 0 {
		t.Fatalf("%d sessions opened by refused handshakes", e.srv.Count())
	}
}

// parkedWS reports whether c's websocket is parked (no reader goroutine).
func parkedWS(c *Conn) bool {
	c.mu.Lock()
	ws := c.ws
	c.mu.Unlock()
	return ws != nil && ws.parked.Load()
}

// TestWSIdleParks checks that idle websockets hold no goroutine, wake up
// for data, keep answering heartbeats and notice the client leaving.
func TestWSIdleParks(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("websockets park only where the server has a poller (Linux epoll)")
	}
	const n = 40
	e := newEnvSetup(t, Config{PingInterval: 60 * time.Millisecond, PingTimeout: 500 * time.Millisecond}, true,
		func(s *Server) { s.readLinger = 15 * time.Millisecond })
	before := runtime.NumGoroutine()
	type client struct {
		ws *websocket.Conn
		r  *recorder
	}
	clients := make([]client, n)
	for i := range clients {
		ws, _, r := dialRaw(t, e)
		clients[i] = client{ws, r}
	}
	for _, c := range clients {
		checkFor(t, 2*time.Second, "connection parked", func() bool { return parkedWS(c.r.c) })
	}
	if extra := runtime.NumGoroutine() - before; extra > n/4 {
		t.Fatalf("%d goroutines more than before %d idle connections", extra, n)
	}
	// Each wakes up for a message, answered; and parks again. The client
	// answers the pings that arrive meanwhile.
	for round := range 3 {
		for i, c := range clients {
			msg := fmt.Sprintf("4r%d-%d", round, i)
			writeWS(t, c.ws, websocket.TextMessage, msg)
			for {
				_, s := readWS(t, c.ws)
				if s == "2" {
					writeWS(t, c.ws, websocket.TextMessage, "3")
					continue
				}
				if s != msg {
					t.Fatalf("echo %q, want %q", s, msg)
				}
				break
			}
		}
		for _, c := range clients {
			checkFor(t, 2*time.Second, "connection parked again", func() bool { return parkedWS(c.r.c) })
		}
	}
	// Heartbeats through parked readers: the first client answers pings
	// for several intervals; the session must stay open.
	c0 := clients[0]
	deadline := time.Now().Add(400 * time.Millisecond)
	pings := 0
	for time.Now().Before(deadline) {
		_ = c0.ws.SetReadDeadline(deadline)
		_, b, err := c0.ws.ReadMessage()
		if err != nil {
			break
		}
		if string(b) == "2" {
			pings++
			writeWS(t, c0.ws, websocket.TextMessage, "3")
		}
	}
	if pings < 3 {
		t.Fatalf("%d pings in 400ms at a 60ms interval", pings)
	}
	if e.srv.get(c0.r.c.ID()) == nil {
		t.Fatal("session answering pings was closed")
	}
	// The others stopped answering pings: closed by ping timeout or, for
	// the clients that leave now, transport close, while parked.
	for _, c := range clients[1:] {
		_ = c.ws.NetConn().Close()
	}
	for _, c := range clients[1:] {
		if reason := c.r.waitClose(t); reason != "transport close" && reason != "ping timeout" {
			t.Fatalf("reason %q", reason)
		}
	}
	_ = c0.ws.NetConn().Close()
	if reason := c0.r.waitClose(t); reason != "transport close" {
		t.Fatalf("reason %q after the client left", reason)
	}
}

// TestWSBigFrameGrowsWithData checks that a frame announced big but sent
// slowly holds a buffer sized by what arrived, not by what was announced,
// and is delivered whole once complete.
func TestWSBigFrameGrowsWithData(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("inspects the buffer of a parked reader (Linux epoll)")
	}
	e := newEnvSetup(t, Config{}, false, func(s *Server) { s.readLinger = 15 * time.Millisecond })
	_, nc, r := dialRaw(t, e)
	payload := make([]byte, 500_000)
	_, _ = rand.Read(payload)
	frame := clientFrame(0x82, payload, false)
	sent := 14 + 10_000
	checkFor(t, 2*time.Second, "reader parked", func() bool { return parkedWS(r.c) })
	netWrite(t, nc, frame[:sent])
	// The data wakes the reader, which parks again 15ms after reading it.
	time.Sleep(150 * time.Millisecond)
	checkFor(t, 2*time.Second, "reader parked", func() bool { return parkedWS(r.c) })
	r.c.mu.Lock()
	ws := r.c.ws
	r.c.mu.Unlock()
	bufLen, held := -1, ws.rn
	if ws.rbuf != nil {
		bufLen = len(*ws.rbuf)
	}
	// Nothing can wake the reader until the next write; the no-op swap
	// orders these reads before the poller's (the race detector does not
	// see through the socket).
	if !ws.parked.CompareAndSwap(true, true) {
		t.Fatal("reader woke up with nothing sent")
	}
	if bufLen < 0 {
		t.Fatal("parked with a partial frame but no buffer")
	}
	if held != sent || bufLen > 4*sent {
		t.Fatalf("buffer %d bytes holding %d, after %d bytes sent", bufLen, held, sent)
	}
	netWrite(t, nc, frame[sent:])
	if m := r.waitMsg(t); !m.binary || m.data != string(payload) {
		t.Fatalf("got %d bytes, want the %d sent", len(m.data), len(payload))
	}
}

// FuzzParseFrameHeader checks the frame header parser on arbitrary bytes:
// no panic, and an accepted header is consistent with its input.
func FuzzParseFrameHeader(f *testing.F) {
	f.Add([]byte{0x81, 0x85, 1, 2, 3, 4})
	f.Add([]byte{0x82, 0xfe, 0x01, 0x00, 1, 2, 3, 4})
	f.Add([]byte{0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4})
	f.Add([]byte{0x89, 0x80, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, ok, err := parseFrameHeader(b)
		if ok && err != nil {
			t.Fatal("ok with an error")
		}
		if !ok {
			return
		}
		if h.hdrLen != 6 && h.hdrLen != 8 && h.hdrLen != 14 || h.hdrLen > len(b) {
			t.Fatalf("header length %d for %d bytes", h.hdrLen, len(b))
		}
		if h.length < 0 || h.op >= opClose && (h.length > 125 || !h.fin) {
			t.Fatalf("accepted %+v", h)
		}
		if b[0]&0x70 != 0 || b[1]&0x80 == 0 {
			t.Fatal("accepted reserved bits or an unmasked frame")
		}
	})
}

// TestWSOverTLS runs a session over TLS, where the connection has no raw
// socket: the reader blocks in Read and never parks, and a goroutine of
// its own writes.
func TestWSOverTLS(t *testing.T) {
	conns := make(chan *recorder, 1)
	srv := NewServer(Config{}, func(c *Conn) {
		r := newRecorder(c, true)
		c.SetHandler(r)
		conns <- r
	})
	srv.readLinger = 10 * time.Millisecond
	ts := httptest.NewTLSServer(srv)
	defer ts.Close()
	defer srv.Close("server shutting down")
	d := websocket.Dialer{TLSClientConfig: ts.Client().Transport.(*http.Transport).TLSClientConfig}
	ws, _, err := d.Dial("wss"+strings.TrimPrefix(ts.URL, "https")+"/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	readWS(t, ws) // open
	r := <-conns
	time.Sleep(50 * time.Millisecond) // past the linger: must not park
	if parkedWS(r.c) {
		t.Fatal("a TLS connection parked")
	}
	big := strings.Repeat("b", 3*wsReadBufSize)
	for _, s := range []string{"4hello", "4" + big} {
		writeWS(t, ws, websocket.TextMessage, s)
		if _, got := readWS(t, ws); got != s {
			t.Fatalf("echo of %d bytes: got %d", len(s), len(got))
		}
	}
	r.c.Close("forced close")
	if err := readWSErr(t, ws); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("close: %v", err)
	}
	if reason := r.waitClose(t); reason != "forced close" {
		t.Fatalf("reason %q", reason)
	}
}

// TestWSWaitingReaderHoldsNoBuffer checks that a reader waiting for data
// has returned its read buffer to the pool, unless it holds the start of a
// frame, which must survive the wait.
func TestWSWaitingReaderHoldsNoBuffer(t *testing.T) {
	if !rawSocketIO {
		t.Skip("no raw socket reads on this platform")
	}
	type wait struct {
		held bool
		rn   int
	}
	waits := make(chan wait, 64)
	testHookReadWait = func(w *wsConn) {
		select {
		case waits <- wait{w.rbuf != nil, w.rn}:
		default:
		}
	}
	t.Cleanup(func() { testHookReadWait = nil }) // after the server's readers have stopped
	e := newEnvEcho(t, Config{}, true)
	ws, nc, _ := dialRaw(t, e)
	next := func() wait {
		t.Helper()
		select {
		case w := <-waits:
			return w
		case <-time.After(3 * time.Second):
			t.Fatal("the reader did not wait for data")
		}
		return wait{}
	}
	drain := func() {
		for {
			select {
			case <-waits:
			default:
				return
			}
		}
	}

	drain()
	writeWS(t, ws, websocket.TextMessage, "4whole")
	if _, s := readWS(t, ws); s != "4whole" {
		t.Fatalf("echo %q", s)
	}
	if w := next(); w.held {
		t.Fatalf("waiting after a whole frame with a buffer held (%d bytes in it)", w.rn)
	}

	drain()
	frame := clientFrame(0x81, []byte("4split"), false)
	netWrite(t, nc, frame[:4])
	var w wait
	for w = next(); w.rn == 0 && !w.held; w = next() {
	}
	if !w.held || w.rn != 4 {
		t.Fatalf("waiting for the rest of a frame: buffer held %v with %d bytes; want the 4 bytes kept", w.held, w.rn)
	}
	netWrite(t, nc, frame[4:])
	if _, s := readWS(t, ws); s != "4split" {
		t.Fatalf("echo of the split frame %q", s)
	}
}

// TestWSCloseDoesNotWaitForHandler checks the read callback's guard: a
// handler runs inside the reader's RawConn.Read callback (readDispatch),
// which holds the socket's read reference, and net.Conn.Close waits for
// every reference. A close from another goroutine (here closeNow, as a
// heartbeat timeout or a slow-consumer close does) must return while the
// handler still runs, and the socket must close once it returns.
func TestWSCloseDoesNotWaitForHandler(t *testing.T) {
	if !rawSocketIO {
		t.Skip("no raw socket reads on this platform")
	}
	e := newEnvEcho(t, Config{}, false)
	ws, _, r := dialRaw(t, e)
	r.block = make(chan struct{})
	r.inCall.Add(0) // publishes block to the reader, whose enter() updates the same word first
	unblock := sync.OnceFunc(func() { close(r.block) })
	defer unblock()
	writeWS(t, ws, websocket.TextMessage, "4block")
	select {
	case <-r.entered:
	case <-time.After(3 * time.Second):
		t.Fatal("the handler was not called")
	}
	closed := make(chan struct{})
	go func() {
		r.c.closeNow("forced close")
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(3 * time.Second):
		unblock()
		t.Fatal("closeNow waited for the handler running in the reader's read callback")
	}
	unblock()
	_ = ws.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the socket stayed open after the handler returned")
		}
		break
	}
	if reason := r.waitClose(t); reason != "forced close" {
		t.Fatalf("OnClose reason %q, want \"forced close\"", reason)
	}
}

// TestWSReaderWaitsWithoutEmptyRead checks that a message answered at
// once costs the reader one read call: after a read that drained the
// socket it waits for the next message without a read that returns
// EAGAIN (readDispatch). Before, every message cost one such read.
func TestWSReaderWaitsWithoutEmptyRead(t *testing.T) {
	if !rawSocketIO {
		t.Skip("no raw socket reads on this platform")
	}
	var eagain atomic.Int64
	testHookReadEAGAIN = func(*wsConn) { eagain.Add(1) }
	t.Cleanup(func() { testHookReadEAGAIN = nil }) // after the server's readers have stopped
	e := newEnvEcho(t, Config{}, true)
	ws, _, _ := dialRaw(t, e)
	const n = 40
	before := eagain.Load()
	for i := range n {
		msg := fmt.Sprintf("m%d", i)
		writeWS(t, ws, websocket.TextMessage, "4"+msg)
		if _, got := readWS(t, ws); got != "4"+msg {
			t.Fatalf("echo %d = %q", i, got)
		}
	}
	if got := eagain.Load() - before; got > n/4 {
		t.Fatalf("%d reads returned EAGAIN for %d messages answered one at a time; want almost none", got, n)
	}
}

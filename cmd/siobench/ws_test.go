package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// serverFrame is one frame as a server sends it: unmasked, with the
// shortest length encoding.
func serverFrame(op byte, fin bool, p []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	f := []byte{b0}
	switch n := len(p); {
	case n < 126:
		f = append(f, byte(n))
	case n <= 0xFFFF:
		f = append(f, 126, byte(n>>8), byte(n))
	default:
		f = append(f, 127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	return append(f, p...)
}

func text(s string) []byte { return serverFrame(opText, true, []byte(s)) }

// readClientFrame reads one client frame as a server does: it must be
// final and masked; the payload is returned unmasked.
func readClientFrame(r io.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	if h[0]&0x80 == 0 || h[1]&0x80 == 0 {
		return 0, nil, fmt.Errorf("client frame %x: not final or not masked", h)
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var l [2]byte
		_, err = io.ReadFull(r, l[:])
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		_, err = io.ReadFull(r, l[:])
		n = binary.BigEndian.Uint64(l[:])
	}
	if err != nil {
		return 0, nil, err
	}
	var key [4]byte
	if _, err := io.ReadFull(r, key[:]); err != nil {
		return 0, nil, err
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	for i := range payload {
		payload[i] ^= key[i%4]
	}
	return h[0] & 0x0F, payload, nil
}

func TestAppendClientFrame(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 125, 126, 127, 1000, 0xFFFF, 0x10000, 70000} {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i*7 + 3)
		}
		f := appendClientFrame([]byte("prefix"), opBinary, p, 0xA1B2C3D4)
		if !bytes.HasPrefix(f, []byte("prefix")) {
			t.Fatalf("n=%d: dst prefix lost", n)
		}
		f = f[len("prefix"):]
		wantHdr := 2 + 4
		if n >= 126 {
			wantHdr += 2
		}
		if n > 0xFFFF {
			wantHdr += 6
		}
		if len(f) != wantHdr+n {
			t.Fatalf("n=%d: frame of %d bytes, want %d", n, len(f), wantHdr+n)
		}
		if !bytes.Equal(f[wantHdr-4:wantHdr], []byte{0xA1, 0xB2, 0xC3, 0xD4}) {
			t.Fatalf("n=%d: masking key %x", n, f[wantHdr-4:wantHdr])
		}
		if n >= 8 && bytes.Equal(f[wantHdr:wantHdr+8], p[:8]) {
			t.Fatalf("n=%d: payload not masked", n)
		}
		op, got, err := readClientFrame(bytes.NewReader(f))
		if err != nil || op != opBinary || !bytes.Equal(got, p) {
			t.Fatalf("n=%d: read back op %d err %v equal %v", n, op, err, bytes.Equal(got, p))
		}
	}
}

// chunkReader serves data in reads of at most size bytes (all of it at
// once when size is 0) and counts the reads.
type chunkReader struct {
	data  []byte
	size  int
	reads int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	r.reads++
	n := len(r.data)
	if r.size > 0 {
		n = min(n, r.size)
	}
	n = copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

type wsMsg struct {
	op byte
	p  string
}

// readAll decodes every message of src until it fails.
func readAll(src io.Reader, maxMsg int) ([]wsMsg, error) {
	var rd wsReader
	rd.init(src, maxMsg, nil)
	var out []wsMsg
	for {
		op, p, err := rd.next()
		if err != nil {
			return out, err
		}
		out = append(out, wsMsg{op, string(p)})
	}
}

func concat(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

func TestWSReaderSplitsAndJoins(t *testing.T) {
	big := strings.Repeat("b", 5000) // larger than the initial buffer
	stream := concat(
		text(`42["a"]`),
		serverFrame(opBinary, true, []byte{1, 2, 3}),
		// a fragmented text message with a ping between its fragments
		serverFrame(opText, false, []byte(`42["fr`)),
		serverFrame(opPing, true, []byte("hi")),
		serverFrame(opContinuation, false, []byte(`ag`)),
		serverFrame(opContinuation, true, []byte(`"]`)),
		text(big),
		serverFrame(opPong, true, nil),
		text(""),
		serverFrame(opClose, true, []byte{0x03, 0xE8, 'o', 'k'}),
	)
	want := []wsMsg{
		{opText, `42["a"]`}, {opBinary, "\x01\x02\x03"}, {opPing, "hi"}, {opText, `42["frag"]`},
		{opText, big}, {opPong, ""}, {opText, ""}, {opClose, "\x03\xe8ok"},
	}
	for _, size := range []int{0, 1, 2, 3, 7, 100, 4096} {
		src := &chunkReader{data: stream, size: size}
		got, err := readAll(src, 1<<16)
		if err != io.EOF {
			t.Fatalf("chunks of %d: err %v, want io.EOF", size, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("chunks of %d:\n got %q\nwant %q", size, got, want)
		}
	}
}

// TestWSReaderOneReadForManyFrames checks that frames already buffered
// are decoded without another read.
func TestWSReaderOneReadForManyFrames(t *testing.T) {
	var stream []byte
	for i := range 50 {
		stream = append(stream, text(fmt.Sprintf(`42["m",%d]`, i))...)
	}
	src := &chunkReader{data: stream}
	var rd wsReader
	rd.init(src, 1<<16, nil)
	for i := range 50 {
		op, p, err := rd.next()
		if err != nil || op != opText || string(p) != fmt.Sprintf(`42["m",%d]`, i) {
			t.Fatalf("message %d: %d %q %v", i, op, p, err)
		}
	}
	if src.reads != 1 {
		t.Fatalf("%d reads for 50 frames delivered at once, want 1", src.reads)
	}
}

// TestWSReaderLeftover checks that bytes read with the handshake response
// are decoded first.
func TestWSReaderLeftover(t *testing.T) {
	first := text(`0{"sid":"x"}`)
	var rd wsReader
	rd.init(&chunkReader{data: concat(first[3:], text("40"))}, 1024, first[:3])
	for _, want := range []string{`0{"sid":"x"}`, "40"} {
		if _, p, err := rd.next(); err != nil || string(p) != want {
			t.Fatalf("got %q %v, want %q", p, err, want)
		}
	}
}

func TestWSReaderErrors(t *testing.T) {
	masked := text("x")
	masked[1] |= 0x80
	tests := []struct {
		name   string
		stream []byte
		want   string
	}{
		{"masked", masked, "masked"},
		{"reserved bits", append([]byte{0xC1}, text("x")[1:]...), "reserved"},
		{"unknown opcode", serverFrame(0x3, true, nil), "opcode"},
		{"fragmented control", serverFrame(opPing, false, nil), "control"},
		{"long control", serverFrame(opPing, true, make([]byte, 126)), "control"},
		{"continuation first", serverFrame(opContinuation, true, []byte("x")), "continuation"},
		{"text inside fragments", concat(serverFrame(opText, false, []byte("a")), text("b")), "inside a fragmented"},
		{"64-bit length with top bit", append([]byte{0x81, 127, 0x80, 0, 0, 0, 0, 0, 0, 0}, 'x'), "invalid payload length"},
		// The limit is checked on the header, before any payload is read.
		{"oversized frame", serverFrame(opText, true, make([]byte, 2000))[:4], "exceeds the limit of 1024"},
		{"oversized 64-bit length", []byte{0x81, 127, 0, 0, 0, 1, 0, 0, 0, 0}, "exceeds the limit"},
		{"oversized fragments", concat(
			serverFrame(opText, false, make([]byte, 600)),
			serverFrame(opContinuation, true, make([]byte, 600))[:4]), "message of 1200 bytes exceeds"},
		{"eof inside a frame", text("hello")[:4], io.ErrUnexpectedEOF.Error()},
		{"eof inside a header", text("hello")[:1], io.ErrUnexpectedEOF.Error()},
		{"clean eof", nil, io.EOF.Error()},
	}
	for _, tt := range tests {
		for _, size := range []int{0, 1} {
			_, err := readAll(&chunkReader{data: tt.stream, size: size}, 1024)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s (chunks of %d): err %v, want %q", tt.name, size, err, tt.want)
			}
		}
	}
}

func TestCloseCode(t *testing.T) {
	if code, reason := closeCode([]byte{0x0F, 0xA1, 'b', 'y', 'e'}); code != 4001 || reason != "bye" {
		t.Fatalf("closeCode = %d %q", code, reason)
	}
	if code, _ := closeCode(nil); code != 1005 {
		t.Fatalf("closeCode(nil) = %d", code)
	}
}

// TestDialWSAgainstGorilla runs the handshake and both frame directions
// against an independent implementation: gorilla's server sends a
// message in fragments, a ping and a close; the generator's frames must
// be valid to it.
func TestDialWSAgainstGorilla(t *testing.T) {
	pongs := make(chan string, 1)
	got := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{WriteBufferSize: 64}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		ws.SetPongHandler(func(s string) error { pongs <- s; return nil })
		// Sent right behind the 101 response: arrives as leftover bytes.
		_ = ws.WriteMessage(websocket.TextMessage, []byte("hello"))
		// Longer than the 64-byte write buffer: sent in fragments.
		_ = ws.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("f", 300)))
		_ = ws.WriteControl(websocket.PingMessage, []byte("p1"), time.Now().Add(time.Second))
		for range 2 {
			typ, msg, err := ws.ReadMessage()
			if err != nil {
				got <- "read error: " + err.Error()
				return
			}
			got <- fmt.Sprintf("%d:%s", typ, msg)
		}
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"), time.Now().Add(time.Second))
		_, _, err = ws.ReadMessage()
		got <- fmt.Sprint(err)
	}))
	defer srv.Close()

	b := testBench(t)
	conn, leftover, err := dialWS(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/socket.io/?EIO=4")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := b.newClient(0, conn, leftover)
	for _, want := range []string{"hello", strings.Repeat("f", 300)} {
		if p, err := c.next(); err != nil || string(p) != want {
			t.Fatalf("next = %q, %v; want %q", p, err, want)
		}
	}
	if err := c.send(&c.pbuf, []byte("small")); err != nil {
		t.Fatal(err)
	}
	var fb frameBuf
	if err := c.send(&fb, bytes.Repeat([]byte("L"), 70000)); err != nil {
		t.Fatal(err)
	}
	// The ping is answered inside next, which then meets the close frame.
	_, err = c.next()
	if err == nil || !strings.Contains(err.Error(), "close 4001 bye") {
		t.Fatalf("next after close = %v", err)
	}
	if p := <-pongs; p != "p1" {
		t.Fatalf("pong %q", p)
	}
	for _, want := range []string{"1:small", "1:" + strings.Repeat("L", 70000), "websocket: close 4001"} {
		if g := <-got; !strings.HasPrefix(g, want) {
			t.Fatalf("server got %.40q, want %.40q", g, want)
		}
	}
}

func TestDialWSRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer srv.Close()
	_, _, err := dialWS(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/")
	if err == nil || !strings.Contains(err.Error(), "HTTP 403") {
		t.Fatalf("err = %v", err)
	}
	// A server that accepts the upgrade with a wrong key proof.
	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Sec-WebSocket-Accept", "wrong")
		w.WriteHeader(http.StatusSwitchingProtocols)
	}))
	defer srv2.Close()
	_, _, err = dialWS(t.Context(), "ws"+strings.TrimPrefix(srv2.URL, "http")+"/")
	if err == nil || !strings.Contains(err.Error(), "bad handshake response") {
		t.Fatalf("err = %v", err)
	}
}

// testBench is a bench with no nodes whose connections accept messages
// of up to 4 KiB; its connections and readers are closed with the test.
// set, if given, changes the rest of the configuration.
func testBench(t testing.TB, set ...func(*config)) *bench {
	var errOut bytes.Buffer
	cfg := config{MaxFrame: 4096}
	for _, f := range set {
		f(&cfg)
	}
	b, err := newBench(cfg, io.Discard, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.closeAll)
	return b
}

// rawPair returns a client of b over a fresh loopback TCP connection,
// with no handshake, and the server's end of it.
func rawPair(t testing.TB, b *bench) (*client, net.Conn) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sc.Close() })
	c := b.newClient(0, cc, nil)
	b.track(c)
	return c, sc
}

// recorder is a handler that hands every event body to a channel.
type recorder struct{ events chan string }

func newRecorder() *recorder { return &recorder{events: make(chan string, 256)} }

func (r *recorder) onEvent(_ *client, body []byte) { r.events <- string(body) }
func (r *recorder) onAck(*client, uint64, []byte)  {}

func (r *recorder) expect(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case got := <-r.events:
			if got != w {
				t.Fatalf("event %.60q, want %.60q", got, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no event, want %.60q", w)
		}
	}
}

// waitLost waits until b recorded a lost connection and returns the
// first error.
func waitLost(t *testing.T, b *bench) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for b.disconnects.Load() == 0 || b.firstError() == "" {
		if time.Now().After(deadline) {
			t.Fatal("the connection was not reported lost")
		}
		time.Sleep(time.Millisecond)
	}
	return b.firstError()
}

// readerModes runs f with the connections read by pollers (where the
// platform has them) and by one goroutine per connection.
func readerModes(t *testing.T, f func(t *testing.T)) {
	for _, mode := range []string{"poller", "goroutine"} {
		t.Run(mode, func(t *testing.T) {
			defer func(old bool) { disablePoller = old }(disablePoller)
			disablePoller = mode == "goroutine"
			f(t)
		})
	}
}

// TestReaderFrames feeds a live connection with frames written in every
// pattern a server may produce and checks what reaches the handler and
// what the generator answers, for both kinds of reader.
func TestReaderFrames(t *testing.T) {
	readerModes(t, func(t *testing.T) {
		b := testBench(t)
		c, srv := rawPair(t, b)
		rec := newRecorder()
		c.start(rec)
		if !disablePoller && runtime.GOOS == "linux" && len(b.pollers) == 0 {
			t.Fatal("no poller on linux")
		}
		// Several frames in one write.
		_, _ = srv.Write(concat(text(`42["a"]`), text(`42["b"]`), text(`42["c"]`)))
		rec.expect(t, `["a"]`, `["b"]`, `["c"]`)
		// A burst of several times the read buffer in one write, then
		// silence: the reader must not wait for more data to take the
		// rest of the burst.
		var burst []byte
		var want []string
		for i := range 200 {
			burst = append(burst, text(fmt.Sprintf(`42["burst",%d,"%s"]`, i, strings.Repeat("y", 40)))...)
			want = append(want, fmt.Sprintf(`["burst",%d,"%s"]`, i, strings.Repeat("y", 40)))
		}
		_, _ = srv.Write(burst)
		rec.expect(t, want...)
		// One frame split across writes, and a frame whose end shares a
		// write with the next frame's start.
		f1, f2 := text(`42["split"]`), text(`42["next"]`)
		for _, part := range [][]byte{f1[:1], f1[1:5], concat(f1[5:], f2[:3]), f2[3:]} {
			_, _ = srv.Write(part)
			time.Sleep(5 * time.Millisecond)
		}
		rec.expect(t, `["split"]`, `["next"]`)
		// A fragmented message around a WebSocket ping, a binary message
		// (skipped) and an Engine.IO ping: the pings are answered.
		_, _ = srv.Write(concat(
			serverFrame(opText, false, []byte(`42["fr`)),
			serverFrame(opPing, true, []byte("ws-ping")),
			serverFrame(opContinuation, true, []byte(`ag"]`)),
			serverFrame(opBinary, true, []byte("bin")),
			text("2"),
		))
		rec.expect(t, `["frag"]`)
		br := bufio.NewReader(srv)
		for _, want := range []wsMsg{{opPong, "ws-ping"}, {opText, "3"}} {
			op, p, err := readClientFrame(br)
			if err != nil || op != want.op || string(p) != want.p {
				t.Fatalf("client sent %d %q %v, want %d %q", op, p, err, want.op, want.p)
			}
		}
		if b.pings.Load() != 1 {
			t.Fatalf("pings = %d", b.pings.Load())
		}
		// A large frame (the buffer grows) and then a close frame: it is
		// answered and ends the connection.
		large := `42["` + strings.Repeat("x", 3000) + `"]`
		_, _ = srv.Write(concat(text(large), serverFrame(opClose, true, []byte{0x0F, 0xA1, 'b', 'y', 'e'})))
		rec.expect(t, large[2:])
		if op, p, err := readClientFrame(br); err != nil || op != opClose || !bytes.Equal(p, []byte{0x0F, 0xA1}) {
			t.Fatalf("close reply %d %x %v", op, p, err)
		}
		if e := waitLost(t, b); !strings.Contains(e, "websocket: close 4001 bye") {
			t.Fatalf("lost with %q", e)
		}
	})
}

func TestReaderFailures(t *testing.T) {
	tests := []struct {
		name  string
		write []byte
		close bool
		want  string
	}{
		{"oversized frame", serverFrame(opText, true, make([]byte, 5000))[:4], false, "exceeds the limit of 4096"},
		{"masked frame", []byte{0x81, 0x81, 1, 2, 3, 4, 'x'}, false, "masked"},
		{"eof", nil, true, "EOF"},
		{"eof inside a frame", text("42[1]")[:3], true, "unexpected EOF"},
		{"engine.io close", text("1"), false, errSessionClosed.Error()},
		{"socket.io disconnect", text("41"), false, errSocketDisconnected.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			readerModes(t, func(t *testing.T) {
				b := testBench(t)
				c, srv := rawPair(t, b)
				// Everything, the hang-up included, is in before the
				// reader starts: a poller sees one event for all of it.
				_, _ = srv.Write(tt.write)
				if tt.close {
					_ = srv.Close()
				}
				time.Sleep(20 * time.Millisecond)
				c.start(newRecorder())
				if e := waitLost(t, b); !strings.Contains(e, tt.want) {
					t.Fatalf("lost with %q, want %q", e, tt.want)
				}
			})
		})
	}
}

// TestReaderBufferedAtStart checks that frames read during the handshake
// and left in the buffer reach the handler once the reader starts.
func TestReaderBufferedAtStart(t *testing.T) {
	readerModes(t, func(t *testing.T) {
		b := testBench(t)
		c, srv := rawPair(t, b)
		_, _ = srv.Write(concat(text(`42["early1"]`), text(`42["early2"]`)))
		// The handshake reads the first frame; the second is in the buffer.
		if p, err := c.next(); err != nil || string(p) != `42["early1"]` {
			t.Fatalf("next = %q %v", p, err)
		}
		rec := newRecorder()
		c.start(rec)
		rec.expect(t, `["early2"]`)
		_, _ = srv.Write(text(`42["late"]`))
		rec.expect(t, `["late"]`)
	})
}

// TestManyConnsPerPoller spreads connections over several pollers and
// interleaves their traffic.
func TestManyConnsPerPoller(t *testing.T) {
	b := testBench(t)
	b.cfg.Pollers = 3
	const n = 20
	recs := make([]*recorder, n)
	srvs := make([]net.Conn, n)
	for i := range n {
		var c *client
		c, srvs[i] = rawPair(t, b)
		recs[i] = newRecorder()
		c.start(recs[i])
	}
	if runtime.GOOS == "linux" && len(b.pollers) != 3 {
		t.Fatalf("%d pollers, want 3 (-pollers 3)", len(b.pollers))
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 50 {
				_, _ = srvs[i].Write(text(fmt.Sprintf(`42[%d,%d]`, i, k)))
			}
		}()
	}
	wg.Wait()
	for i := range n {
		for k := range 50 {
			recs[i].expect(t, fmt.Sprintf(`[%d,%d]`, i, k))
		}
	}
	if d := b.disconnects.Load(); d != 0 {
		t.Fatalf("%d disconnects: %s", d, b.firstError())
	}
}

// TestSendConcurrent writes from several goroutines at once, each with
// its own frameBuf: every frame must arrive whole.
func TestSendConcurrent(t *testing.T) {
	b := testBench(t)
	c, srv := rawPair(t, b)
	const writers, frames = 4, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var fb frameBuf
			for k := range frames {
				if err := c.send(&fb, fmt.Appendf(nil, "%d:%d:%s", w, k, strings.Repeat("z", k*7))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	next := make([]int, writers)
	br := bufio.NewReader(srv)
	for range writers * frames {
		op, p, err := readClientFrame(br)
		if err != nil || op != opText {
			t.Fatalf("frame: %d %v", op, err)
		}
		var w, k int
		if _, err := fmt.Sscanf(string(p), "%d:%d:", &w, &k); err != nil || k != next[w] ||
			!strings.HasSuffix(string(p), ":"+strings.Repeat("z", k*7)) {
			t.Fatalf("frame %.40q out of order or torn (want %d from writer %d)", p, next[w], w)
		}
		next[w]++
	}
	wg.Wait()
}

// TestSendWaitsForRoom writes a frame larger than the socket buffers to
// a peer that starts reading late: the write must wait for room and
// deliver the frame whole.
func TestSendWaitsForRoom(t *testing.T) {
	b := testBench(t)
	c, srv := rawPair(t, b)
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	done := make(chan error, 1)
	go func() {
		var fb frameBuf
		done <- c.send(&fb, payload)
	}()
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("send of 4 MiB returned before the peer read anything: %v", err)
	default:
	}
	op, p, err := readClientFrame(bufio.NewReader(srv))
	if err != nil || op != opText || !bytes.Equal(p, payload) {
		t.Fatalf("frame %d of %d bytes, %v", op, len(p), err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSendAndReceiveDoNotAllocate guards the per-message cost of a live
// connection: the write of a request and the read and dispatch of the
// reply.
func TestSendAndReceiveDoNotAllocate(t *testing.T) {
	b := testBench(t)
	c, srv := rawPair(t, b)
	go func() { _, _ = io.Copy(io.Discard, srv) }()
	payload := []byte(`42["echo","0123456789"]`)
	_ = c.send(&c.fbuf, payload) // sizes the buffer
	if n := testing.AllocsPerRun(200, func() {
		if err := c.send(&c.fbuf, payload); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("send allocates %.1f times", n)
	}

	msgs := bytes.Repeat(text(`42["room message",{"room":"r","from":"abc","msg":{"t":1,"seq":2}}]`), 16)
	recv := &receiver{b: b, same: &latency{}, cross: &latency{}}
	src := &chunkReader{}
	c2 := b.newClient(0, nil, nil)
	c2.rd.src = src
	if n := testing.AllocsPerRun(200, func() {
		src.data = msgs
		for range 16 {
			f, err := c2.next()
			if err == nil {
				err = c2.dispatch(recv, f)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}); n != 0 {
		t.Fatalf("read and dispatch allocate %.1f times per 16 messages", n)
	}
	if c2.recv.Load() == 0 || b.badFrames.Load() != 0 {
		t.Fatalf("recv %d bad %d", c2.recv.Load(), b.badFrames.Load())
	}
}

// BenchmarkReadDispatch measures the reader's work per received
// broadcast, shared by pollers and reader goroutines: decoding the frame
// from the buffer, classifying the packet, parsing the room message and
// recording its latency. Each read delivers 64 frames.
func BenchmarkReadDispatch(b *testing.B) {
	bb, err := newBench(config{MaxFrame: 1 << 20}, io.Discard, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	const perRead = 64
	msgs := bytes.Repeat(text(`42["room message",{"room":"siobench","from":"AbCdEfGhIjKlMnOpQrSt","msg":{"t":123456789,"seq":42}}]`), perRead)
	recv := &receiver{b: bb, same: &latency{}, cross: &latency{}}
	src := &chunkReader{}
	c := bb.newClient(0, nil, nil)
	c.rd.src = src
	b.ReportAllocs()
	b.SetBytes(int64(len(msgs) / perRead))
	n := 0
	for b.Loop() {
		if n%perRead == 0 {
			src.data = msgs
		}
		n++
		f, err := c.next()
		if err == nil {
			err = c.dispatch(recv, f)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	if bb.badFrames.Load() != 0 {
		b.Fatal("bad frames")
	}
}

// BenchmarkSend measures building and writing one masked echo request on
// a loopback connection.
func BenchmarkSend(b *testing.B) {
	bb := testBench(b)
	c, srv := rawPair(b, bb)
	go func() { _, _ = io.Copy(io.Discard, srv) }()
	payload := []byte(`42123["echo","0123456789abcdef"]`)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.send(&c.fbuf, payload); err != nil {
			b.Fatal(err)
		}
	}
}

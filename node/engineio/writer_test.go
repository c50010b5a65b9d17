package engineio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wsFrame is one decoded server frame.
type wsFrame struct {
	op      byte
	payload []byte
}

// parseServerFrames decodes a stream of unmasked, final server frames.
func parseServerFrames(t *testing.T, b []byte) []wsFrame {
	t.Helper()
	var out []wsFrame
	for len(b) > 0 {
		if len(b) < 2 || b[0]&0x80 == 0 || b[1]&0x80 != 0 {
			t.Fatalf("bad frame header %x", b[:min(len(b), 10)])
		}
		op, n, h := b[0]&0x0f, int(b[1]&0x7f), 2
		switch n {
		case 126:
			n, h = int(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			n, h = int(binary.BigEndian.Uint64(b[2:])), 10
		}
		if len(b) < h+n {
			t.Fatalf("truncated frame: need %d, have %d", h+n, len(b))
		}
		out = append(out, wsFrame{op, b[h : h+n]})
		b = b[h+n:]
	}
	return out
}

// fakeWSConn returns a websocket session writing to a recording
// discardConn.
func fakeWSConn(t *testing.T) (*Conn, *discardConn) {
	return fakeWSConnCfg(t, Config{MaxQueueBytes: 64 << 20})
}

func fakeWSConnCfg(t *testing.T, cfg Config) (*Conn, *discardConn) {
	t.Helper()
	srv := NewServer(cfg, nil)
	t.Cleanup(func() { srv.wg.Wait() })
	ws, dc := fakeServerWS(t, srv, true)
	return wsSession(srv, ws, "w"), dc
}

// waitWritten waits until everything queued on c was written.
func waitWritten(t *testing.T, c *Conn) {
	t.Helper()
	if !c.Flush(3 * time.Second) {
		t.Fatal("Flush timed out")
	}
}

// TestWriterCoalescesBatch checks that what is queued while the writer is
// busy goes out in one write call, as well-formed frames in order.
func TestWriterCoalescesBatch(t *testing.T) {
	c, dc := fakeWSConn(t)
	c.mu.Lock()
	var want []string
	for i := range 100 {
		m := NewTextMessage([]byte("msg " + strconv.Itoa(i)))
		c.enqueueLocked([]*Message{m}, m.size())
		want = append(want, "4msg "+strconv.Itoa(i))
	}
	bin := NewBinaryMessage([]byte{0, 1, 2})
	c.enqueueLocked([]*Message{bin}, bin.size())
	c.mu.Unlock()
	waitWritten(t, c)
	if w := dc.writes.Load(); w != 1 {
		t.Fatalf("%d write calls for one batch, want 1", w)
	}
	frames := parseServerFrames(t, dc.bytes())
	if len(frames) != 101 {
		t.Fatalf("%d frames, want 101", len(frames))
	}
	for i, s := range want {
		if frames[i].op != websocket.TextMessage || string(frames[i].payload) != s {
			t.Fatalf("frame %d = %d %q, want %q", i, frames[i].op, frames[i].payload, s)
		}
	}
	if f := frames[100]; f.op != websocket.BinaryMessage || !bytes.Equal(f.payload, []byte{0, 1, 2}) {
		t.Fatalf("binary frame = %d %x", f.op, f.payload)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.queueBytes != 0 {
		t.Fatalf("queueBytes %d after the batch", c.queueBytes)
	}
}

// TestWriterLargeBatch checks batches past maxWriteBatch and frames larger
// than it (written without copying) keep their order and bytes.
func TestWriterLargeBatch(t *testing.T) {
	c, dc := fakeWSConn(t)
	sizes := []int{10, maxWriteBatch - 20, 30, 3 * maxWriteBatch, 5, 70000, maxWriteBatch}
	c.mu.Lock()
	for i, n := range sizes {
		m := NewTextMessage(bytes.Repeat([]byte{byte('a' + i)}, n))
		c.enqueueLocked([]*Message{m}, m.size())
	}
	c.mu.Unlock()
	waitWritten(t, c)
	frames := parseServerFrames(t, dc.bytes())
	if len(frames) != len(sizes) {
		t.Fatalf("%d frames, want %d", len(frames), len(sizes))
	}
	for i, n := range sizes {
		want := "4" + string(bytes.Repeat([]byte{byte('a' + i)}, n))
		if string(frames[i].payload) != want {
			t.Fatalf("frame %d: %d bytes, want %d", i, len(frames[i].payload), len(want))
		}
	}
	if w := dc.writes.Load(); w < 3 || w > int64(2*len(sizes)) {
		t.Fatalf("%d write calls", w)
	}
}

// TestSendDirectWritesInline checks that SendDirect on an idle websocket
// writes in the caller (no writer goroutine left running, nothing queued)
// and that the client gets the message.
func TestSendDirectWritesInline(t *testing.T) {
	e := newEnvEcho(t, Config{}, false)
	ws := e.mustDial("EIO=4&transport=websocket")
	readWS(t, ws)
	r := e.nextConn()
	idle := func() bool {
		r.c.mu.Lock()
		defer r.c.mu.Unlock()
		return !r.c.writerRunning
	}
	checkFor(t, time.Second, "writer idle", idle)
	for i := range 20 {
		s := fmt.Sprintf("direct %d", i)
		if err := r.c.SendDirect(NewTextMessage([]byte(s))); err != nil {
			t.Fatal(err)
		}
		r.c.mu.Lock()
		running, queued := r.c.writerRunning, r.c.queueBytes
		r.c.mu.Unlock()
		if running || queued != 0 {
			t.Fatalf("after SendDirect: writer running %v, %d bytes queued", running, queued)
		}
		if _, got := readWS(t, ws); got != "4"+s {
			t.Fatalf("got %q", got)
		}
	}
}

// TestSendDirectPartialWrite fills the socket buffers with one SendDirect
// message the client does not read yet: the unwritten tail is left to a
// writer goroutine, and messages sent afterwards (Send and SendDirect)
// arrive after it, intact and in order.
func TestSendDirectPartialWrite(t *testing.T) {
	e := newEnvEcho(t, Config{MaxQueueBytes: 64 << 20}, false)
	ws := e.mustDial("EIO=4&transport=websocket")
	readWS(t, ws)
	r := e.nextConn()
	checkFor(t, time.Second, "writer idle", func() bool {
		r.c.mu.Lock()
		defer r.c.mu.Unlock()
		return !r.c.writerRunning
	})
	big := make([]byte, 24<<20)
	for i := range big {
		big[i] = byte('a' + i%26)
	}
	m := NewTextMessage(big)
	if err := r.c.SendDirect(m); err != nil {
		t.Fatal(err)
	}
	r.c.mu.Lock()
	queued := r.c.queueBytes
	r.c.mu.Unlock()
	if queued != m.size() {
		t.Fatalf("queueBytes %d after a partial direct write, want %d (the kernel took all 24 MiB?)", queued, m.size())
	}
	if err := r.c.Send(NewTextMessage([]byte("after-send"))); err != nil {
		t.Fatal(err)
	}
	if err := r.c.SendDirect(NewTextMessage([]byte("after-direct"))); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, got, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(big)+1 || got[0] != '4' || !bytes.Equal(got[1:], big) {
		t.Fatalf("big message corrupted: %d bytes", len(got))
	}
	for _, want := range []string{"4after-send", "4after-direct"} {
		if _, s := readWS(t, ws); s != want {
			t.Fatalf("got %q, want %q", s, want)
		}
	}
	checkFor(t, time.Second, "queue drained", func() bool {
		r.c.mu.Lock()
		defer r.c.mu.Unlock()
		return r.c.queueBytes == 0 && r.c.partial == nil
	})
}

// TestFlushWaitsForBatch checks that Flush returns only once what was
// queued before it has been written.
func TestFlushWaitsForBatch(t *testing.T) {
	c, dc := fakeWSConn(t)
	m := NewTextMessage([]byte("x"))
	for range 50 {
		if err := c.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	waitWritten(t, c)
	if got := len(parseServerFrames(t, dc.bytes())); got != 50 {
		t.Fatalf("Flush returned with %d of 50 frames written", got)
	}
}

// TestPacketsOutHook checks that a written batch reports its packets to
// Hooks.PacketsOut in runs of one type, and not to PacketOut.
func TestPacketsOutHook(t *testing.T) {
	var mu sync.Mutex
	var got []string
	single := 0
	c, _ := fakeWSConnCfg(t, Config{Hooks: Hooks{
		PacketsOut: func(typ string, packets, bytes int) {
			mu.Lock()
			got = append(got, fmt.Sprintf("%s:%d:%d", typ, packets, bytes))
			mu.Unlock()
		},
		PacketOut: func(string, int) { single++ },
	}})
	c.mu.Lock()
	for _, m := range []*Message{NewTextMessage([]byte("ab")), NewTextMessage([]byte("c")), NewBinaryMessage([]byte{1, 2, 3}), pingMessage, NewTextMessage([]byte("d"))} {
		c.enqueueLocked([]*Message{m}, m.size())
	}
	c.mu.Unlock()
	waitWritten(t, c)
	mu.Lock()
	defer mu.Unlock()
	want := []string{"message:3:6", "ping:1:0", "message:1:1"}
	if fmt.Sprint(got) != fmt.Sprint(want) || single != 0 {
		t.Fatalf("PacketsOut calls %v (PacketOut %d), want %v", got, single, want)
	}
}

// TestFlusherDeliversInOrder queues messages to several real websocket
// sessions the way a broadcast does (Send) and checks each client gets
// all of them in order, and that the flusher goroutines exit once idle.
func TestFlusherDeliversInOrder(t *testing.T) {
	e := newEnvEcho(t, Config{}, false)
	const conns, msgs = 8, 200
	wss := make([]*websocket.Conn, conns)
	recs := make([]*recorder, conns)
	for i := range wss {
		wss[i] = e.mustDial("EIO=4&transport=websocket")
		readWS(t, wss[i])
		recs[i] = e.nextConn()
		if recs[i].c.ws.rc == nil {
			t.Fatal("a TCP websocket has no raw conn: the flusher path is not tested")
		}
	}
	for j := range msgs {
		m := NewTextMessage([]byte("m" + strconv.Itoa(j)))
		for _, r := range recs {
			if err := r.c.Send(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, ws := range wss {
		for j := range msgs {
			if _, s := readWS(t, ws); s != "4m"+strconv.Itoa(j) {
				t.Fatalf("conn %d: got %q, want 4m%d", i, s, j)
			}
		}
	}
	checkFor(t, time.Second, "flushers exit", func() bool {
		f := e.srv.flusher
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.running == 0
	})
}

// TestFlusherSlowClientDoesNotBlockOthers fills one client's socket (it
// does not read) through the flusher path and checks that another client
// still gets its messages at once, and that the slow one gets everything
// intact once it reads.
func TestFlusherSlowClientDoesNotBlockOthers(t *testing.T) {
	e := newEnvEcho(t, Config{MaxQueueBytes: 64 << 20}, false)
	// One flusher: were it to block on the slow client, the fast one
	// would starve.
	e.srv.flusher.mu.Lock()
	e.srv.flusher.max = 1
	e.srv.flusher.mu.Unlock()
	slowWS := e.mustDial("EIO=4&transport=websocket")
	readWS(t, slowWS)
	slow := e.nextConn()
	fastWS := e.mustDial("EIO=4&transport=websocket")
	readWS(t, fastWS)
	fast := e.nextConn()

	chunk := bytes.Repeat([]byte("s"), 256<<10)
	const chunks = 64 // 16 MiB: more than loopback socket buffers hold
	for range chunks {
		if err := slow.c.Send(NewTextMessage(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	checkFor(t, 3*time.Second, "slow client's socket full", func() bool {
		slow.c.mu.Lock()
		defer slow.c.mu.Unlock()
		return slow.c.partial != nil || (slow.c.writerRunning && slow.c.queueBytes > 0 && slow.c.inflight)
	})
	for i := range 20 {
		if err := fast.c.Send(NewTextMessage([]byte("f" + strconv.Itoa(i)))); err != nil {
			t.Fatal(err)
		}
		if _, s := readWS(t, fastWS); s != "4f"+strconv.Itoa(i) {
			t.Fatalf("fast client got %q", s)
		}
	}
	_ = slowWS.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := range chunks {
		_, got, err := slowWS.ReadMessage()
		if err != nil {
			t.Fatalf("slow client, message %d: %v", i, err)
		}
		if len(got) != len(chunk)+1 || !bytes.Equal(got[1:], chunk) {
			t.Fatalf("slow client, message %d corrupted (%d bytes)", i, len(got))
		}
	}
}

// TestRequestInfoRebuilt checks that the compact request a session keeps
// gives back every header value (repeated ones in order) and the query.
func TestRequestInfoRebuilt(t *testing.T) {
	r := httptest.NewRequest("GET", "/engine.io/?EIO=4&transport=polling&a=1&a=2&b=x%20y", nil)
	r.Header.Add("X-Multi", "one")
	r.Header.Add("X-Multi", "two")
	r.Header.Set("Origin", "https://o.example")
	r.RemoteAddr = "10.0.0.1:1234"
	c := newConn(NewServer(Config{}, nil), "r", newReqInfo(r))
	got := c.Request()
	if fmt.Sprint(got.Header["X-Multi"]) != "[one two]" || got.Header.Get("Origin") != "https://o.example" || len(got.Header) != len(r.Header) {
		t.Fatalf("header = %v", got.Header)
	}
	if fmt.Sprint(got.Query["a"]) != "[1 2]" || got.Query.Get("b") != "x y" || got.Query.Get("EIO") != "4" {
		t.Fatalf("query = %v", got.Query)
	}
	if got.URL != "/engine.io/?EIO=4&transport=polling&a=1&a=2&b=x%20y" || got.RemoteAddr != "10.0.0.1:1234" || got.Secure || got.Time.IsZero() {
		t.Fatalf("request = %+v", got)
	}
	got.Header.Set("Origin", "changed")
	if c.Request().Header.Get("Origin") != "https://o.example" {
		t.Fatal("a caller's change leaked into the session")
	}
	if newConn(c.srv, "n", nil).Request() != nil {
		t.Fatal("Request without a request info is not nil")
	}
}

func TestWriteErrReason(t *testing.T) {
	if got := writeErrReason(os.ErrDeadlineExceeded); got != reasonSlowConsumer {
		t.Fatalf("deadline exceeded: %q", got)
	}
	if got := writeErrReason(io.ErrClosedPipe); got != reasonTransportError {
		t.Fatalf("closed pipe: %q", got)
	}
}

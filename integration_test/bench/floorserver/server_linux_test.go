package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestMain gives the servers processors: each one keeps its processor
// while it waits for events (see epollWait), and the tests run up to
// three at once beside their own goroutines.
func TestMain(m *testing.M) {
	runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), 8))
	os.Exit(m.Run())
}

func startServer(t *testing.T) string {
	t.Helper()
	return startNode(t, config{nodeID: "test"})
}

func startNode(t *testing.T, cfg config) string {
	t.Helper()
	var done <-chan error
	t.Cleanup(func() { // registered first, so it runs after the close
		if done == nil {
			return
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("serve did not return after close")
		}
	})
	addr, d := startNodeDone(t, cfg)
	done = d
	return addr
}

// startNodeDone starts a server and closes it at cleanup; done receives
// what serve returned.
func startNodeDone(t *testing.T, cfg config) (string, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	s, err := newServer(ln.(*net.TCPListener), cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.serve() }()
	t.Cleanup(s.close)
	return addr, done
}

func dial(t *testing.T, addr string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	return ws
}

func read(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	typ, p, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if typ != websocket.TextMessage {
		t.Fatalf("message type %d, want text", typ)
	}
	return string(p)
}

func write(t *testing.T, ws *websocket.Conn, s string) {
	t.Helper()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		t.Fatal(err)
	}
}

// TestEchoSession runs the echo scenario's whole exchange: open packet,
// CONNECT, and echo acks of small and 16-bit-length payloads, several
// requests in one read included.
func TestEchoSession(t *testing.T) {
	addr := startServer(t)
	ws := dial(t, addr)
	if open := read(t, ws); !strings.HasPrefix(open, `0{"sid":"`) || !strings.Contains(open, `"pingInterval":25000`) {
		t.Fatalf("open packet %q", open)
	}
	write(t, ws, "40")
	if c := read(t, ws); !strings.HasPrefix(c, `40{"sid":"floor`) {
		t.Fatalf("connect answer %q", c)
	}
	write(t, ws, `427["echo","hi"]`)
	if a := read(t, ws); a != `437["hi"]` {
		t.Fatalf("ack %q", a)
	}
	big := `"` + strings.Repeat("y", 300) + `"`
	write(t, ws, `421234["echo",`+big+`]`)
	if a := read(t, ws); a != `431234[`+big+`]` {
		t.Fatalf("ack of 300 bytes: %q", a)
	}
	// Not echo, or no ack id: ignored.
	write(t, ws, `42["echo","x"]`)
	write(t, ws, `429["other","x"]`)
	for i := range 3 {
		write(t, ws, `42`+string(rune('1'+i))+`["echo",{"a":[1,2]}]`)
	}
	for i := range 3 {
		if a, want := read(t, ws), `43`+string(rune('1'+i))+`[{"a":[1,2]}]`; a != want {
			t.Fatalf("ack %d: %q, want %q", i, a, want)
		}
	}
}

// TestBadInputClosesOnlyThatConnection: an unmasked frame and a garbage
// request end their own connection; another one keeps working.
func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	addr := startServer(t)
	good := dial(t, addr)
	read(t, good)

	bad := dial(t, addr)
	read(t, bad)
	nc := bad.UnderlyingConn()
	if _, err := nc.Write([]byte{0x81, 0x02, '4', '0'}); err != nil { // unmasked
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := nc.Read(make([]byte, 16)); err == nil {
		t.Fatalf("read %d bytes after an unmasked frame, want the connection closed", n)
	}

	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_, _ = raw.Write([]byte("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"))
	_ = raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, _ := io.ReadAll(raw)
	if !bytes.HasPrefix(resp, []byte("HTTP/1.1 404")) {
		t.Fatalf("unknown path answered %q", resp)
	}

	write(t, good, "40")
	read(t, good)
	write(t, good, `421["echo",1]`)
	if a := read(t, good); a != `431[1]` {
		t.Fatalf("ack %q", a)
	}
}

func TestReadyz(t *testing.T) {
	addr := startServer(t)
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// maskedFrame is a client text frame of p with an all-zero mask.
func maskedFrame(p string) []byte {
	f := []byte{0x81}
	if len(p) < 126 {
		f = append(f, 0x80|byte(len(p)))
	} else {
		f = append(f, 0x80|126, byte(len(p)>>8), byte(len(p)))
	}
	return append(append(f, 0, 0, 0, 0), p...)
}

// upgraded returns a raw connection past the upgrade and the open packet.
func upgraded(t *testing.T, addr string) net.Conn {
	t.Helper()
	ws := dial(t, addr)
	read(t, ws)
	nc := ws.UnderlyingConn()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	return nc
}

// TestRequestsInOneWrite: every frame of one read is answered, in order,
// including a frame split across two writes.
func TestRequestsInOneWrite(t *testing.T) {
	addr := startServer(t)
	nc := upgraded(t, addr)
	var batch []byte
	for i := range 5 {
		batch = append(batch, maskedFrame(`42`+string(rune('1'+i))+`["echo",`+string(rune('a'+i))+`]`)...)
	}
	last := maskedFrame(`429["echo",0]`)
	if _, err := nc.Write(append(batch, last[:4]...)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := nc.Write(last[4:]); err != nil {
		t.Fatal(err)
	}
	var want []byte
	for i := range 5 {
		p := `43` + string(rune('1'+i)) + `[` + string(rune('a'+i)) + `]`
		want = append(want, 0x81, byte(len(p)))
		want = append(want, p...)
	}
	want = append(want, 0x81, 6)
	want = append(want, `439[0]`...)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(nc, got); err != nil {
		t.Fatalf("read %q: %v", got, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("answers\n%q\nwant\n%q", got, want)
	}
}

// TestBounds: a 64-bit frame length, and a request head that never ends,
// each close the connection.
func TestBounds(t *testing.T) {
	addr := startServer(t)
	nc := upgraded(t, addr)
	_, _ = nc.Write([]byte{0x81, 0x80 | 127, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	if n, err := io.ReadAll(nc); err != nil && !isReset(err) || len(n) != 0 {
		t.Errorf("64-bit length: read %q, %v; want the connection closed", n, err)
	}

	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
	head := append([]byte("GET /socket.io/ HTTP/1.1\r\nX: "), bytes.Repeat([]byte("a"), 2*maxInput)...)
	_, _ = raw.Write(head) // may fail once the server closed
	if n, err := io.ReadAll(raw); err != nil && !isReset(err) || len(n) != 0 {
		t.Errorf("endless request head: read %q, %v; want the connection closed", n, err)
	}
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

// TestSlowReaderIsClosed: a client that sends but never reads is closed
// once its unwritten answers pass maxOutput; the others keep working.
func TestSlowReaderIsClosed(t *testing.T) {
	addr := startServer(t)
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	req := "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := raw.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	echo := maskedFrame(`421["echo","` + strings.Repeat("z", 16<<10) + `"]`)
	deadline := time.Now().Add(10 * time.Second)
	_ = raw.SetWriteDeadline(deadline)
	closed := false
	for i := 0; i < 4000 && time.Now().Before(deadline); i++ { // at most 64 MiB
		if _, err := raw.Write(echo); err != nil {
			closed = true
			break
		}
	}
	if !closed {
		t.Fatal("a client that never reads was not closed")
	}

	good := dial(t, addr)
	read(t, good)
	write(t, good, `422["echo",3]`)
	if a := read(t, good); a != `432[3]` {
		t.Fatalf("another client's ack %q", a)
	}
}

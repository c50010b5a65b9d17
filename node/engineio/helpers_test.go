package engineio

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// recMsg is one message a recorder received.
type recMsg struct {
	data   string
	binary bool
}

// recorder is a Handler that records what it gets, optionally echoes, and
// checks that its methods are never called concurrently.
type recorder struct {
	c      *Conn
	echo   bool
	msgs   chan recMsg
	closed chan string

	inCall     atomic.Int32
	concurrent atomic.Bool
	closeCount atomic.Int32
	afterClose atomic.Bool

	// block, when set, makes OnMessage("block") wait for it to close;
	// entered is signalled first.
	block   chan struct{}
	entered chan struct{}
}

func newRecorder(c *Conn, echo bool) *recorder {
	return &recorder{
		c: c, echo: echo,
		msgs:    make(chan recMsg, 1024),
		closed:  make(chan string, 4),
		entered: make(chan struct{}, 4),
	}
}

func (r *recorder) enter() {
	if r.inCall.Add(1) != 1 {
		r.concurrent.Store(true)
	}
}

func (r *recorder) OnMessage(data []byte, binary bool) {
	r.enter()
	defer r.inCall.Add(-1)
	if r.closeCount.Load() > 0 {
		r.afterClose.Store(true)
	}
	s := string(data)
	if s == "block" && r.block != nil {
		r.entered <- struct{}{}
		<-r.block
	}
	r.msgs <- recMsg{s, binary}
	if r.echo {
		if binary {
			_ = r.c.Send(NewBinaryMessage([]byte(s)))
		} else {
			_ = r.c.Send(NewTextMessage(data))
		}
	}
}

func (r *recorder) OnClose(reason string) {
	r.enter()
	defer r.inCall.Add(-1)
	r.closeCount.Add(1)
	r.closed <- reason
}

// waitClose returns the close reason, failing after a timeout.
func (r *recorder) waitClose(t *testing.T) string {
	t.Helper()
	select {
	case reason := <-r.closed:
		return reason
	case <-time.After(3 * time.Second):
		t.Fatal("timeout waiting for OnClose")
		return ""
	}
}

func (r *recorder) waitMsg(t *testing.T) recMsg {
	t.Helper()
	select {
	case m := <-r.msgs:
		return m
	case <-time.After(3 * time.Second):
		t.Fatal("timeout waiting for OnMessage")
		return recMsg{}
	}
}

// testEnv is an httptest server with an engineio.Server at /engine.io/.
type testEnv struct {
	t       *testing.T
	srv     *Server
	ts      *httptest.Server
	base    string
	client  *http.Client
	conns   chan *recorder
	echo    bool
	mu      sync.Mutex
	wsConns []*websocket.Conn
	once    sync.Once
}

func newEnv(t *testing.T, cfg Config) *testEnv {
	return newEnvEcho(t, cfg, true)
}

func newEnvEcho(t *testing.T, cfg Config, echo bool) *testEnv {
	return newEnvSetup(t, cfg, echo, nil)
}

// newEnvSetup is newEnvEcho with setup run on the Server before it serves.
func newEnvSetup(t *testing.T, cfg Config, echo bool, setup func(*Server)) *testEnv {
	t.Helper()
	e := &testEnv{t: t, conns: make(chan *recorder, 256), echo: echo}
	e.srv = NewServer(cfg, func(c *Conn) {
		r := newRecorder(c, e.echo)
		c.SetHandler(r)
		e.conns <- r
	})
	e.srv.closePollWait = 50 * time.Millisecond
	if setup != nil {
		setup(e.srv)
	}
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", e.srv)
	e.ts = httptest.NewServer(mux)
	e.base = e.ts.URL + "/engine.io/"
	e.client = &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	t.Cleanup(e.close)
	return e
}

// close shuts everything down (idempotent).
func (e *testEnv) close() {
	e.once.Do(func() {
		e.mu.Lock()
		for _, ws := range e.wsConns {
			_ = ws.Close()
		}
		e.mu.Unlock()
		e.srv.Close("server shutting down")
		e.client.CloseIdleConnections()
		e.ts.Close()
	})
}

// nextConn returns the recorder of the next session opened.
func (e *testEnv) nextConn() *recorder {
	e.t.Helper()
	select {
	case r := <-e.conns:
		return r
	case <-time.After(3 * time.Second):
		e.t.Fatal("timeout waiting for a session")
		return nil
	}
}

func (e *testEnv) do(method, query, body string, hdr http.Header) (int, string, http.Header) {
	e.t.Helper()
	return e.doCtx(context.Background(), method, query, body, hdr)
}

func (e *testEnv) doCtx(ctx context.Context, method, query, body string, hdr http.Header) (int, string, http.Header) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.base+"?"+query, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := e.client.Do(req)
	if err != nil {
		return 0, err.Error(), nil
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

// handshake opens a polling session and returns its sid and recorder.
func (e *testEnv) handshake() (string, *recorder) {
	e.t.Helper()
	st, body, _ := e.do("GET", "EIO=4&transport=polling", "", nil)
	if st != 200 || !strings.HasPrefix(body, `0{"sid":"`) {
		e.t.Fatalf("handshake: %d %q", st, body)
	}
	sid := body[len(`0{"sid":"`) : len(`0{"sid":"`)+20]
	for {
		// Skip sessions opened by other requests of the test.
		if r := e.nextConn(); r.c.ID() == sid {
			return sid, r
		}
	}
}

func (e *testEnv) get(sid string) (int, string) {
	e.t.Helper()
	st, body, _ := e.do("GET", "EIO=4&transport=polling&sid="+sid, "", nil)
	return st, body
}

func (e *testEnv) post(sid, payload string) (int, string) {
	e.t.Helper()
	st, body, _ := e.do("POST", "EIO=4&transport=polling&sid="+sid, payload, nil)
	return st, body
}

// asyncGET starts a GET and returns a channel with its result.
func (e *testEnv) asyncGET(ctx context.Context, sid string) chan [2]string {
	ch := make(chan [2]string, 1)
	go func() {
		var rd io.Reader
		req, _ := http.NewRequestWithContext(ctx, "GET", e.base+"?EIO=4&transport=polling&sid="+sid, rd)
		res, err := e.client.Do(req)
		if err != nil {
			ch <- [2]string{"err", err.Error()}
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		ch <- [2]string{res.Status[:3], string(b)}
	}()
	return ch
}

// dial opens a websocket to the server.
func (e *testEnv) dial(query string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	u := "ws" + strings.TrimPrefix(e.base, "http") + "?" + query
	ws, res, err := websocket.DefaultDialer.Dial(u, hdr)
	if ws != nil {
		e.mu.Lock()
		e.wsConns = append(e.wsConns, ws)
		e.mu.Unlock()
	}
	return ws, res, err
}

// mustDial dials and fails the test on error.
func (e *testEnv) mustDial(query string) *websocket.Conn {
	e.t.Helper()
	ws, _, err := e.dial(query, nil)
	if err != nil {
		e.t.Fatalf("dial %s: %v", query, err)
	}
	return ws
}

// sessionConn returns the server-side Conn of sid.
func (e *testEnv) sessionConn(sid string) *Conn {
	e.t.Helper()
	c := e.srv.get(sid)
	if c == nil {
		e.t.Fatalf("no session %s", sid)
	}
	return c
}

// readWS reads one message with a timeout.
func readWS(t *testing.T, ws *websocket.Conn) (int, string) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(3 * time.Second))
	mt, b, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("ws read: %v", err)
	}
	return mt, string(b)
}

// readWSErr reads until an error (the connection closing), skipping pings
// when skipPings; it returns the error.
func readWSErr(t *testing.T, ws *websocket.Conn) error {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			return err
		}
	}
}

func writeWS(t *testing.T, ws *websocket.Conn, mt int, s string) {
	t.Helper()
	if err := ws.WriteMessage(mt, []byte(s)); err != nil {
		t.Fatalf("ws write: %v", err)
	}
}

// checkFor polls cond until it holds or the timeout passes.
func checkFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timeout waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// hasPendingGET reports whether c has a GET waiting.
func hasPendingGET(c *Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.getWaiter != nil
}

// discardConn is a net.Conn that counts and optionally records writes and
// never delivers data.
type discardConn struct {
	n      atomic.Int64
	writes atomic.Int64 // Write calls
	record bool
	mu     sync.Mutex
	buf    []byte
}

func (d *discardConn) Read(p []byte) (int, error) { return 0, io.EOF }
func (d *discardConn) Write(p []byte) (int, error) {
	d.n.Add(int64(len(p)))
	d.writes.Add(1)
	if d.record {
		d.mu.Lock()
		d.buf = append(d.buf, p...)
		d.mu.Unlock()
	}
	return len(p), nil
}
func (d *discardConn) Close() error                     { return nil }
func (d *discardConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (d *discardConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (d *discardConn) SetDeadline(time.Time) error      { return nil }
func (d *discardConn) SetReadDeadline(time.Time) error  { return nil }
func (d *discardConn) SetWriteDeadline(time.Time) error { return nil }

func (d *discardConn) bytes() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]byte(nil), d.buf...)
}

// hijacker is a ResponseWriter whose Hijack returns a given conn.
type hijacker struct {
	http.ResponseWriter
	conn net.Conn
}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.conn, bufio.NewReadWriter(bufio.NewReader(h.conn), bufio.NewWriter(h.conn)), nil
}

// wsSession returns a session of srv whose transport is the websocket ws,
// as an upgrade leaves it, without a handshake.
func wsSession(srv *Server, ws *wsConn, id string) *Conn {
	c := newConn(srv, id, nil)
	ws.c = c
	c.ws, c.websocket = ws, true
	return c
}

// fakeServerWS returns a server-side websocket of srv over a discardConn.
func fakeServerWS(tb testing.TB, srv *Server, record bool) (*wsConn, *discardConn) {
	tb.Helper()
	dc := &discardConn{record: record}
	return newWSConn(srv, dc), dc
}

// gorillaServerWS returns a gorilla server-side websocket over a
// discardConn: gorilla's writer is the oracle our frame encoding is
// checked against.
func gorillaServerWS(tb testing.TB) (*websocket.Conn, *discardConn) {
	tb.Helper()
	var key [16]byte
	_, _ = rand.Read(key[:])
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", base64.StdEncoding.EncodeToString(key[:]))
	dc := &discardConn{}
	u := websocket.Upgrader{WriteBufferPool: &sync.Pool{}, WriteBufferSize: 1024}
	ws, err := u.Upgrade(&hijacker{httptest.NewRecorder(), dc}, req, nil)
	if err != nil {
		tb.Fatal(err)
	}
	dc.record = true
	return ws, dc
}

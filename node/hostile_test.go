package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sio-go/sio/node/engineio"
	"github.com/sio-go/sio/node/siotest"
)

// This file drives hostile clients through the whole node (Engine.IO +
// Socket.IO): each gets Node's error or a closed connection, and a
// well-behaved client keeps being served.

// hostileEnv is a node with an "echo" handler, a private metrics registry
// and a record of disconnect reasons.
type hostileEnv struct {
	t    *testing.T
	srv  *Server
	reg  *prometheus.Registry
	base string // http://127.0.0.1:port
	hs   *httptest.Server
	hc   *http.Client // no keep-alive: no idle connection outlives a request

	mu      sync.Mutex
	reasons []string
}

func newHostileEnv(t *testing.T, cfg Config) *hostileEnv {
	t.Helper()
	e := &hostileEnv{t: t, reg: prometheus.NewRegistry()}
	cfg.Registerer = e.reg
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnConnection(func(so *Socket) {
		so.On("echo", func(a Args, ack AckFunc) {
			if ack != nil {
				_ = ack(a...)
			}
		})
		so.OnDisconnect(func(reason string) {
			e.mu.Lock()
			e.reasons = append(e.reasons, reason)
			e.mu.Unlock()
		})
	})
	e.srv = srv
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	e.hs = httptest.NewServer(mux)
	e.base = e.hs.URL
	e.hc = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	t.Cleanup(func() {
		_ = srv.Close()
		e.hs.CloseClientConnections()
		e.hs.Close()
	})
	return e
}

// reasonCount returns how many sockets disconnected with reason.
func (e *hostileEnv) reasonCount(reason string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, r := range e.reasons {
		if r == reason {
			n++
		}
	}
	return n
}

// metric returns the sum of the samples of the metric family name in e's
// registry (0 when absent).
func (e *hostileEnv) metric(name string) float64 { return gatherSum(e.t, e.reg, name) }

func gatherSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if c := m.GetCounter(); c != nil {
				sum += c.GetValue()
			} else if g := m.GetGauge(); g != nil {
				sum += g.GetValue()
			}
		}
	}
	return sum
}

// good returns a connected, well-behaved siotest client.
func (e *hostileEnv) good() *siotest.Client {
	e.t.Helper()
	c, _ := dial(e.t, e.base, "/", nil)
	return c
}

// assertServes fails unless c still gets its echo.
func (e *hostileEnv) assertServes(c *siotest.Client) {
	e.t.Helper()
	res, err := c.EmitWithAck(ctxT(e.t), "/", "echo", "alive")
	if err != nil || len(res) != 1 || rawJSON(res[0]) != `"alive"` {
		e.t.Fatalf("well-behaved client not served: %v %v", res, err)
	}
}

func rawJSON(v any) string {
	if r, ok := v.(json.RawMessage); ok {
		return string(r)
	}
	return ""
}

// wsURL returns the websocket URL of the node with query q.
func (e *hostileEnv) wsURL(q string) string {
	return strings.Replace(e.base, "http", "ws", 1) + "/socket.io/?" + q
}

// dialWS opens a raw websocket with query q (and header h).
func (e *hostileEnv) dialWS(q string, h http.Header) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, e.wsURL(q), h)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if ws != nil {
		e.t.Cleanup(func() { _ = ws.Close() })
	}
	return ws, resp, err
}

// do sends one HTTP request to /socket.io/?q and returns status and body;
// a network error fails the test (test goroutine only).
func (e *hostileEnv) do(method, q, body string, h http.Header) (int, string) {
	e.t.Helper()
	st, b, err := e.tryDo(method, q, body, h)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, q, err)
	}
	return st, b
}

// tryDo is do for any goroutine: it returns the network error.
func (e *hostileEnv) tryDo(method, q, body string, h http.Header) (int, string, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.base+"/socket.io/?"+q, rd)
	if err != nil {
		return 0, "", err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if body != "" {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	res, err := e.hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}

// pollOpen runs a polling handshake and returns the session id.
func (e *hostileEnv) pollOpen() string {
	e.t.Helper()
	st, body := e.do("GET", "EIO=4&transport=polling", "", nil)
	if st != 200 || !strings.HasPrefix(body, "0{") {
		e.t.Fatalf("polling handshake = %d %q", st, body)
	}
	var open struct{ SID string }
	if err := json.Unmarshal([]byte(body[1:]), &open); err != nil || open.SID == "" {
		e.t.Fatalf("open packet %q: %v", body, err)
	}
	return open.SID
}

// pollConnect opens a polling session joined to "/" and returns its sid.
func (e *hostileEnv) pollConnect() string {
	e.t.Helper()
	sid := e.pollOpen()
	if st, body := e.do("POST", "EIO=4&transport=polling&sid="+sid, "40", nil); st != 200 || body != "ok" {
		e.t.Fatalf("CONNECT post = %d %q", st, body)
	}
	if st, body := e.do("GET", "EIO=4&transport=polling&sid="+sid, "", nil); st != 200 || !strings.HasPrefix(body, `40{"sid":"`) {
		e.t.Fatalf("CONNECT reply = %d %q", st, body)
	}
	return sid
}

// waitWSClosed fails unless ws is closed by the server within 3s (frames
// sent before the close are skipped).
func waitWSClosed(t *testing.T, ws *websocket.Conn, what string) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("%s: connection still open", what)
			}
			return
		}
	}
}

// wsConnected opens a raw websocket session joined to "/".
func (e *hostileEnv) wsConnected() *websocket.Conn {
	e.t.Helper()
	ws, _, err := e.dialWS("EIO=4&transport=websocket", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, m, err := ws.ReadMessage(); err != nil || m[0] != '0' {
		e.t.Fatalf("open: %q %v", m, err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
		e.t.Fatal(err)
	}
	if _, m, err := ws.ReadMessage(); err != nil || !strings.HasPrefix(string(m), `40{"sid":"`) {
		e.t.Fatalf("CONNECT reply: %q %v", m, err)
	}
	_ = ws.SetReadDeadline(time.Time{})
	return ws
}

// wsEcho sends an echo with ack id 7 on ws and waits for its ack.
func wsEcho(t *testing.T, ws *websocket.Conn) {
	t.Helper()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`427["echo","x"]`)); err != nil {
		t.Fatalf("echo write: %v", err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(3 * time.Second))
	defer ws.SetReadDeadline(time.Time{})
	for {
		_, m, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("echo read: %v", err)
		}
		if string(m) == `437["x"]` {
			return
		}
	}
}

// Outcomes of a hostile frame.
const (
	outClose  = "close"  // the connection is closed
	outIgnore = "ignore" // dropped silently; the connection keeps working
)

// hostileFrames are Engine.IO text frames (or a "bin:" binary frame) sent
// on a websocket session joined to "/", with Node's outcome.
var hostileFrames = []struct {
	name, frame, want string
}{
	{"empty frame", "", outClose},
	{"unknown engine.io type", "9", outClose},
	{"engine.io ping from client", "2", outClose},
	{"empty socket.io packet", "4", outClose},
	{"unknown socket.io type", "4x", outClose},
	{"type out of range", "47[]", outClose},
	{"truncated event", `42["echo"`, outClose},
	{"truncated array", `42[`, outClose},
	{"event without payload", "42", outClose},
	{"event payload object", `42{"a":1}`, outClose},
	{"event payload string", `42"echo"`, outClose},
	{"event empty array", "42[]", outClose},
	{"event name null", "42[null]", outClose},
	{"event name object", `42[{"a":1}]`, outClose},
	{"reserved event name", `42["disconnect"]`, outClose},
	{"garbage after payload", `42["echo"]x`, outClose},
	{"invalid UTF-8", "42[\"\xff\xfe\"]", outClose},
	{"namespace without comma", "42/nope", outClose},
	{"event for a namespace not joined", `42/other,["echo"]`, outClose},
	{"disconnect for a namespace not joined", "41/nope,", outClose},
	{"disconnect with payload", `41{"a":1}`, outClose},
	{"duplicate CONNECT", "40", outClose},
	{"CONNECT payload string", `40/x,"str"`, outClose},
	{"CONNECT payload not JSON", "40/x,{", outClose},
	{"CONNECT_ERROR from client", `44{"message":"x"}`, outClose},
	{"ack without payload, id never sent", "431", outIgnore},
	{"ack payload object", `431{}`, outClose},
	{"ack id never sent", "431[]", outIgnore},
	{"ack id 2^53-1 never sent", "439007199254740991[]", outIgnore},
	{"ack id over 2^53-1", "439007199254740992[]", outClose},
	{"huge ack id", "43" + strings.Repeat("9", 400) + "[]", outClose},
	{"too many attachments", `4511-["echo",{"_placeholder":true,"num":0}]`, outClose},
	{"huge attachment count", `4599999999999999999999-["echo"]`, outClose},
	{"zero attachments", `450-["echo"]`, outClose},
	{"attachment count without dash", `451["echo"]`, outClose},
	{"binary frame without a packet", "bin:abc", outClose},
	{"text frame while attachments awaited", `451-["echo",{"_placeholder":true,"num":0}]` + "\x00" + `42["echo"]`, outClose},
}

func TestHostileFramesWebSocket(t *testing.T) {
	e := newHostileEnv(t, Config{})
	good := e.good()
	for _, tc := range hostileFrames {
		ws := e.wsConnected()
		for _, f := range strings.Split(tc.frame, "\x00") {
			mt, data := websocket.TextMessage, []byte(f)
			if b, ok := strings.CutPrefix(f, "bin:"); ok {
				mt, data = websocket.BinaryMessage, []byte(b)
			}
			if err := ws.WriteMessage(mt, data); err != nil {
				t.Fatalf("%s: write: %v", tc.name, err)
			}
		}
		switch tc.want {
		case outClose:
			waitWSClosed(t, ws, tc.name)
		case outIgnore:
			wsEcho(t, ws) // the same connection still works
			_ = ws.Close()
		}
		e.assertServes(good)
	}
	if n := e.metric("sio_invalid_packets_total"); n < 15 {
		t.Errorf("sio_invalid_packets_total = %v, want one per malformed Socket.IO packet", n)
	}
	waitFor(t, "hostile sessions closed", func() bool { return e.srv.Engine().Count() == 1 })
}

// TestAcksOutOfOrderAndReplayed answers a server ack request with bad ids,
// twice, and without payload: unknown ids are ignored (as Node), the first
// answer wins, and an empty ACK gives the handler no arguments.
func TestAcksOutOfOrderAndReplayed(t *testing.T) {
	e := newHostileEnv(t, Config{})
	socks := make(chan *Socket, 1)
	e.srv.OnConnection(func(so *Socket) { socks <- so })
	ws := e.wsConnected()
	so := <-socks
	type result struct {
		args Args
		err  error
	}
	ask := func() (uint64, chan result) {
		ch := make(chan result, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			a, err := so.EmitWithAck(ctx, "question")
			ch <- result{a, err}
		}()
		_ = ws.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, m, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var id uint64
		rest, ok := strings.CutPrefix(string(m), "42")
		if !ok || !strings.HasSuffix(rest, `["question"]`) {
			t.Fatalf("ack request frame %q", m)
		}
		for _, c := range strings.TrimSuffix(rest, `["question"]`) {
			id = id*10 + uint64(c-'0')
		}
		return id, ch
	}
	send := func(f string) {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(f)); err != nil {
			t.Fatal(err)
		}
	}
	id, ch := ask()
	send(fmt.Sprintf(`43%d["wrong"]`, id+1000))
	send(`439007199254740991["max"]`)
	send(fmt.Sprintf(`43%d["first"]`, id))
	send(fmt.Sprintf(`43%d["replay"]`, id))
	if r := <-ch; r.err != nil || len(r.args) != 1 || rawJSON(r.args[0]) != `"first"` {
		t.Fatalf("ack = %v %v, want [\"first\"]", r.args, r.err)
	}
	id, ch = ask()
	send(fmt.Sprintf("43%d", id))
	if r := <-ch; r.err != nil || len(r.args) != 0 {
		t.Fatalf("empty ack = %v %v, want no arguments", r.args, r.err)
	}
	wsEcho(t, ws) // still connected
}

func TestHostilePayloadsPolling(t *testing.T) {
	e := newHostileEnv(t, Config{})
	good := e.good()
	for _, tc := range []struct{ name, body, want string }{
		{"unknown socket.io type", "4x", outClose},
		{"truncated event", `42["echo"`, outClose},
		{"event payload object", `42{}`, outClose},
		{"too many attachments", `4511-["echo",{"_placeholder":true,"num":0}]`, outClose},
		{"engine.io garbage", "zz", outClose},
		{"record separators only", "\x1e\x1e\x1e", outClose},
		{"ack id never sent", "431[]", outIgnore},
	} {
		sid := e.pollConnect()
		q := "EIO=4&transport=polling&sid=" + sid
		st, _ := e.do("POST", q, tc.body, nil)
		if st >= 500 {
			t.Fatalf("%s: POST = %d", tc.name, st)
		}
		switch tc.want {
		case outClose:
			// The session ends: the next GET gets the close packet, or
			// the session is already gone (code 1).
			st, body := e.do("GET", q, "", nil)
			if !(st == 200 && body == "1") && !(st == 400 && strings.Contains(body, `"code":1`)) {
				t.Fatalf("%s: GET after = %d %q, want the close packet or an unknown session", tc.name, st, body)
			}
		case outIgnore:
			if st != 200 {
				t.Fatalf("%s: POST = %d", tc.name, st)
			}
			if st, _ := e.do("POST", q, `427["echo","p"]`, nil); st != 200 {
				t.Fatalf("%s: echo POST = %d", tc.name, st)
			}
			if st, body := e.do("GET", q, "", nil); st != 200 || body != `437["p"]` {
				t.Fatalf("%s: echo GET = %d %q", tc.name, st, body)
			}
		}
		e.assertServes(good)
	}
}

func TestInvalidNamespacesGetConnectError(t *testing.T) {
	e := newHostileEnv(t, Config{})
	e.srv.Of("/admin")
	c, err := siotest.Dial(ctxT(t), e.base, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, nsp := range []string{"/nope", "/admin/x", "/ad min", "/" + strings.Repeat("n", 5000), "/ünï", "/admin?x=1"} {
		_, err := c.Connect(ctxT(t), nsp, nil)
		var ce *siotest.ConnectError
		if !errors.As(err, &ce) || ce.Message != "Invalid namespace" {
			t.Fatalf("CONNECT %.40q: %v, want connect_error Invalid namespace", nsp, err)
		}
	}
	// Node keeps the connection: a valid namespace still works on it.
	if _, err := c.Connect(ctxT(t), "/admin", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Connect(ctxT(t), "/", nil); err != nil {
		t.Fatal(err)
	}
	e.assertServes(c)
	if got := len(e.srv.Namespaces()); got != 2 {
		t.Fatalf("hostile CONNECTs created namespaces: %v", e.srv.Namespaces())
	}
}

func TestOversizedPayloads(t *testing.T) {
	e := newHostileEnv(t, Config{MaxHTTPBufferSize: 1000})
	good := e.good()
	big := `42["echo","` + strings.Repeat("x", 1100) + `"]`

	// WebSocket: a frame over the limit closes that connection.
	ws := e.wsConnected()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(big)); err != nil {
		t.Fatal(err)
	}
	waitWSClosed(t, ws, "websocket frame over maxHttpBufferSize")
	waitFor(t, "transport error", func() bool { return e.reasonCount(ReasonTransportError) == 1 })
	// A binary attachment over the limit too.
	ws = e.wsConnected()
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`451-["echo",{"_placeholder":true,"num":0}]`))
	_ = ws.WriteMessage(websocket.BinaryMessage, make([]byte, 1500))
	waitWSClosed(t, ws, "binary attachment over maxHttpBufferSize")
	e.assertServes(good)

	// Polling: a POST over the limit gets 413 and ends the session.
	sid := e.pollConnect()
	q := "EIO=4&transport=polling&sid=" + sid
	if st, _ := e.do("POST", q, big, nil); st != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized POST = %d, want 413", st)
	}
	waitFor(t, "polling session closed", func() bool { return e.reasonCount(ReasonTransportError) == 3 })
	if st, body := e.do("GET", q, "", nil); st != 400 || !strings.Contains(body, `"code":1`) {
		t.Fatalf("GET after the oversized POST = %d %q", st, body)
	}
	// Just under the limit is fine.
	sid = e.pollConnect()
	q = "EIO=4&transport=polling&sid=" + sid
	ok := `427["echo","` + strings.Repeat("y", 900) + `"]`
	if st, _ := e.do("POST", q, ok, nil); st != 200 {
		t.Fatalf("POST under the limit = %d", st)
	}
	if st, body := e.do("GET", q, "", nil); st != 200 || !strings.HasPrefix(body, `437["yyy`) {
		t.Fatalf("echo under the limit = %d %.20q", st, body)
	}
	e.assertServes(good)
}

// upgradeRaw moves polling session sid to a websocket (probe dance).
func (e *hostileEnv) upgradeRaw(sid string) *websocket.Conn {
	e.t.Helper()
	ws, _, err := e.dialWS("EIO=4&transport=websocket&sid="+sid, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := ws.WriteMessage(websocket.TextMessage, []byte("2probe")); err != nil {
		e.t.Fatal(err)
	}
	if _, m, err := ws.ReadMessage(); err != nil || string(m) != "3probe" {
		e.t.Fatalf("probe answer %q %v", m, err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("5")); err != nil {
		e.t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Time{})
	waitFor(e.t, "upgrade", func() bool { return e.transportOf(sid) == "websocket" })
	return ws
}

// transportOf returns the transport of the session sid joined to "/"
// ("" when there is none).
func (e *hostileEnv) transportOf(sid string) string {
	ns := e.srv.Sockets()
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	for _, s := range ns.sockets {
		if s.client.conn.ID() == sid {
			return s.client.conn.Transport()
		}
	}
	return ""
}

func TestStolenAndUnknownSessionIDs(t *testing.T) {
	e := newHostileEnv(t, Config{})
	good := e.good()
	// Victim A: polling, joined to "/", then upgraded to websocket.
	sidA := e.pollConnect()
	wsA := e.upgradeRaw(sidA)
	qA := "EIO=4&transport=polling&sid=" + sidA
	const badRequest = `{"code":3,"message":"Bad request"}`
	if st, body := e.do("GET", qA, "", nil); st != 400 || body != badRequest {
		t.Errorf("polling GET on a websocket session = %d %q, want 400 code 3", st, body)
	}
	if st, body := e.do("POST", qA, `42["echo","stolen"]`, nil); st != 400 || body != badRequest {
		t.Errorf("polling POST on a websocket session = %d %q, want 400 code 3", st, body)
	}
	// A second websocket for A's sid is closed; A is untouched.
	if ws, _, err := e.dialWS("EIO=4&transport=websocket&sid="+sidA, nil); err == nil {
		_ = ws.WriteMessage(websocket.TextMessage, []byte("2probe"))
		waitWSClosed(t, ws, "second websocket for an upgraded session")
	}
	// A websocket upgrade request claiming the polling transport.
	if _, res, err := e.dialWS("EIO=4&transport=polling&sid="+sidA, nil); err == nil || res == nil || res.StatusCode != 400 {
		t.Errorf("websocket request with transport=polling: %v", err)
	}
	// Random and malformed sids.
	const unknown = `{"code":1,"message":"Session ID unknown"}`
	for _, sid := range []string{"AAAAAAAAAAAAAAAAAAAA", "nope", strings.Repeat("z", 4096), url.QueryEscape("../../x")} {
		for _, m := range []string{"GET", "POST"} {
			if st, body := e.do(m, "EIO=4&transport=polling&sid="+sid, "40", nil); st != 400 || body != unknown {
				t.Errorf("%s with sid %.20q = %d %q, want 400 code 1", m, sid, st, body)
			}
		}
		if _, res, err := e.dialWS("EIO=4&transport=websocket&sid="+sid, nil); err == nil || res == nil || res.StatusCode != 400 {
			t.Errorf("websocket with sid %.20q: %v", sid, err)
		}
	}
	// Victim B: websocket-only; its sid on polling is refused.
	ws := e.wsConnected()
	var sidB string
	e.srv.Sockets().mu.RLock()
	for _, s := range e.srv.Sockets().sockets {
		if sid := s.client.conn.ID(); sid != sidA && sid != good.SID {
			sidB = sid
		}
	}
	e.srv.Sockets().mu.RUnlock()
	if sidB == "" {
		t.Fatal("websocket-only session not found")
	}
	if st, body := e.do("GET", "EIO=4&transport=polling&sid="+sidB, "", nil); st != 400 || body != badRequest {
		t.Errorf("polling GET on a websocket-only session = %d %q", st, body)
	}
	// The victims and the good client are unaffected.
	wsEcho(t, wsA)
	wsEcho(t, ws)
	e.assertServes(good)
	if n := e.reasonCount(ReasonTransportClose) + e.reasonCount(ReasonTransportError) + e.reasonCount(ReasonParseError); n != 0 {
		t.Errorf("%d sockets disconnected by the stolen-sid requests", n)
	}
}

// TestConnectFloodTimesOut opens many connections that never send CONNECT
// (websocket, and polling with a pending GET): ConnectTimeout closes them
// all and the goroutines return to the baseline.
func TestConnectFloodTimesOut(t *testing.T) {
	e := newHostileEnv(t, Config{ConnectTimeout: 300 * time.Millisecond})
	good := e.good()
	baseline := runtime.NumGoroutine()
	const n = 60
	var wg sync.WaitGroup
	errs := make(chan string, 2*n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				ws, _, err := e.dialWS("EIO=4&transport=websocket", nil)
				if err != nil {
					errs <- err.Error()
					return
				}
				_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
				for {
					if _, _, err := ws.ReadMessage(); err != nil {
						var ne interface{ Timeout() bool }
						if errors.As(err, &ne) && ne.Timeout() {
							errs <- "websocket without CONNECT still open"
						}
						_ = ws.Close()
						return
					}
				}
			}
			st, body, err := e.tryDo("GET", "EIO=4&transport=polling", "", nil)
			if err != nil || st != 200 || len(body) < 2 {
				errs <- fmt.Sprintf("handshake: %d %q %v", st, body, err)
				return
			}
			var open struct{ SID string }
			_ = json.Unmarshal([]byte(body[1:]), &open)
			// The pending GET is released with the close packet.
			st, body, err = e.tryDo("GET", "EIO=4&transport=polling&sid="+open.SID, "", nil)
			if err != nil || st != 200 || body != "1" {
				errs <- fmt.Sprintf("polling GET = %d %q %v", st, body, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	waitFor(t, "flood sessions closed", func() bool { return e.srv.Engine().Count() == 1 })
	if got := e.srv.Sockets().SocketCount(); got != 1 {
		t.Fatalf("sockets = %d", got)
	}
	e.assertServes(good)
	var now int
	deadline := time.Now().Add(5 * time.Second)
	for now = runtime.NumGoroutine(); now > baseline+2 && time.Now().Before(deadline); now = runtime.NumGoroutine() {
		time.Sleep(10 * time.Millisecond)
	}
	if now > baseline+2 {
		t.Fatalf("goroutines %d after the flood, baseline %d", now, baseline)
	}
}

// ---- security ----

func TestOriginsAllowlistThroughNode(t *testing.T) {
	evil := http.Header{"Origin": {"https://evil.example"}}
	goodOrigin := http.Header{"Origin": {"https://good.example"}}

	t.Run("default same-origin only", func(t *testing.T) {
		e := newHostileEnv(t, Config{})
		if st, _ := e.do("GET", "EIO=4&transport=polling", "", evil); st != 400 {
			t.Errorf("cross-origin polling handshake = %d, want 400", st)
		}
		if _, res, err := e.dialWS("EIO=4&transport=websocket", evil); err == nil || res == nil || res.StatusCode != 403 {
			t.Errorf("cross-origin websocket: %v, want 403", err)
		}
		if _, err := siotest.Dial(ctxT(t), e.base, goodOrigin); err == nil {
			t.Error("siotest dial with a foreign origin accepted")
		}
		if e.srv.Engine().Count() != 0 {
			t.Errorf("sessions opened: %d", e.srv.Engine().Count())
		}
		e.assertServes(e.good()) // no Origin: allowed
	})
	t.Run("allowlist", func(t *testing.T) {
		e := newHostileEnv(t, Config{CORS: engineio.CORS{Origins: []string{"https://good.example"}}})
		if st, _ := e.do("GET", "EIO=4&transport=polling", "", evil); st != 400 {
			t.Errorf("unlisted polling handshake = %d, want 400", st)
		}
		if _, res, err := e.dialWS("EIO=4&transport=websocket", evil); err == nil || res == nil || res.StatusCode != 403 {
			t.Errorf("unlisted websocket: %v, want 403", err)
		}
		// Listed: both transports work, and a refused origin cannot use a
		// listed client's polling session.
		sid := e.pollOpen()
		if st, _ := e.do("POST", "EIO=4&transport=polling&sid="+sid, "40", evil); st != 400 {
			t.Errorf("POST from an unlisted origin on a session = %d, want 400", st)
		}
		req, _ := http.NewRequest("GET", e.base+"/socket.io/?EIO=4&transport=polling", nil)
		req.Header.Set("Origin", "https://good.example")
		res, err := e.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != "https://good.example" {
			t.Errorf("listed polling handshake = %d ACAO %q", res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
		}
		c, err := siotest.Dial(ctxT(t), e.base, goodOrigin)
		if err != nil {
			t.Fatalf("listed websocket: %v", err)
		}
		defer c.Close()
		if _, err := c.Connect(ctxT(t), "/", nil); err != nil {
			t.Fatal(err)
		}
		e.assertServes(c)
	})
}

func TestConnectionLimitMetric(t *testing.T) {
	e := newHostileEnv(t, Config{MaxConnections: 2})
	a := e.good()
	e.pollConnect()
	// 503, as documented and as a draining node answers, so that a load
	// balancer retries the handshake on another node.
	if st, body := e.do("GET", "EIO=4&transport=polling", "", nil); st != 503 || body != `{"code":3,"message":"Server is not accepting connections"}` {
		t.Errorf("polling handshake over the limit = %d %q, want 503 code 3", st, body)
	}
	if _, res, err := e.dialWS("EIO=4&transport=websocket", nil); err == nil || res == nil || res.StatusCode != 503 {
		t.Errorf("websocket over the limit: %v, want 503", err)
	}
	if got := e.metric("sio_connections_refused_total"); got != 2 {
		t.Errorf("sio_connections_refused_total = %v, want 2", got)
	}
	e.assertServes(a)
	// A slot freed is usable again.
	_ = a.Close()
	waitFor(t, "slot freed", func() bool { return e.srv.Engine().Count() == 1 })
	e.assertServes(e.good())
	if got := e.metric("sio_connections_refused_total"); got != 2 {
		t.Errorf("sio_connections_refused_total = %v after a free slot, want 2", got)
	}
}

func TestRateLimitMetric(t *testing.T) {
	e := newHostileEnv(t, Config{MaxPacketsPerSecond: 5})
	good := e.good()
	flood, _ := dial(t, e.base, "/", nil)
	for i := range 30 {
		if flood.Emit("/", "echo", i) != nil {
			break
		}
	}
	select {
	case <-flood.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("flooding client not disconnected")
	}
	waitFor(t, "rate limited reason", func() bool { return e.reasonCount(ReasonRateLimited) == 1 })
	if got := e.metric("sio_rate_limited_total"); got < 1 {
		t.Errorf("sio_rate_limited_total = %v, want ≥ 1", got)
	}
	e.assertServes(good) // well under the rate
	if n := e.reasonCount(ReasonRateLimited); n != 1 {
		t.Errorf("%d sockets rate limited, want 1", n)
	}
}

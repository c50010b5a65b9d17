package engineio

import (
	"context"
	"errors"
	"math"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

var openRE = regexp.MustCompile(`^0\{"sid":"[A-Za-z0-9_-]{20}","upgrades":(\[\]|\["websocket"\]),"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000\}$`)

func TestHandshakePolling(t *testing.T) {
	e := newEnv(t, Config{})
	st, body, h := e.do("GET", "EIO=4&transport=polling&t=abc", "", nil)
	if st != 200 || !openRE.MatchString(body) || !strings.Contains(body, `"upgrades":["websocket"]`) {
		t.Fatalf("handshake = %d %q", st, body)
	}
	if ct := h.Get("Content-Type"); ct != "text/plain; charset=UTF-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	r := e.nextConn()
	if r.c.Transport() != "polling" || len(r.c.ID()) != 20 || !strings.Contains(body, r.c.ID()) {
		t.Errorf("conn: transport %q id %q", r.c.Transport(), r.c.ID())
	}
	req := r.c.Request()
	if req.Query.Get("t") != "abc" || !strings.HasPrefix(req.URL, "/engine.io/?") || req.RemoteAddr == "" || req.Time.IsZero() || req.Secure {
		t.Errorf("request info = %+v", req)
	}
	if e.srv.Count() != 1 {
		t.Errorf("Count = %d", e.srv.Count())
	}
	// Unique ids.
	seen := map[string]bool{r.c.ID(): true}
	for i := 0; i < 20; i++ {
		sid, _ := e.handshake()
		if seen[sid] {
			t.Fatalf("duplicate sid %s", sid)
		}
		seen[sid] = true
	}
}

func TestHandshakeUpgradesByTransports(t *testing.T) {
	e := newEnv(t, Config{Transports: []string{"polling"}})
	st, body, _ := e.do("GET", "EIO=4&transport=polling", "", nil)
	if st != 200 || !strings.Contains(body, `"upgrades":[]`) {
		t.Fatalf("polling-only handshake = %d %q", st, body)
	}
	e.nextConn()
	if _, res, err := e.dial("EIO=4&transport=websocket", nil); err == nil || res == nil || res.StatusCode != 400 {
		t.Fatalf("websocket on polling-only server: err %v", err)
	}

	e2 := newEnv(t, Config{Transports: []string{"websocket", "bogus"}})
	st, body, _ = e2.do("GET", "EIO=4&transport=polling", "", nil)
	if st != 400 || body != `{"code":0,"message":"Transport unknown"}` {
		t.Fatalf("polling on websocket-only server = %d %q", st, body)
	}
}

func TestErrorCodes(t *testing.T) {
	e := newEnv(t, Config{})
	sid, _ := e.handshake()
	tests := []struct {
		name, method, query string
		hdr                 http.Header
		status              int
		body                string
	}{
		{"no transport", "GET", "EIO=4", nil, 400, `{"code":0,"message":"Transport unknown"}`},
		{"bad transport", "GET", "EIO=4&transport=abc", nil, 400, `{"code":0,"message":"Transport unknown"}`},
		{"webtransport", "GET", "EIO=4&transport=webtransport", nil, 400, `{"code":0,"message":"Transport unknown"}`},
		{"no EIO", "GET", "transport=polling", nil, 400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"EIO abc", "GET", "EIO=abc&transport=polling", nil, 400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"EIO 3", "GET", "EIO=3&transport=polling", nil, 400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"POST handshake", "POST", "EIO=4&transport=polling", nil, 400, `{"code":2,"message":"Bad handshake method"}`},
		{"PUT handshake", "PUT", "EIO=4&transport=polling", nil, 400, `{"code":2,"message":"Bad handshake method"}`},
		{"unknown sid", "GET", "EIO=4&transport=polling&sid=nope", nil, 400, `{"code":1,"message":"Session ID unknown"}`},
		{"websocket without upgrade", "GET", "EIO=4&transport=websocket", nil, 400, `{"code":3,"message":"Bad request"}`},
		{"transport mismatch", "GET", "EIO=4&transport=websocket&sid=" + sid, nil, 400, `{"code":3,"message":"Bad request"}`},
		{"bad method on session", "PUT", "EIO=4&transport=polling&sid=" + sid, nil, 400, `{"code":3,"message":"Bad request"}`},
		{"bad query escapes", "GET", "EIO=4&transport=%zz&sid=%", nil, 400, `{"code":0,"message":"Transport unknown"}`},
	}
	for _, tt := range tests {
		st, body, h := e.do(tt.method, tt.query, "", tt.hdr)
		if st != tt.status || body != tt.body {
			t.Errorf("%s: %d %q, want %d %q", tt.name, st, body, tt.status, tt.body)
		}
		if h.Get("Content-Type") != "application/json" {
			t.Errorf("%s: Content-Type %q", tt.name, h.Get("Content-Type"))
		}
	}
	// The session survived requests that did not concern it.
	if st, body := e.post(sid, "4x"); st != 200 || body != "ok" {
		t.Fatalf("post after errors = %d %q", st, body)
	}
}

func TestPollingEcho(t *testing.T) {
	e := newEnv(t, Config{})
	sid, r := e.handshake()
	st, body, h := e.do("POST", "EIO=4&transport=polling&sid="+sid, "4hello", nil)
	if st != 200 || body != "ok" || h.Get("Content-Type") != "text/html" {
		t.Fatalf("post = %d %q %q", st, body, h.Get("Content-Type"))
	}
	if m := r.waitMsg(t); m.data != "hello" || m.binary {
		t.Fatalf("OnMessage = %+v", m)
	}
	if st, body := e.get(sid); st != 200 || body != "4hello" {
		t.Fatalf("get = %d %q", st, body)
	}
}

func TestPollingBatchingAndBinary(t *testing.T) {
	e := newEnv(t, Config{})
	sid, r := e.handshake()
	if st, _ := e.post(sid, "4test1\x1e4test2\x1e4test3"); st != 200 {
		t.Fatal(st)
	}
	// All three echoes were queued before "ok", so one GET returns them.
	if st, body := e.get(sid); st != 200 || body != "4test1\x1e4test2\x1e4test3" {
		t.Fatalf("get = %d %q", st, body)
	}
	if st, _ := e.post(sid, "4hello\x1ebAQIDBA=="); st != 200 {
		t.Fatal(st)
	}
	if st, body := e.get(sid); st != 200 || body != "4hello\x1ebAQIDBA==" {
		t.Fatalf("get = %d %q", st, body)
	}
	for _, want := range []recMsg{{"test1", false}, {"test2", false}, {"test3", false}, {"hello", false}, {"\x01\x02\x03\x04", true}} {
		if m := r.waitMsg(t); m != want {
			t.Fatalf("OnMessage = %+v, want %+v", m, want)
		}
	}
}

func TestPollingGETWaitsForData(t *testing.T) {
	e := newEnv(t, Config{})
	sid, r := e.handshake()
	ch := e.asyncGET(context.Background(), sid)
	c := e.sessionConn(sid)
	checkFor(t, time.Second, "pending GET", func() bool { return hasPendingGET(c) })
	select {
	case res := <-ch:
		t.Fatalf("GET answered early: %v", res)
	default:
	}
	if err := r.c.Send(NewTextMessage([]byte("a")), NewBinaryMessage([]byte{1})); err != nil {
		t.Fatal(err)
	}
	if res := <-ch; res != [2]string{"200", "4a\x1ebAQ=="} {
		t.Fatalf("GET = %v", res)
	}
}

func TestPollingConcurrentGETClosesSession(t *testing.T) {
	e := newEnv(t, Config{})
	sid, r := e.handshake()
	ch := e.asyncGET(context.Background(), sid)
	checkFor(t, time.Second, "pending GET", func() bool { return hasPendingGET(e.sessionConn(sid)) })
	st, body, _ := e.do("GET", "EIO=4&transport=polling&sid="+sid+"&t=burst", "", nil)
	if st != 400 || body != `{"code":3,"message":"Bad request"}` {
		t.Fatalf("second GET = %d %q", st, body)
	}
	if res := <-ch; res != [2]string{"200", "1"} {
		t.Fatalf("first GET = %v", res)
	}
	if reason := r.waitClose(t); reason != "transport error" {
		t.Fatalf("reason = %q", reason)
	}
	if st, _ := e.get(sid); st != 400 {
		t.Fatalf("GET after close = %d", st)
	}
}

func TestPollingAbortedGETClosesSession(t *testing.T) {
	e := newEnv(t, Config{})
	sid, r := e.handshake()
	ctx, cancel := context.WithCancel(context.Background())
	ch := e.asyncGET(ctx, sid)
	checkFor(t, time.Second, "pending GET", func() bool { return hasPendingGET(e.sessionConn(sid)) })
	cancel()
	<-ch
	if reason := r.waitClose(t); reason != "transport error" {
		t.Fatalf("reason = %q", reason)
	}
	if st, body := e.get(sid); st != 400 || body != `{"code":1,"message":"Session ID unknown"}` {
		t.Fatalf("GET after abort = %d %q", st, body)
	}
}

func TestPollingPOSTTooLarge(t *testing.T) {
	e := newEnv(t, Config{MaxHTTPBufferSize: 100})
	sid, r := e.handshake()
	if st, _ := e.post(sid, "4"+strings.Repeat("x", 99)); st != 200 {
		t.Fatalf("post at the limit = %d", st)
	}
	if st, _ := e.post(sid, "4"+strings.Repeat("x", 100)); st != 413 {
		t.Fatalf("post over the limit = %d, want 413", st)
	}
	if reason := r.waitClose(t); reason != "transport error" {
		t.Fatalf("reason = %q", reason)
	}
	// Chunked body (no Content-Length) over the limit.
	sid2, r2 := e.handshake()
	req, _ := http.NewRequest("POST", e.base+"?EIO=4&transport=polling&sid="+sid2, strings.NewReader("4"+strings.Repeat("y", 200)))
	req.ContentLength = -1
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 413 {
		t.Fatalf("chunked post = %d", res.StatusCode)
	}
	r2.waitClose(t)
}

func TestPollingParseErrorClosesSession(t *testing.T) {
	e := newEnv(t, Config{})
	for _, payload := range []string{"abc", "", "4ok\x1e9bad", "bA"} {
		sid, r := e.handshake()
		if st, body := e.post(sid, payload); st != 400 || body != `{"code":3,"message":"Bad request"}` {
			t.Fatalf("post %q = %d %q", payload, st, body)
		}
		if reason := r.waitClose(t); reason != "parse error" {
			t.Fatalf("post %q: reason %q", payload, reason)
		}
		if st, _ := e.get(sid); st != 400 {
			t.Fatalf("post %q: GET after = %d", payload, st)
		}
	}
}

func TestPollingOctetStreamRejected(t *testing.T) {
	e := newEnv(t, Config{})
	sid, r := e.handshake()
	st, _, _ := e.do("POST", "EIO=4&transport=polling&sid="+sid, "4x", http.Header{"Content-Type": {"application/octet-stream"}})
	if st != 400 {
		t.Fatalf("octet-stream post = %d", st)
	}
	if reason := r.waitClose(t); reason != "transport error" {
		t.Fatalf("reason = %q", reason)
	}
}

func TestPollingClientCloseReleasesGETWithNoop(t *testing.T) {
	e := newEnv(t, Config{})
	sid, r := e.handshake()
	ch := e.asyncGET(context.Background(), sid)
	checkFor(t, time.Second, "pending GET", func() bool { return hasPendingGET(e.sessionConn(sid)) })
	if st, body := e.post(sid, "1"); st != 200 || body != "ok" {
		t.Fatalf("post 1 = %d %q", st, body)
	}
	if res := <-ch; res != [2]string{"200", "6"} {
		t.Fatalf("GET = %v", res)
	}
	if reason := r.waitClose(t); reason != "transport close" {
		t.Fatalf("reason = %q", reason)
	}
	if st, _ := e.get(sid); st != 400 {
		t.Fatalf("GET after close = %d", st)
	}
}

func TestPollingClientPingIsAnError(t *testing.T) {
	e := newEnv(t, Config{})
	sid, r := e.handshake()
	e.post(sid, "2")
	if reason := r.waitClose(t); reason != "transport error" {
		t.Fatalf("reason = %q", reason)
	}
}

func TestPollingConcurrentPOSTClosesSession(t *testing.T) {
	e := newEnvEcho(t, Config{}, false)
	sid, r := e.handshake()
	r.block = make(chan struct{})
	done := make(chan [2]string, 1)
	go func() {
		st, body := e.post(sid, "4block")
		done <- [2]string{http.StatusText(st), body}
	}()
	<-r.entered
	if st, _ := e.post(sid, "4second"); st != 400 {
		t.Fatalf("concurrent POST = %d", st)
	}
	// OnClose waits for the OnMessage in progress.
	select {
	case reason := <-r.closed:
		t.Fatalf("OnClose (%q) while OnMessage runs", reason)
	case <-time.After(20 * time.Millisecond):
	}
	close(r.block)
	if res := <-done; res[1] != "ok" {
		t.Fatalf("first POST = %v", res)
	}
	if reason := r.waitClose(t); reason != "transport error" {
		t.Fatalf("reason = %q", reason)
	}
	if r.concurrent.Load() || r.afterClose.Load() {
		t.Fatal("handler called concurrently or after OnClose")
	}
}

func TestPollingAfterSessionCloseReturnsUnknownSID(t *testing.T) {
	e := newEnv(t, Config{})
	sid, r := e.handshake()
	r.c.Close("forced close")
	if st, body := e.get(sid); st != 200 || body != "1" {
		t.Fatalf("GET during close = %d %q", st, body)
	}
	if reason := r.waitClose(t); reason != "forced close" {
		t.Fatalf("reason %q", reason)
	}
	if st, body := e.post(sid, "4x"); st != 400 || body != `{"code":1,"message":"Session ID unknown"}` {
		t.Fatalf("POST after close = %d %q", st, body)
	}
}

func TestConnCloseFlushesPolling(t *testing.T) {
	e := newEnvEcho(t, Config{}, false)
	// Close with a queue and no pending GET: the next GET gets both.
	sid, r := e.handshake()
	if err := r.c.Send(NewTextMessage([]byte("bye"))); err != nil {
		t.Fatal(err)
	}
	r.c.Close("forced close")
	if err := r.c.Send(NewTextMessage([]byte("late"))); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send while closing = %v", err)
	}
	if st, body := e.get(sid); st != 200 || body != "4bye\x1e1" {
		t.Fatalf("GET = %d %q", st, body)
	}
	if reason := r.waitClose(t); reason != "forced close" {
		t.Fatalf("reason %q", reason)
	}
	// Close with a pending GET: it gets the close packet at once.
	sid, r = e.handshake()
	ch := e.asyncGET(context.Background(), sid)
	checkFor(t, time.Second, "pending GET", func() bool { return hasPendingGET(e.sessionConn(sid)) })
	r.c.Close("forced close")
	if res := <-ch; res != [2]string{"200", "1"} {
		t.Fatalf("GET = %v", res)
	}
	r.waitClose(t)
	if r.closeCount.Load() != 1 {
		t.Fatalf("OnClose called %d times", r.closeCount.Load())
	}
}

func TestConnClosePollingTimesOutWithoutGET(t *testing.T) {
	e := newEnvEcho(t, Config{}, false)
	_, r := e.handshake()
	r.c.closeGraceful("forced close", 20*time.Millisecond)
	if reason := r.waitClose(t); reason != "forced close" {
		t.Fatalf("reason %q", reason)
	}
	if e.srv.Count() != 0 {
		t.Fatalf("Count = %d", e.srv.Count())
	}
}

func TestSlowConsumer(t *testing.T) {
	var queued atomic.Int64
	e := newEnvEcho(t, Config{MaxQueueBytes: 100, Hooks: Hooks{QueueBytes: func(d int) { queued.Add(int64(d)) }}}, false)
	_, r := e.handshake()
	big := NewTextMessage([]byte(strings.Repeat("x", 59))) // 60 bytes
	if err := r.c.Send(big); err != nil {
		t.Fatal(err)
	}
	if got := r.c.CloseReason(); got != "" {
		t.Fatalf("CloseReason of an open session = %q", got)
	}
	if err := r.c.Send(big); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("Send past the bound = %v", err)
	}
	if reason := r.waitClose(t); reason != "slow consumer" {
		t.Fatalf("reason %q", reason)
	}
	if got := r.c.CloseReason(); got != "slow consumer" {
		t.Fatalf("CloseReason after the close = %q", got)
	}
	if err := r.c.Send(big); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after close = %v", err)
	}
	if q := queued.Load(); q != 0 {
		t.Fatalf("QueueBytes net = %d, want 0", q)
	}
}

func TestTrySendPolling(t *testing.T) {
	drops := 0
	e := newEnvEcho(t, Config{Hooks: Hooks{VolatileDropped: func() { drops++ }}}, false)
	sid, r := e.handshake()
	// No pending GET: dropped.
	if r.c.TrySend(NewTextMessage([]byte("v1"))) {
		t.Fatal("TrySend without a pending GET succeeded")
	}
	if drops != 1 {
		t.Fatalf("VolatileDropped = %d", drops)
	}
	ch := e.asyncGET(context.Background(), sid)
	checkFor(t, time.Second, "pending GET", func() bool { return hasPendingGET(e.sessionConn(sid)) })
	if !r.c.TrySend(NewTextMessage([]byte("v2"))) {
		t.Fatal("TrySend with a pending GET dropped")
	}
	// Queue non-empty (the GET may not have taken v2 yet) or no GET: drop.
	r.c.mu.Lock()
	busy := len(r.c.queue) > 0 || r.c.getWaiter == nil
	r.c.mu.Unlock()
	if busy && r.c.TrySend(NewTextMessage([]byte("v3"))) {
		t.Fatal("TrySend with a busy transport succeeded")
	}
	if res := <-ch; res != [2]string{"200", "4v2"} {
		t.Fatalf("GET = %v", res)
	}
}

func TestCORS(t *testing.T) {
	t.Run("any origin", func(t *testing.T) {
		// "*" answers "*" as Node's cors does (browsers then refuse
		// credentialed requests); a listed origin is echoed and may send
		// credentials.
		e := newEnv(t, Config{CORS: CORS{Origins: []string{"*", "https://a.example"}, Credentials: true}})
		st, _, h := e.do("GET", "EIO=4&transport=polling", "", http.Header{"Origin": {"https://x.example"}})
		if st != 200 || h.Get("Access-Control-Allow-Origin") != "*" || h.Get("Access-Control-Allow-Credentials") != "true" {
			t.Fatalf("GET = %d %v", st, h)
		}
		e.nextConn()
		st, _, h = e.do("GET", "EIO=4&transport=polling", "", http.Header{"Origin": {"https://a.example"}})
		if st != 200 || h.Get("Access-Control-Allow-Origin") != "https://a.example" || h.Get("Vary") != "Origin" {
			t.Fatalf("listed origin's GET = %d %v", st, h)
		}
		e.nextConn()
		st, _, h = e.do("OPTIONS", "EIO=4&transport=polling", "", http.Header{
			"Origin": {"https://x.example"}, "Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"content-type,x-a"}})
		if st != 204 || h.Get("Access-Control-Allow-Methods") != "GET,POST" || h.Get("Access-Control-Allow-Headers") != "content-type,x-a" ||
			h.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("preflight = %d %v", st, h)
		}
		// Errors carry the CORS headers too, so browsers can read them.
		st, _, h = e.do("GET", "EIO=4&transport=abc", "", http.Header{"Origin": {"https://x.example"}})
		if st != 400 || h.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("error = %d %v", st, h)
		}
		ws, _, err := e.dial("EIO=4&transport=websocket", http.Header{"Origin": {"https://x.example"}})
		if err != nil {
			t.Fatal(err)
		}
		readWS(t, ws)
		e.nextConn()
	})
	t.Run("origin list", func(t *testing.T) {
		e := newEnv(t, Config{CORS: CORS{Origins: []string{"https://a.example"}}})
		st, _, h := e.do("GET", "EIO=4&transport=polling", "", http.Header{"Origin": {"https://a.example"}})
		if st != 200 || h.Get("Access-Control-Allow-Origin") != "https://a.example" || h.Get("Access-Control-Allow-Credentials") != "" {
			t.Fatalf("allowed GET = %d %v", st, h)
		}
		sid := "x"
		if r := e.nextConn(); r != nil {
			sid = r.c.ID()
		}
		st, body, h := e.do("GET", "EIO=4&transport=polling", "", http.Header{"Origin": {"https://evil.example"}})
		if st != 400 || body != `{"code":3,"message":"Bad request"}` || h.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("refused GET = %d %q %v", st, body, h)
		}
		if st, _, _ := e.do("POST", "EIO=4&transport=polling&sid="+sid, "4x", http.Header{"Origin": {"https://evil.example"}}); st != 400 {
			t.Fatalf("refused POST = %d", st)
		}
		if st, _, _ := e.do("OPTIONS", "EIO=4&transport=polling", "", http.Header{"Origin": {"https://evil.example"}}); st != 400 {
			t.Fatalf("refused preflight = %d", st)
		}
		_, res, err := e.dial("EIO=4&transport=websocket", http.Header{"Origin": {"https://evil.example"}})
		if err == nil || res == nil || res.StatusCode != 403 {
			t.Fatalf("refused websocket: %v", err)
		}
		// Same-origin and no-Origin requests are always allowed.
		host := strings.TrimPrefix(e.ts.URL, "http://")
		if st, _, _ := e.do("GET", "EIO=4&transport=polling", "", http.Header{"Origin": {"http://" + host}}); st != 200 {
			t.Fatalf("same-origin GET = %d", st)
		}
		e.nextConn()
	})
	t.Run("same origin only", func(t *testing.T) {
		e := newEnv(t, Config{})
		st, _, h := e.do("GET", "EIO=4&transport=polling", "", http.Header{"Origin": {"https://evil.example"}})
		if st != 400 || h.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("cross-origin GET = %d", st)
		}
		_, res, err := e.dial("EIO=4&transport=websocket", http.Header{"Origin": {"https://evil.example"}})
		if err == nil || res == nil || res.StatusCode != 403 {
			t.Fatalf("cross-origin websocket: %v", err)
		}
		host := strings.TrimPrefix(e.ts.URL, "http://")
		st, _, h = e.do("GET", "EIO=4&transport=polling", "", http.Header{"Origin": {"http://" + host}})
		if st != 200 || h.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("same-origin GET = %d %v", st, h)
		}
		e.nextConn()
		if st, _, _ := e.do("GET", "EIO=4&transport=polling", "", nil); st != 200 {
			t.Fatalf("no-Origin GET = %d", st)
		}
		e.nextConn()
		ws, _, err := e.dial("EIO=4&transport=websocket", http.Header{"Origin": {"http://" + host}})
		if err != nil {
			t.Fatalf("same-origin websocket: %v", err)
		}
		readWS(t, ws)
		e.nextConn()
		// Without CORS options there is no preflight handling (as Node).
		if st, body, _ := e.do("OPTIONS", "EIO=4&transport=polling", "", nil); st != 400 || !strings.Contains(body, `"code":2`) {
			t.Fatalf("OPTIONS = %d %q", st, body)
		}
	})
}

func TestAllowRequest(t *testing.T) {
	e := newEnv(t, Config{AllowRequest: func(r *http.Request) error {
		if r.URL.Query().Get("token") != "ok" {
			return errors.New("no \"token\" <\u00e9>")
		}
		return nil
	}})
	// The error's message is the answer's, as Node's allowRequest's, JSON-encoded.
	st, body, _ := e.do("GET", "EIO=4&transport=polling", "", nil)
	if st != 403 || body != `{"code":4,"message":"no \"token\" <é>"}` {
		t.Fatalf("refused = %d %q", st, body)
	}
	_, res, err := e.dial("EIO=4&transport=websocket", nil)
	if err == nil || res == nil || res.StatusCode != 403 {
		t.Fatalf("refused websocket: %v", err)
	}
	sid := ""
	if st, body, _ := e.do("GET", "EIO=4&transport=polling&token=ok", "", nil); st != 200 {
		t.Fatalf("allowed = %d %q", st, body)
	}
	sid = e.nextConn().c.ID()
	// AllowRequest applies to handshakes only.
	if st, _ := e.post(sid, "4x"); st != 200 {
		t.Fatalf("post = %d", st)
	}
}

func TestSetAccepting(t *testing.T) {
	e := newEnv(t, Config{})
	sid, _ := e.handshake()
	e.srv.SetAccepting(false)
	st, body, h := e.do("GET", "EIO=4&transport=polling", "", nil)
	if st != 503 || h.Get("Content-Type") != "application/json" || !strings.HasPrefix(body, `{"code":`) {
		t.Fatalf("draining handshake = %d %q", st, body)
	}
	if _, res, err := e.dial("EIO=4&transport=websocket", nil); err == nil || res.StatusCode != 503 {
		t.Fatalf("draining websocket: %v", err)
	}
	// The existing session goes on.
	if st, _ := e.post(sid, "4still"); st != 200 {
		t.Fatalf("post = %d", st)
	}
	if st, body := e.get(sid); st != 200 || body != "4still" {
		t.Fatalf("get = %d %q", st, body)
	}
	e.srv.SetAccepting(true)
	e.handshake()
}

func TestMalformedRequestsNeverCrash(t *testing.T) {
	e := newEnv(t, Config{MaxHTTPBufferSize: 1000})
	sid, _ := e.handshake()
	queries := []string{"", "EIO", "EIO=4&transport", "EIO=4&transport=polling&sid", "%", "EIO=4&transport=polling&sid=x&sid=" + sid,
		"EIO=4&EIO=3&transport=polling", "EIO=4&transport=polling&sid=" + strings.Repeat("a", 5000), "transport=polling&transport=websocket&EIO=4"}
	bodies := []string{"", "\x1e\x1e", "4\xff\xfe", "b" + strings.Repeat("=", 10), strings.Repeat("\x1e", 300), "0", "5", "6"}
	for _, q := range queries {
		for _, m := range []string{"GET", "POST", "DELETE", "OPTIONS"} {
			if st, _, _ := e.do(m, q, "", nil); st == 0 || st >= 500 {
				t.Fatalf("%s %q = %d", m, q, st)
			}
		}
	}
	for _, b := range bodies {
		sid, _ := e.handshake()
		if st, _ := e.post(sid, b); st == 0 || st >= 500 {
			t.Fatalf("POST %q = %d", b, st)
		}
	}
	// Still healthy.
	sid, r := e.handshake()
	e.post(sid, "4alive")
	if m := r.waitMsg(t); m.data != "alive" {
		t.Fatalf("msg %+v", m)
	}
}

// TestServerCloseShortensPollingCloseWait checks Server.Close on a
// polling session already closing (Conn.Close, whose client sends no
// further GET): it waits the server's short poll wait, not the 30 s the
// session's own close gives the client.
func TestServerCloseShortensPollingCloseWait(t *testing.T) {
	e := newEnvEcho(t, Config{}, false)
	_, r := e.handshake()
	r.c.Close("forced close") // the client is gone: no GET will come
	done := make(chan struct{})
	go func() {
		e.srv.Close("server shutting down")
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("Server.Close waited past 10 s for a closing polling session (its poll wait is %v)", e.srv.closePollWait)
	}
	if reason := r.waitClose(t); reason != "forced close" {
		t.Errorf("close reason %q; want the first close's", reason)
	}
}

// TestMaxHTTPBufferSizeNoLimit checks MaxHTTPBufferSize math.MaxInt64,
// the obvious "no limit": the size checks must not overflow (a POST's
// read limit wrapped negative and every body decoded empty, a parse
// error), and a websocket frame announcing 2^63-1 bytes is still refused.
func TestMaxHTTPBufferSizeNoLimit(t *testing.T) {
	e := newEnvEcho(t, Config{MaxHTTPBufferSize: math.MaxInt64}, false)
	sid, r := e.handshake()
	if st, body := e.post(sid, "4hello"); st != 200 {
		t.Fatalf("POST: %d %q", st, body)
	}
	select {
	case m := <-r.msgs:
		if m.data != "hello" {
			t.Errorf("message %q; want hello", m.data)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the POSTed message never arrived")
	}
	ws, nc, _ := dialRaw(t, e)
	netWrite(t, nc, maxLengthHeader(0x81))
	if err := readWSErr(t, ws); !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Errorf("frame of 2^63-1 bytes: client got %v, want close 1009", err)
	}
}

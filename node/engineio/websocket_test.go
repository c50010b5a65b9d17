package engineio

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

var wsOpenRE = openRE

func TestWebSocketHandshakeAndEcho(t *testing.T) {
	e := newEnv(t, Config{})
	ws := e.mustDial("EIO=4&transport=websocket")
	mt, open := readWS(t, ws)
	if mt != websocket.TextMessage || !wsOpenRE.MatchString(open) || !strings.Contains(open, `"upgrades":[]`) {
		t.Fatalf("open = %d %q", mt, open)
	}
	r := e.nextConn()
	if r.c.Transport() != "websocket" || !strings.Contains(open, r.c.ID()) {
		t.Fatalf("transport %q", r.c.Transport())
	}
	writeWS(t, ws, websocket.TextMessage, "4hello")
	if mt, s := readWS(t, ws); mt != websocket.TextMessage || s != "4hello" {
		t.Fatalf("echo = %d %q", mt, s)
	}
	writeWS(t, ws, websocket.BinaryMessage, "\x01\x02\x03\x04")
	if mt, s := readWS(t, ws); mt != websocket.BinaryMessage || s != "\x01\x02\x03\x04" {
		t.Fatalf("binary echo = %d %q", mt, s)
	}
	// A base64 text packet is a binary message too (engine.io-parser).
	writeWS(t, ws, websocket.TextMessage, "bAQI=")
	if mt, s := readWS(t, ws); mt != websocket.BinaryMessage || s != "\x01\x02" {
		t.Fatalf("b64 echo = %d %q", mt, s)
	}
	for _, want := range []recMsg{{"hello", false}, {"\x01\x02\x03\x04", true}, {"\x01\x02", true}} {
		if m := r.waitMsg(t); m != want {
			t.Fatalf("OnMessage = %+v, want %+v", m, want)
		}
	}
	// Ignored packet types do not disturb the session.
	writeWS(t, ws, websocket.TextMessage, "6")
	writeWS(t, ws, websocket.TextMessage, "5")
	writeWS(t, ws, websocket.TextMessage, "4again")
	if _, s := readWS(t, ws); s != "4again" {
		t.Fatalf("echo = %q", s)
	}
	// The client closing is "transport close".
	ws.Close()
	if reason := r.waitClose(t); reason != "transport close" {
		t.Fatalf("reason %q", reason)
	}
}

func TestWebSocketBadRequestsRefusedBeforeUpgrade(t *testing.T) {
	e := newEnv(t, Config{})
	for _, q := range []string{"transport=websocket", "EIO=abc&transport=websocket", "EIO=4", "EIO=4&transport=abc",
		"EIO=4&transport=websocket&sid=unknown", "EIO=4&transport=polling"} {
		_, res, err := e.dial(q, nil)
		if err == nil || res == nil || res.StatusCode != 400 || res.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: err %v res %v", q, err, res)
		}
	}
}

func TestWebSocketCloseReasons(t *testing.T) {
	e := newEnv(t, Config{MaxHTTPBufferSize: 64})
	tests := []struct {
		send   string
		mt     int
		reason string
	}{
		{"abc", websocket.TextMessage, "parse error"},
		{"", websocket.TextMessage, "parse error"},
		{"1", websocket.TextMessage, "transport close"},
		{"2", websocket.TextMessage, "transport error"},
		{"4" + strings.Repeat("x", 64), websocket.TextMessage, "transport error"},
		{strings.Repeat("y", 65), websocket.BinaryMessage, "transport error"},
	}
	for _, tt := range tests {
		ws := e.mustDial("EIO=4&transport=websocket")
		readWS(t, ws)
		r := e.nextConn()
		writeWS(t, ws, tt.mt, tt.send)
		if err := readWSErr(t, ws); err == nil {
			t.Fatalf("%q: connection not closed", tt.send)
		}
		if reason := r.waitClose(t); reason != tt.reason {
			t.Fatalf("%q: reason %q, want %q", tt.send, reason, tt.reason)
		}
	}
	// A message at the limit is fine.
	ws := e.mustDial("EIO=4&transport=websocket")
	readWS(t, ws)
	e.nextConn()
	writeWS(t, ws, websocket.TextMessage, "4"+strings.Repeat("z", 63))
	if _, s := readWS(t, ws); len(s) != 64 {
		t.Fatalf("echo len %d", len(s))
	}
}

func TestWebSocketGracefulClose(t *testing.T) {
	e := newEnvEcho(t, Config{}, false)
	ws := e.mustDial("EIO=4&transport=websocket")
	readWS(t, ws)
	r := e.nextConn()
	for i := 0; i < 3; i++ {
		if err := r.c.Send(NewTextMessage([]byte(fmt.Sprint(i)))); err != nil {
			t.Fatal(err)
		}
	}
	r.c.Close("forced close")
	for i := 0; i < 3; i++ {
		if _, s := readWS(t, ws); s != fmt.Sprint("4", i) {
			t.Fatalf("got %q", s)
		}
	}
	err := readWSErr(t, ws)
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("close err = %v", err)
	}
	if reason := r.waitClose(t); reason != "forced close" {
		t.Fatalf("reason %q", reason)
	}
	if err := r.c.Send(NewTextMessage(nil)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after close = %v", err)
	}
}

func TestWebSocketSecondConnectionClosed(t *testing.T) {
	e := newEnv(t, Config{})
	ws := e.mustDial("EIO=4&transport=websocket")
	readWS(t, ws)
	r := e.nextConn()
	ws2 := e.mustDial("EIO=4&transport=websocket&sid=" + r.c.ID())
	if err := readWSErr(t, ws2); err == nil {
		t.Fatal("second websocket not closed")
	}
	writeWS(t, ws, websocket.TextMessage, "4still")
	if _, s := readWS(t, ws); s != "4still" {
		t.Fatalf("echo %q", s)
	}
}

func TestTrySendWebSocket(t *testing.T) {
	e := newEnvEcho(t, Config{}, false)
	ws := e.mustDial("EIO=4&transport=websocket")
	readWS(t, ws)
	r := e.nextConn()
	checkFor(t, time.Second, "writer idle", func() bool {
		r.c.mu.Lock()
		defer r.c.mu.Unlock()
		return !r.c.writerRunning
	})
	if !r.c.TrySend(NewTextMessage([]byte("v"))) {
		t.Fatal("TrySend on an idle websocket dropped")
	}
	if _, s := readWS(t, ws); s != "4v" {
		t.Fatalf("got %q", s)
	}
}

// upgradeTo runs the client side of the upgrade dance on a polling session.
func upgradeTo(t *testing.T, e *testEnv, sid string) *websocket.Conn {
	t.Helper()
	ws := e.mustDial("EIO=4&transport=websocket&sid=" + sid)
	writeWS(t, ws, websocket.TextMessage, "2probe")
	if _, s := readWS(t, ws); s != "3probe" {
		t.Fatalf("probe answer %q", s)
	}
	writeWS(t, ws, websocket.TextMessage, "5")
	c := e.sessionConn(sid)
	checkFor(t, time.Second, "upgrade", func() bool { return c.Transport() == "websocket" })
	return ws
}

// TestGETDuringUpgradeHandshakeWaitsForUpgrade checks a GET that arrives
// after the client read the upgrade's 101 answer but before the server
// made that websocket the probe (the official suite's "ignores HTTP
// requests with same sid after upgrade" sends "2probe", "5" and then the
// GET, and failed about one run in seven): the GET waits for the upgrade
// as one during the probe does, and is refused once it completed.
func TestGETDuringUpgradeHandshakeWaitsForUpgrade(t *testing.T) {
	e := newEnv(t, Config{})
	sid, _ := e.handshake()
	c := e.sessionConn(sid)
	c.mu.Lock()
	c.upgrading = true // a websocket handshake for sid is completing
	c.mu.Unlock()
	get := e.asyncGET(context.Background(), sid)
	ws := upgradeTo(t, e, sid)
	select {
	case res := <-get:
		if res[0] != "400" {
			t.Errorf("GET sent before the upgrade completed: %s %q; want 400 once upgraded", res[0], res[1])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the GET was never answered")
	}
	writeWS(t, ws, websocket.TextMessage, "4hello")
}

// TestLateUpgradeTimerKeepsUpgradedSession checks that the upgrade
// timer's callback, when it fires just as "5" completes the upgrade (it
// then runs after it, its Stop having come too late), leaves the session's
// new websocket open.
func TestLateUpgradeTimerKeepsUpgradedSession(t *testing.T) {
	e := newEnv(t, Config{})
	sid, r := e.handshake()
	ws := upgradeTo(t, e, sid)
	c := e.sessionConn(sid)
	c.mu.Lock()
	upgraded := c.ws
	c.mu.Unlock()
	c.abortProbe(upgraded) // what the late timer callback does
	writeWS(t, ws, websocket.TextMessage, "4hello")
	select {
	case reason := <-r.closed:
		t.Fatalf("the upgraded session closed (%q) after a late upgrade timer", reason)
	case m := <-r.msgs:
		if m.data != "hello" {
			t.Errorf("message %q; want hello", m.data)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the message sent after the upgrade never arrived")
	}
}

func TestUpgrade(t *testing.T) {
	var upgraded atomic.Int32
	e := newEnv(t, Config{Hooks: Hooks{Upgraded: func() { upgraded.Add(1) }}})
	sid, r := e.handshake()
	c := e.sessionConn(sid)
	ch := e.asyncGET(context.Background(), sid)
	checkFor(t, time.Second, "pending GET", func() bool { return hasPendingGET(c) })

	ws := e.mustDial("EIO=4&transport=websocket&sid=" + sid)
	writeWS(t, ws, websocket.TextMessage, "2probe")
	if _, s := readWS(t, ws); s != "3probe" {
		t.Fatalf("probe answer %q", s)
	}
	// The pending GET is released with a noop, and so is any new GET.
	if res := <-ch; res != [2]string{"200", "6"} {
		t.Fatalf("pending GET = %v", res)
	}
	if st, body := e.get(sid); st != 200 || body != "6" {
		t.Fatalf("GET while upgrading = %d %q", st, body)
	}
	// Volatile messages are dropped while upgrading; others wait.
	if r.c.TrySend(NewTextMessage([]byte("volatile"))) {
		t.Fatal("TrySend during upgrade succeeded")
	}
	if err := r.c.Send(NewTextMessage([]byte("queued"))); err != nil {
		t.Fatal(err)
	}
	if c.Transport() != "polling" {
		t.Fatal("transport switched before 5")
	}
	writeWS(t, ws, websocket.TextMessage, "5")
	if _, s := readWS(t, ws); s != "4queued" {
		t.Fatalf("first frame after upgrade %q", s)
	}
	if c.Transport() != "websocket" {
		t.Fatalf("transport %q after the upgrade", c.Transport())
	}
	// The hook runs after the queue is kicked, so the frame can be first.
	checkFor(t, time.Second, "Upgraded hook", func() bool { return upgraded.Load() == 1 })
	writeWS(t, ws, websocket.TextMessage, "4hello")
	if _, s := readWS(t, ws); s != "4hello" {
		t.Fatalf("echo %q", s)
	}
	// Polling with that sid is now a bad request.
	if st, body := e.get(sid); st != 400 || body != `{"code":3,"message":"Bad request"}` {
		t.Fatalf("GET after upgrade = %d %q", st, body)
	}
	if st, _ := e.post(sid, "4x"); st != 400 {
		t.Fatalf("POST after upgrade = %d", st)
	}
	// A second websocket for the sid is closed; the first keeps working.
	ws2 := e.mustDial("EIO=4&transport=websocket&sid=" + sid)
	if err := readWSErr(t, ws2); err == nil {
		t.Fatal("second websocket not closed")
	}
	writeWS(t, ws, websocket.TextMessage, "4again")
	if _, s := readWS(t, ws); s != "4again" {
		t.Fatalf("echo %q", s)
	}
	for _, want := range []string{"hello", "again"} {
		if m := r.waitMsg(t); m.data != want {
			t.Fatalf("OnMessage %q, want %q", m.data, want)
		}
	}
}

func TestUpgradeSecondProbeClosed(t *testing.T) {
	e := newEnv(t, Config{})
	sid, _ := e.handshake()
	ws := e.mustDial("EIO=4&transport=websocket&sid=" + sid)
	writeWS(t, ws, websocket.TextMessage, "2probe")
	readWS(t, ws)
	ws2 := e.mustDial("EIO=4&transport=websocket&sid=" + sid)
	if err := readWSErr(t, ws2); err == nil {
		t.Fatal("second probe not closed")
	}
	writeWS(t, ws, websocket.TextMessage, "5")
	checkFor(t, time.Second, "upgrade", func() bool { return e.sessionConn(sid).Transport() == "websocket" })
}

func TestUpgradeTimeout(t *testing.T) {
	e := newEnv(t, Config{UpgradeTimeout: 50 * time.Millisecond})
	sid, r := e.handshake()
	ws := e.mustDial("EIO=4&transport=websocket&sid=" + sid)
	writeWS(t, ws, websocket.TextMessage, "2probe")
	readWS(t, ws)
	// No "5": the probe is closed and the session goes on polling.
	if err := readWSErr(t, ws); err == nil {
		t.Fatal("probe not closed")
	}
	e.post(sid, "4poll")
	if st, body := e.get(sid); st != 200 || body != "4poll" {
		t.Fatalf("GET after failed upgrade = %d %q", st, body)
	}
	if r.c.Transport() != "polling" {
		t.Fatal("transport changed")
	}
	// A later upgrade still works.
	ws2 := upgradeTo(t, e, sid)
	writeWS(t, ws2, websocket.TextMessage, "4ws")
	if _, s := readWS(t, ws2); s != "4ws" {
		t.Fatalf("echo %q", s)
	}
}

func TestUpgradeAbortedByOtherPacket(t *testing.T) {
	e := newEnv(t, Config{})
	for _, bad := range []string{"4hello", "5", "2", "3probe"} {
		sid, _ := e.handshake()
		ws := e.mustDial("EIO=4&transport=websocket&sid=" + sid)
		writeWS(t, ws, websocket.TextMessage, bad)
		if err := readWSErr(t, ws); err == nil {
			t.Fatalf("%q: probe not closed", bad)
		}
		e.post(sid, "4alive")
		if st, body := e.get(sid); st != 200 || body != "4alive" {
			t.Fatalf("%q: session after aborted upgrade = %d %q", bad, st, body)
		}
	}
}

func TestHeartbeatPolling(t *testing.T) {
	e := newEnv(t, Config{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond})
	st, body, _ := e.do("GET", "EIO=4&transport=polling", "", nil)
	if st != 200 || !strings.Contains(body, `"pingInterval":50,"pingTimeout":50`) {
		t.Fatalf("handshake %q", body)
	}
	sid := body[9:29]
	r := e.nextConn()
	for i := 0; i < 3; i++ {
		if st, body := e.get(sid); st != 200 || body != "2" {
			t.Fatalf("ping %d: %d %q", i, st, body)
		}
		if st, _ := e.post(sid, "3"); st != 200 {
			t.Fatalf("pong %d: %d", i, st)
		}
	}
	// No pong: closed with "ping timeout".
	if reason := r.waitClose(t); reason != "ping timeout" {
		t.Fatalf("reason %q", reason)
	}
	if st, _ := e.get(sid); st != 400 {
		t.Fatalf("GET after timeout = %d", st)
	}
}

func TestHeartbeatLatePongIsTimeout(t *testing.T) {
	e := newEnv(t, Config{PingInterval: 20 * time.Millisecond, PingTimeout: 30 * time.Millisecond})
	sid, r := e.handshake()
	c := e.sessionConn(sid)
	checkFor(t, time.Second, "ping", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.awaitingPong
	})
	// Pretend the pong deadline passed before its timer fired.
	c.mu.Lock()
	c.hbDue = c.srv.sched.now() - 1
	c.mu.Unlock()
	if st, body := e.post(sid, "3"); st != 400 || body != `{"code":1,"message":"Session ID unknown"}` {
		t.Fatalf("late pong = %d %q", st, body)
	}
	if reason := r.waitClose(t); reason != "ping timeout" {
		t.Fatalf("reason %q", reason)
	}
}

func TestHeartbeatWebSocket(t *testing.T) {
	e := newEnv(t, Config{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond})
	ws := e.mustDial("EIO=4&transport=websocket")
	readWS(t, ws)
	r := e.nextConn()
	for i := 0; i < 3; i++ {
		if _, s := readWS(t, ws); s != "2" {
			t.Fatalf("ping %d: %q", i, s)
		}
		writeWS(t, ws, websocket.TextMessage, "3")
	}
	if err := readWSErr(t, ws); err == nil {
		t.Fatal("not closed")
	}
	if reason := r.waitClose(t); reason != "ping timeout" {
		t.Fatalf("reason %q", reason)
	}
}

func TestManySessionsHeartbeat(t *testing.T) {
	// Each answering client starts answering as soon as it is connected
	// (answering only after all 30 dials let the first sessions' pong
	// deadlines pass while later ones were still dialing), and the pong
	// deadline leaves its goroutine room to be scheduled late under -race
	// on a loaded machine.
	e := newEnvEcho(t, Config{PingInterval: 30 * time.Millisecond, PingTimeout: 200 * time.Millisecond}, false)
	const n = 30
	var recs []*recorder
	// Even sessions answer pings, odd ones do not.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < n; i++ {
		ws := e.mustDial("EIO=4&transport=websocket")
		readWS(t, ws)
		recs = append(recs, e.nextConn())
		if i%2 != 0 {
			continue
		}
		wg.Add(1)
		go func(ws *websocket.Conn) {
			defer wg.Done()
			for {
				_ = ws.SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, b, err := ws.ReadMessage(); err != nil {
					return
				} else if string(b) == "2" {
					_ = ws.WriteMessage(websocket.TextMessage, []byte("3"))
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		}(ws)
	}
	for i := 1; i < n; i += 2 {
		if reason := recs[i].waitClose(t); reason != "ping timeout" {
			t.Fatalf("session %d: %q", i, reason)
		}
	}
	time.Sleep(100 * time.Millisecond) // several more heartbeat rounds
	for i := 0; i < n; i += 2 {
		select {
		case reason := <-recs[i].closed:
			t.Fatalf("answering session %d closed: %q", i, reason)
		default:
		}
	}
	if got := e.srv.Count(); got != n/2 {
		t.Fatalf("Count = %d, want %d", got, n/2)
	}
	close(stop)
	e.close()
	wg.Wait()
	if e.srv.sched.len() != 0 {
		t.Fatal("scheduler not empty after Close")
	}
}

func TestServerClose(t *testing.T) {
	var opened, closed atomic.Int32
	e := newEnvEcho(t, Config{Hooks: Hooks{
		SessionOpened: func(string) { opened.Add(1) },
		SessionClosed: func(string, string) { closed.Add(1) },
	}}, false)
	e.srv.closePollWait = 2 * time.Second

	// A polling session with a pending GET.
	sidA, rA := e.handshake()
	chA := e.asyncGET(context.Background(), sidA)
	checkFor(t, time.Second, "pending GET", func() bool { return hasPendingGET(e.sessionConn(sidA)) })
	// A polling session with a queue and no GET.
	sidB, rB := e.handshake()
	_ = rB.c.Send(NewTextMessage([]byte("lastB")))
	// A websocket session with a queue.
	ws := e.mustDial("EIO=4&transport=websocket")
	readWS(t, ws)
	rC := e.nextConn()
	_ = rC.c.Send(NewTextMessage([]byte("lastC")))

	done := make(chan struct{})
	go func() {
		e.srv.Close("server shutting down")
		close(done)
	}()
	if res := <-chA; res != [2]string{"200", "1"} {
		t.Fatalf("A: pending GET = %v", res)
	}
	if st, body := e.get(sidB); st != 200 || body != "4lastB\x1e1" {
		t.Fatalf("B: GET = %d %q", st, body)
	}
	if _, s := readWS(t, ws); s != "4lastC" {
		t.Fatalf("C: %q", s)
	}
	if err := readWSErr(t, ws); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("C: close %v", err)
	}
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Server.Close did not return")
	}
	for _, r := range []*recorder{rA, rB, rC} {
		if reason := r.waitClose(t); reason != "server shutting down" {
			t.Fatalf("reason %q", reason)
		}
	}
	if e.srv.Count() != 0 || opened.Load() != 3 || closed.Load() != 3 {
		t.Fatalf("Count %d opened %d closed %d", e.srv.Count(), opened.Load(), closed.Load())
	}
	if st, _, _ := e.do("GET", "EIO=4&transport=polling", "", nil); st != 503 {
		t.Fatalf("handshake after Close = %d", st)
	}
}

// TestHandlerCallsSerialized sends many messages over polling and
// websocket while the server closes the session, and checks the Handler
// contract: one call at a time, in order, OnClose once and last.
func TestHandlerCallsSerialized(t *testing.T) {
	e := newEnvEcho(t, Config{}, false)
	ws := e.mustDial("EIO=4&transport=websocket")
	readWS(t, ws)
	r := e.nextConn()
	const n = 200
	go func() {
		for i := 0; i < n; i++ {
			if ws.WriteMessage(websocket.TextMessage, []byte(fmt.Sprint("4", i))) != nil {
				return
			}
		}
	}()
	for i := 0; i < n/2; i++ {
		if m := r.waitMsg(t); m.data != fmt.Sprint(i) {
			t.Fatalf("message %d = %q", i, m.data)
		}
	}
	r.c.closeNow("forced close")
	r.waitClose(t)
	time.Sleep(10 * time.Millisecond)
	if r.concurrent.Load() || r.afterClose.Load() || r.closeCount.Load() != 1 {
		t.Fatalf("concurrent %v afterClose %v closeCount %d", r.concurrent.Load(), r.afterClose.Load(), r.closeCount.Load())
	}
}

func TestHooksBalance(t *testing.T) {
	var mu sync.Mutex
	in, out := map[string]int{}, map[string]int{}
	var queued atomic.Int64
	e := newEnv(t, Config{Hooks: Hooks{
		PacketIn:   func(typ string, n int) { mu.Lock(); in[typ]++; mu.Unlock() },
		PacketOut:  func(typ string, n int) { mu.Lock(); out[typ]++; mu.Unlock() },
		QueueBytes: func(d int) { queued.Add(int64(d)) },
	}})
	sid, _ := e.handshake()
	e.post(sid, "4a\x1e4b")
	e.get(sid)
	ws := upgradeTo(t, e, sid)
	writeWS(t, ws, websocket.TextMessage, "4c")
	readWS(t, ws)
	e.close()
	mu.Lock()
	defer mu.Unlock()
	if in["message"] != 3 || in["upgrade"] != 1 || out["message"] != 3 || out["open"] != 1 || out["pong"] != 1 {
		t.Fatalf("in %v out %v", in, out)
	}
	if q := queued.Load(); q != 0 {
		t.Fatalf("QueueBytes net %d", q)
	}
}

func TestSchedulerHeap(t *testing.T) {
	s := newScheduler()
	srv := &Server{sched: s}
	rnd := rand.New(rand.NewSource(1))
	conns := make([]*Conn, 200)
	for i := range conns {
		conns[i] = newConn(srv, fmt.Sprint(i), nil)
	}
	// Far-future deadlines so nothing fires while we check the heap.
	base := s.now() + int64(time.Hour)
	for _, c := range conns {
		s.set(c, base+rnd.Int63n(1e9), 1)
	}
	for _, c := range conns[:50] {
		s.set(c, base+rnd.Int63n(1e9), 2) // reschedule
	}
	for _, c := range conns[50:100] {
		s.cancel(c)
		s.cancel(c) // idempotent
	}
	if s.len() != 150 {
		t.Fatalf("len %d", s.len())
	}
	s.mu.Lock()
	for i := range s.heap {
		if s.heap[i].hbIdx != i {
			t.Fatalf("index %d mismatch", i)
		}
		if i > 0 && s.heap[(i-1)/2].hbAt > s.heap[i].hbAt {
			t.Fatalf("heap order broken at %d", i)
		}
	}
	s.mu.Unlock()
	for _, c := range conns {
		s.cancel(c)
	}
	s.wait() // the run goroutine exits once the heap is empty
	if s.len() != 0 {
		t.Fatal("heap not empty")
	}
}

package node

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sio-go/sio/adapter"
	"github.com/sio-go/sio/node/siotest"
)

func TestConnectAuthAndHandshake(t *testing.T) {
	got := make(chan adapter.Handshake, 1)
	_, base := newTestServer(t, Config{}, func(s *Server) {
		s.OnConnection(func(sock *Socket) {
			got <- sock.Handshake()
			_ = sock.Emit("auth", sock.Handshake().Auth)
		})
	})
	c, sid := dial(t, base, "/", map[string]string{"token": "123"})
	if len(sid) != 20 {
		t.Fatalf("socket id %q, want 20 chars", sid)
	}
	e := expectEvent(t, c, "auth")
	if e.Raw(0) != `{"token":"123"}` {
		t.Fatalf("auth = %s", e.Raw(0))
	}
	h := <-got
	if h.Query["EIO"] != "4" || h.Query["transport"] != "websocket" || h.Address == "" || h.Issued == 0 || !strings.Contains(h.URL, "EIO=4") {
		t.Fatalf("handshake %+v", h)
	}
	// Without auth, handshake.auth is {}.
	c2, _ := dial(t, base, "/", nil)
	if e := expectEvent(t, c2, "auth"); e.Raw(0) != `{}` {
		t.Fatalf("auth = %s, want {}", e.Raw(0))
	}
}

func TestInvalidNamespace(t *testing.T) {
	_, base := newTestServer(t, Config{}, nil)
	c, err := siotest.Dial(ctxT(t), base, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Connect(ctxT(t), "/random", nil)
	var ce *siotest.ConnectError
	if !errors.As(err, &ce) || ce.Message != "Invalid namespace" || string(ce.Raw) != `{"message":"Invalid namespace"}` {
		t.Fatalf("err = %v", err)
	}
	// The Engine.IO connection stays open: "/" still works.
	if _, err := c.Connect(ctxT(t), "/", nil); err != nil {
		t.Fatal(err)
	}
}

func TestMiddlewareRejectAndOrder(t *testing.T) {
	var order []string
	var mu sync.Mutex
	_, base := newTestServer(t, Config{}, func(s *Server) {
		s.Use(func(sock *Socket, next func(error)) {
			mu.Lock()
			order = append(order, "a")
			mu.Unlock()
			next(nil)
		})
		s.Use(func(sock *Socket, next func(error)) {
			mu.Lock()
			order = append(order, "b")
			mu.Unlock()
			var auth struct{ Token string }
			_ = json.Unmarshal(sock.Handshake().Auth, &auth)
			if auth.Token != "good" {
				// asynchronous next, from another goroutine
				go next(NewConnectError("not authorized", map[string]string{"code": "E1"}))
				return
			}
			next(nil)
		})
	})
	c, err := siotest.Dial(ctxT(t), base, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Connect(ctxT(t), "/", map[string]string{"token": "bad"})
	var ce *siotest.ConnectError
	if !errors.As(err, &ce) || string(ce.Raw) != `{"data":{"code":"E1"},"message":"not authorized"}` {
		t.Fatalf("err = %v (%s)", err, ce.Raw)
	}
	if _, err := c.Connect(ctxT(t), "/", map[string]string{"token": "good"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(order, "") != "abab" {
		t.Fatalf("middleware order %v", order)
	}
}

func TestEmitAndAcksBothWays(t *testing.T) {
	answers := make(chan Args, 1)
	_, base := newTestServer(t, Config{}, func(s *Server) {
		s.OnConnection(func(sock *Socket) {
			sock.On("echo", func(args Args, ack AckFunc) {
				if ack == nil {
					t.Error("ack missing")
					return
				}
				_ = ack(args...)
				if err := ack(1); !errors.Is(err, ErrAckAlreadySent) {
					t.Errorf("second ack: %v", err)
				}
			})
			sock.On("ask", func(_ Args, _ AckFunc) {
				go func() {
					res, err := sock.EmitWithAck(context.Background(), "question", 42)
					if err != nil {
						t.Error(err)
					}
					answers <- res
				}()
			})
		})
	})
	c, _ := dial(t, base, "/", nil)
	res, err := c.EmitWithAck(ctxT(t), "/", "echo", 1, "2", json.RawMessage(`{"3":[true]}`), []byte{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 || string(res[0].(json.RawMessage)) != "1" || string(res[2].(json.RawMessage)) != `{"3":[true]}` || string(res[3].([]byte)) != "\x01\x02\x03" {
		t.Fatalf("ack %v", res)
	}
	if err := c.Emit("/", "ask"); err != nil {
		t.Fatal(err)
	}
	q := expectEvent(t, c, "question")
	if q.Raw(0) != "42" || q.Ack == nil {
		t.Fatalf("question %v", q.Args)
	}
	_ = q.Ack("forty-two", []byte{9})
	a := <-answers
	if s, _ := a.String(0); s != "forty-two" {
		t.Fatalf("answer %v", a)
	}
	if b, _ := a.Bytes(1); len(b) != 1 || b[0] != 9 {
		t.Fatalf("binary answer %v", a)
	}
}

func TestEmitWithAckTimeout(t *testing.T) {
	errc := make(chan error, 1)
	_, base := newTestServer(t, Config{}, func(s *Server) {
		s.OnConnection(func(sock *Socket) {
			go func() {
				_, err := sock.Timeout(50*time.Millisecond).EmitWithAck(context.Background(), "never-answered")
				errc <- err
			}()
		})
	})
	c, _ := dial(t, base, "/", nil)
	expectEvent(t, c, "never-answered")
	if err := <-errc; !errors.Is(err, ErrTimeout) || err.Error() != "operation has timed out" {
		t.Fatalf("err = %v", err)
	}
}

func TestReservedEventsRejected(t *testing.T) {
	var sock *Socket
	ready := make(chan struct{})
	srv, base := newTestServer(t, Config{}, func(s *Server) {
		s.OnConnection(func(so *Socket) { sock = so; close(ready) })
	})
	dial(t, base, "/", nil)
	<-ready
	for _, ev := range []string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"} {
		if err := sock.Emit(ev); !errors.Is(err, ErrReservedEvent) {
			t.Errorf("socket Emit(%q) = %v", ev, err)
		}
		if err := srv.Emit(ev); !errors.Is(err, ErrReservedEvent) {
			t.Errorf("server Emit(%q) = %v", ev, err)
		}
	}
	if err := srv.ServerSideEmit(context.Background(), "connection"); !errors.Is(err, ErrReservedEvent) {
		t.Errorf("ServerSideEmit(connection) = %v", err)
	}
}

func TestRoomsAndOperators(t *testing.T) {
	socks := make(chan *Socket, 4)
	srv, base := newTestServer(t, Config{}, func(s *Server) {
		s.OnConnection(func(so *Socket) { socks <- so })
	})
	cs := make([]*siotest.Client, 4)
	ss := make([]*Socket, 4)
	for i := range cs {
		cs[i], _ = dial(t, base, "/", nil)
		ss[i] = <-socks
	}
	// a: 0,1  b: 1,2  c: 3
	ss[0].Join("a")
	ss[1].Join("a", "b")
	ss[2].Join("b")
	ss[3].Join("c")
	if r := ss[1].Rooms(); len(r) != 3 {
		t.Fatalf("rooms %v", r)
	}
	// union a+b: 0,1,2 each once; except c changes nothing
	if err := srv.To("a").To("b").Except("c").Emit("u", 1); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		expectEvent(t, cs[i], "u")
	}
	// socket.To excludes the sender; Except removes room b
	_ = ss[1].To("a").Emit("from1")
	expectEvent(t, cs[0], "from1")
	_ = srv.Except("b").Emit("notb")
	expectEvent(t, cs[0], "notb")
	expectEvent(t, cs[3], "notb")
	// Broadcast: everyone but the sender
	_ = ss[3].Broadcast().Emit("bc")
	for i := 0; i < 3; i++ {
		expectEvent(t, cs[i], "bc")
	}
	// dedup: a client in both rooms got "u" once (next event after u on cs[1] is from1... checked by ordering)
	_ = srv.To("a", "b").Emit("marker")
	e, err := cs[1].Next(ctxT(t))
	if err != nil || e.Name != "marker" {
		t.Fatalf("after u/from1 cs[1] got %q, want marker (dup delivery?)", e.Name)
	}
	ss[1].Leave("a")
	if got := srv.Sockets().Adapter().Rooms()["a"]; len(got) != 1 || string(got[0]) != ss[0].ID() {
		t.Fatalf("room a = %v", got)
	}
	// A socket's own id is a room.
	_ = srv.To(ss[2].ID()).Emit("direct")
	expectEvent(t, cs[2], "direct")
	// Other clients must not have received anything else: check with a marker.
	_ = srv.Emit("end")
	for _, i := range []int{0, 3} {
		e := expectEvent(t, cs[i], "end")
		_ = e
	}
	e, _ = cs[3].Next(ctxT(t))
	_ = e
}

func TestBroadcastWithAck(t *testing.T) {
	socks := make(chan *Socket, 3)
	srv, base := newTestServer(t, Config{}, func(s *Server) {
		s.OnConnection(func(so *Socket) { so.Join("r"); socks <- so })
	})
	var cs []*siotest.Client
	for i := 0; i < 3; i++ {
		c, _ := dial(t, base, "/", nil)
		cs = append(cs, c)
		<-socks
	}
	for i, c := range cs[:2] {
		go func(i int, c *siotest.Client) {
			e, err := c.Wait(context.Background(), "ping-room")
			if err == nil {
				_ = e.Ack(i, "ignored second arg")
			}
		}(i, c)
	}
	// Third client never answers: the timeout lists the two that did.
	res, err := srv.To("r").Timeout(300*time.Millisecond).EmitWithAck(context.Background(), "ping-room")
	if !errors.Is(err, ErrTimeout) || len(res) != 2 {
		t.Fatalf("res=%v err=%v", res, err)
	}
	got := []string{string(res[0].(json.RawMessage)), string(res[1].(json.RawMessage))}
	sort.Strings(got)
	if got[0] != "0" || got[1] != "1" {
		t.Fatalf("responses %v", got)
	}
	// All answer: no error.
	go func() {
		// The first "ping-room" is the one cs[2] left unanswered; its late
		// ack must be ignored. The second one it answers.
		for i := 0; i < 2; i++ {
			e, err := cs[2].Wait(context.Background(), "ping-room")
			if err != nil {
				return
			}
			_ = e.Ack("late", i)
		}
	}()
	for _, c := range cs[:2] {
		go func(c *siotest.Client) {
			e, err := c.Wait(context.Background(), "ping-room")
			if err == nil {
				_ = e.Ack("x")
			}
		}(c)
	}
	res, err = srv.To("r").Timeout(2*time.Second).EmitWithAck(context.Background(), "ping-room")
	if err != nil || len(res) != 3 {
		t.Fatalf("res=%v err=%v", res, err)
	}
}

func TestServerUtilities(t *testing.T) {
	socks := make(chan *Socket, 3)
	srv, base := newTestServer(t, Config{}, func(s *Server) {
		s.OnConnection(func(so *Socket) { socks <- so })
	})
	var cs []*siotest.Client
	var ss []*Socket
	for i := 0; i < 3; i++ {
		c, _ := dial(t, base, "/", map[string]int{"n": i})
		cs = append(cs, c)
		so := <-socks
		so.SetData(map[string]int{"n": i})
		ss = append(ss, so)
	}
	ss[0].Join("x")
	ctx := ctxT(t)
	if err := srv.In("x").SocketsJoin(ctx, "y", "z"); err != nil {
		t.Fatal(err)
	}
	rooms := ss[0].Rooms()
	sort.Strings(rooms)
	if len(rooms) != 4 {
		t.Fatalf("rooms after SocketsJoin: %v", rooms)
	}
	if err := srv.Sockets().SocketsLeave(ctx, "y"); err != nil {
		t.Fatal(err)
	}
	if len(ss[0].Rooms()) != 3 {
		t.Fatalf("rooms after SocketsLeave: %v", ss[0].Rooms())
	}
	fetched, err := srv.In("z").FetchSockets(ctx)
	if err != nil || len(fetched) != 1 || fetched[0].ID != ss[0].ID() {
		t.Fatalf("FetchSockets = %v, %v", fetched, err)
	}
	if fetched[0].Handshake.Query["EIO"] != "4" || string(fetched[0].Handshake.Auth) != `{"n":0}` {
		t.Fatalf("handshake %+v", fetched[0].Handshake)
	}
	if d, ok := fetched[0].Data.(map[string]int); !ok || d["n"] != 0 {
		t.Fatalf("data %#v", fetched[0].Data)
	}
	if err := fetched[0].Emit("hello-remote"); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, cs[0], "hello-remote")
	all, _ := srv.FetchSockets(ctx)
	if len(all) != 3 {
		t.Fatalf("all = %d", len(all))
	}
	reasons := make(chan string, 3)
	for _, so := range ss[1:] {
		so.OnDisconnect(func(r string) { reasons <- r })
	}
	if err := srv.Except("z").DisconnectSockets(ctx, false); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if r := <-reasons; r != ReasonServerNamespaceDisconnect {
			t.Fatalf("reason %q", r)
		}
	}
	expectEvent(t, cs[1], "disconnect")
	if n := srv.Sockets().SocketCount(); n != 1 {
		t.Fatalf("sockets left %d", n)
	}
	n, err := srv.Sockets().Adapter().ServerCount(ctx)
	if err != nil || n != 1 {
		t.Fatalf("ServerCount %d %v", n, err)
	}
}

func TestDisconnectReasonsAndRoomsCleanup(t *testing.T) {
	type ev struct {
		kind  string
		rooms int
	}
	events := make(chan ev, 10)
	socks := make(chan *Socket, 2)
	srv, base := newTestServer(t, Config{}, func(s *Server) {
		s.OnConnection(func(so *Socket) {
			so.Join("room1")
			so.OnDisconnecting(func(r string) { events <- ev{"disconnecting:" + r, len(so.Rooms())} })
			so.OnDisconnect(func(r string) { events <- ev{"disconnect:" + r, len(so.Rooms())} })
			socks <- so
		})
	})
	c, _ := dial(t, base, "/", nil)
	<-socks
	if err := c.Disconnect("/"); err != nil {
		t.Fatal(err)
	}
	if e := <-events; e.kind != "disconnecting:client namespace disconnect" || e.rooms != 2 {
		t.Fatalf("%+v", e)
	}
	if e := <-events; e.kind != "disconnect:client namespace disconnect" || e.rooms != 0 {
		t.Fatalf("%+v", e)
	}
	if len(srv.Sockets().Adapter().Rooms()) != 0 {
		t.Fatalf("rooms left: %v", srv.Sockets().Adapter().Rooms())
	}
	// The Engine.IO session stays up: reconnect on the same connection.
	if _, err := c.Connect(ctxT(t), "/", nil); err != nil {
		t.Fatal(err)
	}
	so := <-socks
	so.Disconnect(true)
	if e := <-events; e.kind != "disconnecting:server namespace disconnect" {
		t.Fatalf("%+v", e)
	}
	<-events
	select {
	case <-c.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("Disconnect(true) did not close the connection")
	}
	// Transport close.
	c3, _ := dial(t, base, "/", nil)
	<-socks
	c3.Close()
	<-events
	if e := <-events; e.kind != "disconnect:transport close" {
		t.Fatalf("%+v", e)
	}
}

func TestDynamicNamespaces(t *testing.T) {
	var created atomic.Int32
	_, base := newTestServer(t, Config{}, func(s *Server) {
		s.OnNewNamespace(func(*Namespace) { created.Add(1) })
		p := s.OfRegexp(regexp.MustCompile(`^/dyn-\d+$`))
		p.Use(func(so *Socket, next func(error)) {
			if so.Namespace().Name() == "/dyn-13" {
				next(errors.New("unlucky"))
				return
			}
			next(nil)
		})
		p.OnConnection(func(so *Socket) { _ = so.Emit("hi", so.Namespace().Name()) })
		s.OfFunc(func(name string, auth json.RawMessage) bool {
			return strings.HasPrefix(name, "/fn-") && strings.Contains(string(auth), "yes")
		}).OnConnection(func(so *Socket) { _ = so.Emit("fn") })
	})
	c, _ := dial(t, base, "/dyn-1", nil)
	if e := expectEvent(t, c, "hi"); e.Raw(0) != `"/dyn-1"` {
		t.Fatalf("%v", e.Args)
	}
	if _, err := c.Connect(ctxT(t), "/dyn-13", nil); err == nil || !strings.Contains(err.Error(), "unlucky") {
		t.Fatalf("parent middleware not applied: %v", err)
	}
	if _, err := c.Connect(ctxT(t), "/dyn-x", nil); err == nil {
		t.Fatal("non-matching name accepted")
	}
	if _, err := c.Connect(ctxT(t), "/fn-a", map[string]string{"ok": "no"}); err == nil {
		t.Fatal("fn rejected name accepted")
	}
	if _, err := c.Connect(ctxT(t), "/fn-a", map[string]string{"ok": "yes"}); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, c, "fn")
	if created.Load() != 3 { // /dyn-1, /dyn-13, /fn-a
		t.Fatalf("new namespaces: %d", created.Load())
	}
}

func TestAnyListenersAndPacketMiddleware(t *testing.T) {
	type rec struct{ dir, ev string }
	recs := make(chan rec, 10)
	errs := make(chan error, 1)
	srv, base := newTestServer(t, Config{}, func(s *Server) {
		s.OnConnection(func(so *Socket) {
			so.OnAny(func(ev string, _ Args) { recs <- rec{"in", ev} })
			so.OnAnyOutgoing(func(ev string, _ Args) { recs <- rec{"out", ev} })
			so.Use(func(ev string, _ Args, next func(error)) {
				if ev == "forbidden" {
					next(errors.New("nope"))
					return
				}
				next(nil)
			})
			so.OnError(func(err error) { errs <- err })
			so.On("forbidden", func(Args, AckFunc) { t.Error("handler ran despite middleware error") })
			so.On("ok", func(_ Args, ack AckFunc) { _ = ack() })
		})
	})
	c, _ := dial(t, base, "/", nil)
	if _, err := c.EmitWithAck(ctxT(t), "/", "ok"); err != nil {
		t.Fatal(err)
	}
	if r := <-recs; r != (rec{"in", "ok"}) {
		t.Fatalf("%+v", r)
	}
	_ = c.Emit("/", "forbidden")
	if err := <-errs; err.Error() != "nope" {
		t.Fatal(err)
	}
	<-recs // in: forbidden
	_ = srv.Emit("bcast")
	if r := <-recs; r != (rec{"out", "bcast"}) {
		t.Fatalf("%+v", r)
	}
}

// TestSocketRegistrations checks the handler and hook lists: order,
// several handlers per event, Off during a dispatch, growth past the
// tight-growth length, and that a socket using only On and Emit never
// allocates its extras.
func TestSocketRegistrations(t *testing.T) {
	s := &Socket{}
	s.state.Or(stConnected | stReady)
	var got []string
	rec := func(name string) EventHandler { return func(Args, AckFunc) { got = append(got, name) } }
	check := func(what string, want ...string) {
		t.Helper()
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("%s: ran %v, want %v", what, got, want)
		}
		got = nil
	}

	s.On("a", rec("a1"))
	s.On("b", rec("b1"))
	s.On("a", func(Args, AckFunc) { got = append(got, "a2"); s.Off("a") })
	s.On("a", rec("a3"))
	s.dispatch("a", nil, nil)
	check("first dispatch (Off inside applies to the next one)", "a1", "a2", "a3")
	s.dispatch("a", nil, nil)
	check("after Off")
	s.dispatch("b", nil, nil)
	check("other event kept", "b1")
	s2 := &Socket{}
	s2.state.Or(stConnected | stReady)
	s2.On("c", func(Args, AckFunc) { got = append(got, "c1"); s2.Off("b") })
	s2.On("b", rec("b"))
	s2.On("c", rec("c2"))
	s2.dispatch("c", nil, nil)
	check("Off of a later event during a dispatch", "c1", "c2")
	for i := range 3 * tightGrowth {
		s.On("many", rec(strconv.Itoa(i)))
	}
	s.dispatch("many", nil, nil)
	if len(got) != 3*tightGrowth || got[0] != "0" || got[len(got)-1] != strconv.Itoa(3*tightGrowth-1) {
		t.Fatalf("many: ran %v", got)
	}
	got = nil
	s.notifyOutgoing("x", nil)
	s.SetData(nil)
	if s.Data() != nil || s.ext.Load() != nil {
		t.Fatal("a socket using only On and Emit allocated its extras")
	}

	s.OnAny(func(ev string, _ Args) { got = append(got, "any1:"+ev) })
	s.Use(func(ev string, _ Args, next func(error)) { got = append(got, "mw1"); next(nil) })
	s.OnAny(func(ev string, _ Args) { got = append(got, "any2:"+ev) })
	s.OnAnyOutgoing(func(ev string, _ Args) { got = append(got, "out:"+ev) })
	s.Use(func(ev string, _ Args, next func(error)) {
		got = append(got, "mw2")
		if ev == "bad" {
			next(errors.New("refused"))
			return
		}
		next(nil)
	})
	s.OnError(func(err error) { got = append(got, "err:"+err.Error()) })
	run := func(ev string) {
		hooks := s.hooks()
		for _, h := range hooks {
			if h.kind == hookAnyIn {
				h.fn.(AnyHandler)(ev, nil)
			}
		}
		s.runPacketMiddlewares(hooks, 0, ev, nil, nil)
	}
	run("b")
	check("hooks in order", "any1:b", "any2:b", "mw1", "mw2", "b1")
	run("bad")
	check("middleware error", "any1:bad", "any2:bad", "mw1", "mw2", "err:refused")
	s.notifyOutgoing("x", nil)
	check("outgoing", "out:x")
	s.OffAny()
	s.OffAnyOutgoing()
	run("b")
	s.notifyOutgoing("x", nil)
	check("after OffAny and OffAnyOutgoing", "mw1", "mw2", "b1")
	s.SetData("d")
	if s.Data() != "d" {
		t.Fatalf("Data() = %v", s.Data())
	}
}

func TestConnectTimeout(t *testing.T) {
	_, base := newTestServer(t, Config{ConnectTimeout: 100 * time.Millisecond}, nil)
	c, err := siotest.Dial(ctxT(t), base, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case <-c.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("connection without CONNECT was not closed")
	}
}

func TestMalformedPacketsCloseOnlyThatConnection(t *testing.T) {
	_, base := newTestServer(t, Config{}, func(s *Server) {
		s.OnConnection(func(so *Socket) {
			so.On("echo", func(a Args, ack AckFunc) { _ = ack(a...) })
		})
	})
	good, _ := dial(t, base, "/", nil)
	for _, frame := range []string{`4abc`, `42{}`, `42abc["x"]`, `4` + `2["connect"]`, `43{}`, `45-["x"]`, `41/nope,`, `40`} {
		c, _ := dial(t, base, "/", nil)
		if err := c.SendRaw(frame); err != nil {
			t.Fatal(err)
		}
		select {
		case <-c.Done():
		case <-time.After(3 * time.Second):
			t.Fatalf("frame %q did not close the connection", frame)
		}
	}
	if _, err := good.EmitWithAck(ctxT(t), "/", "echo", 1); err != nil {
		t.Fatalf("other client affected: %v", err)
	}
}

func TestShutdownDisconnectsWithReason(t *testing.T) {
	reasons := make(chan string, 1)
	srv, base := newTestServer(t, Config{}, func(s *Server) {
		s.OnConnection(func(so *Socket) { so.OnDisconnect(func(r string) { reasons <- r }) })
	})
	c, _ := dial(t, base, "/", nil)
	waitFor(t, "socket", func() bool { return srv.Sockets().SocketCount() == 1 })
	if err := srv.Shutdown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if r := <-reasons; r != ReasonServerShuttingDown {
		t.Fatalf("reason %q", r)
	}
	select {
	case <-c.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("client not closed")
	}
	if srv.Ready() == nil {
		t.Fatal("ready after shutdown")
	}
	if _, err := siotest.Dial(ctxT(t), base, nil); err == nil {
		t.Fatal("new connection accepted while draining")
	}
}

func TestConcurrentEmits(t *testing.T) {
	socks := make(chan *Socket, 1)
	srv, base := newTestServer(t, Config{}, func(s *Server) {
		s.OnConnection(func(so *Socket) { so.Join("r"); socks <- so })
	})
	c, _ := dial(t, base, "/", nil)
	so := <-socks
	const n = 8
	const each = 50
	var wg sync.WaitGroup
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if g%2 == 0 {
					_ = so.Emit("m", g, i)
				} else {
					_ = srv.To("r").Emit("m", g, i)
				}
			}
		}(g)
	}
	wg.Wait()
	last := make(map[string]int)
	for i := 0; i < n*each; i++ {
		e := expectEvent(t, c, "m")
		g, k := e.Raw(0), 0
		_ = json.Unmarshal(e.Args[1].(json.RawMessage), &k)
		if prev, ok := last[g]; ok && k != prev+1 {
			t.Fatalf("goroutine %s: %d after %d (order per sender lost)", g, k, prev)
		}
		last[g] = k
	}
}

func TestRateLimit(t *testing.T) {
	_, base := newTestServer(t, Config{MaxPacketsPerSecond: 5}, nil)
	c, _ := dial(t, base, "/", nil)
	for i := 0; i < 20; i++ {
		_ = c.Emit("/", "spam", i)
	}
	select {
	case <-c.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("flooding client not disconnected")
	}
}

func TestMaxConnections(t *testing.T) {
	_, base := newTestServer(t, Config{MaxConnections: 1}, nil)
	dial(t, base, "/", nil)
	if c, err := siotest.Dial(ctxT(t), base, nil); err == nil {
		c.Close()
		t.Fatal("second connection accepted over the limit")
	}
}

func TestPendingAcksBounded(t *testing.T) {
	socks := make(chan *Socket, 1)
	_, base := newTestServer(t, Config{}, func(s *Server) {
		s.OnConnection(func(so *Socket) { socks <- so })
	})
	dial(t, base, "/", nil)
	so := <-socks
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < maxPendingAcks; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = so.EmitWithAck(ctx, "never") }()
	}
	waitFor(t, "pending acks", func() bool {
		e := so.ext.Load()
		if e == nil {
			return false
		}
		so.mu.Lock()
		defer so.mu.Unlock()
		return len(e.acks) == maxPendingAcks
	})
	if _, err := so.EmitWithAck(context.Background(), "one-more"); !errors.Is(err, ErrTooManyAcks) {
		t.Fatalf("err = %v, want ErrTooManyAcks", err)
	}
	cancel()
	wg.Wait()
}

func TestEventNames(t *testing.T) {
	s := &Socket{}
	s.On("chat message", func(Args, AckFunc) {})
	for raw, want := range map[string]string{
		`"chat message"`: "chat message",
		`"other"`:        "other",
		`"caf\u00e9"`:    "café",
		`"a\"b"`:         `a"b`,
		`12`:             "12",
	} {
		if got := s.eventName(json.RawMessage(raw)); got != want {
			t.Errorf("eventName(%s) = %q, want %q", raw, got, want)
		}
	}
	// The name of a registered handler is its interned string.
	raw := json.RawMessage(`"chat message"`)
	if n := testing.AllocsPerRun(100, func() { _ = s.eventName(raw) }); n != 0 {
		t.Errorf("eventName of a handled event: %v allocations, want 0", n)
	}
}

// TestJoinRacingDisconnectLeavesNoGhost checks that a Join made from
// another goroutine while the socket disconnects does not leave the
// socket in the adapter: the disconnect's DelAll may run between Join's
// connected check and its AddAll, and nothing would remove the socket
// again.
func TestJoinRacingDisconnectLeavesNoGhost(t *testing.T) {
	const clients = 20
	var joiners sync.WaitGroup
	srv, base := newTestServer(t, Config{}, func(s *Server) {
		s.OnConnection(func(so *Socket) {
			joiners.Add(1)
			go func() {
				defer joiners.Done()
				// Join until the socket is gone (bounded: ~1 s of joins).
				for i := 0; i < 1_000_000 && so.Connected(); i++ {
					so.Join("r" + strconv.Itoa(i%4))
				}
			}()
		})
	})
	cs := make([]*siotest.Client, clients)
	for i := range cs {
		cs[i], _ = dial(t, base, "/", nil)
	}
	for _, c := range cs {
		_ = c.Close()
	}
	a := srv.Of("/").Adapter()
	waitFor(t, "every socket gone", func() bool { return srv.Of("/").SocketCount() == 0 })
	joiners.Wait()
	if sids := a.Sids(); len(sids) != 0 {
		t.Errorf("%d sockets remain in the adapter after all disconnected: %v", len(sids), sids)
	}
}

// TestCloseDuringAcceptLeavesNoSocket checks a connection that closes
// while its socket is being accepted (after the client registered it,
// before it is marked connected): here the close comes from the room
// event of the socket joining its own room, with the accept running off
// the engine's handler goroutine, as after a middleware that calls next
// from a goroutine of its own. The socket must not stay in the namespace
// or the adapter, and the connection handlers must not run for it.
func TestCloseDuringAcceptLeavesNoSocket(t *testing.T) {
	// The client reaches the hook through a channel, after the test's last
	// use of it.
	clients := make(chan *siotest.Client, 1)
	nextDone := make(chan struct{})
	var handled atomic.Bool
	srv, base := newTestServer(t, Config{}, nil)
	srv.Use(func(_ *Socket, next func(error)) {
		go func() {
			defer close(nextDone)
			next(nil)
		}()
	})
	srv.OnConnection(func(*Socket) { handled.Store(true) })
	srv.Of("/").OnRoomEvent(func(kind adapter.RoomEventKind, room adapter.Room, sid adapter.SocketID) {
		if kind != adapter.JoinRoom || string(room) != string(sid) {
			return
		}
		_ = (<-clients).Close()
		deadline := time.Now().Add(5 * time.Second)
		for srv.Engine().Count() != 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	})
	c, err := siotest.Dial(ctxT(t), base, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendRaw("40"); err != nil { // CONNECT to "/"
		t.Fatal(err)
	}
	clients <- c
	select {
	case <-nextDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the accept never returned")
	}
	if srv.Engine().Count() != 0 {
		t.Fatal("the connection did not close during the accept")
	}
	ns := srv.Of("/")
	if n := ns.SocketCount(); n != 0 {
		t.Errorf("%d sockets in the namespace after their connection closed", n)
	}
	if sids := ns.Adapter().Sids(); len(sids) != 0 {
		t.Errorf("sockets %v remain in the adapter", sids)
	}
	if handled.Load() {
		t.Error("the connection handler ran for a socket whose connection had closed")
	}
}

// TestNewNamespaceListenerMayCallParent checks that an OnNewNamespace
// listener may use the parent namespace that created the child: it ran
// with the parent's lock held, and Children deadlocked the connection.
func TestNewNamespaceListenerMayCallParent(t *testing.T) {
	var children atomic.Int32
	_, base := newTestServer(t, Config{}, func(s *Server) {
		p := s.OfRegexp(regexp.MustCompile(`^/dyn-\d+$`))
		s.OnNewNamespace(func(ns *Namespace) {
			children.Store(int32(len(p.Children())))
			p.OnConnection(func(*Socket) {})
		})
	})
	c, _ := dial(t, base, "/", nil)
	if _, err := c.Connect(ctxT(t), "/dyn-1", nil); err != nil {
		t.Fatal(err)
	}
	if n := children.Load(); n != 1 {
		t.Errorf("the listener saw %d children; want the new one", n)
	}
}

// slowInitAdapter is the in-memory adapter whose Init waits for release,
// as the Redis adapter's waits for its subscriptions.
type slowInitAdapter struct {
	*adapter.Memory
	release <-chan struct{}
}

func (a slowInitAdapter) Init(ctx context.Context) error {
	<-a.release
	return a.Memory.Init(ctx)
}

// TestNamespaceCreationHoldsNoServerLock checks that creating a namespace
// (here a dynamic child whose adapter's Init waits) holds no lock the
// other namespaces need: a CONNECT to "/" goes on meanwhile, and the
// waiting CONNECT completes once the adapter is ready.
func TestNamespaceCreationHoldsNoServerLock(t *testing.T) {
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	cfg := Config{Adapter: func(ns adapter.Namespace) (adapter.Adapter, error) {
		m := adapter.NewMemory(ns)
		if ns.Name() == "/" {
			return m, nil
		}
		return slowInitAdapter{Memory: m, release: release}, nil
	}}
	_, base := newTestServer(t, cfg, func(s *Server) { s.OfRegexp(regexp.MustCompile(`^/dyn-\d+$`)) })
	slow, _ := dial(t, base, "/", nil)
	dynErr := make(chan error, 1)
	go func() {
		_, err := slow.Connect(ctxT(t), "/dyn-1", nil)
		dynErr <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the creation start and wait
	other, err := siotest.Dial(ctxT(t), base, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := other.Connect(ctx, "/", nil); err != nil {
		t.Fatalf("a CONNECT to / waited for another namespace's adapter: %v", err)
	}
	releaseOnce.Do(func() { close(release) })
	if err := <-dynErr; err != nil {
		t.Fatalf("CONNECT to the new namespace: %v", err)
	}
}

// pendingAcks returns how many acks the socket awaits.
func pendingAcks(s *Socket) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.ext.Load(); e != nil {
		return len(e.acks)
	}
	return 0
}

// TestAckRegistrationRefusedWhileDisconnecting checks the state between
// onClose's start (closing set) and its failing of the pending acks: an
// ack registered then would never be answered, so EmitWithAck (which
// checked the socket connected just before) must get ErrDisconnected
// and a broadcast must not count the socket.
func TestAckRegistrationRefusedWhileDisconnecting(t *testing.T) {
	socks := make(chan *Socket, 1)
	_, base := newTestServer(t, Config{}, func(s *Server) {
		s.OnConnection(func(so *Socket) { socks <- so })
	})
	dial(t, base, "/", nil)
	so := <-socks
	so.state.Or(stClosing) // onClose has begun
	defer so.state.And(^stClosing)
	if err := so.addAck(1, func(Args, error) {}); !errors.Is(err, ErrDisconnected) {
		t.Errorf("addAck on a disconnecting socket = %v; want ErrDisconnected", err)
	}
	if so.registerBroadcastAck(2, 0, func(any) {}) {
		t.Error("a broadcast counted a disconnecting socket among those that will answer")
	}
	if n := pendingAcks(so); n != 0 {
		t.Errorf("%d acks registered on a disconnecting socket", n)
	}
}

// TestBroadcastAckBoundedByContextDropsEntries checks a broadcast
// EmitWithAck bounded only by its context's deadline: a client that never
// answers must not keep the socket's entry once the deadline passed (they
// piled up until maxPendingAcks refused every later ack of the socket).
func TestBroadcastAckBoundedByContextDropsEntries(t *testing.T) {
	socks := make(chan *Socket, 1)
	srv, base := newTestServer(t, Config{}, func(s *Server) {
		s.OnConnection(func(so *Socket) { socks <- so })
	})
	dial(t, base, "/", nil) // never acks
	so := <-socks
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := srv.Of("/").EmitWithAck(ctx, "silent"); !errors.Is(err, ErrTimeout) {
		t.Fatalf("EmitWithAck = %v; want ErrTimeout", err)
	}
	waitFor(t, "the socket to drop the broadcast's ack", func() bool { return pendingAcks(so) == 0 })
}

// TestAsyncMiddlewareFirstEventReachesHandlers checks a middleware that
// calls next from a goroutine of its own: the accept then runs beside
// the connection's goroutine, and an event the client emits as soon as
// it is connected must wait for the connection handlers that register
// its handler, not be dispatched to a socket without handlers (as in
// Node, where they run before any later packet).
func TestAsyncMiddlewareFirstEventReachesHandlers(t *testing.T) {
	_, base := newTestServer(t, Config{}, func(s *Server) {
		s.Use(func(_ *Socket, next func(error)) { go next(nil) })
		s.OnConnection(func(so *Socket) {
			so.On("hello", func(args Args, ack AckFunc) {
				if ack != nil {
					_ = ack("hi")
				}
			})
		})
	})
	for i := range 10 {
		c, err := siotest.Dial(ctxT(t), base, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Connect(ctxT(t), "/", nil); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err = c.EmitWithAck(ctx, "/", "hello")
		cancel()
		_ = c.Close()
		if err != nil {
			t.Fatalf("connection %d: the first event after connecting got no answer: %v", i, err)
		}
	}
}

// TestDeliverPacketWithoutData checks a broadcast whose data is empty, as
// another node may publish it: it must not panic the adapter's worker
// (the delivery read the event name at index 0), and a broadcast with
// acks still counts its clients.
func TestDeliverPacketWithoutData(t *testing.T) {
	socks := make(chan *Socket, 1)
	srv, base := newTestServer(t, Config{}, func(s *Server) {
		s.OnConnection(func(so *Socket) { socks <- so })
	})
	dial(t, base, "/", nil)
	<-socks
	a := srv.Of("/").Adapter()
	pkt := &adapter.Packet{Type: adapter.PacketEvent, Nsp: "/", Data: []any{}}
	if err := a.Broadcast(context.Background(), pkt, adapter.BroadcastOptions{}); err != nil {
		t.Fatal(err)
	}
	var clients atomic.Int64
	if err := a.BroadcastWithAck(context.Background(), pkt, adapter.BroadcastOptions{Flags: adapter.BroadcastFlags{Timeout: time.Second}},
		func(n int) { clients.Add(int64(n)) }, func(any) {}); err != nil {
		t.Fatal(err)
	}
	if n := clients.Load(); n != 1 {
		t.Errorf("client count %d; want 1", n)
	}
}

// TestAsyncAcceptHandlerMayAwaitClient checks a connection handler, run
// after a middleware that called next from its own goroutine, that waits
// for its client: the client's ack must reach it while the socket's other
// packets are held, and a client that leaves meanwhile must fail the wait
// (its session's close is not blocked behind the held packets).
func TestAsyncAcceptHandlerMayAwaitClient(t *testing.T) {
	got := make(chan error, 2)
	var seen atomic.Int32
	_, base := newTestServer(t, Config{}, func(s *Server) {
		s.Use(func(_ *Socket, next func(error)) { go next(nil) })
		s.OnConnection(func(so *Socket) {
			so.On("early", func(Args, AckFunc) { seen.Add(1) })
			_, err := so.EmitWithAck(context.Background(), "hello")
			got <- err
		})
	})
	// The client answers: the handler returns, then the event the client
	// sent before answering is dispatched.
	c, err := siotest.Dial(ctxT(t), base, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Connect(ctxT(t), "/", nil); err != nil {
		t.Fatal(err)
	}
	e := expectEvent(t, c, "hello")
	if err := c.Emit("/", "early"); err != nil {
		t.Fatal(err)
	}
	if err := e.Ack("ok"); err != nil {
		t.Fatal(err)
	}
	awaitErr(t, got, nil, "the handler's EmitWithAck after the client acked")
	waitFor(t, "the event held while the handler ran", func() bool { return seen.Load() == 1 })

	// The client leaves without answering: the disconnect fails the wait.
	c2, err := siotest.Dial(ctxT(t), base, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Connect(ctxT(t), "/", nil); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, c2, "hello")
	_ = c2.Emit("/", "early") // held behind the running handler
	_ = c2.Close()
	awaitErr(t, got, ErrDisconnected, "the handler's EmitWithAck after its client left")
}

// TestJoinDuringDisconnectingKeepsRooms checks the documented promise of
// OnDisconnecting (its rooms are still populated) against a Join from
// another goroutine that passed its connected check just before the
// disconnect began: the Join's ghost check must not empty the rooms while
// the hooks run, and the socket must still leave the adapter in the end.
// The interleaving is forced through the join's room event.
func TestJoinDuringDisconnectingKeepsRooms(t *testing.T) {
	socks := make(chan *Socket, 1)
	joining := make(chan struct{})
	disconnecting := make(chan struct{})
	joined := make(chan struct{})
	srv, base := newTestServer(t, Config{}, func(s *Server) {
		s.OnConnection(func(so *Socket) { socks <- so })
		s.Of("/").OnRoomEvent(func(kind adapter.RoomEventKind, room adapter.Room, _ adapter.SocketID) {
			if kind == adapter.JoinRoom && room == "late" {
				close(joining)  // the Join passed its check...
				<-disconnecting // ...and the disconnect begins now
			}
		})
	})
	c, _ := dial(t, base, "/", nil)
	so := <-socks
	so.Join("r")
	var rooms []string
	so.OnDisconnecting(func(string) {
		close(disconnecting)
		<-joined // the Join's ghost check runs while this hook does
		rooms = so.Rooms()
	})
	go func() {
		so.Join("late")
		close(joined)
	}()
	<-joining
	_ = c.Close()
	waitFor(t, "the disconnect", func() bool { return !so.Connected() && srv.Of("/").SocketCount() == 0 })
	if !slices.Contains(rooms, "r") || !slices.Contains(rooms, "late") {
		t.Errorf("OnDisconnecting saw rooms %v; want them still populated (r, late)", rooms)
	}
	waitFor(t, "the socket to leave the adapter", func() bool { return len(srv.Of("/").Adapter().Sids()) == 0 })
}

// TestShutdownDuringNamespaceCreation checks a namespace whose adapter is
// still initialising when Shutdown starts: Shutdown must not miss it, or
// its adapter (for Redis: subscription, workers) would stay open.
func TestShutdownDuringNamespaceCreation(t *testing.T) {
	release := make(chan struct{})
	var closed atomic.Bool
	cfg := Config{Adapter: func(ns adapter.Namespace) (adapter.Adapter, error) {
		m := adapter.NewMemory(ns)
		if ns.Name() == "/" {
			return m, nil
		}
		return &closeRecorder{slowInitAdapter: slowInitAdapter{Memory: m, release: release}, closed: &closed}, nil
	}}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	created := make(chan *Namespace, 1)
	go func() { created <- srv.Of("/x") }()
	time.Sleep(50 * time.Millisecond) // the creation waits in Init
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	close(release)
	<-created
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if !closed.Load() {
		t.Error("the adapter of a namespace created during Shutdown was never closed")
	}
}

// closeRecorder records that its adapter was closed.
type closeRecorder struct {
	slowInitAdapter
	closed *atomic.Bool
}

func (a *closeRecorder) Close(ctx context.Context) error {
	a.closed.Store(true)
	return a.Memory.Close(ctx)
}

// TestAsyncAcceptHeldPacketsAfterClose checks the packets held while an
// async accept's connection handlers run, in two cases: a client that
// leaves the namespace and joins it again at once (socket.disconnect();
// socket.connect()) must get its new socket, its CONNECT following the
// held DISCONNECT rather than counting as a second CONNECT, which closes
// the connection; and an event held for a socket whose connection then
// closed must not reach its OnAny handlers after OnDisconnect.
func TestAsyncAcceptHeldPacketsAfterClose(t *testing.T) {
	// The handlers of the 1st socket and of the 3rd (on the second
	// connection) wait for these.
	release := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	accepted := make(chan struct{}, 4)
	var disconnected, anyAfter, sockets atomic.Int32
	srv, base := newTestServer(t, Config{}, func(s *Server) {
		s.Use(func(_ *Socket, next func(error)) {
			go func() {
				next(nil) // runs the accept, the handlers and markReady
				accepted <- struct{}{}
			}()
		})
		s.OnConnection(func(so *Socket) {
			so.OnDisconnect(func(string) { disconnected.Add(1) })
			so.OnAny(func(string, Args) {
				if disconnected.Load() > 0 {
					anyAfter.Add(1)
				}
			})
			switch sockets.Add(1) {
			case 1:
				<-release[0]
			case 3:
				<-release[1]
			}
		})
	})

	// Leave and rejoin while the first socket's handlers run.
	c, err := siotest.Dial(ctxT(t), base, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Connect(ctxT(t), "/", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Disconnect("/"); err != nil {
		t.Fatal(err)
	}
	rejoined := make(chan error, 1)
	go func() {
		_, err := c.Connect(ctxT(t), "/", nil)
		rejoined <- err
	}()
	time.Sleep(50 * time.Millisecond) // the DISCONNECT and CONNECT are held
	close(release[0])
	if err := <-rejoined; err != nil {
		t.Fatalf("rejoining / after a DISCONNECT while the handlers ran: %v", err)
	}
	<-accepted
	<-accepted

	// An event held behind handlers, then the connection closes.
	disconnected.Store(0)
	c2, err := siotest.Dial(ctxT(t), base, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Connect(ctxT(t), "/", nil); err != nil {
		t.Fatal(err)
	}
	_ = c2.Emit("/", "x") // held
	_ = c2.Close()
	// The socket is gone at once (its OnDisconnect runs then too); the
	// event held for it must never reach OnAny.
	waitFor(t, "the closed socket to leave the namespace", func() bool { return srv.Of("/").SocketCount() == 1 })
	close(release[1])
	<-accepted
	if disconnected.Load() == 0 {
		t.Error("OnDisconnect never ran for the socket closed while its handler ran")
	}
	if n := anyAfter.Load(); n != 0 {
		t.Errorf("OnAny ran %d time(s) after OnDisconnect for an event held before the close", n)
	}
}

// TestAsyncAcceptHandlerSeesClientLeave checks a connection handler, run
// after an async middleware, that awaits its client while the client
// leaves that namespace (keeping the connection for another one): the
// DISCONNECT must not wait behind the handler, or the handler would wait
// for an ack that only the disconnect can fail.
func TestAsyncAcceptHandlerSeesClientLeave(t *testing.T) {
	got := make(chan error, 1)
	_, base := newTestServer(t, Config{}, func(s *Server) {
		s.Of("/x").Use(func(_ *Socket, next func(error)) { go next(nil) })
		s.Of("/x").OnConnection(func(so *Socket) {
			_, err := so.EmitWithAck(context.Background(), "hello")
			got <- err
		})
	})
	c, _ := dial(t, base, "/", nil)
	if _, err := c.Connect(ctxT(t), "/x", nil); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, c, "hello")
	if err := c.Disconnect("/x"); err != nil {
		t.Fatal(err)
	}
	awaitErr(t, got, ErrDisconnected, "the handler's EmitWithAck after its client left /x")
}

// TestAsyncAcceptManyEarlyEvents checks a client that emits many events
// as soon as it is connected (socket.io-client flushes its send buffer on
// connect) while an async accept's handlers run: every event reaches its
// handler, in order, and the connection stays open.
func TestAsyncAcceptManyEarlyEvents(t *testing.T) {
	const events = 1000
	release := make(chan struct{})
	var got []int
	var mu sync.Mutex
	_, base := newTestServer(t, Config{}, func(s *Server) {
		s.Use(func(_ *Socket, next func(error)) { go next(nil) })
		s.OnConnection(func(so *Socket) {
			so.On("n", func(args Args, _ AckFunc) {
				var n int
				_ = json.Unmarshal([]byte(args.Raw(0)), &n)
				mu.Lock()
				got = append(got, n)
				mu.Unlock()
			})
			<-release
		})
	})
	c, _ := dial(t, base, "/", nil)
	for i := range events {
		if err := c.Emit("/", "n", i); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond) // held behind the handlers
	close(release)
	waitFor(t, "every early event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == events
	})
	for i, n := range got {
		if n != i {
			t.Fatalf("event %d arrived as %d: out of order", i, n)
		}
	}
	select {
	case <-c.Done():
		t.Fatal("the connection closed")
	default:
	}
}

// TestAsyncAcceptLateOnDisconnectRuns checks an OnDisconnect registered
// by a connection handler (after an async middleware) for a client that
// leaves the namespace as soon as it is connected, before the handler
// ran: the hook still runs, after the handler, as in Node.
func TestAsyncAcceptLateOnDisconnectRuns(t *testing.T) {
	var handled, disconnects atomic.Int32
	_, base := newTestServer(t, Config{}, func(s *Server) {
		s.Of("/x").Use(func(_ *Socket, next func(error)) { go next(nil) })
		s.Of("/x").OnConnection(func(so *Socket) {
			so.OnDisconnect(func(string) { disconnects.Add(1) })
			handled.Add(1)
		})
	})
	c, _ := dial(t, base, "/", nil)
	const rounds = 10
	for range rounds {
		if _, err := c.Connect(ctxT(t), "/x", nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Disconnect("/x"); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every connection handler and its OnDisconnect", func() bool {
		return handled.Load() == rounds && disconnects.Load() == rounds
	})
}

// TestAsyncAcceptLargeEarlyEvent checks one early event larger than the
// bound on held bytes (with MaxHTTPBufferSize raised above it): it is
// held and delivered, as with an inline accept, not refused.
func TestAsyncAcceptLargeEarlyEvent(t *testing.T) {
	release := make(chan struct{})
	got := make(chan int, 1)
	_, base := newTestServer(t, Config{MaxHTTPBufferSize: 8 << 20}, func(s *Server) {
		s.Use(func(_ *Socket, next func(error)) { go next(nil) })
		s.OnConnection(func(so *Socket) {
			so.On("big", func(args Args, _ AckFunc) { got <- len(args.Raw(0)) })
			<-release
		})
	})
	c, _ := dial(t, base, "/", nil)
	big := strings.Repeat("x", maxHeldBytes+1)
	if err := c.Emit("/", "big", big); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // held behind the handler
	close(release)
	select {
	case n := <-got:
		if n != len(big)+2 {
			t.Errorf("event of %d bytes arrived with %d", len(big)+2, n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the large early event never arrived")
	}
}

// TestClosedSocketFreesHeldEvents checks that a socket closed while its
// async accept's handler still runs frees the events held for it at once
// (they would be dropped), so leave-and-rejoin cycles under a slow
// handler do not keep each socket's held events alive.
func TestClosedSocketFreesHeldEvents(t *testing.T) {
	release := make(chan struct{})
	socks := make(chan *Socket, 1)
	srv, base := newTestServer(t, Config{}, func(s *Server) {
		s.Of("/x").Use(func(_ *Socket, next func(error)) { go next(nil) })
		s.Of("/x").OnConnection(func(so *Socket) {
			socks <- so
			<-release
		})
	})
	defer close(release)
	c, _ := dial(t, base, "/", nil)
	if _, err := c.Connect(ctxT(t), "/x", nil); err != nil {
		t.Fatal(err)
	}
	so := <-socks
	for i := range 10 {
		_ = c.Emit("/x", "e", i)
	}
	waitFor(t, "the events to be held", func() bool {
		so.mu.Lock()
		defer so.mu.Unlock()
		e := so.ext.Load()
		return e != nil && len(e.held) == 10
	})
	if err := c.Disconnect("/x"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the socket to close", func() bool { return srv.Of("/x").SocketCount() == 0 })
	so.mu.Lock()
	held, bytes := len(so.ext.Load().held), so.ext.Load().heldBytes
	so.mu.Unlock()
	if held != 0 || bytes != 0 {
		t.Errorf("a closed socket still holds %d events (%d bytes) while its handler runs", held, bytes)
	}
}

// TestDisconnectInsideHandlerRunsHooksAtOnce checks Disconnect from inside
// a connection handler: as in Node, OnDisconnecting (rooms still joined)
// and OnDisconnect run before Disconnect returns, not after the handler.
func TestDisconnectInsideHandlerRunsHooksAtOnce(t *testing.T) {
	type result struct {
		ran   bool
		rooms []string
	}
	out := make(chan result, 1)
	_, base := newTestServer(t, Config{}, func(s *Server) {
		s.Of("/x").OnConnection(func(so *Socket) {
			so.Join("room")
			var r result
			so.OnDisconnecting(func(string) { r.rooms = so.Rooms() })
			so.OnDisconnect(func(string) { r.ran = true })
			so.Disconnect(false)
			out <- r
		})
	})
	c, _ := dial(t, base, "/", nil)
	_, _ = c.Connect(ctxT(t), "/x", nil)
	r := <-out
	if !r.ran {
		t.Error("OnDisconnect had not run when Disconnect returned inside the connection handler")
	}
	if !slices.Contains(r.rooms, "room") {
		t.Errorf("OnDisconnecting saw rooms %v; want room still joined", r.rooms)
	}
}

// TestAsyncHandlerAwaitingItsDisconnect checks an async accept's handler
// that waits for its socket's OnDisconnect: the client leaving must run
// the hook while the handler waits, not after the handler returns.
func TestAsyncHandlerAwaitingItsDisconnect(t *testing.T) {
	result := make(chan bool, 1)
	_, base := newTestServer(t, Config{}, func(s *Server) {
		s.Of("/x").Use(func(_ *Socket, next func(error)) { go next(nil) })
		s.Of("/x").OnConnection(func(so *Socket) {
			done := make(chan struct{})
			so.OnDisconnect(func(string) { close(done) })
			select {
			case <-done:
				result <- true
			case <-time.After(5 * time.Second):
				result <- false
			}
		})
	})
	c, _ := dial(t, base, "/", nil)
	if _, err := c.Connect(ctxT(t), "/x", nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the handler waits
	_ = c.Disconnect("/x")
	if !<-result {
		t.Error("OnDisconnect did not run while the handler waited for it")
	}
}

// TestAsyncAcceptDisconnectingHookRegisteredDuringClose checks an
// OnDisconnecting hook that an async accept's still running handler
// registers while onClose is running the earlier ones: it must run
// (after the handler), not fall between onClose's snapshot and the
// hooks left to markReady.
func TestAsyncAcceptDisconnectingHookRegisteredDuringClose(t *testing.T) {
	inHook := make(chan struct{})
	registered := make(chan struct{})
	var late atomic.Int32
	_, base := newTestServer(t, Config{}, func(s *Server) {
		s.Of("/x").Use(func(_ *Socket, next func(error)) { go next(nil) })
		s.Of("/x").OnConnection(func(so *Socket) {
			so.OnDisconnecting(func(string) {
				close(inHook)
				<-registered // the handler registers another hook meanwhile
			})
			<-inHook
			so.OnDisconnecting(func(string) { late.Add(1) })
			close(registered)
		})
	})
	c, _ := dial(t, base, "/", nil)
	if _, err := c.Connect(ctxT(t), "/x", nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the handler waits for inHook
	_ = c.Disconnect("/x")
	waitFor(t, "the OnDisconnecting hook registered during the close", func() bool { return late.Load() == 1 })
}

// TestOffAnyDuringCloseKeepsLaterHooks checks OffAny called from an
// OnDisconnecting hook (it removes hooks while onClose runs): the hooks
// registered afterwards must still run, whether the socket's handlers had
// returned (an OnDisconnecting hook registered by the hook) or not (an
// OnDisconnect registered by the handler after its own Disconnect).
func TestOffAnyDuringCloseKeepsLaterHooks(t *testing.T) {
	t.Run("handlers returned", func(t *testing.T) {
		ran := make(chan struct{}, 1)
		socks := make(chan *Socket, 1)
		_, base := newTestServer(t, Config{}, func(s *Server) {
			s.Of("/x").OnConnection(func(so *Socket) {
				so.OnAny(func(string, Args) {})
				so.OnDisconnecting(func(string) {
					so.OffAny()
					so.OnDisconnecting(func(string) { ran <- struct{}{} })
				})
				socks <- so
			})
		})
		c, _ := dial(t, base, "/", nil)
		if _, err := c.Connect(ctxT(t), "/x", nil); err != nil {
			t.Fatal(err)
		}
		so := <-socks
		waitFor(t, "the handlers to return", func() bool { return so.state.Load()&stReady != 0 })
		so.Disconnect(false)
		select {
		case <-ran:
		case <-time.After(2 * time.Second):
			t.Fatal("the OnDisconnecting hook registered during the close never ran")
		}
	})
	t.Run("inside the handler", func(t *testing.T) {
		ran := make(chan struct{}, 1)
		_, base := newTestServer(t, Config{}, func(s *Server) {
			s.Of("/x").OnConnection(func(so *Socket) {
				so.OnAny(func(string, Args) {})
				so.OnDisconnecting(func(string) { so.OffAny() })
				so.Disconnect(false)
				so.OnDisconnect(func(string) { ran <- struct{}{} })
			})
		})
		c, _ := dial(t, base, "/", nil)
		if _, err := c.Connect(ctxT(t), "/x", nil); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ran:
		case <-time.After(2 * time.Second):
			t.Fatal("the OnDisconnect registered after the handler's Disconnect never ran")
		}
	})
}

// TestOnDisconnectRegisteredByDisconnectingHook checks an OnDisconnect
// that an OnDisconnecting hook registers: it runs (Node's emit of
// "disconnect" reads the listeners after "disconnecting"), whether the
// socket closed after its handlers returned or from inside a handler.
func TestOnDisconnectRegisteredByDisconnectingHook(t *testing.T) {
	for _, inside := range []bool{false, true} {
		ran := make(chan struct{}, 1)
		socks := make(chan *Socket, 1)
		_, base := newTestServer(t, Config{}, func(s *Server) {
			s.Of("/x").OnConnection(func(so *Socket) {
				register := func() {
					so.OnDisconnecting(func(string) {
						so.OnDisconnect(func(string) { ran <- struct{}{} })
					})
				}
				if inside {
					so.Disconnect(false)
					register() // a late hook: runs after the handler
					return
				}
				register()
				socks <- so
			})
		})
		c, _ := dial(t, base, "/", nil)
		if _, err := c.Connect(ctxT(t), "/x", nil); err != nil {
			t.Fatal(err)
		}
		if !inside {
			so := <-socks
			waitFor(t, "the handlers to return", func() bool { return so.state.Load()&stReady != 0 })
			so.Disconnect(false)
		}
		select {
		case <-ran:
		case <-time.After(2 * time.Second):
			t.Errorf("inside=%v: the OnDisconnect an OnDisconnecting hook registered never ran", inside)
		}
	}
}

// awaitErr waits at most 5 s for the result of what on ch and checks it
// is want (errors.Is; nil for success).
func awaitErr(t *testing.T, ch <-chan error, want error, what string) {
	t.Helper()
	select {
	case err := <-ch:
		if want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Fatalf("%s: %v; want %v", what, err, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: still waiting after 5 s", what)
	}
}

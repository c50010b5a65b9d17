package integration_test

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// The TestJSClient* tests drive the official socket.io-client (Node.js)
// against one node under test with the in-memory adapter.

// TestJSClientTransports checks each transport mode of the JS client: the
// transport used, the upgrade, a round-trip ack, whoami, and that the
// connection survives server pings on that transport.
func TestJSClientTransports(t *testing.T) {
	t.Parallel()
	npmInstall(t) // node and the npm packages first: skip before starting anything
	n := startTargetNode(t, map[string]string{"SIO_PING_INTERVAL": "300ms"})
	payload := map[string]any{"text": "héllo ✓ 日本", "n": []any{1, 2.5, -3}, "nested": map[string]any{"ok": true, "nil": nil}}

	cases := []struct {
		name         string
		transports   []string
		wantOpen     string
		wantFinal    string
		wantUpgraded bool
	}{
		{"polling then upgrade", nil, "polling", "websocket", true},
		{"websocket only", []string{"websocket"}, "websocket", "websocket", false},
		{"polling only", []string{"polling"}, "polling", "polling", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			steps := []step{}
			if tc.wantUpgraded {
				steps = append(steps, step{Client: "a", WaitUpgrade: true})
			}
			steps = append(steps,
				ackStep("echo", "a", "echo", payload),
				ackStep("who", "a", "whoami"),
				step{QuietMs: 800}, // > pingInterval: at least one ping/pong on this transport
				ackStep("echo2", "a", "echo", "still here"),
			)
			r := runClient(t, scenario{URL: n.URL, Clients: []clientSpec{{Name: "a", Transports: tc.transports}}, Steps: steps})
			a := r.client(t, "a")
			if a.TransportAtOpen != tc.wantOpen || a.Transport != tc.wantFinal || a.Upgraded != tc.wantUpgraded {
				t.Errorf("transport: opened on %q, now %q, upgraded=%v; want %q, %q, %v",
					a.TransportAtOpen, a.Transport, a.Upgraded, tc.wantOpen, tc.wantFinal, tc.wantUpgraded)
			}
			if !a.Connected || a.ID == "" {
				t.Errorf("client not connected at the end (id %q, reason %q)", a.ID, a.DisconnectReason)
			}
			if a.Pings < 1 {
				t.Errorf("client saw %d pings during 800 ms with pingInterval 300ms", a.Pings)
			}
			if got := r.ack(t, "echo"); len(got) != 1 {
				t.Errorf("echo acked with %d args, want 1", len(got))
			}
			assertJSON(t, "echo ack", r.ack0(t, "echo"), payload)
			assertJSON(t, "whoami ack", r.ack0(t, "who"), map[string]any{"node": n.ID, "id": a.ID})
			assertJSON(t, "echo after pings", r.ack0(t, "echo2"), "still here")
		})
	}
}

// TestJSClientAcks checks acknowledgements in both directions: client→server
// (echo) and server→client (the server's emitWithAck("question") answered by
// the client, relayed back by the ask-ack helper).
func TestJSClientAcks(t *testing.T) {
	t.Parallel()
	npmInstall(t) // node and the npm packages first: skip before starting anything
	n := startTargetNode(t, nil)
	r := runClient(t, scenario{
		URL: n.URL,
		Clients: []clientSpec{
			{Name: "ws", Transports: []string{"websocket"}, Acks: map[string]any{"question": "echo"}},
			{Name: "poll", Transports: []string{"polling"}, Acks: map[string]any{"question": map[string]any{"value": map[string]any{"by": idOf("poll"), "answer": 42}}}},
		},
		Steps: []step{
			ackStep("echo-ws", "ws", "echo", []any{"a", 1, map[string]any{"3": []any{true}}}),
			ackStep("echo-poll", "poll", "echo", "polling ack"),
			ackStep("ask-ws", "ws", "ask-ack", map[string]any{"q": "meaning"}),
			ackStep("ask-poll", "poll", "ask-ack", "what?"),
		},
	})
	assertJSON(t, "echo over websocket", r.ack0(t, "echo-ws"), []any{"a", 1, map[string]any{"3": []any{true}}})
	assertJSON(t, "echo over polling", r.ack0(t, "echo-poll"), "polling ack")
	assertJSON(t, "server→client ack over websocket", r.ack0(t, "ask-ws"), map[string]any{"ok": true, "answer": map[string]any{"q": "meaning"}})
	pollID := r.client(t, "poll").ID
	assertJSON(t, "server→client ack over polling", r.ack0(t, "ask-poll"), map[string]any{"ok": true, "answer": map[string]any{"by": pollID, "answer": 42}})

	for name, want := range map[string]any{"ws": map[string]any{"q": "meaning"}, "poll": "what?"} {
		q := r.client(t, name).named("question")
		if len(q) != 1 || len(q[0].Args) != 1 {
			t.Errorf("%s: question events %+v, want one with one arg", name, q)
			continue
		}
		assertJSON(t, name+" question arg", q[0].Args[0], want)
	}
}

// TestJSClientBinary checks binary payloads in both directions on each
// transport: client→server event with binary ack, nested binary, a server
// event with binary answered by a binary ack, and a binary broadcast.
func TestJSClientBinary(t *testing.T) {
	t.Parallel()
	npmInstall(t) // node and the npm packages first: skip before starting anything
	n := startTargetNode(t, nil)
	p1 := []byte{0, 1, 2, 3, 0x7f, 0x80, 0xfe, 0xff}
	p2 := []byte("binary ✓")
	nested := map[string]any{"name": "file", "parts": []any{bin(p1), bin(p2)}, "meta": map[string]any{"blob": bin(p2), "size": 2}}
	for _, transport := range []string{"websocket", "polling"} {
		t.Run(transport, func(t *testing.T) {
			r := runClient(t, scenario{
				URL:     n.URL,
				Clients: []clientSpec{{Name: "a", Transports: []string{transport}, Acks: map[string]any{"question": "echo"}}},
				Steps: []step{
					ackStep("raw", "a", "echo", bin(p1)),
					ackStep("nested", "a", "echo", nested),
					ackStep("ask", "a", "ask-ack", bin(p2)),
					emitStep("a", "chat message", bin(p1)),
					waitStep("a", "chat message", 1, nil),
				},
			})
			assertJSON(t, "binary echo", r.ack0(t, "raw"), bin(p1))
			assertJSON(t, "nested binary echo", r.ack0(t, "nested"), nested)
			assertJSON(t, "binary server→client ack", r.ack0(t, "ask"), map[string]any{"ok": true, "answer": bin(p2)})
			a := r.client(t, "a")
			if q := a.named("question"); len(q) != 1 || len(q[0].Args) != 1 {
				t.Errorf("question events %+v, want one", q)
			} else {
				assertJSON(t, "binary server event", q[0].Args[0], bin(p2))
			}
			if cm := a.named("chat message"); len(cm) != 1 || len(cm[0].Args) != 1 {
				t.Errorf("chat message events %+v, want one", cm)
			} else {
				assertJSON(t, "binary broadcast", cm[0].Args[0], bin(p1))
			}
		})
	}
}

// TestJSClientMiddlewareRejection checks that a connection refused by
// middleware reaches the client as connect_error with message and data, on
// both transports, while other connections are accepted.
func TestJSClientMiddlewareRejection(t *testing.T) {
	t.Parallel()
	npmInstall(t) // node and the npm packages first: skip before starting anything
	n := startTargetNode(t, nil)
	r := runClient(t, scenario{
		URL: n.URL,
		Clients: []clientSpec{
			{Name: "rej-ws", Transports: []string{"websocket"}, Auth: map[string]any{"reject": "go away"}},
			{Name: "rej-poll", Transports: []string{"polling"}, Auth: map[string]any{"reject": "not today ✗"}},
			{Name: "ok", Auth: map[string]any{"token": "t0k3n"}},
		},
		Steps: []step{ackStep("echo", "ok", "echo", "accepted")},
	})
	for name, msg := range map[string]string{"rej-ws": "go away", "rej-poll": "not today ✗"} {
		c := r.client(t, name)
		if c.ConnectError == nil {
			t.Errorf("%s: no connect_error (connected=%v id=%q)", name, c.Connected, c.ID)
			continue
		}
		if c.ConnectError.Message != msg {
			t.Errorf("%s: connect_error message %q, want %q", name, c.ConnectError.Message, msg)
		}
		assertJSON(t, name+" connect_error data", c.ConnectError.Data, map[string]any{"code": "REJECTED"})
		if c.Connected || c.ID != "" {
			t.Errorf("%s: rejected client is connected (id %q)", name, c.ID)
		}
	}
	ok := r.client(t, "ok")
	if ok.ConnectError != nil || ok.ID == "" {
		t.Errorf("accepted client: connectError=%v id=%q", ok.ConnectError, ok.ID)
	}
	assertJSON(t, "accepted client echo", r.ack0(t, "echo"), "accepted")
}

// TestJSClientCustomNamespace checks the /custom namespace (echo over both
// transports), isolation from "/" broadcasts, and the "Invalid namespace"
// connect_error for an unknown namespace.
func TestJSClientCustomNamespace(t *testing.T) {
	t.Parallel()
	npmInstall(t) // node and the npm packages first: skip before starting anything
	n := startTargetNode(t, nil)
	r := runClient(t, scenario{
		URL: n.URL,
		Clients: []clientSpec{
			{Name: "main"},
			{Name: "cust-ws", Namespace: "/custom", Transports: []string{"websocket"}},
			{Name: "cust-poll", Namespace: "/custom", Transports: []string{"polling"}},
			{Name: "bad", Namespace: "/no-such-namespace", Transports: []string{"websocket"}},
		},
		Steps: []step{
			ackStep("ws", "cust-ws", "echo", map[string]any{"ns": "custom"}),
			ackStep("poll", "cust-poll", "echo", bin([]byte{9, 8, 7})),
			emitStep("main", "chat message", "main only"),
			waitStep("main", "chat message", 1, "main only"),
			{QuietMs: 200},
		},
	})
	assertJSON(t, "/custom echo over websocket", r.ack0(t, "ws"), map[string]any{"ns": "custom"})
	assertJSON(t, "/custom binary echo over polling", r.ack0(t, "poll"), bin([]byte{9, 8, 7}))
	for _, name := range []string{"cust-ws", "cust-poll"} {
		if ev := r.client(t, name).Events; len(ev) != 0 {
			t.Errorf("%s received %d events from another namespace: %+v", name, len(ev), ev)
		}
	}
	bad := r.client(t, "bad")
	if bad.ConnectError == nil || bad.ConnectError.Message != "Invalid namespace" {
		t.Errorf("unknown namespace: connect_error %+v, want message \"Invalid namespace\"", bad.ConnectError)
	}
}

// TestJSClientRooms has a polling client and websocket clients share a room:
// join validation, room messages (to every member, in order, not to
// non-members), io.emit reaching the other clients, a room broadcast with
// acks that excepts the sender, and leave.
func TestJSClientRooms(t *testing.T) {
	t.Parallel()
	npmInstall(t) // node and the npm packages first: skip before starting anything
	n := startTargetNode(t, nil)
	const lobby = "Lobby ✓"            // mixed case, space and non-ASCII: used verbatim
	room128 := strings.Repeat("é", 64) // 128 bytes
	room130 := strings.Repeat("é", 65) // 65 characters but 130 bytes
	steps := []step{
		ackStep("join-p", "p", "join", lobby),
		ackStep("join-w", "w", "join", lobby),
		ackStep("join-y", "y", "join", lobby),
		ackStep("bad-empty", "x", "join", ""),
		ackStep("bad-long", "x", "join", strings.Repeat("r", 129)),
		ackStep("bad-utf8", "x", "join", room130),
		ackStep("bad-type", "x", "join", 42),
		ackStep("ok-128", "x", "join", room128),
		ackStep("leave-128", "x", "leave", room128),

		ackStep("rm", "w", "room message", lobby, "hi from w"),
		waitStep("p", "room message", 1, map[string]any{"from": idOf("w")}),
		waitStep("y", "room message", 1, map[string]any{"from": idOf("w")}),
	}
	for _, m := range []string{"m1", "m2", "m3", "m4", "m5"} {
		steps = append(steps, emitStep("w", "room message", lobby, m))
	}
	steps = append(steps,
		waitStep("p", "room message", 6, nil),
		emitStep("p", "chat message", "hello all"),
		waitStep("w", "chat message", 1, "hello all"),
		waitStep("x", "chat message", 1, "hello all"),
		waitStep("y", "chat message", 1, "hello all"),
		waitStep("p", "chat message", 1, "hello all"),
		ackStep("room-ack", "w", "room-ack", lobby),
		ackStep("leave-p", "p", "leave", lobby),
		ackStep("rm2", "w", "room message", lobby, "after leave"),
		waitStep("y", "room message", 1, map[string]any{"msg": "after leave"}),
		waitStep("w", "room message", 1, map[string]any{"msg": "after leave"}),
		step{QuietMs: 200},
	)
	r := runClient(t, scenario{
		URL: n.URL,
		Clients: []clientSpec{
			{Name: "p", Transports: []string{"polling"}},
			{Name: "w", Transports: []string{"websocket"}},
			{Name: "y"},
			{Name: "x", Transports: []string{"websocket"}},
		},
		Steps: steps,
	})
	p, w, y, x := r.client(t, "p"), r.client(t, "w"), r.client(t, "y"), r.client(t, "x")

	for _, k := range []string{"join-p", "join-w", "join-y"} {
		assertJSON(t, k, r.ack0(t, k), map[string]any{"ok": true, "room": lobby})
	}
	for _, k := range []string{"bad-empty", "bad-long", "bad-utf8", "bad-type"} {
		res := decodeJSON[struct {
			OK    *bool  `json:"ok"`
			Error string `json:"error"`
		}](t, r.ack0(t, k))
		if res.OK == nil || *res.OK || res.Error == "" {
			t.Errorf("%s: ack %s, want {\"ok\":false,\"error\":\"...\"}", k, r.ack0(t, k))
		}
	}
	assertJSON(t, "128-byte room", r.ack0(t, "ok-128"), map[string]any{"ok": true, "room": room128})
	assertJSON(t, "leave 128-byte room", r.ack0(t, "leave-128"), map[string]any{"ok": true, "room": room128})
	assertJSON(t, "room message ack", r.ack0(t, "rm"), map[string]any{"ok": true})
	assertJSON(t, "leave ack", r.ack0(t, "leave-p"), map[string]any{"ok": true, "room": lobby})

	// p: the first message, then m1..m5 in order, and nothing after leaving.
	var got []string
	for _, e := range p.named("room message") {
		m := decodeJSON[roomMessage](t, e.Args[0])
		if m.Room != lobby || m.From != w.ID {
			t.Errorf("p got room message %s, want room %q from %s", e.Args[0], lobby, w.ID)
		}
		got = append(got, decodeJSON[string](t, m.Msg))
	}
	if want := []string{"hi from w", "m1", "m2", "m3", "m4", "m5"}; !reflect.DeepEqual(got, want) {
		t.Errorf("p room messages %q, want %q (in order, none after leave)", got, want)
	}
	if n := len(y.named("room message")); n != 7 {
		t.Errorf("y got %d room messages, want 7", n)
	}
	if n := len(w.named("room message")); n != 7 {
		t.Errorf("sender w got %d room messages, want 7 (io.to(room) includes the sender)", n)
	}
	if ev := x.named("room message"); len(ev) != 0 {
		t.Errorf("non-member x got room messages: %+v", ev)
	}

	res := decodeJSON[responsesResult](t, r.ack0(t, "room-ack"))
	if !res.OK {
		t.Fatalf("room-ack failed: %s", r.ack0(t, "room-ack"))
	}
	if got, want := sortedStrings(t, res.Responses), sorted(p.ID, y.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("room-ack responses %q, want %q (room members except the sender)", got, want)
	}
	for name, c := range map[string]*clientState{"p": p, "y": y} {
		if got := len(c.named("ping-room")); got != 1 {
			t.Errorf("%s got %d ping-room, want 1", name, got)
		}
	}
	for name, c := range map[string]*clientState{"w (sender)": w, "x (not in room)": x} {
		if ev := c.named("ping-room"); len(ev) != 0 {
			t.Errorf("%s got ping-room: %+v", name, ev)
		}
	}
}

// TestJSClientShutdown checks the SIGTERM drain: connected clients on both
// transports are disconnected by the server (not by a ping timeout) and the
// node exits with status 0 well within its drain timeout.
func TestJSClientShutdown(t *testing.T) {
	t.Parallel()
	npmInstall(t) // node and the npm packages first: skip before starting anything
	n := startTargetNode(t, nil)
	cr := startClient(t, scenario{
		URL: n.URL,
		Clients: []clientSpec{
			{Name: "ws", Transports: []string{"websocket"}},
			{Name: "poll", Transports: []string{"polling"}},
		},
		Steps: []step{
			ackStep("echo", "ws", "echo", "before"),
			{Mark: "connected"},
			{Client: "ws", WaitDisc: true},
			{Client: "poll", WaitDisc: true},
		},
	})
	cr.waitMark(t, "connected")
	start := time.Now()
	if err := n.stop(); err != nil {
		t.Errorf("node exit after SIGTERM: %v, want status 0", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("drain took %v with two idle clients, want < 3s", d)
	}
	r := cr.wait(t)
	for _, name := range []string{"ws", "poll"} {
		c := r.client(t, name)
		t.Logf("%s disconnected: %q", name, c.DisconnectReason)
		switch c.DisconnectReason {
		case "io server disconnect", "transport close":
		case "transport error":
			// A long-poll GET cut by the closing HTTP server is a transport
			// error for the client; that is still a server-side close.
			if name != "poll" {
				t.Errorf("%s disconnect reason %q, want a server-side close", name, c.DisconnectReason)
			}
		default:
			t.Errorf("%s disconnect reason %q, want a server-side close", name, c.DisconnectReason)
		}
	}
}

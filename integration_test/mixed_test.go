package integration_test

import (
	"reflect"
	"testing"
)

// The TestMixedCluster* tests put one node under test (G) and one Node.js
// reference node (R, js/refserver.js with @socket.io/redis-adapter 8) on one
// Redis prefix and check that every cluster feature works in both
// directions.

// startMixedCluster starts G and R on a fresh prefix.
func startMixedCluster(t *testing.T) (redis, prefix string, g, r *serverNode) {
	t.Helper()
	redis = redisURL(t)
	prefix = uniquePrefix(t)
	g = startTargetNode(t, clusterEnv(redis, prefix, "mixed-target"))
	r = startRefNode(t, clusterEnv(redis, prefix, "mixed-ref"))
	return redis, prefix, g, r
}

// TestMixedClusterBothWays checks broadcasts (room messages with text and
// binary, io.emit), fetchSockets, serverSideEmit with and without ack,
// socketsJoin and room broadcasts with acks, each initiated once from G
// and once from R.
func TestMixedClusterBothWays(t *testing.T) {
	t.Parallel()
	npmInstall(t) // node and the npm packages first: skip before starting anything
	_, _, g, rn := startMixedCluster(t)
	clients := []clusterClient{{"g1", g}, {"g2", g}, {"r1", rn}, {"r2", rn}}
	blob := []byte{0xde, 0xad, 0xbe, 0xef, 0, 1}
	all := []string{"g1", "g2", "r1", "r2"}
	steps := []step{}
	for _, c := range all {
		steps = append(steps, ackStep("who-"+c, c, "whoami"), ackStep("join-"+c, c, "join", "mix"))
	}
	steps = append(steps,
		// Room messages G→R (text) and R→G (binary through msgpack).
		ackStep("rm-g", "g1", "room message", "mix", "from go"),
		ackStep("rm-r", "r1", "room message", "mix", map[string]any{"blob": bin(blob)}),
	)
	for _, c := range all {
		steps = append(steps,
			waitStep(c, "room message", 1, map[string]any{"from": idOf("g1")}),
			waitStep(c, "room message", 1, map[string]any{"from": idOf("r1")}))
	}
	steps = append(steps,
		// io.emit from each side.
		emitStep("g2", "chat message", "chat from go"),
		emitStep("r2", "chat message", "chat from node"),
	)
	for _, c := range all {
		steps = append(steps, waitStep(c, "chat message", 2, nil))
	}
	steps = append(steps,
		// fetchSockets from each side.
		ackStep("fetch-g", "g1", "fetch-sockets"),
		ackStep("fetch-r", "r1", "fetch-sockets", "mix"),
		// serverSideEmit with ack from each side.
		ackStep("sse-g", "g1", "server-side-emit", "ping-from-peer", "x"),
		ackStep("sse-r", "r1", "server-side-emit", "ping-from-peer", "y"),
		// serverSideEmit without ack from each side.
		ackStep("ann-g", "g2", "announce", "go says hi"),
		ackStep("ann-r", "r2", "announce", "node says hi"),
		waitStep("r1", "announcement", 1, nil),
		waitStep("r2", "announcement", 1, nil),
		waitStep("g1", "announcement", 1, nil),
		waitStep("g2", "announcement", 1, nil),
		// socketsJoin from G reaches R's sockets, and the other way round.
		ackStep("sj-g", "g1", "sockets-join", "mix", "dst-g"),
		step{Client: "r1", Emit: "fetch-sockets", Args: []any{"dst-g"}, Ack: true, Save: "fetch-dst-g",
			Until: map[string]any{"ok": true, "sockets": clientIDs(all...)}},
		ackStep("sj-r", "r2", "sockets-join", "mix", "dst-r"),
		step{Client: "g2", Emit: "fetch-sockets", Args: []any{"dst-r"}, Ack: true, Save: "fetch-dst-r",
			Until: map[string]any{"ok": true, "sockets": clientIDs(all...)}},
		ackStep("rm-dst-r", "g1", "room message", "dst-r", "via dst-r"),
		ackStep("rm-dst-g", "r1", "room message", "dst-g", "via dst-g"),
	)
	for _, c := range all {
		steps = append(steps,
			waitStep(c, "room message", 1, map[string]any{"msg": "via dst-r"}),
			waitStep(c, "room message", 1, map[string]any{"msg": "via dst-g"}))
	}
	steps = append(steps,
		// Room broadcast with acks from each side.
		ackStep("ra-g", "g1", "room-ack", "mix"),
		ackStep("ra-r", "r1", "room-ack", "mix"),
		step{QuietMs: 200},
	)
	r := runClient(t, scenario{
		Clients: []clientSpec{
			{Name: "g1", URL: g.URL, Transports: []string{"websocket"}},
			{Name: "g2", URL: g.URL, Transports: []string{"polling"}},
			{Name: "r1", URL: rn.URL},
			{Name: "r2", URL: rn.URL, Transports: []string{"websocket"}},
		},
		Steps: steps,
	})

	assertLandedOn(t, r, clients)
	assertRoomMessage(t, r, "mix", "g1", "from go", all...)
	assertRoomMessage(t, r, "mix", "r1", map[string]any{"blob": bin(blob)}, all...)
	assertRoomMessage(t, r, "dst-r", "g1", "via dst-r", all...)
	assertRoomMessage(t, r, "dst-g", "r1", "via dst-g", all...)
	for _, c := range all {
		var got []string
		for _, e := range r.client(t, c).named("chat message") {
			got = append(got, decodeJSON[string](t, e.Args[0]))
		}
		if !reflect.DeepEqual(sorted(got...), []string{"chat from go", "chat from node"}) {
			t.Errorf("%s chat messages %q, want one from each node", c, got)
		}
	}

	assertFetch(t, r, "fetch-g", clients, "mix")
	assertFetch(t, r, "fetch-r", clients, "mix")
	assertFetch(t, r, "fetch-dst-g", clients, "mix", "dst-g")
	assertFetch(t, r, "fetch-dst-r", clients, "mix", "dst-g", "dst-r")

	if got, want := peerResponses(t, r, "sse-g"), []string{rn.ID + ":x"}; !reflect.DeepEqual(got, want) {
		t.Errorf("serverSideEmit G→R responses %q, want %q", got, want)
	}
	if got, want := peerResponses(t, r, "sse-r"), []string{g.ID + ":y"}; !reflect.DeepEqual(got, want) {
		t.Errorf("serverSideEmit R→G responses %q, want %q", got, want)
	}
	assertAnnouncement(t, r, g, "go says hi", clusterClient{"r1", rn}, clusterClient{"r2", rn})
	assertAnnouncement(t, r, rn, "node says hi", clusterClient{"g1", g}, clusterClient{"g2", g})
	for _, c := range all {
		if n := len(r.client(t, c).named("announcement")); n != 1 {
			t.Errorf("%s got %d announcements, want 1 (only the other node's)", c, n)
		}
	}

	for key, sender := range map[string]string{"ra-g": "g1", "ra-r": "r1"} {
		res := decodeJSON[responsesResult](t, r.ack0(t, key))
		var want []string
		for _, c := range all {
			if c != sender {
				want = append(want, r.client(t, c).ID)
			}
		}
		if !res.OK {
			t.Errorf("%s: room-ack failed: %s", key, r.ack0(t, key))
		} else if got := sortedStrings(t, res.Responses); !reflect.DeepEqual(got, sorted(want...)) {
			t.Errorf("%s: room-ack responses %q, want %q", key, got, sorted(want...))
		}
	}
	for _, c := range all {
		want := 2
		if c == "g1" || c == "r1" {
			want = 1 // each sender is excepted from its own room-ack
		}
		if n := len(r.client(t, c).named("ping-room")); n != want {
			t.Errorf("%s got %d ping-room, want %d", c, n, want)
		}
	}
}

// TestMixedClusterRedisEmitter checks that @socket.io/redis-emitter (js/emit.js)
// reaches clients on both nodes: a room emit with binary, a broadcast to
// everyone, and socketsJoin.
func TestMixedClusterRedisEmitter(t *testing.T) {
	t.Parallel()
	npmInstall(t) // node and the npm packages first: skip before starting anything
	redis, prefix, g, rn := startMixedCluster(t)
	cr := startClient(t, scenario{
		Clients: []clientSpec{
			{Name: "g", URL: g.URL, Transports: []string{"websocket"}},
			{Name: "gp", URL: g.URL, Transports: []string{"polling"}},
			{Name: "r", URL: rn.URL},
		},
		Steps: []step{
			ackStep("join-g", "g", "join", "em"),
			ackStep("join-gp", "gp", "join", "em"),
			ackStep("join-r", "r", "join", "em"),
			{Mark: "joined"},
			waitStep("g", "from-emitter", 1, nil),
			waitStep("gp", "from-emitter", 1, nil),
			waitStep("r", "from-emitter", 1, nil),
			waitStep("g", "to-all", 1, nil),
			waitStep("gp", "to-all", 1, nil),
			waitStep("r", "to-all", 1, nil),
			{Client: "r", Emit: "fetch-sockets", Args: []any{"em2"}, Ack: true, Save: "fetch-em2",
				Until: map[string]any{"ok": true, "sockets": clientIDs("g", "gp", "r")}},
		},
	})
	cr.waitMark(t, "joined")
	blob := []byte{1, 2, 3, 250}
	base := map[string]any{"redisUrl": redis, "prefix": prefix}
	with := func(kv map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range kv {
			m[k] = v
		}
		return m
	}
	runEmitter(t, with(map[string]any{"rooms": []string{"em"}, "event": "from-emitter", "args": []any{"hello", bin(blob)}}))
	runEmitter(t, with(map[string]any{"event": "to-all", "args": []any{map[string]any{"n": 1}}}))
	runEmitter(t, with(map[string]any{"op": "socketsJoin", "rooms": []string{"em"}, "target": "em2"}))
	r := cr.wait(t)

	for _, c := range []string{"g", "gp", "r"} {
		st := r.client(t, c)
		fe := st.named("from-emitter")
		if len(fe) != 1 || len(fe[0].Args) != 2 {
			t.Errorf("%s: from-emitter events %+v, want one with 2 args", c, fe)
		} else {
			assertJSON(t, c+" from-emitter arg 0", fe[0].Args[0], "hello")
			assertJSON(t, c+" from-emitter arg 1 (binary)", fe[0].Args[1], bin(blob))
		}
		ta := st.named("to-all")
		if len(ta) != 1 || len(ta[0].Args) != 1 {
			t.Errorf("%s: to-all events %+v, want one", c, ta)
		} else {
			assertJSON(t, c+" to-all arg", ta[0].Args[0], map[string]any{"n": 1})
		}
	}
	assertFetch(t, r, "fetch-em2", []clusterClient{{"g", g}, {"gp", g}, {"r", rn}}, "em", "em2")
}

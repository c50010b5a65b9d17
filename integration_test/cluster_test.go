package integration_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"testing"
)

// clusterClient names a scenario client and the node it connects to.
type clusterClient struct {
	name string
	node *serverNode
}

// assertLandedOn checks each client's whoami ack (saved as "who-<name>")
// against the node it was pointed at.
func assertLandedOn(t *testing.T, r *runResult, clients []clusterClient) {
	t.Helper()
	for _, c := range clients {
		assertJSON(t, "whoami of "+c.name, r.ack0(t, "who-"+c.name), map[string]any{"node": c.node.ID, "id": r.client(t, c.name).ID})
	}
}

// assertRoomMessage checks that every client in to received exactly one room
// message with msg from sender in room.
func assertRoomMessage(t *testing.T, r *runResult, room, sender string, msg any, to ...string) {
	t.Helper()
	from := r.client(t, sender).ID
	wantMsg, _ := json.Marshal(msg)
	for _, name := range to {
		count := 0
		for _, e := range r.client(t, name).named("room message") {
			m := decodeJSON[roomMessage](t, e.Args[0])
			if m.Room == room && m.From == from && reflect.DeepEqual(normJSON(t, m.Msg), normJSON(t, wantMsg)) {
				count++
			}
		}
		if count != 1 {
			t.Errorf("%s received %d room messages %s from %s in %q, want 1 (all: %+v)", name, count, wantMsg, sender, room, r.client(t, name).named("room message"))
		}
	}
}

// assertFetch checks a fetch-sockets ack: exactly the sockets of clients,
// each with its own id room, the extra rooms, and data {"node": its node}.
func assertFetch(t *testing.T, r *runResult, key string, clients []clusterClient, rooms ...string) {
	t.Helper()
	res := decodeJSON[fetchResult](t, r.ack0(t, key))
	if !res.OK {
		t.Errorf("%s: fetch-sockets failed: %s", key, r.ack0(t, key))
		return
	}
	got := res.byID()
	if len(got) != len(clients) || len(res.Sockets) != len(clients) {
		t.Errorf("%s: fetched %d sockets %s, want %d", key, len(res.Sockets), r.ack0(t, key), len(clients))
	}
	for _, c := range clients {
		id := r.client(t, c.name).ID
		s, ok := got[id]
		if !ok {
			t.Errorf("%s: socket of %s (%s on %s) missing", key, c.name, id, c.node.ID)
			continue
		}
		wantRooms := sorted(append([]string{id}, rooms...)...)
		gotRooms := sorted(s.Rooms...)
		if !reflect.DeepEqual(gotRooms, wantRooms) {
			t.Errorf("%s: rooms of %s = %q, want %q", key, c.name, gotRooms, wantRooms)
		}
		assertJSON(t, fmt.Sprintf("%s: data of %s", key, c.name), s.Data, map[string]any{"node": c.node.ID})
	}
}

// peerResponses decodes a server-side-emit ack of "ping-from-peer" into the
// sorted list of "node:arg" strings.
func peerResponses(t *testing.T, r *runResult, key string) []string {
	t.Helper()
	res := decodeJSON[responsesResult](t, r.ack0(t, key))
	if !res.OK {
		t.Errorf("%s: server-side-emit failed: %s", key, r.ack0(t, key))
	}
	var out []string
	for _, raw := range res.Responses {
		p := decodeJSON[struct {
			Node string `json:"node"`
			Arg  string `json:"arg"`
		}](t, raw)
		out = append(out, p.Node+":"+p.Arg)
	}
	sort.Strings(out)
	return out
}

// assertAnnouncement checks that each client in to received exactly one
// "announcement" {node: its node, from, arg}.
func assertAnnouncement(t *testing.T, r *runResult, from *serverNode, arg string, to ...clusterClient) {
	t.Helper()
	for _, c := range to {
		count := 0
		for _, e := range r.client(t, c.name).named("announcement") {
			var a struct{ Node, From, Arg string }
			if json.Unmarshal(e.Args[0], &a) == nil && a.Node == c.node.ID && a.From == from.ID && a.Arg == arg {
				count++
			}
		}
		if count != 1 {
			t.Errorf("%s (on %s) got %d announcements {node:%s from:%s arg:%s}, want 1 (all: %+v)",
				c.name, c.node.ID, count, c.node.ID, from.ID, arg, r.client(t, c.name).named("announcement"))
		}
	}
}

// clientIDs returns the ids of the named clients as scenario placeholders.
func clientIDs(names ...string) []any {
	out := make([]any, len(names))
	for i, n := range names {
		out[i] = map[string]any{"id": idOf(n)}
	}
	return out
}

// TestRedisClusterThreeNodes runs three nodes under test on one Redis and
// checks cross-node room messages, io.emit, fetchSockets, serverSideEmit
// with and without ack, socketsJoin and a room broadcast with acks.
func TestRedisClusterThreeNodes(t *testing.T) {
	t.Parallel()
	npmInstall(t) // node and the npm packages first: skip before starting anything
	redis := redisURL(t)
	prefix := uniquePrefix(t)
	n1 := startTargetNode(t, clusterEnv(redis, prefix, "cluster-1"))
	n2 := startTargetNode(t, clusterEnv(redis, prefix, "cluster-2"))
	n3 := startTargetNode(t, clusterEnv(redis, prefix, "cluster-3"))
	clients := []clusterClient{{"a", n1}, {"b", n2}, {"c", n3}}

	r := runClient(t, scenario{
		Clients: []clientSpec{
			{Name: "a", URL: n1.URL, Transports: []string{"websocket"}},
			{Name: "b", URL: n2.URL, Transports: []string{"polling"}},
			{Name: "c", URL: n3.URL},
		},
		Steps: []step{
			ackStep("who-a", "a", "whoami"),
			ackStep("who-b", "b", "whoami"),
			ackStep("who-c", "c", "whoami"),
			ackStep("join-a", "a", "join", "r1"),
			ackStep("join-b", "b", "join", "r1"),
			ackStep("join-c", "c", "join", "r1"),
			// Room message from n1 reaches n2 and n3.
			ackStep("rm", "a", "room message", "r1", "hello from a"),
			waitStep("b", "room message", 1, map[string]any{"msg": "hello from a"}),
			waitStep("c", "room message", 1, map[string]any{"msg": "hello from a"}),
			waitStep("a", "room message", 1, map[string]any{"msg": "hello from a"}),
			// io.emit from n3 reaches everyone.
			emitStep("c", "chat message", map[string]any{"from": "c"}),
			waitStep("a", "chat message", 1, map[string]any{"from": "c"}),
			waitStep("b", "chat message", 1, map[string]any{"from": "c"}),
			// fetchSockets across the cluster, all and by room.
			ackStep("fetch-all", "a", "fetch-sockets"),
			ackStep("fetch-r1", "b", "fetch-sockets", "r1"),
			// serverSideEmit with ack: one response per other node.
			ackStep("sse-a", "a", "server-side-emit", "ping-from-peer", "from-1"),
			ackStep("sse-c", "c", "server-side-emit", "ping-from-peer", "from-3"),
			// serverSideEmit without ack: other nodes emit locally.
			ackStep("announce", "b", "announce", "hi from 2"),
			waitStep("a", "announcement", 1, nil),
			waitStep("c", "announcement", 1, nil),
			// socketsJoin from n1: every r1 member, on every node, joins r2.
			ackStep("sj", "a", "sockets-join", "r1", "r2"),
			{Client: "c", Emit: "fetch-sockets", Args: []any{"r2"}, Ack: true, Save: "fetch-r2",
				Until: map[string]any{"ok": true, "sockets": clientIDs("a", "b", "c")}},
			ackStep("rm2", "c", "room message", "r2", "to r2"),
			waitStep("a", "room message", 1, map[string]any{"msg": "to r2"}),
			waitStep("b", "room message", 1, map[string]any{"msg": "to r2"}),
			// Room broadcast with acks across nodes, except the sender.
			ackStep("room-ack", "b", "room-ack", "r1"),
			{QuietMs: 200},
		},
	})

	assertLandedOn(t, r, clients)
	assertJSON(t, "room message ack", r.ack0(t, "rm"), map[string]any{"ok": true})
	assertRoomMessage(t, r, "r1", "a", "hello from a", "a", "b", "c")
	assertRoomMessage(t, r, "r2", "c", "to r2", "a", "b", "c")
	for _, name := range []string{"a", "b", "c"} {
		if got := len(r.client(t, name).named("chat message")); got != 1 {
			t.Errorf("%s got %d chat messages, want 1", name, got)
		}
	}
	assertFetch(t, r, "fetch-all", clients, "r1")
	assertFetch(t, r, "fetch-r1", clients, "r1")
	assertFetch(t, r, "fetch-r2", clients, "r1", "r2")

	if got, want := peerResponses(t, r, "sse-a"), []string{"cluster-2:from-1", "cluster-3:from-1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("serverSideEmit from node 1: responses %q, want %q", got, want)
	}
	if got, want := peerResponses(t, r, "sse-c"), []string{"cluster-1:from-3", "cluster-2:from-3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("serverSideEmit from node 3: responses %q, want %q", got, want)
	}
	assertAnnouncement(t, r, n2, "hi from 2", clusterClient{"a", n1}, clusterClient{"c", n3})
	if ev := r.client(t, "b").named("announcement"); len(ev) != 0 {
		t.Errorf("b, on the announcing node, got %+v (serverSideEmit must not reach the sender node)", ev)
	}

	res := decodeJSON[responsesResult](t, r.ack0(t, "room-ack"))
	a, c := r.client(t, "a"), r.client(t, "c")
	if !res.OK {
		t.Errorf("room-ack failed: %s", r.ack0(t, "room-ack"))
	} else if got, want := sortedStrings(t, res.Responses), sorted(a.ID, c.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("room-ack responses %q, want %q", got, want)
	}
	if ev := r.client(t, "b").named("ping-room"); len(ev) != 0 {
		t.Errorf("sender b got ping-room: %+v", ev)
	}
}

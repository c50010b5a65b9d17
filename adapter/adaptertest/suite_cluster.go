package adaptertest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sio-go/sio/adapter"
)

// clusterSize is the number of nodes of the multi-node tests: three, so
// that "every other node" is more than one.
const clusterSize = 3

// clusterFixture builds a three-node cluster where node i has the sockets
// ni-a (rooms r, all), ni-b (rooms r, x) and ni-c (room x).
func clusterFixture(t *testing.T, newCluster Cluster) []*node {
	t.Helper()
	nodes := multi(t, newCluster, clusterSize)
	for _, nd := range nodes {
		nd.connect(sidOf(nd, "a"), "r", "all")
		nd.connect(sidOf(nd, "b"), "r", "x")
		nd.connect(sidOf(nd, "c"), "x")
	}
	return nodes
}

// sidOf returns the id of the fixture socket name of nd, e.g. "n1-b".
func sidOf(nd *node, name string) adapter.SocketID {
	return adapter.SocketID(fmt.Sprintf("n%d-%s", nd.idx, name))
}

// barrier broadcasts an event to every socket from node 0 and waits until
// every node delivered it. Deliveries that were to happen before it have
// almost certainly happened when it returns; checks that something did
// NOT happen are made after a barrier.
func barrier(t *testing.T, nodes []*node, name string) {
	t.Helper()
	event := "barrier-" + name
	must(t, nodes[0].a.Broadcast(ctxFor(t), newPacket("/", event), adapter.BroadcastOptions{}), "Broadcast (barrier)")
	for _, nd := range nodes {
		waitReceived(t, nd, event, nd.expect(adapter.BroadcastOptions{}))
	}
}

// testClusterBroadcast checks that each node delivers a broadcast to its
// own matching sockets, once, with the packet and flags intact.
func testClusterBroadcast(t *testing.T, newCluster Cluster) {
	nodes := clusterFixture(t, newCluster)
	ctx := ctxFor(t)
	cases := []struct {
		from int
		opts adapter.BroadcastOptions
	}{
		{0, adapter.BroadcastOptions{}},
		{1, adapter.BroadcastOptions{Rooms: []adapter.Room{"r"}}},
		{2, adapter.BroadcastOptions{Rooms: []adapter.Room{"r", "x"}, Flags: adapter.BroadcastFlags{Volatile: true, Compress: true}}},
		{0, adapter.BroadcastOptions{Rooms: []adapter.Room{"r"}, Except: []adapter.Room{"x"}}},
		{0, adapter.BroadcastOptions{Except: []adapter.Room{"n0-a", "n1-c"}}},
		{0, adapter.BroadcastOptions{Rooms: []adapter.Room{"n1-c"}}},
		{2, adapter.BroadcastOptions{Rooms: []adapter.Room{"all", "n2-c", "missing"}, Except: []adapter.Room{"n1-a"}}},
		{1, adapter.BroadcastOptions{Rooms: []adapter.Room{"missing"}}},
	}
	sent := make([]*adapter.Packet, len(cases))
	for i, tc := range cases {
		event := fmt.Sprintf("cluster-%d", i)
		sent[i] = newPacket("/", event)
		must(t, nodes[tc.from].a.Broadcast(ctx, sent[i], tc.opts), "Broadcast")
		for _, nd := range nodes {
			if want := nd.expect(tc.opts); len(want) > 0 {
				waitReceived(t, nd, event, want)
			}
		}
	}
	barrier(t, nodes, "broadcast")
	for i, tc := range cases {
		event := fmt.Sprintf("cluster-%d", i)
		for _, nd := range nodes {
			checkReceived(t, nd, event, nd.expect(tc.opts))
			for _, d := range nd.ns.DeliveredEvent(event) {
				if len(d.Sids) == 0 {
					continue
				}
				if d.Flags.Volatile != tc.opts.Flags.Volatile || d.Flags.Compress != tc.opts.Flags.Compress {
					t.Errorf("node %d: %s delivered with flags %+v; want %+v", nd.idx, event, d.Flags, tc.opts.Flags)
				}
				if d.WithAck {
					t.Errorf("node %d: %s: plain Broadcast asked for an ack", nd.idx, event)
				}
				if d.Packet.Type != sent[i].Type || d.Packet.Nsp != "/" || canon(d.Packet.Data) != canon(sent[i].Data) {
					t.Errorf("node %d: %s delivered as {Type %d, Nsp %q, Data %s}; sent {Type %d, Nsp %q, Data %s}",
						nd.idx, event, d.Packet.Type, d.Packet.Nsp, canon(d.Packet.Data), sent[i].Type, sent[i].Nsp, canon(sent[i].Data))
				}
			}
		}
	}
}

// testClusterLocalBroadcast checks that the Local flag keeps a broadcast on
// the calling node.
func testClusterLocalBroadcast(t *testing.T, newCluster Cluster) {
	nodes := clusterFixture(t, newCluster)
	ctx := ctxFor(t)
	local := adapter.BroadcastOptions{Rooms: []adapter.Room{"r"}, Flags: adapter.BroadcastFlags{Local: true}}
	must(t, nodes[1].a.Broadcast(ctx, newPacket("/", "local"), local), "Broadcast (local)")
	waitReceived(t, nodes[1], "local", nodes[1].expect(local))
	// Same options without Local: travels the same way a leaked local
	// broadcast would, after it.
	fence := local
	fence.Flags.Local = false
	must(t, nodes[1].a.Broadcast(ctx, newPacket("/", "local-fence"), fence), "Broadcast")
	for _, nd := range nodes {
		waitReceived(t, nd, "local-fence", nd.expect(fence))
	}
	for _, nd := range nodes {
		var want []adapter.SocketID
		if nd.idx == 1 {
			want = nd.expect(local)
		}
		checkReceived(t, nd, "local", want)
	}
}

// testClusterBroadcastWithAck checks that every node reports its client
// count once and forwards its clients' acks.
func testClusterBroadcastWithAck(t *testing.T, newCluster Cluster) {
	nodes := clusterFixture(t, newCluster)
	for _, nd := range nodes {
		nd.ns.AckWith(ackAnswers("n2-b"))
	}
	ctx := ctxFor(t)
	flags := adapter.BroadcastFlags{Timeout: 3 * time.Second}
	cases := []struct {
		from int
		opts adapter.BroadcastOptions
	}{
		{0, adapter.BroadcastOptions{Rooms: []adapter.Room{"r"}, Flags: flags}},
		{1, adapter.BroadcastOptions{Rooms: []adapter.Room{"n0-c"}, Flags: flags}},
		{2, adapter.BroadcastOptions{Rooms: []adapter.Room{"x"}, Except: []adapter.Room{"n0-c", "n2-c"}, Flags: flags}},
		{2, adapter.BroadcastOptions{Except: []adapter.Room{"all"}, Flags: flags}},
	}
	for i, tc := range cases {
		event := fmt.Sprintf("acked-%d", i)
		var wantCounts []int
		var acked []adapter.SocketID
		for _, nd := range nodes {
			want := nd.expect(tc.opts)
			wantCounts = append(wantCounts, len(want))
			for _, sid := range want {
				if sid != "n2-b" {
					acked = append(acked, sid)
				}
			}
		}
		slices.Sort(wantCounts)
		wantAcked := wantAcks(acked...)
		var rec ackRecorder
		must(t, nodes[tc.from].a.BroadcastWithAck(ctx, newPacket("/", event), tc.opts, rec.onCount, rec.onAck), "BroadcastWithAck")
		counts, acks := rec.wait(t, len(wantCounts), len(wantAcked))
		if !slices.Equal(counts, wantCounts) {
			t.Errorf("%s: client counts %v; want %v (one per node, 0 included)", event, counts, wantCounts)
		}
		if !slices.Equal(acks, wantAcked) {
			t.Errorf("%s: acks %v; want %v", event, acks, wantAcked)
		}
		for _, nd := range nodes {
			for _, d := range nd.ns.DeliveredEvent(event) {
				if len(d.Sids) > 0 && !d.WithAck {
					t.Errorf("node %d: %s delivered without asking for an ack", nd.idx, event)
				}
			}
		}
	}
}

// testClusterFetchSockets checks that FetchSockets gathers every node's
// matching sockets with their handshake, data and rooms.
func testClusterFetchSockets(t *testing.T, newCluster Cluster) {
	nodes := clusterFixture(t, newCluster)
	ctx := ctxFor(t)
	flags := adapter.BroadcastFlags{Timeout: 3 * time.Second}
	for _, tc := range []struct {
		from int
		opts adapter.BroadcastOptions
		want []adapter.SocketID
	}{
		{1, adapter.BroadcastOptions{Rooms: []adapter.Room{"x"}, Flags: flags},
			[]adapter.SocketID{"n0-b", "n0-c", "n1-b", "n1-c", "n2-b", "n2-c"}},
		{0, adapter.BroadcastOptions{Rooms: []adapter.Room{"r", "n2-c"}, Except: []adapter.Room{"n0-b", "all"}, Flags: flags},
			[]adapter.SocketID{"n1-b", "n2-b", "n2-c"}},
		{2, adapter.BroadcastOptions{Rooms: []adapter.Room{"x"}, Flags: adapter.BroadcastFlags{Local: true}},
			[]adapter.SocketID{"n2-b", "n2-c"}},
		{0, adapter.BroadcastOptions{Rooms: []adapter.Room{"missing"}, Flags: flags}, nil},
	} {
		infos, err := nodes[tc.from].a.FetchSockets(ctx, tc.opts)
		must(t, err, "FetchSockets")
		checkInfos(t, nodes, infos, tc.want)
	}
}

// testClusterSocketsAndAllRooms checks Sockets and AllRooms across nodes.
func testClusterSocketsAndAllRooms(t *testing.T, newCluster Cluster) {
	nodes := clusterFixture(t, newCluster)
	ctx := ctxFor(t)
	var all []adapter.SocketID
	wantRooms := []adapter.Room{"all", "r", "x"}
	for _, nd := range nodes {
		all = append(all, nd.expect(adapter.BroadcastOptions{})...)
		for sid := range nd.model {
			wantRooms = append(wantRooms, adapter.Room(sid))
		}
	}
	slices.Sort(all)
	slices.Sort(wantRooms)
	for _, tc := range []struct {
		from  int
		rooms []adapter.Room
		want  []adapter.SocketID
	}{
		{0, nil, all},
		{2, []adapter.Room{"all", "n1-c"}, []adapter.SocketID{"n0-a", "n1-a", "n1-c", "n2-a"}},
		{1, []adapter.Room{"missing"}, nil},
	} {
		ids, err := nodes[tc.from].a.Sockets(ctx, tc.rooms)
		must(t, err, "Sockets")
		if !slices.Equal(sortedIDs(ids), tc.want) {
			t.Errorf("node %d: Sockets(%v) = %v; want %v", tc.from, tc.rooms, sortedIDs(ids), tc.want)
		}
	}
	rooms, err := nodes[1].a.AllRooms(ctx)
	must(t, err, "AllRooms")
	if g := slices.Compact(sortedRooms(rooms)); !slices.Equal(g, wantRooms) {
		t.Errorf("AllRooms = %v; want %v", g, wantRooms)
	}
}

// testClusterAddDelSockets checks AddSockets and DelSockets across nodes,
// and that the Local flag keeps them on the calling node.
func testClusterAddDelSockets(t *testing.T, newCluster Cluster) {
	nodes := clusterFixture(t, newCluster)
	ctx := ctxFor(t)

	// Local first, then the same operation cluster-wide as a fence.
	must(t, nodes[0].a.AddSockets(ctx, adapter.BroadcastOptions{Rooms: []adapter.Room{"r"}, Flags: adapter.BroadcastFlags{Local: true}}, []adapter.Room{"loc"}), "AddSockets (local)")
	must(t, nodes[0].a.AddSockets(ctx, adapter.BroadcastOptions{Rooms: []adapter.Room{"r"}}, []adapter.Room{"fence"}), "AddSockets")
	for _, nd := range nodes {
		for _, name := range []string{"a", "b"} {
			sid := sidOf(nd, name)
			Eventually(t, waitTimeout, func() bool { return nd.hasRoom(sid, "fence") }, "%s never joined fence", sid)
			if got := nd.hasRoom(sid, "loc"); got != (nd.idx == 0) {
				t.Errorf("%s in room loc: %v; want %v (Local AddSockets from node 0)", sid, got, nd.idx == 0)
			}
		}
		if nd.hasRoom(sidOf(nd, "c"), "fence") {
			t.Errorf("%s joined fence but is not in r", sidOf(nd, "c"))
		}
	}

	must(t, nodes[1].a.AddSockets(ctx, adapter.BroadcastOptions{Rooms: []adapter.Room{"x"}, Except: []adapter.Room{"n2-b"}}, []adapter.Room{"joined", "j2"}), "AddSockets")
	for _, nd := range nodes {
		for _, name := range []string{"b", "c"} {
			sid := sidOf(nd, name)
			if sid == "n2-b" {
				continue
			}
			Eventually(t, waitTimeout, func() bool { return nd.hasRoom(sid, "joined") && nd.hasRoom(sid, "j2") }, "%s never joined joined and j2", sid)
		}
		created := func() bool {
			for _, e := range nd.ns.RoomEvents() {
				if e.Kind == adapter.CreateRoom && e.Room == "joined" {
					return true
				}
			}
			return false
		}
		Eventually(t, waitTimeout, created, "node %d reported no create-room for joined", nd.idx)
	}

	// b sockets (r and x) leave r, c sockets (x only) are not in r anyway.
	must(t, nodes[2].a.DelSockets(ctx, adapter.BroadcastOptions{Rooms: []adapter.Room{"joined"}}, []adapter.Room{"r", "j2"}), "DelSockets")
	for _, nd := range nodes {
		for _, name := range []string{"b", "c"} {
			sid := sidOf(nd, name)
			if sid == "n2-b" {
				continue
			}
			Eventually(t, waitTimeout, func() bool { return !nd.hasRoom(sid, "r") && !nd.hasRoom(sid, "j2") }, "%s never left r and j2", sid)
		}
	}
	barrier(t, nodes, "adddel")
	for _, nd := range nodes {
		if !nd.hasRoom(sidOf(nd, "a"), "r") {
			t.Errorf("%s left r but is not in joined", sidOf(nd, "a"))
		}
	}
	if !nodes[2].hasRoom("n2-b", "r") || nodes[2].hasRoom("n2-b", "joined") {
		t.Errorf("n2-b rooms %v; want r kept and joined never joined (excepted)", sortedRooms(nodes[2].a.SocketRooms("n2-b")))
	}
}

// testClusterDisconnectSockets checks that every node disconnects its own
// matching sockets, with the close flag.
func testClusterDisconnectSockets(t *testing.T, newCluster Cluster) {
	nodes := clusterFixture(t, newCluster)
	ctx := ctxFor(t)
	must(t, nodes[1].a.DisconnectSockets(ctx, adapter.BroadcastOptions{Rooms: []adapter.Room{"x"}, Except: []adapter.Room{"n0-c"}}, true), "DisconnectSockets")
	must(t, nodes[2].a.DisconnectSockets(ctx, adapter.BroadcastOptions{Rooms: []adapter.Room{"n0-c"}}, false), "DisconnectSockets")
	want := map[int][]Disconnection{
		0: {{Sids: []adapter.SocketID{"n0-b"}, Close: true}, {Sids: []adapter.SocketID{"n0-c"}, Close: false}},
		1: {{Sids: []adapter.SocketID{"n1-b", "n1-c"}, Close: true}},
		2: {{Sids: []adapter.SocketID{"n2-b", "n2-c"}, Close: true}},
	}
	for _, nd := range nodes {
		var got []Disconnection
		poll(waitTimeout, func() bool { got = nonEmpty(nd.ns.Disconnected()); return len(got) >= len(want[nd.idx]) })
		if canon(got) != canon(want[nd.idx]) {
			t.Errorf("node %d: disconnections %+v; want %+v", nd.idx, got, want[nd.idx])
		}
		for _, d := range want[nd.idx] {
			for _, sid := range d.Sids {
				if nd.a.SocketRooms(sid) != nil {
					t.Errorf("node %d: disconnected %s still has rooms %v", nd.idx, sid, nd.a.SocketRooms(sid))
				}
			}
		}
		if nd.a.SocketRooms(sidOf(nd, "a")) == nil {
			t.Errorf("node %d: %s was removed but did not match", nd.idx, sidOf(nd, "a"))
		}
	}
}

// testClusterServerSideEmit checks that a server-side emit reaches every
// other node, not the sender, without asking for a reply.
func testClusterServerSideEmit(t *testing.T, newCluster Cluster) {
	nodes := multi(t, newCluster, clusterSize)
	ctx := ctxFor(t)
	data := []any{"hello", "world", 1.5, map[string]any{"k": []any{"v"}}}
	must(t, nodes[0].a.ServerSideEmit(ctx, data), "ServerSideEmit")
	for _, nd := range nodes[1:] {
		Eventually(t, waitTimeout, func() bool { return len(nd.ns.ServerSideEmits()) > 0 }, "node %d never received the server-side emit", nd.idx)
		got := nd.ns.ServerSideEmits()
		if len(got) != 1 || canon(got[0].Data) != canon(data) || got[0].WithReply {
			t.Errorf("node %d: server-side emits %+v; want one of %s without reply", nd.idx, got, canon(data))
		}
	}
	// Node 1 emits after node 0's emit went through: node 0 sees node 1's
	// emit after its own would have come back.
	fence := []any{"fence"}
	must(t, nodes[1].a.ServerSideEmit(ctx, fence), "ServerSideEmit")
	Eventually(t, waitTimeout, func() bool { return len(nodes[0].ns.ServerSideEmits()) > 0 }, "node 0 never received node 1's emit")
	if got := nodes[0].ns.ServerSideEmits(); len(got) != 1 || canon(got[0].Data) != canon(fence) {
		t.Errorf("node 0 received %+v; want only node 1's %s (never its own)", got, canon(fence))
	}
}

// testClusterServerSideEmitWithAck checks that the sender gets one answer
// per other node, and the answers that arrived with an error on timeout.
func testClusterServerSideEmitWithAck(t *testing.T, newCluster Cluster) {
	nodes := multi(t, newCluster, clusterSize)
	var mu sync.Mutex
	silent := map[int]bool{}
	for _, nd := range nodes {
		nd.ns.OnServerSideEmit(func(data []any, reply func(any)) {
			mu.Lock()
			quiet := silent[nd.idx]
			mu.Unlock()
			if reply != nil && !quiet {
				reply(map[string]any{"from": nd.idx, "echo": data[len(data)-1]})
			}
		})
	}
	answers, err := nodes[0].a.ServerSideEmitWithAck(ctxFor(t), []any{"question", "q1"})
	must(t, err, "ServerSideEmitWithAck")
	got := make([]string, 0, len(answers))
	for _, a := range answers {
		got = append(got, canon(a))
	}
	slices.Sort(got)
	want := []string{canon(map[string]any{"from": 1, "echo": "q1"}), canon(map[string]any{"from": 2, "echo": "q1"})}
	if !slices.Equal(got, want) {
		t.Errorf("answers %v; want %v", got, want)
	}
	for _, nd := range nodes[1:] {
		if e := nd.ns.ServerSideEmits(); len(e) != 1 || !e[0].WithReply {
			t.Errorf("node %d: server-side emits %+v; want one asking for a reply", nd.idx, e)
		}
	}
	if e := nodes[0].ns.ServerSideEmits(); len(e) != 0 {
		t.Errorf("the sender received its own emit: %+v", e)
	}

	// Node 2 stays silent: the call ends with the context, returning node
	// 1's answer and an error.
	mu.Lock()
	silent[2] = true
	mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	answers, err = nodes[1].a.ServerSideEmitWithAck(ctx, []any{"question", "q2"})
	if err == nil {
		t.Errorf("ServerSideEmitWithAck with a silent node: nil error; want a timeout error")
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("ServerSideEmitWithAck ignored its context: returned after %v", elapsed)
	}
	got = got[:0]
	for _, a := range answers {
		got = append(got, canon(a))
	}
	if want := []string{canon(map[string]any{"from": 0, "echo": "q2"})}; !slices.Equal(got, want) {
		t.Errorf("answers with a silent node %v; want %v", got, want)
	}
}

// testClusterNamespaces checks that adapters of different namespaces on
// the same cluster do not see each other's traffic.
func testClusterNamespaces(t *testing.T, newCluster Cluster) {
	factories := newCluster(t, 2)
	if factories == nil {
		t.Skip("the adapter cannot make a cluster of 2 nodes")
	}
	if len(factories) != 2 {
		t.Fatalf("Cluster(t, 2) returned %d factories", len(factories))
	}
	root := build(t, factories, "/")
	admin := build(t, factories, "/admin")
	for _, nodes := range [][]*node{root, admin} {
		for _, nd := range nodes {
			nd.connect(sidOf(nd, "same"), "r")
		}
	}
	ctx := ctxFor(t)
	opts := adapter.BroadcastOptions{Rooms: []adapter.Room{"r"}}
	must(t, root[0].a.Broadcast(ctx, newPacket("/", "to-root"), opts), "Broadcast /")
	must(t, admin[0].a.Broadcast(ctx, newPacket("/admin", "to-admin"), opts), "Broadcast /admin")
	waitReceived(t, root[1], "to-root", []adapter.SocketID{"n1-same"})
	waitReceived(t, admin[1], "to-admin", []adapter.SocketID{"n1-same"})
	barrier(t, root, "ns-root")
	if d := admin[1].ns.DeliveredEvent("to-root"); len(d) != 0 {
		t.Errorf("/admin received a broadcast of /: %+v", d)
	}
	if d := root[1].ns.DeliveredEvent("to-admin"); len(d) != 0 {
		t.Errorf("/ received a broadcast of /admin: %+v", d)
	}
	if d := admin[1].ns.DeliveredEvent("to-admin"); len(d) > 0 && d[0].Packet.Nsp != "/admin" {
		t.Errorf("/admin delivered a packet for namespace %q", d[0].Packet.Nsp)
	}
	ids, err := admin[1].a.Sockets(ctx, nil)
	must(t, err, "Sockets")
	if want := []adapter.SocketID{"n0-same", "n1-same"}; !slices.Equal(sortedIDs(ids), want) {
		t.Errorf("/admin Sockets = %v; want %v", sortedIDs(ids), want)
	}
}

// testClusterClose checks that a closed node leaves the cluster.
func testClusterClose(t *testing.T, newCluster Cluster) {
	nodes := clusterFixture(t, newCluster)
	ctx := ctxFor(t)
	closeNode(t, nodes[2])
	if _, err := nodes[2].a.ServerCount(ctx); err == nil {
		t.Error("ServerCount on a closed node: nil error; want ErrClosed")
	}
	var n int
	var err error
	if !poll(waitTimeout, func() bool { n, err = nodes[0].a.ServerCount(ctx); return err != nil || n == clusterSize-1 }) || err != nil {
		t.Errorf("ServerCount after a node closed = %d, %v; want %d", n, err, clusterSize-1)
	}
	must(t, nodes[0].a.Broadcast(ctx, newPacket("/", "after-close"), adapter.BroadcastOptions{}), "Broadcast")
	for _, nd := range nodes[:2] {
		waitReceived(t, nd, "after-close", nd.expect(adapter.BroadcastOptions{}))
	}
	must(t, nodes[1].a.Broadcast(ctx, newPacket("/", "after-close-fence"), adapter.BroadcastOptions{}), "Broadcast")
	waitReceived(t, nodes[0], "after-close-fence", nodes[0].expect(adapter.BroadcastOptions{}))
	if d := nodes[2].ns.DeliveredEvent("after-close"); len(d) != 0 {
		t.Errorf("a closed node delivered a broadcast: %+v", d)
	}
}

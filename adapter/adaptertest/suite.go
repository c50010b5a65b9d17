package adaptertest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sio-go/sio/adapter"
)

// Cluster builds n adapters' factories that share one cluster (n >= 1).
// Each call must build a fresh cluster, isolated from every other call
// (for example a new key prefix or a new Redis server), and release it
// with t.Cleanup. A factory may be called once per namespace. It returns
// nil when the implementation cannot make n nodes (the memory adapter:
// n > 1), and the multi-node cases are then skipped; n == 1 must work.
type Cluster func(t *testing.T, n int) []adapter.Factory

// Run runs the conformance suite.
func Run(t *testing.T, newCluster Cluster) {
	t.Helper()
	if newCluster == nil {
		t.Fatal("adaptertest.Run: nil Cluster")
	}
	local := []struct {
		name string
		fn   func(*testing.T, Cluster)
	}{
		{"Membership", testMembership},
		{"Snapshots", testSnapshots},
		{"Match", testMatch},
		{"Flags", testFlags},
		{"BroadcastWithAck", testBroadcastWithAck},
		{"FetchSockets", testFetchSockets},
		{"SocketsAndAllRooms", testSocketsAndAllRooms},
		{"AddDelSockets", testAddDelSockets},
		{"DisconnectSockets", testDisconnectSockets},
		{"ServerSide", testServerSide},
		{"Close", testClose},
		{"BadInput", testBadInput},
		{"Concurrent", testConcurrent},
	}
	for _, tc := range local {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newCluster) })
	}
	cluster := []struct {
		name string
		fn   func(*testing.T, Cluster)
	}{
		{"Broadcast", testClusterBroadcast},
		{"LocalBroadcast", testClusterLocalBroadcast},
		{"BroadcastWithAck", testClusterBroadcastWithAck},
		{"FetchSockets", testClusterFetchSockets},
		{"SocketsAndAllRooms", testClusterSocketsAndAllRooms},
		{"AddDelSockets", testClusterAddDelSockets},
		{"DisconnectSockets", testClusterDisconnectSockets},
		{"ServerSideEmit", testClusterServerSideEmit},
		{"ServerSideEmitWithAck", testClusterServerSideEmitWithAck},
		{"Namespaces", testClusterNamespaces},
		{"Close", testClusterClose},
	}
	t.Run("Cluster", func(t *testing.T) {
		for _, tc := range cluster {
			t.Run(tc.name, func(t *testing.T) { tc.fn(t, newCluster) })
		}
	})
}

// ev is a shorthand for building expected room events.
func ev(kind adapter.RoomEventKind, room string, sid string) RoomEvent {
	return RoomEvent{Kind: kind, Room: adapter.Room(room), Sid: adapter.SocketID(sid)}
}

// perRoom groups events by room, keeping their order.
func perRoom(events []RoomEvent) map[adapter.Room][]RoomEvent {
	out := make(map[adapter.Room][]RoomEvent)
	for _, e := range events {
		out[e.Room] = append(out[e.Room], e)
	}
	return out
}

// sortedSnapshot turns a Rooms or Sids snapshot into sorted string lists.
func sortedSnapshot[K ~string, V ~string](m map[K][]V) map[string][]string {
	out := make(map[string][]string, len(m))
	for k, vs := range m {
		s := make([]string, 0, len(vs))
		for _, v := range vs {
			s = append(s, string(v))
		}
		slices.Sort(s)
		out[string(k)] = s
	}
	return out
}

// testMembership checks AddAll, Del, DelAll step by step: the room events
// each step reports (in order within each room), and the Rooms, Sids and
// SocketRooms views after it.
func testMembership(t *testing.T, newCluster Cluster) {
	nd := single(t, newCluster)
	a := nd.a
	type step struct {
		name   string
		do     func()
		events []RoomEvent
		rooms  map[string][]string
		sids   map[string][]string
	}
	steps := []step{
		{"first join creates rooms", func() { a.AddAll("s1", "s1", "a") },
			[]RoomEvent{ev(adapter.CreateRoom, "s1", ""), ev(adapter.JoinRoom, "s1", "s1"), ev(adapter.CreateRoom, "a", ""), ev(adapter.JoinRoom, "a", "s1")},
			map[string][]string{"s1": {"s1"}, "a": {"s1"}},
			map[string][]string{"s1": {"a", "s1"}}},
		{"join existing room and repeated room", func() { a.AddAll("s2", "s2", "a", "b", "b") },
			[]RoomEvent{ev(adapter.CreateRoom, "s2", ""), ev(adapter.JoinRoom, "s2", "s2"), ev(adapter.JoinRoom, "a", "s2"), ev(adapter.CreateRoom, "b", ""), ev(adapter.JoinRoom, "b", "s2")},
			map[string][]string{"s1": {"s1"}, "s2": {"s2"}, "a": {"s1", "s2"}, "b": {"s2"}},
			map[string][]string{"s1": {"a", "s1"}, "s2": {"a", "b", "s2"}}},
		{"joining again changes nothing", func() { a.AddAll("s2", "a") },
			nil,
			map[string][]string{"s1": {"s1"}, "s2": {"s2"}, "a": {"s1", "s2"}, "b": {"s2"}},
			map[string][]string{"s1": {"a", "s1"}, "s2": {"a", "b", "s2"}}},
		{"AddAll without rooms registers the socket", func() { a.AddAll("s3") },
			nil,
			map[string][]string{"s1": {"s1"}, "s2": {"s2"}, "a": {"s1", "s2"}, "b": {"s2"}},
			map[string][]string{"s1": {"a", "s1"}, "s2": {"a", "b", "s2"}, "s3": {}}},
		{"leave a room with other members", func() { a.Del("s2", "a") },
			[]RoomEvent{ev(adapter.LeaveRoom, "a", "s2")},
			map[string][]string{"s1": {"s1"}, "s2": {"s2"}, "a": {"s1"}, "b": {"s2"}},
			map[string][]string{"s1": {"a", "s1"}, "s2": {"b", "s2"}, "s3": {}}},
		{"leaving again changes nothing", func() { a.Del("s2", "a") },
			nil,
			map[string][]string{"s1": {"s1"}, "s2": {"s2"}, "a": {"s1"}, "b": {"s2"}},
			map[string][]string{"s1": {"a", "s1"}, "s2": {"b", "s2"}, "s3": {}}},
		{"leave unknown room or unknown socket", func() { a.Del("s2", "nope"); a.Del("ghost", "a") },
			nil,
			map[string][]string{"s1": {"s1"}, "s2": {"s2"}, "a": {"s1"}, "b": {"s2"}},
			map[string][]string{"s1": {"a", "s1"}, "s2": {"b", "s2"}, "s3": {}}},
		{"last member leaves: room deleted", func() { a.Del("s1", "a") },
			[]RoomEvent{ev(adapter.LeaveRoom, "a", "s1"), ev(adapter.DeleteRoom, "a", "")},
			map[string][]string{"s1": {"s1"}, "s2": {"s2"}, "b": {"s2"}},
			map[string][]string{"s1": {"s1"}, "s2": {"b", "s2"}, "s3": {}}},
		{"DelAll leaves and deletes every room", func() { a.DelAll("s2") },
			[]RoomEvent{ev(adapter.LeaveRoom, "s2", "s2"), ev(adapter.DeleteRoom, "s2", ""), ev(adapter.LeaveRoom, "b", "s2"), ev(adapter.DeleteRoom, "b", "")},
			map[string][]string{"s1": {"s1"}},
			map[string][]string{"s1": {"s1"}, "s3": {}}},
		{"DelAll again and of a roomless socket", func() { a.DelAll("s2"); a.DelAll("s3"); a.DelAll("ghost") },
			nil,
			map[string][]string{"s1": {"s1"}},
			map[string][]string{"s1": {"s1"}}},
		{"leaving the own-id room keeps the socket known", func() { a.Del("s1", "s1") },
			[]RoomEvent{ev(adapter.LeaveRoom, "s1", "s1"), ev(adapter.DeleteRoom, "s1", "")},
			map[string][]string{},
			map[string][]string{"s1": {}}},
		{"DelAll forgets it", func() { a.DelAll("s1") },
			nil,
			map[string][]string{},
			map[string][]string{}},
	}
	seen := 0
	for _, st := range steps {
		st.do()
		var got []RoomEvent
		if len(st.events) > 0 {
			poll(waitTimeout, func() bool { return len(nd.ns.RoomEvents()) >= seen+len(st.events) })
		}
		got = nd.ns.RoomEvents()[seen:]
		seen += len(got)
		if len(got) != len(st.events) {
			t.Errorf("%s: room events %v; want %v", st.name, got, st.events)
		} else if g, w := perRoom(got), perRoom(st.events); !maps.EqualFunc(g, w, slices.Equal) {
			t.Errorf("%s: room events %v; want %v (order matters within a room)", st.name, got, st.events)
		}
		if g := sortedSnapshot(a.Rooms()); !maps.EqualFunc(g, st.rooms, slices.Equal) {
			t.Errorf("%s: Rooms() = %v; want %v", st.name, g, st.rooms)
		}
		if g := sortedSnapshot(a.Sids()); !maps.EqualFunc(g, st.sids, slices.Equal) {
			t.Errorf("%s: Sids() = %v; want %v", st.name, g, st.sids)
		}
		for _, sid := range []adapter.SocketID{"s1", "s2", "s3", "ghost"} {
			want, known := st.sids[string(sid)]
			got := a.SocketRooms(sid)
			switch {
			case !known && got != nil:
				t.Errorf("%s: SocketRooms(%s) = %v; want nil for an unknown socket", st.name, sid, got)
			case known && got == nil:
				t.Errorf("%s: SocketRooms(%s) = nil; want %v", st.name, sid, want)
			case known:
				s := make([]string, len(got))
				for i, r := range got {
					s[i] = string(r)
				}
				slices.Sort(s)
				if !slices.Equal(s, want) {
					t.Errorf("%s: SocketRooms(%s) = %v; want %v", st.name, sid, s, want)
				}
			}
		}
	}
}

// testSnapshots checks that Rooms, Sids and SocketRooms return copies.
func testSnapshots(t *testing.T, newCluster Cluster) {
	nd := single(t, newCluster)
	a := nd.a
	a.AddAll("s1", "s1", "a", "b")
	a.AddAll("s2", "s2", "a")

	rooms, sids, mine := a.Rooms(), a.Sids(), a.SocketRooms("s1")
	// Writing into the snapshots must not change the adapter.
	rooms["a"][0] = "evil"
	rooms["a"] = append(rooms["a"], "evil2")
	_ = append(rooms["b"], "evil3") // must not overwrite another entry
	delete(rooms, "b")
	rooms["new"] = []adapter.SocketID{"x"}
	sids["s1"][0] = "evil"
	delete(sids, "s2")
	mine[0] = "evil"

	want := map[string][]string{"s1": {"s1"}, "s2": {"s2"}, "a": {"s1", "s2"}, "b": {"s1"}}
	if g := sortedSnapshot(a.Rooms()); !maps.EqualFunc(g, want, slices.Equal) {
		t.Errorf("Rooms() after editing a snapshot = %v; want %v", g, want)
	}
	wantSids := map[string][]string{"s1": {"a", "b", "s1"}, "s2": {"a", "s2"}}
	if g := sortedSnapshot(a.Sids()); !maps.EqualFunc(g, wantSids, slices.Equal) {
		t.Errorf("Sids() after editing a snapshot = %v; want %v", g, wantSids)
	}

	// A snapshot does not follow later changes.
	before := a.Rooms()
	a.AddAll("s3", "a")
	a.DelAll("s1")
	if g := sortedSnapshot(before); !maps.EqualFunc(g, want, slices.Equal) {
		t.Errorf("a snapshot changed with the adapter: %v; want %v", g, want)
	}
	// Appending to one entry of a fresh snapshot leaves the others alone.
	fresh := a.Rooms()
	ids := fresh["s2"]
	_ = append(ids, "overflow")
	if g := sortedSnapshot(fresh); !maps.EqualFunc(g, sortedSnapshot(a.Rooms()), slices.Equal) {
		t.Errorf("appending to one snapshot entry changed another: %v", g)
	}
}

// matchCase is one selection case of testMatch.
type matchCase struct {
	name string
	opts adapter.BroadcastOptions
}

// matchCases are the selection cases over matchFixture.
var matchCases = []matchCase{
	{"no rooms: every socket, roomless one included", adapter.BroadcastOptions{}},
	{"one room", adapter.BroadcastOptions{Rooms: []adapter.Room{"a"}}},
	{"union, each socket once", adapter.BroadcastOptions{Rooms: []adapter.Room{"a", "b"}}},
	{"repeated room", adapter.BroadcastOptions{Rooms: []adapter.Room{"a", "a"}}},
	{"missing room", adapter.BroadcastOptions{Rooms: []adapter.Room{"missing"}}},
	{"room plus missing room", adapter.BroadcastOptions{Rooms: []adapter.Room{"missing", "a"}}},
	{"own-id room", adapter.BroadcastOptions{Rooms: []adapter.Room{"s4"}}},
	{"three overlapping rooms", adapter.BroadcastOptions{Rooms: []adapter.Room{"a", "b", "m1"}}},
	{"union minus except room", adapter.BroadcastOptions{Rooms: []adapter.Room{"a", "b"}, Except: []adapter.Room{"b"}}},
	{"all minus except room", adapter.BroadcastOptions{Except: []adapter.Room{"a"}}},
	{"room minus own id (broadcast from a socket)", adapter.BroadcastOptions{Rooms: []adapter.Room{"a"}, Except: []adapter.Room{"s2"}}},
	{"all minus own id", adapter.BroadcastOptions{Except: []adapter.Room{"s1"}}},
	{"missing except room", adapter.BroadcastOptions{Except: []adapter.Room{"missing"}}},
	{"except covers every target", adapter.BroadcastOptions{Rooms: []adapter.Room{"a", "b"}, Except: []adapter.Room{"a", "b"}}},
	{"except by two ids", adapter.BroadcastOptions{Rooms: []adapter.Room{"b"}, Except: []adapter.Room{"s2", "s3"}}},
	{"many rooms with repeats", adapter.BroadcastOptions{Rooms: []adapter.Room{"m1", "m2", "m3", "m4", "m5", "m6", "m2"}}},
	{"many rooms minus a room", adapter.BroadcastOptions{Rooms: []adapter.Room{"m1", "m2", "m3", "m4", "m5", "m6"}, Except: []adapter.Room{"m1"}}},
	{"all minus many rooms", adapter.BroadcastOptions{Except: []adapter.Room{"s1", "m2", "m3", "m5", "m6", "x"}}},
	{"many rooms minus many rooms", adapter.BroadcastOptions{Rooms: []adapter.Room{"m1", "m2", "m3", "m4", "m5", "m6"}, Except: []adapter.Room{"s1", "m5", "m1", "m6", "s2", "missing"}}},
}

// matchFixture connects the sockets of the selection cases.
func matchFixture(nd *node) {
	nd.connect("s1", "a", "m1", "m5")
	nd.connect("s2", "a", "b", "m2", "m6")
	nd.connect("s3", "b", "m3")
	nd.connect("s4", "m4")
	nd.connect("s5")
	nd.a.Del("s5", "s5") // known to the adapter, in no room
	nd.model["s5"] = map[adapter.Room]bool{}
}

// testMatch runs every selection case through Broadcast, BroadcastWithAck,
// Sockets and FetchSockets.
func testMatch(t *testing.T, newCluster Cluster) {
	nd := single(t, newCluster)
	matchFixture(nd)
	ctx := ctxFor(t)
	for i, tc := range matchCases {
		want := nd.expect(tc.opts)
		event := fmt.Sprintf("match-%d", i)
		if err := nd.a.Broadcast(ctx, newPacket("/", event), tc.opts); err != nil {
			t.Fatalf("%s: Broadcast: %v", tc.name, err)
		}
		if len(want) > 0 {
			waitReceived(t, nd, event, want)
		}
		checkReceived(t, nd, event, want)

		var counts []int
		var mu sync.Mutex
		err := nd.a.BroadcastWithAck(ctx, newPacket("/", event+"-ack"), tc.opts, func(n int) {
			mu.Lock()
			counts = append(counts, n)
			mu.Unlock()
		}, func(any) {})
		if err != nil && !errors.Is(err, adapter.ErrNotSupported) {
			t.Fatalf("%s: BroadcastWithAck: %v", tc.name, err)
		}
		if err == nil {
			ok := poll(waitTimeout, func() bool { mu.Lock(); defer mu.Unlock(); return len(counts) > 0 })
			mu.Lock()
			if !ok || !slices.Equal(counts, []int{len(want)}) {
				t.Errorf("%s: BroadcastWithAck client counts %v; want [%d]", tc.name, counts, len(want))
			}
			mu.Unlock()
		}

		if len(tc.opts.Except) == 0 {
			ids, err := nd.a.Sockets(ctx, tc.opts.Rooms)
			if err != nil && !errors.Is(err, adapter.ErrNotSupported) {
				t.Fatalf("%s: Sockets: %v", tc.name, err)
			}
			if err == nil && !slices.Equal(sortedIDs(ids), want) {
				t.Errorf("%s: Sockets = %v; want %v", tc.name, sortedIDs(ids), want)
			}
		}

		infos, err := nd.a.FetchSockets(ctx, tc.opts)
		if err != nil && !errors.Is(err, adapter.ErrNotSupported) {
			t.Fatalf("%s: FetchSockets: %v", tc.name, err)
		}
		if err == nil {
			ids := make([]adapter.SocketID, 0, len(infos))
			for _, info := range infos {
				ids = append(ids, info.ID)
			}
			if !slices.Equal(sortedIDs(ids), want) {
				t.Errorf("%s: FetchSockets ids = %v; want %v", tc.name, sortedIDs(ids), want)
			}
		}
	}
}

// testFlags checks that Broadcast passes the flags and the packet through
// to the namespace unchanged.
func testFlags(t *testing.T, newCluster Cluster) {
	nd := single(t, newCluster)
	nd.connect("s1", "a")
	ctx := ctxFor(t)
	for _, flags := range []adapter.BroadcastFlags{
		{},
		{Volatile: true},
		{Compress: true, Local: true},
		{Volatile: true, Compress: true},
	} {
		event := fmt.Sprintf("flags-%v-%v-%v", flags.Volatile, flags.Compress, flags.Local)
		pkt := newPacket("/", event)
		must(t, nd.a.Broadcast(ctx, pkt, adapter.BroadcastOptions{Rooms: []adapter.Room{"a"}, Flags: flags}), "Broadcast")
		waitReceived(t, nd, event, []adapter.SocketID{"s1"})
		d := nd.ns.DeliveredEvent(event)[0]
		if d.Flags.Volatile != flags.Volatile || d.Flags.Compress != flags.Compress {
			t.Errorf("%s: delivered with flags %+v; want %+v", event, d.Flags, flags)
		}
		if d.WithAck {
			t.Errorf("%s: plain Broadcast asked for an ack", event)
		}
		if canon(d.Packet.Data) != canon(pkt.Data) || d.Packet.Type != pkt.Type {
			t.Errorf("%s: delivered packet %+v; want %+v", event, d.Packet, pkt)
		}
	}
}

// ackRecorder collects the client counts and acks of BroadcastWithAck.
type ackRecorder struct {
	mu     sync.Mutex
	counts []int
	acks   []string
}

func (r *ackRecorder) onCount(n int) {
	r.mu.Lock()
	r.counts = append(r.counts, n)
	r.mu.Unlock()
}

func (r *ackRecorder) onAck(arg any) {
	r.mu.Lock()
	r.acks = append(r.acks, canon(arg))
	r.mu.Unlock()
}

// snapshot returns the sorted counts and acks received so far.
func (r *ackRecorder) snapshot() ([]int, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	counts, acks := slices.Clone(r.counts), slices.Clone(r.acks)
	slices.Sort(counts)
	slices.Sort(acks)
	return counts, acks
}

// wait polls until nCounts counts and nAcks acks arrived.
func (r *ackRecorder) wait(t *testing.T, nCounts, nAcks int) ([]int, []string) {
	t.Helper()
	poll(waitTimeout, func() bool {
		c, a := r.snapshot()
		return len(c) >= nCounts && len(a) >= nAcks
	})
	return r.snapshot()
}

// ackAnswers makes every client answer "ack:<sid>" except those listed.
func ackAnswers(silent ...adapter.SocketID) func(adapter.SocketID) (any, bool) {
	return func(sid adapter.SocketID) (any, bool) {
		return "ack:" + string(sid), !slices.Contains(silent, sid)
	}
}

// wantAcks returns the canonical acks of ids.
func wantAcks(ids ...adapter.SocketID) []string {
	out := make([]string, len(ids))
	for i, sid := range ids {
		out[i] = canon("ack:" + string(sid))
	}
	slices.Sort(out)
	return out
}

// testBroadcastWithAck checks client counts, acks, and the ack request
// reaching the namespace.
func testBroadcastWithAck(t *testing.T, newCluster Cluster) {
	nd := single(t, newCluster)
	nd.connect("s1", "a")
	nd.connect("s2", "a", "b")
	nd.connect("s3", "b")
	nd.ns.AckWith(ackAnswers("s3"))
	ctx := ctxFor(t)

	var rec ackRecorder
	opts := adapter.BroadcastOptions{Rooms: []adapter.Room{"a", "b"}, Flags: adapter.BroadcastFlags{Timeout: 2 * time.Second}}
	must(t, nd.a.BroadcastWithAck(ctx, newPacket("/", "acked"), opts, rec.onCount, rec.onAck), "BroadcastWithAck")
	rec.wait(t, 1, 2)
	nd.ns.Wait()
	counts, acks := rec.snapshot()
	if !slices.Equal(counts, []int{3}) {
		t.Errorf("client counts %v; want [3]", counts)
	}
	if want := wantAcks("s1", "s2"); !slices.Equal(acks, want) {
		t.Errorf("acks %v; want %v", acks, want)
	}
	ds := nd.ns.DeliveredEvent("acked")
	if len(ds) != 1 || !ds[0].WithAck || ds[0].Flags.Timeout != opts.Flags.Timeout {
		t.Errorf("deliveries %+v; want one asking for an ack with timeout %v", ds, opts.Flags.Timeout)
	}
	checkReceived(t, nd, "acked", []adapter.SocketID{"s1", "s2", "s3"})

	// No recipient: the count is still reported, once, as 0.
	var none ackRecorder
	must(t, nd.a.BroadcastWithAck(ctx, newPacket("/", "nobody"), adapter.BroadcastOptions{Rooms: []adapter.Room{"missing"}}, none.onCount, none.onAck), "BroadcastWithAck")
	counts, acks = none.wait(t, 1, 0)
	nd.ns.Wait()
	if !slices.Equal(counts, []int{0}) || len(acks) != 0 {
		t.Errorf("no recipient: counts %v, acks %v; want [0] and none", counts, acks)
	}
}

// testFetchSockets checks what FetchSockets reports for each socket.
func testFetchSockets(t *testing.T, newCluster Cluster) {
	nd := single(t, newCluster)
	nd.connect("s1", "a")
	nd.connect("s2", "a", "b")
	nd.connect("s3", "b")
	nd.a.AddAll("ghost", "ghost", "a") // in the adapter, unknown to the namespace
	ctx := ctxFor(t)

	infos, err := nd.a.FetchSockets(ctx, adapter.BroadcastOptions{Rooms: []adapter.Room{"a"}})
	must(t, err, "FetchSockets")
	checkInfos(t, []*node{nd}, infos, []adapter.SocketID{"s1", "s2"})

	infos, err = nd.a.FetchSockets(ctx, adapter.BroadcastOptions{Except: []adapter.Room{"s1"}, Flags: adapter.BroadcastFlags{Local: true}})
	must(t, err, "FetchSockets")
	checkInfos(t, []*node{nd}, infos, []adapter.SocketID{"s2", "s3"})
}

// checkInfos verifies that infos describe exactly want, each with the
// handshake, data and rooms its node gave it.
func checkInfos(t *testing.T, nodes []*node, infos []adapter.SocketInfo, want []adapter.SocketID) {
	t.Helper()
	ids := make([]adapter.SocketID, 0, len(infos))
	for _, info := range infos {
		ids = append(ids, info.ID)
		var owner *node
		for _, nd := range nodes {
			if _, ok := nd.model[info.ID]; ok {
				owner = nd
			}
		}
		if owner == nil {
			continue // reported below as an unexpected id
		}
		if g, w := canon(info.Handshake), canon(handshakeFor(info.ID)); g != w {
			t.Errorf("%s: handshake %s; want %s", info.ID, g, w)
		}
		if g, w := canon(info.Data), canon(dataFor(info.ID)); g != w {
			t.Errorf("%s: data %s; want %s", info.ID, g, w)
		}
		if g, w := sortedRooms(info.Rooms), sortedRooms(owner.a.SocketRooms(info.ID)); !slices.Equal(g, w) {
			t.Errorf("%s: rooms %v; want %v", info.ID, g, w)
		}
	}
	if !slices.Equal(sortedIDs(ids), want) {
		t.Errorf("FetchSockets ids %v; want %v", sortedIDs(ids), want)
	}
}

// testSocketsAndAllRooms checks Sockets and AllRooms on one node.
func testSocketsAndAllRooms(t *testing.T, newCluster Cluster) {
	nd := single(t, newCluster)
	nd.connect("s1", "a")
	nd.connect("s2", "a", "b")
	nd.connect("s3")
	ctx := ctxFor(t)

	for _, tc := range []struct {
		rooms []adapter.Room
		want  []adapter.SocketID
	}{
		{nil, []adapter.SocketID{"s1", "s2", "s3"}},
		{[]adapter.Room{"a"}, []adapter.SocketID{"s1", "s2"}},
		{[]adapter.Room{"b", "s3", "b"}, []adapter.SocketID{"s2", "s3"}},
		{[]adapter.Room{"missing"}, nil},
	} {
		ids, err := nd.a.Sockets(ctx, tc.rooms)
		must(t, err, "Sockets")
		if !slices.Equal(sortedIDs(ids), tc.want) {
			t.Errorf("Sockets(%v) = %v; want %v", tc.rooms, sortedIDs(ids), tc.want)
		}
	}
	rooms, err := nd.a.AllRooms(ctx)
	must(t, err, "AllRooms")
	if want := []adapter.Room{"a", "b", "s1", "s2", "s3"}; !slices.Equal(sortedRooms(rooms), want) {
		t.Errorf("AllRooms = %v; want %v", sortedRooms(rooms), want)
	}
}

// testAddDelSockets checks AddSockets and DelSockets on one node.
func testAddDelSockets(t *testing.T, newCluster Cluster) {
	nd := single(t, newCluster)
	nd.connect("s1", "a")
	nd.connect("s2", "a", "b")
	nd.connect("s3", "b")
	ctx := ctxFor(t)
	a := nd.a

	must(t, a.AddSockets(ctx, adapter.BroadcastOptions{Rooms: []adapter.Room{"a"}}, []adapter.Room{"x", "y"}), "AddSockets")
	must(t, a.AddSockets(ctx, adapter.BroadcastOptions{Except: []adapter.Room{"a"}}, []adapter.Room{"z"}), "AddSockets")
	must(t, a.AddSockets(ctx, adapter.BroadcastOptions{}, nil), "AddSockets with no rooms")
	want := map[string][]string{
		"s1": {"s1"}, "s2": {"s2"}, "s3": {"s3"},
		"a": {"s1", "s2"}, "b": {"s2", "s3"}, "x": {"s1", "s2"}, "y": {"s1", "s2"}, "z": {"s3"},
	}
	if g := sortedSnapshot(a.Rooms()); !maps.EqualFunc(g, want, slices.Equal) {
		t.Errorf("after AddSockets: Rooms() = %v; want %v", g, want)
	}
	created := 0
	poll(waitTimeout, func() bool {
		created = 0
		for _, e := range nd.ns.RoomEvents() {
			if e.Kind == adapter.CreateRoom && (e.Room == "x" || e.Room == "y" || e.Room == "z") {
				created++
			}
		}
		return created == 3
	})
	if created != 3 {
		t.Errorf("AddSockets reported %d create-room events for x, y, z; want 3", created)
	}

	must(t, a.DelSockets(ctx, adapter.BroadcastOptions{Rooms: []adapter.Room{"b"}}, []adapter.Room{"b", "x"}), "DelSockets")
	must(t, a.DelSockets(ctx, adapter.BroadcastOptions{}, nil), "DelSockets with no rooms")
	want = map[string][]string{
		"s1": {"s1"}, "s2": {"s2"}, "s3": {"s3"},
		"a": {"s1", "s2"}, "x": {"s1"}, "y": {"s1", "s2"}, "z": {"s3"},
	}
	if g := sortedSnapshot(a.Rooms()); !maps.EqualFunc(g, want, slices.Equal) {
		t.Errorf("after DelSockets: Rooms() = %v; want %v", g, want)
	}
}

// testDisconnectSockets checks that DisconnectSockets asks the namespace
// to disconnect exactly the matching sockets, with the close flag.
func testDisconnectSockets(t *testing.T, newCluster Cluster) {
	nd := single(t, newCluster)
	nd.connect("s1", "a")
	nd.connect("s2", "a", "b")
	nd.connect("s3", "b")
	ctx := ctxFor(t)

	must(t, nd.a.DisconnectSockets(ctx, adapter.BroadcastOptions{Rooms: []adapter.Room{"a"}, Except: []adapter.Room{"s1"}}, true), "DisconnectSockets")
	must(t, nd.a.DisconnectSockets(ctx, adapter.BroadcastOptions{Rooms: []adapter.Room{"missing"}}, true), "DisconnectSockets")
	must(t, nd.a.DisconnectSockets(ctx, adapter.BroadcastOptions{Rooms: []adapter.Room{"s3"}}, false), "DisconnectSockets")
	var got []Disconnection
	poll(waitTimeout, func() bool { got = nonEmpty(nd.ns.Disconnected()); return len(got) >= 2 })
	want := []Disconnection{{Sids: []adapter.SocketID{"s2"}, Close: true}, {Sids: []adapter.SocketID{"s3"}, Close: false}}
	if canon(got) != canon(want) {
		t.Errorf("disconnections %+v; want %+v", got, want)
	}
	if nd.a.SocketRooms("s2") != nil || nd.a.SocketRooms("s3") != nil {
		t.Errorf("disconnected sockets still have rooms: s2 %v, s3 %v", nd.a.SocketRooms("s2"), nd.a.SocketRooms("s3"))
	}
	if g := sortedRooms(nd.a.SocketRooms("s1")); !slices.Equal(g, []adapter.Room{"a", "s1"}) {
		t.Errorf("s1 rooms %v; want [a s1]", g)
	}
}

// nonEmpty drops the disconnections that name no socket.
func nonEmpty(ds []Disconnection) []Disconnection {
	var out []Disconnection
	for _, d := range ds {
		if len(d.Sids) > 0 {
			d.Sids = sortedIDs(d.Sids)
			out = append(out, d)
		}
	}
	return out
}

// testServerSide checks ServerSideEmit, ServerSideEmitWithAck and
// ServerCount on a one-node cluster.
func testServerSide(t *testing.T, newCluster Cluster) {
	nd := single(t, newCluster)
	nd.ns.OnServerSideEmit(func(_ []any, reply func(any)) {
		if reply != nil {
			reply("self")
		}
	})
	ctx := ctxFor(t)
	must(t, nd.a.ServerSideEmit(ctx, []any{"hello", 1}), "ServerSideEmit")
	answers, err := nd.a.ServerSideEmitWithAck(ctx, []any{"question"})
	must(t, err, "ServerSideEmitWithAck")
	if len(answers) != 0 {
		t.Errorf("ServerSideEmitWithAck on a lone node answered %v; want nothing", answers)
	}
	if got := nd.ns.ServerSideEmits(); len(got) != 0 {
		t.Errorf("a node received its own server-side emits: %+v", got)
	}
	n, err := nd.a.ServerCount(ctx)
	must(t, err, "ServerCount")
	if n != 1 {
		t.Errorf("ServerCount = %d; want 1", n)
	}
}

// testClose checks that cluster-wide methods return ErrClosed after
// Close, that nothing is delivered, and that nothing panics.
func testClose(t *testing.T, newCluster Cluster) {
	nd := single(t, newCluster)
	nd.connect("s1", "a")
	ctx := ctxFor(t)
	if err := nd.a.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	opts := adapter.BroadcastOptions{Rooms: []adapter.Room{"a"}}
	calls := map[string]func() error{
		"Broadcast": func() error { return nd.a.Broadcast(ctx, newPacket("/", "closed"), opts) },
		"BroadcastWithAck": func() error {
			return nd.a.BroadcastWithAck(ctx, newPacket("/", "closed"), opts, func(int) {}, func(any) {})
		},
		"Sockets":           func() error { _, err := nd.a.Sockets(ctx, nil); return err },
		"AllRooms":          func() error { _, err := nd.a.AllRooms(ctx); return err },
		"FetchSockets":      func() error { _, err := nd.a.FetchSockets(ctx, opts); return err },
		"AddSockets":        func() error { return nd.a.AddSockets(ctx, opts, []adapter.Room{"x"}) },
		"DelSockets":        func() error { return nd.a.DelSockets(ctx, opts, []adapter.Room{"a"}) },
		"DisconnectSockets": func() error { return nd.a.DisconnectSockets(ctx, opts, true) },
		"ServerSideEmit":    func() error { return nd.a.ServerSideEmit(ctx, []any{"x"}) },
		"ServerSideEmitWithAck": func() error {
			_, err := nd.a.ServerSideEmitWithAck(ctx, []any{"x"})
			return err
		},
		"ServerCount": func() error { _, err := nd.a.ServerCount(ctx); return err },
	}
	for _, name := range slices.Sorted(maps.Keys(calls)) {
		var err error
		noPanic(t, name+" after Close", func() { err = calls[name]() })
		if !errors.Is(err, adapter.ErrClosed) {
			t.Errorf("%s after Close: %v; want ErrClosed", name, err)
		}
	}
	if d := nd.ns.DeliveredEvent("closed"); len(d) != 0 {
		t.Errorf("delivered after Close: %+v", d)
	}
	if d := nonEmpty(nd.ns.Disconnected()); len(d) != 0 {
		t.Errorf("disconnected after Close: %+v", d)
	}
	if nd.hasRoom("s1", "x") {
		t.Error("AddSockets after Close changed membership")
	}
	noPanic(t, "local methods after Close", func() {
		nd.a.AddAll("s2", "s2")
		nd.a.SocketRooms("s2")
		nd.a.Rooms()
		nd.a.Sids()
		nd.a.Del("s2", "s2")
		nd.a.DelAll("s1")
	})
	noPanic(t, "second Close", func() {
		if err := nd.a.Close(ctx); err != nil && !errors.Is(err, adapter.ErrClosed) {
			t.Errorf("second Close: %v; want nil or ErrClosed", err)
		}
	})
}

// testBadInput checks that bad arguments give errors, not panics.
func testBadInput(t *testing.T, newCluster Cluster) {
	nd := single(t, newCluster)
	nd.connect("s1", "a")
	ctx := ctxFor(t)
	noPanic(t, "Broadcast(nil packet)", func() {
		if err := nd.a.Broadcast(ctx, nil, adapter.BroadcastOptions{}); err == nil {
			t.Error("Broadcast(nil packet) = nil; want an error")
		}
	})
	noPanic(t, "BroadcastWithAck(nil packet)", func() {
		if err := nd.a.BroadcastWithAck(ctx, nil, adapter.BroadcastOptions{}, func(int) {}, func(any) {}); err == nil {
			t.Error("BroadcastWithAck(nil packet) = nil; want an error")
		}
	})
	if d := nd.ns.Delivered(); len(d) != 0 {
		t.Errorf("nil packets were delivered: %+v", d)
	}
	noPanic(t, "BroadcastWithAck with nil callbacks", func() {
		if err := nd.a.BroadcastWithAck(ctx, newPacket("/", "nilcb"), adapter.BroadcastOptions{}, nil, nil); err != nil && !errors.Is(err, adapter.ErrNotSupported) {
			t.Errorf("BroadcastWithAck with nil callbacks: %v", err)
		}
	})
	noPanic(t, "empty room names and ids", func() {
		nd.a.AddAll("", "")
		nd.a.Del("", "")
		nd.a.DelAll("")
		nd.a.DelAll("never-seen")
		_ = nd.a.Broadcast(ctx, newPacket("/", "empty"), adapter.BroadcastOptions{Rooms: []adapter.Room{""}, Except: []adapter.Room{""}})
	})
}

// testConcurrent runs membership changes and reads from several
// goroutines, then replays the reported room events: they must describe a
// valid history (create before join, leave before delete, …) that ends in
// the adapter's final state.
func testConcurrent(t *testing.T, newCluster Cluster) {
	nd := single(t, newCluster)
	a := nd.a
	ctx := ctxFor(t)
	const workers, ops = 4, 300
	rooms := []adapter.Room{"r0", "r1", "r2", "r3", "r4"}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			// One hot room that the workers keep creating and deleting:
			// reports of concurrent changes out of order show at once.
			hot := adapter.SocketID(fmt.Sprintf("w%d-hot", w))
			for range ops {
				a.AddAll(hot, "hot")
				a.DelAll(hot)
			}
			for range ops {
				sid := adapter.SocketID(fmt.Sprintf("w%d-s%d", w, rng.IntN(4)))
				switch rng.IntN(5) {
				case 0, 1:
					a.AddAll(sid, rooms[rng.IntN(len(rooms))], rooms[rng.IntN(len(rooms))])
				case 2, 3:
					a.Del(sid, rooms[rng.IntN(len(rooms))])
				default:
					a.DelAll(sid)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range ops {
			_ = a.Broadcast(ctx, newPacket("/", "concurrent"), adapter.BroadcastOptions{Rooms: rooms[i%3 : i%3+2]})
			_ = a.Rooms()
			_ = a.Sids()
			_, _ = a.Sockets(ctx, rooms[:1])
		}
	}()
	wg.Wait()

	var replayed map[adapter.Room]map[adapter.SocketID]bool
	var replayErr error
	ok := poll(waitTimeout, func() bool {
		replayed, replayErr = replay(nd.ns.RoomEvents())
		return replayErr == nil && canon(sortedSnapshot(modelRooms(replayed))) == canon(sortedSnapshot(a.Rooms()))
	})
	if replayErr != nil {
		t.Fatalf("room events do not describe a valid history: %v", replayErr)
	}
	if !ok {
		t.Fatalf("replaying the room events gives %v; the adapter holds %v", sortedSnapshot(modelRooms(replayed)), sortedSnapshot(a.Rooms()))
	}
	// The two maps mirror each other.
	roomsView, sidsView := a.Rooms(), a.Sids()
	for room, members := range roomsView {
		for _, sid := range members {
			if !slices.Contains(sidsView[sid], room) {
				t.Errorf("room %s lists %s, whose rooms are %v", room, sid, sidsView[sid])
			}
		}
	}
	for sid, rs := range sidsView {
		for _, room := range rs {
			if !slices.Contains(roomsView[room], sid) {
				t.Errorf("%s lists room %s, whose members are %v", sid, room, roomsView[room])
			}
		}
	}
}

// replay rebuilds the rooms map from room events, checking each event
// against the state before it.
func replay(events []RoomEvent) (map[adapter.Room]map[adapter.SocketID]bool, error) {
	rooms := make(map[adapter.Room]map[adapter.SocketID]bool)
	for i, e := range events {
		members, exists := rooms[e.Room]
		switch e.Kind {
		case adapter.CreateRoom:
			if exists {
				return nil, fmt.Errorf("event %d: create-room %q, which exists", i, e.Room)
			}
			rooms[e.Room] = make(map[adapter.SocketID]bool)
		case adapter.JoinRoom:
			if !exists || members[e.Sid] {
				return nil, fmt.Errorf("event %d: join-room %q by %q (room exists %v, already member %v)", i, e.Room, e.Sid, exists, members[e.Sid])
			}
			members[e.Sid] = true
		case adapter.LeaveRoom:
			if !exists || !members[e.Sid] {
				return nil, fmt.Errorf("event %d: leave-room %q by %q, not a member", i, e.Room, e.Sid)
			}
			delete(members, e.Sid)
		case adapter.DeleteRoom:
			if !exists || len(members) > 0 {
				return nil, fmt.Errorf("event %d: delete-room %q (exists %v, %d members)", i, e.Room, exists, len(members))
			}
			delete(rooms, e.Room)
		default:
			return nil, fmt.Errorf("event %d: unknown kind %d", i, e.Kind)
		}
	}
	return rooms, nil
}

// modelRooms converts a replayed rooms map to the Rooms() form.
func modelRooms(m map[adapter.Room]map[adapter.SocketID]bool) map[adapter.Room][]adapter.SocketID {
	out := make(map[adapter.Room][]adapter.SocketID, len(m))
	for room, members := range m {
		out[room] = slices.Collect(maps.Keys(members))
	}
	return out
}

// closeNode closes nd's adapter now (the cleanup closes it again).
func closeNode(t *testing.T, nd *node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := nd.a.Close(ctx); err != nil {
		t.Fatalf("node %d: Close: %v", nd.idx, err)
	}
}

package adapter_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sio-go/sio/adapter"
	"github.com/sio-go/sio/adapter/adaptertest"
)

// memoryCluster is the Cluster of the in-memory adapter: one node only.
func memoryCluster(_ *testing.T, n int) []adapter.Factory {
	if n != 1 {
		return nil
	}
	return []adapter.Factory{adapter.MemoryFactory}
}

func TestMemoryConformance(t *testing.T) {
	adaptertest.Run(t, memoryCluster)
}

// newMemory returns a Memory over a fresh FakeNamespace attached to it.
func newMemory(t *testing.T) (*adapter.Memory, *adaptertest.FakeNamespace) {
	t.Helper()
	ns := adaptertest.NewFakeNamespace("/")
	m := adapter.NewMemory(ns)
	ns.Attach(m)
	t.Cleanup(ns.Wait)
	return m, ns
}

// join connects sid to ns and adds it to its own room and rooms.
func join(m *adapter.Memory, ns *adaptertest.FakeNamespace, sid adapter.SocketID, rooms ...adapter.Room) {
	ns.Connect(sid, adapter.Handshake{}, nil)
	m.AddAll(sid, append([]adapter.Room{adapter.Room(sid)}, rooms...)...)
}

func ids(s ...string) []adapter.SocketID {
	out := make([]adapter.SocketID, len(s))
	for i, v := range s {
		out[i] = adapter.SocketID(v)
	}
	return out
}

func rooms(s ...string) []adapter.Room {
	out := make([]adapter.Room, len(s))
	for i, v := range s {
		out[i] = adapter.Room(v)
	}
	return out
}

// matchTable exercises each path of Match: all sockets, one room, a few
// rooms (membership dedup), many rooms (set dedup), a few and many except
// rooms.
var matchTable = []struct {
	name string
	opts adapter.BroadcastOptions
	want []adapter.SocketID
}{
	{"all", adapter.BroadcastOptions{}, ids("p", "q", "s1", "s2", "s3", "s4", "s5", "s6")},
	{"all minus one", adapter.BroadcastOptions{Except: rooms("s1")}, ids("p", "q", "s2", "s3", "s4", "s5", "s6")},
	{"one room", adapter.BroadcastOptions{Rooms: rooms("even")}, ids("s2", "s4", "s6")},
	{"one room minus missing", adapter.BroadcastOptions{Rooms: rooms("even"), Except: rooms("missing")}, ids("s2", "s4", "s6")},
	{"two rooms, overlap", adapter.BroadcastOptions{Rooms: rooms("even", "low")}, ids("s1", "s2", "s3", "s4", "s6")},
	{"four rooms (membership dedup)", adapter.BroadcastOptions{Rooms: rooms("even", "low", "odd", "even")}, ids("s1", "s2", "s3", "s4", "s5", "s6")},
	{"five rooms (set dedup)", adapter.BroadcastOptions{Rooms: rooms("even", "low", "odd", "s1", "p")}, ids("p", "s1", "s2", "s3", "s4", "s5", "s6")},
	{"four except rooms", adapter.BroadcastOptions{Except: rooms("even", "s1", "missing", "p")}, ids("q", "s3", "s5")},
	{"five except rooms (set)", adapter.BroadcastOptions{Except: rooms("even", "s1", "missing", "p", "s3", "low")}, ids("q", "s5")},
	{"five rooms minus five rooms", adapter.BroadcastOptions{Rooms: rooms("even", "low", "odd", "s1", "p"), Except: rooms("s2", "s3", "s4", "s5", "s6", "missing")}, ids("p", "s1")},
	{"every target excluded", adapter.BroadcastOptions{Rooms: rooms("low"), Except: rooms("low")}, nil},
	{"only missing rooms", adapter.BroadcastOptions{Rooms: rooms("missing", "gone")}, nil},
}

// matchSetup builds the sockets of matchTable: s1..s6 in odd/even, s1..s3
// in low, p (own room only), q (no room at all).
func matchSetup(t *testing.T) (*adapter.Memory, *adaptertest.FakeNamespace) {
	m, ns := newMemory(t)
	for i := 1; i <= 6; i++ {
		sid := adapter.SocketID(fmt.Sprintf("s%d", i))
		rs := rooms("odd")
		if i%2 == 0 {
			rs = rooms("even")
		}
		if i <= 3 {
			rs = append(rs, "low")
		}
		join(m, ns, sid, rs...)
	}
	join(m, ns, "p")
	join(m, ns, "q")
	m.Del("q", "q")
	return m, ns
}

func TestMemoryMatch(t *testing.T) {
	m, _ := matchSetup(t)
	for _, tc := range matchTable {
		got := m.Match(tc.opts)
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: Match = %v; want %v", tc.name, got, tc.want)
		}
	}
}

// TestMemoryBroadcastDeliversOnce checks that Broadcast makes exactly one
// Deliver call with Match's ids, and none when nothing matches.
func TestMemoryBroadcastDeliversOnce(t *testing.T) {
	m, ns := matchSetup(t)
	ctx := context.Background()
	for i, tc := range matchTable {
		ns.Reset()
		pkt := &adapter.Packet{Type: adapter.PacketEvent, Nsp: "/", Data: []any{fmt.Sprint("e", i)}}
		if err := m.Broadcast(ctx, pkt, tc.opts); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := ns.Delivered()
		if len(tc.want) == 0 {
			if len(got) != 0 {
				t.Errorf("%s: %d Deliver calls for no recipient; want none", tc.name, len(got))
			}
			continue
		}
		if len(got) != 1 || got[0].Packet != pkt {
			t.Fatalf("%s: Deliver calls %+v; want one with the broadcast packet", tc.name, got)
		}
		if req := slices.Sorted(slices.Values(got[0].Requested)); !slices.Equal(req, tc.want) {
			t.Errorf("%s: Deliver asked for %v; want %v", tc.name, req, tc.want)
		}
	}
}

// TestMemoryClientCountIsDelivered checks that BroadcastWithAck reports the
// number of sockets the namespace queued to, not the number of matches.
func TestMemoryClientCountIsDelivered(t *testing.T) {
	m, ns := newMemory(t)
	join(m, ns, "s1", "r")
	m.AddAll("ghost", "ghost", "r") // known to the adapter, not connected
	var got []int
	err := m.BroadcastWithAck(context.Background(), &adapter.Packet{Data: []any{"e"}},
		adapter.BroadcastOptions{Rooms: rooms("r")}, func(n int) { got = append(got, n) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int{1}) {
		t.Errorf("client counts %v; want [1]", got)
	}
	if d := ns.Delivered(); len(d) != 1 || !d[0].WithAck {
		t.Errorf("deliveries %+v; want one asking for an ack even with a nil onAck", d)
	}
}

// TestMemoryFetchSocketsRooms checks that FetchSockets takes the rooms
// from the adapter, whatever the namespace reports.
func TestMemoryFetchSocketsRooms(t *testing.T) {
	m, ns := newMemory(t)
	join(m, ns, "s1", "r", "q")
	infos, err := m.FetchSockets(context.Background(), adapter.BroadcastOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].ID != "s1" {
		t.Fatalf("infos %+v; want s1", infos)
	}
	if g := slices.Sorted(slices.Values(infos[0].Rooms)); !slices.Equal(g, rooms("q", "r", "s1")) {
		t.Errorf("rooms %v; want [q r s1]", g)
	}
}

func TestMemoryFactoryAndLifecycle(t *testing.T) {
	if a, err := adapter.MemoryFactory(nil); err == nil || a != nil {
		t.Errorf("MemoryFactory(nil) = %v, %v; want an error", a, err)
	}
	ns := adaptertest.NewFakeNamespace("/chat")
	a, err := adapter.MemoryFactory(ns)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := a.(*adapter.Memory)
	if !ok {
		t.Fatalf("MemoryFactory returned %T; want *Memory", a)
	}
	if m.Namespace() != ns {
		t.Error("Namespace() is not the namespace given")
	}
	ctx := context.Background()
	if err := m.Init(ctx); err != nil {
		t.Errorf("Init: %v", err)
	}
	if err := m.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := m.Init(ctx); !errors.Is(err, adapter.ErrClosed) {
		t.Errorf("Init after Close: %v; want ErrClosed", err)
	}
}

// reentrantNS is a namespace whose callbacks call back into the adapter,
// which would deadlock if the adapter held its lock while calling them.
type reentrantNS struct {
	*adaptertest.FakeNamespace
	m *adapter.Memory
}

func (n *reentrantNS) RoomEvent(kind adapter.RoomEventKind, room adapter.Room, sid adapter.SocketID) {
	n.FakeNamespace.RoomEvent(kind, room, sid)
	_ = n.m.Rooms()
	if kind == adapter.CreateRoom && room == "trigger" {
		n.m.AddAll("auto", "follow")
	}
}

func (n *reentrantNS) Deliver(pkt *adapter.Packet, sids []adapter.SocketID, flags adapter.BroadcastFlags, onAck adapter.AckFunc) int {
	n.m.AddAll("delivered", "seen")
	return n.FakeNamespace.Deliver(pkt, sids, flags, onAck)
}

func (n *reentrantNS) SocketInfo(sid adapter.SocketID) (adapter.SocketInfo, bool) {
	_ = n.m.SocketRooms(sid)
	return n.FakeNamespace.SocketInfo(sid)
}

func TestMemoryCallbacksMayReenter(t *testing.T) {
	ns := &reentrantNS{FakeNamespace: adaptertest.NewFakeNamespace("/")}
	ns.m = adapter.NewMemory(ns)
	ns.Attach(ns.m)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ns.Connect("s1", adapter.Handshake{}, nil)
		ns.m.AddAll("s1", "trigger")
		ctx := context.Background()
		_ = ns.m.Broadcast(ctx, &adapter.Packet{Data: []any{"e"}}, adapter.BroadcastOptions{})
		_, _ = ns.m.FetchSockets(ctx, adapter.BroadcastOptions{})
		_ = ns.m.DisconnectSockets(ctx, adapter.BroadcastOptions{Rooms: rooms("trigger")}, true)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("deadlock: a namespace callback that calls the adapter never returned")
	}
	// The re-entrant AddAll happened after the first call's changes: its
	// events come after them.
	want := []adaptertest.RoomEvent{
		{Kind: adapter.CreateRoom, Room: "trigger"},
		{Kind: adapter.JoinRoom, Room: "trigger", Sid: "s1"},
		{Kind: adapter.CreateRoom, Room: "follow"},
		{Kind: adapter.JoinRoom, Room: "follow", Sid: "auto"},
	}
	if got := ns.RoomEvents(); len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
		t.Errorf("room events %v; want them to start with %v", got, want)
	}
	if !slices.Contains(ns.m.SocketRooms("delivered"), "seen") {
		t.Error("the AddAll made from Deliver was lost")
	}
	if ns.m.SocketRooms("s1") != nil {
		t.Error("s1 was disconnected but is still in the adapter")
	}
}

// blockingNS blocks the first RoomEvent until release is closed.
type blockingNS struct {
	*adaptertest.FakeNamespace
	once    sync.Once
	entered chan struct{}
	release chan struct{}
	events  atomic.Int64
}

func (n *blockingNS) RoomEvent(kind adapter.RoomEventKind, room adapter.Room, sid adapter.SocketID) {
	n.events.Add(1)
	n.once.Do(func() {
		close(n.entered)
		<-n.release
	})
}

// TestMemoryRoomEventQueueBounded checks that membership changes stop
// queueing room events once the queue is full while a slow RoomEvent holds
// the reporting goroutine, and that every event is reported in the end.
func TestMemoryRoomEventQueueBounded(t *testing.T) {
	ns := &blockingNS{FakeNamespace: adaptertest.NewFakeNamespace("/"), entered: make(chan struct{}), release: make(chan struct{})}
	m := adapter.NewMemory(ns)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); m.AddAll("first", "r") }() // becomes the reporter, blocks
	<-ns.entered

	// Each call queues 2 events per room (create-room, join-room).
	const calls, roomsPerCall = 60, 1000 // 120,000 events > the 65,536 bound
	var progress atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range calls {
			rs := make([]adapter.Room, roomsPerCall)
			for j := range rs {
				rs[j] = adapter.Room(fmt.Sprintf("c%d-r%d", i, j))
			}
			m.AddAll(adapter.SocketID(fmt.Sprint("p", i)), rs...)
			progress.Add(1)
		}
	}()
	adaptertest.Eventually(t, 5*time.Second, func() bool { return progress.Load() >= 32 },
		"the producer made no progress while events were queued below the bound (%d calls)", progress.Load())
	// The queue is now (nearly) full: the producer must stall. Give it a
	// moment to prove otherwise; an unbounded queue lets it finish.
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) && progress.Load() < calls {
		time.Sleep(5 * time.Millisecond)
	}
	if p := progress.Load(); p >= calls {
		t.Errorf("all %d calls queued their events while RoomEvent was blocked: the queue is unbounded", p)
	}
	close(ns.release)
	wg.Wait()
	if got, want := ns.events.Load(), int64(2+2*calls*roomsPerCall); got != want {
		t.Errorf("%d room events reported; want %d", got, want)
	}
}

// leaveOnJoinNS makes every other socket leave the adapter (DelAll, as a
// disconnect does) when the first socket joins room "r": a socket that
// disconnects while a socketsJoin is under way.
type leaveOnJoinNS struct {
	*adaptertest.FakeNamespace
	m    *adapter.Memory
	once sync.Once
	all  []adapter.SocketID
}

func (n *leaveOnJoinNS) RoomEvent(kind adapter.RoomEventKind, room adapter.Room, sid adapter.SocketID) {
	n.FakeNamespace.RoomEvent(kind, room, sid)
	if kind == adapter.JoinRoom && room == "r" {
		n.once.Do(func() {
			for _, other := range n.all {
				if other != sid {
					n.m.DelAll(other)
				}
			}
		})
	}
}

// TestMemoryAddSocketsSkipsSocketsThatLeft checks that AddSockets does not
// bring back a socket that left after Match found it: nothing would ever
// remove it again, so it would stay in the room and in Sids for good.
func TestMemoryAddSocketsSkipsSocketsThatLeft(t *testing.T) {
	ns := &leaveOnJoinNS{FakeNamespace: adaptertest.NewFakeNamespace("/"), all: []adapter.SocketID{"a", "b"}}
	ns.m = adapter.NewMemory(ns)
	ns.Attach(ns.m)
	ns.m.AddAll("a", "a")
	ns.m.AddAll("b", "b")
	if err := ns.m.AddSockets(context.Background(), adapter.BroadcastOptions{}, rooms("r")); err != nil {
		t.Fatal(err)
	}
	if sids := ns.m.Sids(); len(sids) != 1 {
		t.Errorf("one of two sockets left during the join, but the adapter knows %v", sids)
	}
	if members := ns.m.Rooms()["r"]; len(members) != 1 {
		t.Errorf("room r has members %v; want only the socket still there", members)
	}
}

func TestMemoryAddKnown(t *testing.T) {
	m := adapter.NewMemory(adaptertest.NewFakeNamespace("/"))
	if m.AddKnown("s1", "r") {
		t.Error("AddKnown of a socket never seen returned true")
	}
	m.AddAll("s1", "s1")
	if !m.AddKnown("s1", "r") || !slices.Contains(m.SocketRooms("s1"), "r") {
		t.Errorf("AddKnown of a known socket: rooms %v; want r among them", m.SocketRooms("s1"))
	}
	m.DelAll("s1")
	if m.AddKnown("s1", "r") || m.SocketRooms("s1") != nil || len(m.Rooms()) != 0 {
		t.Errorf("AddKnown after DelAll brought the socket back: sids %v, rooms %v", m.Sids(), m.Rooms())
	}
}

package adaptertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/sio-go/sio/adapter"
)

// waitTimeout bounds every poll of the suite; a working adapter satisfies
// the polled condition in milliseconds.
const waitTimeout = 5 * time.Second

// node is one adapter of a test cluster with its recording namespace and
// the membership the test gave its sockets (the model expectations are
// computed from).
type node struct {
	idx   int
	ns    *FakeNamespace
	a     adapter.Adapter
	model map[adapter.SocketID]map[adapter.Room]bool
}

// build creates one adapter per factory for namespace nsp, initialises
// them, closes them at the end of the test and, for several nodes, waits
// until every node counts all of them.
func build(t *testing.T, factories []adapter.Factory, nsp string) []*node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	nodes := make([]*node, 0, len(factories))
	for i, f := range factories {
		if f == nil {
			t.Fatalf("Cluster returned a nil factory at index %d", i)
		}
		ns := NewFakeNamespace(nsp)
		a, err := f(ns)
		if err != nil {
			t.Fatalf("node %d: factory: %v", i, err)
		}
		if a == nil {
			t.Fatalf("node %d: factory returned a nil adapter", i)
		}
		ns.Attach(a)
		if err := a.Init(ctx); err != nil {
			t.Fatalf("node %d: Init: %v", i, err)
		}
		t.Cleanup(func() {
			cctx, ccancel := context.WithTimeout(context.Background(), waitTimeout)
			defer ccancel()
			if err := a.Close(cctx); err != nil && !errors.Is(err, adapter.ErrClosed) {
				t.Errorf("node %d: Close: %v", i, err)
			}
			ns.Wait()
		})
		nodes = append(nodes, &node{idx: i, ns: ns, a: a, model: make(map[adapter.SocketID]map[adapter.Room]bool)})
	}
	if len(nodes) > 1 {
		for _, nd := range nodes {
			var last int
			var lastErr error
			if !poll(waitTimeout, func() bool {
				last, lastErr = nd.a.ServerCount(ctx)
				return errors.Is(lastErr, adapter.ErrNotSupported) || (lastErr == nil && last == len(nodes))
			}) {
				t.Fatalf("node %d: ServerCount = %d, %v; want %d", nd.idx, last, lastErr, len(nodes))
			}
		}
	}
	return nodes
}

// single builds a one-node cluster for namespace "/".
func single(t *testing.T, newCluster Cluster) *node {
	t.Helper()
	factories := newCluster(t, 1)
	if len(factories) != 1 {
		t.Fatalf("Cluster(t, 1) returned %d factories; every adapter must make one node", len(factories))
	}
	return build(t, factories, "/")[0]
}

// multi builds an n-node cluster for namespace "/", or skips the test when
// the implementation cannot make n nodes.
func multi(t *testing.T, newCluster Cluster, n int) []*node {
	t.Helper()
	factories := newCluster(t, n)
	if factories == nil {
		t.Skipf("the adapter cannot make a cluster of %d nodes", n)
	}
	if len(factories) != n {
		t.Fatalf("Cluster(t, %d) returned %d factories", n, len(factories))
	}
	return build(t, factories, "/")
}

// connect registers a local socket on nd and makes it join its own room
// and rooms, as the node does on connection.
func (nd *node) connect(sid adapter.SocketID, rooms ...adapter.Room) {
	nd.ns.Connect(sid, handshakeFor(sid), dataFor(sid))
	all := append([]adapter.Room{adapter.Room(sid)}, rooms...)
	nd.a.AddAll(sid, all...)
	set := make(map[adapter.Room]bool, len(all))
	for _, r := range all {
		set[r] = true
	}
	nd.model[sid] = set
}

// expect returns the sorted ids of nd's model that opts selects, with
// socket.io's rules.
func (nd *node) expect(opts adapter.BroadcastOptions) []adapter.SocketID {
	var out []adapter.SocketID
	for sid, rooms := range nd.model {
		in := len(opts.Rooms) == 0
		for _, r := range opts.Rooms {
			in = in || rooms[r]
		}
		for _, r := range opts.Except {
			in = in && !rooms[r]
		}
		if in {
			out = append(out, sid)
		}
	}
	slices.Sort(out)
	return out
}

// handshakeFor is the handshake the suite gives socket sid.
func handshakeFor(sid adapter.SocketID) adapter.Handshake {
	return adapter.Handshake{
		Headers: map[string]string{"x-sid": string(sid), "user-agent": "adaptertest"},
		Time:    "Tue Nov 14 2023 22:13:20 GMT+0000 (Coordinated Universal Time)",
		Address: "127.0.0.1",
		XDomain: true,
		Issued:  1700000000000,
		URL:     "/socket.io/?EIO=4&transport=websocket",
		Query:   map[string]string{"EIO": "4", "transport": "websocket"},
		Auth:    json.RawMessage(`{"token":"` + string(sid) + `"}`),
	}
}

// dataFor is the socket data the suite gives socket sid: JSON-natural
// values, so that it compares equal after crossing the cluster.
func dataFor(sid adapter.SocketID) any {
	return map[string]any{"sid": string(sid), "n": 1.5, "tags": []any{"a", "b"}}
}

// newPacket returns an event packet with a payload that exercises the
// encodings: a string, a float, a map, a nested array and a binary value.
func newPacket(nsp, event string) *adapter.Packet {
	return &adapter.Packet{
		Type: adapter.PacketEvent,
		Nsp:  nsp,
		Data: []any{event, "text", 1.5, map[string]any{"k": "v", "list": []any{1.0, "two"}}, []byte{0, 1, 2, 255}},
	}
}

// canon returns the JSON form of v, which is how the node serialises
// every value; values that crossed the cluster must have the same form.
// Binary values ([]byte) are marked so that they never equal their base64
// text.
func canon(v any) string {
	b, err := json.Marshal(markBinary(v))
	if err != nil {
		return fmt.Sprintf("!not JSON-encodable (%v): %#v", err, v)
	}
	return string(b)
}

// markBinary returns v with every []byte inside slices and string-keyed
// maps replaced by {"<binary>": base64}.
func markBinary(v any) any {
	switch x := v.(type) {
	case []byte:
		return map[string]any{"<binary>": x}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = markBinary(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = markBinary(e)
		}
		return out
	}
	return v
}

// sortedIDs returns a sorted copy of ids.
func sortedIDs(ids []adapter.SocketID) []adapter.SocketID {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// sortedRooms returns a sorted copy of rooms.
func sortedRooms(rooms []adapter.Room) []adapter.Room {
	out := slices.Clone(rooms)
	slices.Sort(out)
	return out
}

// keysOf returns the sorted keys of m.
func keysOf(m map[adapter.SocketID]int) []adapter.SocketID {
	return slices.Sorted(maps.Keys(m))
}

// must fails t on err, and skips the test when the adapter does not
// support the operation.
func must(t *testing.T, err error, what string) {
	t.Helper()
	if errors.Is(err, adapter.ErrNotSupported) {
		t.Skipf("%s: not supported by this adapter", what)
	}
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// noPanic runs fn and fails t, instead of crashing, when it panics.
func noPanic(t *testing.T, what string, fn func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s panicked: %v", what, r)
		}
	}()
	fn()
}

// ctxFor returns a context bounded by waitTimeout and cancelled at the end
// of the test.
func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// checkReceived verifies that event reached exactly want on nd, once each,
// with at most one Deliver call that reached sockets.
func checkReceived(t *testing.T, nd *node, event string, want []adapter.SocketID) {
	t.Helper()
	got := nd.ns.ReceivedBy(event)
	if !slices.Equal(keysOf(got), want) {
		t.Errorf("node %d: %q reached %v; want %v", nd.idx, event, keysOf(got), want)
	}
	for sid, n := range got {
		if n != 1 {
			t.Errorf("node %d: %q reached %s %d times; want once", nd.idx, event, sid, n)
		}
	}
	calls := 0
	for _, d := range nd.ns.DeliveredEvent(event) {
		if len(d.Sids) > 0 {
			calls++
		}
	}
	if calls > 1 {
		t.Errorf("node %d: %q delivered with %d Deliver calls; want one (encode once)", nd.idx, event, calls)
	}
}

// waitReceived polls until event reached every id of want on nd.
func waitReceived(t *testing.T, nd *node, event string, want []adapter.SocketID) {
	t.Helper()
	ok := poll(waitTimeout, func() bool {
		got := nd.ns.ReceivedBy(event)
		for _, sid := range want {
			if got[sid] == 0 {
				return false
			}
		}
		return true
	})
	if !ok {
		t.Fatalf("node %d: %q never reached all of %v (reached %v)", nd.idx, event, want, keysOf(nd.ns.ReceivedBy(event)))
	}
}

// hasRoom reports whether the socket sid of nd is in room.
func (nd *node) hasRoom(sid adapter.SocketID, room adapter.Room) bool {
	return slices.Contains(nd.a.SocketRooms(sid), room)
}

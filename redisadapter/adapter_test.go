package redisadapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/sio-go/sio/adapter"
	"github.com/sio-go/sio/adapter/adaptertest"
)

const waitTime = 3 * time.Second

// testNode is one adapter over a FakeNamespace.
type testNode struct {
	a  *Adapter
	ns *adaptertest.FakeNamespace
}

// newNode builds, attaches and initialises an adapter for nsp; it is
// closed at the end of the test.
func newNode(t *testing.T, client redis.UniversalClient, nsp string, opts Options) *testNode {
	t.Helper()
	ns := adaptertest.NewFakeNamespace(nsp)
	return newNodeNS(t, client, ns, opts)
}

func newNodeNS(t *testing.T, client redis.UniversalClient, ns adapter.Namespace, opts Options) *testNode {
	t.Helper()
	a, err := newAdapter(client, ns, opts)
	if err != nil {
		t.Fatal(err)
	}
	fake, _ := ns.(*adaptertest.FakeNamespace)
	if fake != nil {
		fake.Attach(a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	if err := a.Init(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = a.Close(context.Background())
		if fake != nil {
			fake.Wait()
		}
	})
	return &testNode{a: a, ns: fake}
}

// connect registers a local socket in its own room and rooms.
func (n *testNode) connect(sid string, rooms ...string) {
	n.ns.Connect(adapter.SocketID(sid), adapter.Handshake{Auth: json.RawMessage(`{}`)}, map[string]any{"sid": sid})
	all := []adapter.Room{adapter.Room(sid)}
	for _, r := range rooms {
		all = append(all, adapter.Room(r))
	}
	n.a.AddAll(adapter.SocketID(sid), all...)
}

// received returns the sorted sockets event reached.
func (n *testNode) received(event string) []string {
	var out []string
	for sid := range n.ns.ReceivedBy(event) {
		out = append(out, string(sid))
	}
	slices.Sort(out)
	return out
}

func (n *testNode) waitReceived(t *testing.T, event string, want ...string) {
	t.Helper()
	adaptertest.Eventually(t, waitTime, func() bool { return slices.Equal(n.received(event), want) },
		"%q reached %v; want %v", event, n.received(event), want)
}

// rawSub subscribes a plain client to channels and waits for the
// confirmations.
func rawSub(t *testing.T, client *redis.Client, channels ...string) *redis.PubSub {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	ps := client.Subscribe(ctx, channels...)
	t.Cleanup(func() { _ = ps.Close() })
	for range channels {
		msg, err := ps.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := msg.(*redis.Subscription); !ok {
			t.Fatalf("got %T before the subscription confirmation", msg)
		}
	}
	return ps
}

// recv waits for the next message of ps.
func recv(t *testing.T, ps *redis.PubSub) *redis.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	msg, err := ps.ReceiveMessage(ctx)
	if err != nil {
		t.Fatalf("no message: %v", err)
	}
	return msg
}

// publish publishes a raw message.
func publish(t *testing.T, client *redis.Client, channel string, payload []byte) {
	t.Helper()
	if err := client.Publish(context.Background(), channel, payload).Err(); err != nil {
		t.Fatal(err)
	}
}

// logRecorder is a slog handler that records messages.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, rec.Message)
	r.mu.Unlock()
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }
func (r *logRecorder) count(substr string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if strings.Contains(m, substr) {
			n++
		}
	}
	return n
}

func TestNewFactoryRejectsBadInput(t *testing.T) {
	_, client := newMiniredis(t)
	ns := adaptertest.NewFakeNamespace("/")
	if _, err := NewFactory(nil, Options{})(ns); err == nil {
		t.Error("nil client accepted")
	}
	if _, err := NewFactory(client, Options{})(nil); err == nil {
		t.Error("nil namespace accepted")
	}
	for _, o := range []Options{{RequestsTimeout: -1}, {Workers: -1}, {QueueSize: -5}, {Workers: 100000}} {
		if _, err := NewFactory(client, o)(ns); err == nil || !strings.Contains(err.Error(), "invalid options") {
			t.Errorf("options %+v: err = %v; want invalid options", o, err)
		}
	}
	a, err := NewFactory(client, Options{})(ns)
	if err != nil {
		t.Fatal(err)
	}
	ra := a.(*Adapter)
	if ra.opts.Key != "socket.io" || ra.opts.RequestsTimeout != 5*time.Second || ra.opts.Workers != 4 || ra.opts.QueueSize != 1024 {
		t.Errorf("defaults = %+v", ra.opts)
	}
	if len(ra.UID()) != 6 {
		t.Errorf("uid %q", ra.UID())
	}
	if err := a.Close(context.Background()); err != nil { // never initialised
		t.Fatal(err)
	}
}

func TestReadyLifecycle(t *testing.T) {
	_, client := newMiniredis(t)
	a, err := newAdapter(client, adaptertest.NewFakeNamespace("/"), Options{Key: uniqueKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Ready(); err == nil {
		t.Error("Ready() = nil before Init")
	}
	if err := a.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := a.Ready(); err != nil {
		t.Errorf("Ready() after Init = %v", err)
	}
	if err := a.Init(context.Background()); err != nil {
		t.Errorf("second Init = %v", err)
	}
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := a.Ready(); !errors.Is(err, adapter.ErrClosed) {
		t.Errorf("Ready() after Close = %v", err)
	}
	if err := a.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := a.Init(context.Background()); !errors.Is(err, adapter.ErrClosed) {
		t.Errorf("Init after Close = %v", err)
	}
	if err := a.Broadcast(context.Background(), &adapter.Packet{Type: adapter.PacketEvent, Data: []any{"x"}}, adapter.BroadcastOptions{}); !errors.Is(err, adapter.ErrClosed) {
		t.Errorf("Broadcast after Close = %v", err)
	}
}

// TestIgnoresOwnAndOtherNamespaces checks that a node ignores its own
// broadcasts (delivering them once, locally) and broadcasts of other
// namespaces, whether they come from another node or are forged.
func TestIgnoresOwnAndOtherNamespaces(t *testing.T) {
	_, client := newMiniredis(t)
	opts := testOptions(uniqueKey(t))
	n1 := newNode(t, client, "/", opts)
	n2 := newNode(t, client, "/", opts)
	admin := newNode(t, client, "/admin", opts)
	n1.connect("a1", "r")
	n2.connect("b1", "r")
	admin.connect("c1", "r")
	ctx := context.Background()

	if err := n1.a.Broadcast(ctx, &adapter.Packet{Type: adapter.PacketEvent, Data: []any{"hello"}}, adapter.BroadcastOptions{}); err != nil {
		t.Fatal(err)
	}
	n2.waitReceived(t, "hello", "b1")
	// Forged: n1's own uid on n1's channel, and a packet of another
	// namespace on the "/" channel.
	own, _ := encodeBroadcast(n1.a.UID(), "/", &adapter.Packet{Type: adapter.PacketEvent, Data: []any{"own"}}, nil, nil, adapter.BroadcastFlags{})
	publish(t, client, n1.a.ch.broadcast, own)
	other, _ := encodeBroadcast("zzzzzz", "/admin", &adapter.Packet{Type: adapter.PacketEvent, Data: []any{"other"}}, nil, nil, adapter.BroadcastFlags{})
	publish(t, client, n1.a.ch.broadcast, other)
	// A fence: everything published before it has been handled.
	if err := n2.a.Broadcast(ctx, &adapter.Packet{Type: adapter.PacketEvent, Data: []any{"fence"}}, adapter.BroadcastOptions{}); err != nil {
		t.Fatal(err)
	}
	n1.waitReceived(t, "fence", "a1")
	if got := n1.ns.ReceivedBy("hello")["a1"]; got != 1 {
		t.Errorf("a1 got its own node's broadcast %d times; want once", got)
	}
	if got := n1.received("own"); got != nil {
		t.Errorf("own-uid message delivered to %v", got)
	}
	if got := n1.received("other"); got != nil {
		t.Errorf("other-namespace message delivered to %v", got)
	}
	if got := admin.received("hello"); got != nil {
		t.Errorf("/admin received a / broadcast: %v", got)
	}
	if got := n2.received("own"); !slices.Equal(got, []string{"b1"}) {
		t.Errorf("n2 should accept a message with n1's uid: got %v", got)
	}
}

// TestRoomChannelSkippedWithoutDecoding checks that a broadcast to a single
// room with no local member is not even decoded.
func TestRoomChannelSkippedWithoutDecoding(t *testing.T) {
	_, client := newMiniredis(t)
	rec := &logRecorder{}
	opts := testOptions(uniqueKey(t))
	opts.Logger = slog.New(rec)
	opts.Workers = 1 // one queue: messages are handled in publish order
	n := newNode(t, client, "/", opts)
	n.connect("s1", "here")
	garbage := []byte{0xc1, 0xc1}
	publish(t, client, n.a.ch.roomChannel("elsewhere"), garbage)
	publish(t, client, n.a.ch.roomChannel("here"), garbage)
	// A valid one-room broadcast from a peer reaches the room member; it
	// is handled after the two others.
	msg, _ := encodeBroadcast("peer01", "/", &adapter.Packet{Type: adapter.PacketEvent, Data: []any{"ev"}}, []string{"here"}, nil, adapter.BroadcastFlags{})
	publish(t, client, n.a.ch.roomChannel("here"), msg)
	n.waitReceived(t, "ev", "s1")
	if got := rec.count("malformed broadcast"); got != 1 {
		t.Fatalf("%d malformed broadcasts decoded; want 1 (the room without members must be skipped)", got)
	}
}

// TestRequestTimeouts checks the timeouts and messages of requests when a
// subscriber counted by NUMSUB never answers.
func TestRequestTimeouts(t *testing.T) {
	_, client := newMiniredis(t)
	opts := testOptions(uniqueKey(t))
	opts.RequestsTimeout = 150 * time.Millisecond
	n := newNode(t, client, "/", opts)
	n.connect("s1", "r")
	silent := rawSub(t, client, n.a.ch.request) // a "node" that never answers
	ctx := context.Background()

	if c, err := n.a.ServerCount(ctx); err != nil || c != 2 {
		t.Fatalf("ServerCount = %d, %v; want 2", c, err)
	}
	start := time.Now()
	infos, err := n.a.FetchSockets(ctx, adapter.BroadcastOptions{})
	if !errors.Is(err, ErrTimeout) || err.Error() != "timeout reached while waiting for fetchSockets response" {
		t.Errorf("FetchSockets err = %v", err)
	}
	if len(infos) != 1 || infos[0].ID != "s1" {
		t.Errorf("FetchSockets returned %+v; want the local socket", infos)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 2*time.Second {
		t.Errorf("FetchSockets took %v", d)
	}
	// The flags timeout overrides RequestsTimeout.
	start = time.Now()
	_, err = n.a.FetchSockets(ctx, adapter.BroadcastOptions{Flags: adapter.BroadcastFlags{Timeout: 30 * time.Millisecond}})
	if !errors.Is(err, ErrTimeout) || time.Since(start) > 140*time.Millisecond {
		t.Errorf("FetchSockets with a 30ms flags timeout: %v after %v", err, time.Since(start))
	}
	sids, err := n.a.Sockets(ctx, nil)
	if err == nil || err.Error() != "timeout reached while waiting for sockets response" || len(sids) != 1 {
		t.Errorf("Sockets = %v, %v", sids, err)
	}
	rooms, err := n.a.AllRooms(ctx)
	if err == nil || err.Error() != "timeout reached while waiting for allRooms response" || len(rooms) != 2 {
		t.Errorf("AllRooms = %v, %v", rooms, err)
	}
	answers, err := n.a.ServerSideEmitWithAck(ctx, []any{"ev"})
	if err == nil || err.Error() != "timeout reached: only 0 responses received out of 1" || answers == nil || len(answers) != 0 {
		t.Errorf("ServerSideEmitWithAck = %v, %v", answers, err)
	}
	// ctx ends first.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := n.a.FetchSockets(cctx, adapter.BroadcastOptions{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("FetchSockets with an expiring ctx: %v", err)
	}
	// The requests were published in the Node format.
	kinds := []string{}
	for range 6 {
		m := recv(t, silent)
		obj, err := decodeRequest([]byte(m.Payload))
		if err != nil {
			t.Fatal(err)
		}
		typ, _ := obj.num("type")
		kinds = append(kinds, fmt.Sprint(typ))
		if obj.str("uid") != n.a.UID() || obj.str("requestId") == "" {
			t.Errorf("request %s lacks uid or requestId", m.Payload)
		}
	}
	if want := []string{"5", "5", "0", "1", "6", "5"}; !slices.Equal(kinds, want) {
		t.Errorf("request types %v; want %v", kinds, want)
	}
	n.a.mu.Lock()
	left := len(n.a.requests)
	n.a.mu.Unlock()
	if left != 0 {
		t.Errorf("%d requests left in the pending map", left)
	}
}

// blockingNS blocks Deliver until released, to back up a worker.
type blockingNS struct {
	*adaptertest.FakeNamespace
	gate    chan struct{}
	entered chan struct{}
	once    sync.Once
}

func (b *blockingNS) Deliver(pkt *adapter.Packet, sids []adapter.SocketID, flags adapter.BroadcastFlags, onAck adapter.AckFunc) int {
	b.once.Do(func() { close(b.entered) })
	<-b.gate
	return b.FakeNamespace.Deliver(pkt, sids, flags, onAck)
}

// TestWorkerOverflowDropsAndCounts checks that a full worker queue drops
// messages (counted) instead of blocking the receive loop.
func TestWorkerOverflowDropsAndCounts(t *testing.T) {
	_, client := newMiniredis(t)
	var dropped, received atomic.Int64
	rec := &logRecorder{}
	opts := testOptions(uniqueKey(t))
	opts.Workers, opts.QueueSize = 1, 2
	opts.Logger = slog.New(rec)
	opts.Hooks = Hooks{Dropped: func() { dropped.Add(1) }, Received: func() { received.Add(1) }}
	ns := &blockingNS{FakeNamespace: adaptertest.NewFakeNamespace("/"), gate: make(chan struct{}), entered: make(chan struct{})}
	n := newNodeNS(t, client, ns, opts)
	n.ns = ns.FakeNamespace
	ns.Attach(n.a)
	defer func() {
		select {
		case <-ns.gate:
		default:
			close(ns.gate)
		}
	}()
	n.connect("s1")
	const total = 10
	for i := range total {
		msg, _ := encodeBroadcast("peer01", "/", &adapter.Packet{Type: adapter.PacketEvent, Data: []any{fmt.Sprint("ev", i)}}, nil, nil, adapter.BroadcastFlags{})
		publish(t, client, n.a.ch.broadcast, msg)
		if i == 0 {
			<-ns.entered // the worker is now stuck in Deliver
		}
	}
	// 1 in Deliver + 2 queued; the other 7 are dropped.
	adaptertest.Eventually(t, waitTime, func() bool { return received.Load() == total }, "received %d of %d", received.Load(), total)
	if dropped.Load() != total-3 || n.a.Dropped() != total-3 {
		t.Errorf("dropped hook %d, Dropped() %d; want %d", dropped.Load(), n.a.Dropped(), total-3)
	}
	if got := rec.count("queue full"); got != 1 {
		t.Errorf("%d drop warnings logged; want 1 (rate limited)", got)
	}
	close(ns.gate)
	adaptertest.Eventually(t, waitTime, func() bool { return len(n.ns.Delivered()) == 3 }, "delivered %d; want 3", len(n.ns.Delivered()))
	if err := n.a.Ready(); err != nil {
		t.Errorf("Ready after overflow: %v", err)
	}
}

// TestAnswersNodeFormatRequests plays a Node.js peer: it publishes raw
// requests in the Node adapter's format and checks the answers.
func TestAnswersNodeFormatRequests(t *testing.T) {
	_, client := newMiniredis(t)
	opts := testOptions(uniqueKey(t))
	n := newNode(t, client, "/", opts)
	n.connect("s1", "r")
	n.connect("s2", "r", "x")
	n.ns.AckWith(func(sid adapter.SocketID) (any, bool) {
		return map[string]any{"from": string(sid), "bin": []byte{7}}, true
	})
	n.ns.OnServerSideEmit(func(data []any, reply func(any)) {
		if reply != nil {
			reply(json.RawMessage(`{"answer":42}`))
			reply("second answer is ignored")
		}
	})
	resp := rawSub(t, client, n.a.ch.response)
	ch := n.a.ch

	answer := func() object {
		t.Helper()
		obj, err := decodeRequest([]byte(recv(t, resp).Payload))
		if err != nil {
			t.Fatal(err)
		}
		return obj
	}

	publish(t, client, ch.request, []byte(`{"uid":"node01","requestId":"q0","type":0,"rooms":["x"]}`))
	if obj := answer(); obj.str("requestId") != "q0" || fmt.Sprint(asStrings(must(obj.get("sockets")))) != "[s2]" {
		t.Errorf("SOCKETS answer %+v", obj)
	}
	publish(t, client, ch.request, []byte(`{"uid":"node01","requestId":"q1","type":1}`))
	if obj := answer(); obj.str("requestId") != "q1" || len(asStrings(must(obj.get("rooms")))) != 4 {
		t.Errorf("ALL_ROOMS answer %+v", obj)
	}
	publish(t, client, ch.request, []byte(`{"uid":"node01","requestId":"q5","type":5,"opts":{"rooms":["r"],"except":["s1"]}}`))
	obj := answer()
	socks, _ := must(obj.get("sockets")).([]any)
	if obj.str("requestId") != "q5" || len(socks) != 1 {
		t.Fatalf("REMOTE_FETCH answer %+v", obj)
	}
	info, ok := socketInfoFromTree(socks[0])
	if !ok || info.ID != "s2" || len(info.Rooms) != 3 || string(info.Handshake.Auth) != "{}" {
		t.Errorf("fetched %+v", info)
	}
	publish(t, client, ch.request, []byte(`{"uid":"node01","requestId":"q6","type":6,"data":["ping",{"z":1,"a":2}]}`))
	if obj := answer(); obj.str("requestId") != "q6" || mustJSON(t, must(obj.get("data"))) != `{"answer":42}` {
		t.Errorf("SERVER_SIDE_EMIT answer %+v", obj)
	}
	calls := n.ns.ServerSideEmits()
	if len(calls) != 1 || calls[0].Data[0] != "ping" || string(calls[0].Data[1].(json.RawMessage)) != `{"z":1,"a":2}` || !calls[0].WithReply {
		t.Errorf("server-side emit reached the namespace as %+v", calls)
	}
	// BROADCAST (7), msgpack, from a Node peer: client count (JSON) then
	// one msgpack ack per client.
	req7, _ := encodeBroadcastRequest("node01", "q7", "/", &adapter.Packet{Type: adapter.PacketEvent, Data: []any{"hey"}}, []string{"r"}, []string{}, adapter.BroadcastFlags{Timeout: time.Second})
	publish(t, client, ch.request, req7)
	first := recv(t, resp).Payload
	if first != `{"type":8,"requestId":"q7","clientCount":2}` {
		t.Errorf("client count answer %s", first)
	}
	var acks []string
	for range 2 {
		m := recv(t, resp)
		if m.Payload[0] == '{' {
			t.Fatalf("ack answer is JSON, want msgpack: %s", m.Payload)
		}
		obj, err := decodeRequest([]byte(m.Payload))
		if err != nil {
			t.Fatal(err)
		}
		typ, _ := obj.num("type")
		arg, _ := obj.get("packet")
		b, _ := appendJSON(nil, arg, 0)
		acks = append(acks, fmt.Sprintf("%d %s %s", typ, obj.str("requestId"), b))
	}
	slices.Sort(acks)
	want := []string{
		`9 q7 {"bin":{"type":"Buffer","data":[7]},"from":"s1"}`,
		`9 q7 {"bin":{"type":"Buffer","data":[7]},"from":"s2"}`,
	}
	if !slices.Equal(acks, want) {
		t.Errorf("acks %v; want %v", acks, want)
	}
	// Requests of this node itself (uid) are not answered; garbage is
	// ignored.
	publish(t, client, ch.request, []byte(`{"uid":"`+n.a.UID()+`","requestId":"self","type":1}`))
	publish(t, client, ch.request, []byte(`{"type":`))
	publish(t, client, ch.request, []byte{0x93, 0x01})
	publish(t, client, ch.request, []byte(`{"type":"1","requestId":"str"}`))
	publish(t, client, ch.request, []byte(`{"uid":"node01","requestId":"fence","type":1}`))
	if obj := answer(); obj.str("requestId") != "fence" {
		t.Errorf("got an answer to %q before the fence", obj.str("requestId"))
	}
}

func must(v any, _ bool) any { return v }

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := appendJSON(nil, v, 0)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLegacyRequests checks the pre-v7 forms of REMOTE_JOIN, REMOTE_LEAVE
// and REMOTE_DISCONNECT ({sid, room, requestId}), answered with
// {requestId}.
func TestLegacyRequests(t *testing.T) {
	_, client := newMiniredis(t)
	n := newNode(t, client, "/", testOptions(uniqueKey(t)))
	n.connect("s1")
	resp := rawSub(t, client, n.a.ch.response)
	publish(t, client, n.a.ch.request, []byte(`{"type":2,"sid":"unknown","room":"x","requestId":"L0"}`)) // not here: no answer
	publish(t, client, n.a.ch.request, []byte(`{"type":2,"sid":"s1","room":"x","requestId":"L1"}`))
	if m := recv(t, resp); m.Payload != `{"requestId":"L1"}` {
		t.Fatalf("answer %s", m.Payload)
	}
	if !slices.Contains(n.a.SocketRooms("s1"), "x") {
		t.Errorf("s1 did not join x: %v", n.a.SocketRooms("s1"))
	}
	publish(t, client, n.a.ch.request, []byte(`{"type":3,"sid":"s1","room":"x","requestId":"L2"}`))
	if m := recv(t, resp); m.Payload != `{"requestId":"L2"}` {
		t.Fatalf("answer %s", m.Payload)
	}
	if slices.Contains(n.a.SocketRooms("s1"), "x") {
		t.Errorf("s1 did not leave x")
	}
	publish(t, client, n.a.ch.request, []byte(`{"type":4,"sid":"s1","close":true,"requestId":"L3"}`))
	if m := recv(t, resp); m.Payload != `{"requestId":"L3"}` {
		t.Fatalf("answer %s", m.Payload)
	}
	if d := n.ns.Disconnected(); len(d) != 1 || d[0].Sids[0] != "s1" || !d[0].Close {
		t.Errorf("disconnections %+v", d)
	}
}

// TestSpecificResponseChannel checks PublishOnSpecificResponseChannel:
// answers go to <key>-response#<nsp>#<requester uid>#, except
// server-side-emit answers, which the Node adapter always sends on the
// shared channel.
func TestSpecificResponseChannel(t *testing.T) {
	_, client := newMiniredis(t)
	opts := testOptions(uniqueKey(t))
	opts.PublishOnSpecificResponseChannel = true
	n := newNode(t, client, "/", opts)
	n.ns.OnServerSideEmit(func(_ []any, reply func(any)) { reply(1) })
	specific := rawSub(t, client, n.a.ch.response+"node01#")
	shared := rawSub(t, client, n.a.ch.response)
	publish(t, client, n.a.ch.request, []byte(`{"uid":"node01","requestId":"q1","type":1}`))
	if m := recv(t, specific); !strings.Contains(m.Payload, `"requestId":"q1"`) {
		t.Errorf("specific answer %s", m.Payload)
	}
	publish(t, client, n.a.ch.request, []byte(`{"uid":"node01","requestId":"q6","type":6,"data":["x"]}`))
	if m := recv(t, shared); m.Payload != `{"type":6,"requestId":"q6","data":1}` {
		t.Errorf("server-side emit answer %s", m.Payload)
	}
	// Two Go nodes with the option still get their answers.
	n2 := newNode(t, client, "/", opts)
	n2.connect("b1", "room")
	infos, err := n.a.FetchSockets(context.Background(), adapter.BroadcastOptions{})
	if err != nil || len(infos) != 1 || infos[0].ID != "b1" {
		t.Errorf("FetchSockets across nodes with specific response channels = %+v, %v", infos, err)
	}
}

// TestNodePeerAnswers plays a Node.js peer that answers this node's
// requests, with Node's handshake shapes.
func TestNodePeerAnswers(t *testing.T) {
	_, client := newMiniredis(t)
	opts := testOptions(uniqueKey(t))
	n := newNode(t, client, "/", opts)
	n.connect("local1", "r")
	peer := rawSub(t, client, n.a.ch.request)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), waitTime)
		defer cancel()
		for range 3 {
			m, err := peer.ReceiveMessage(ctx)
			if err != nil {
				return
			}
			obj, err := decodeRequest([]byte(m.Payload))
			if err != nil {
				return
			}
			id := obj.str("requestId")
			var answer string
			switch typ, _ := obj.num("type"); typ {
			case reqRemoteFetch:
				answer = `{"requestId":"` + id + `","sockets":[{"id":"remote1","handshake":{"headers":{"a":["1","2"]},` +
					`"time":"t","address":"::1","xdomain":false,"secure":false,"issued":1,"url":"/","query":{"EIO":"4"},"auth":{}},` +
					`"rooms":["remote1","r"],"data":{"k":[1,2]}}]}`
			case reqServerSideEmit:
				answer = `{"type":6,"requestId":"` + id + `","data":{"ok":true}}`
			case reqAllRooms:
				answer = `{"requestId":"` + id + `","rooms":["r","remote1","only-remote"]}`
			}
			_ = client.Publish(ctx, n.a.ch.response+n.a.UID()+"#", answer).Err() // specific channel
		}
	}()
	ctx := context.Background()
	infos, err := n.a.FetchSockets(ctx, adapter.BroadcastOptions{Rooms: []adapter.Room{"r"}})
	if err != nil || len(infos) != 2 {
		t.Fatalf("FetchSockets = %+v, %v", infos, err)
	}
	remote := infos[1]
	if remote.ID != "remote1" || remote.Handshake.Headers["a"] != "1, 2" || mustJSON(t, remote.Data) != `{"k":[1,2]}` {
		t.Errorf("remote socket %+v", remote)
	}
	answers, err := n.a.ServerSideEmitWithAck(ctx, []any{"ev", 1})
	if err != nil || len(answers) != 1 || string(answers[0].(json.RawMessage)) != `{"ok":true}` {
		t.Errorf("ServerSideEmitWithAck = %v, %v", answers, err)
	}
	rooms, err := n.a.AllRooms(ctx)
	slices.Sort(rooms)
	if err != nil || fmt.Sprint(rooms) != "[local1 only-remote r remote1]" {
		t.Errorf("AllRooms = %v, %v", rooms, err)
	}
	<-done
}

// TestBroadcastWithAckExpires checks that the answers to a broadcast with
// acks are routed until the flags timeout and ignored afterwards.
func TestBroadcastWithAckExpires(t *testing.T) {
	_, client := newMiniredis(t)
	opts := testOptions(uniqueKey(t))
	opts.Workers = 1 // one queue: messages are handled in publish order
	n := newNode(t, client, "/", opts)
	n.connect("s1")
	reqs := rawSub(t, client, n.a.ch.request)
	var mu sync.Mutex
	var counts []int
	var acks []string
	err := n.a.BroadcastWithAck(context.Background(), &adapter.Packet{Type: adapter.PacketEvent, Data: []any{"q"}}, adapter.BroadcastOptions{Flags: adapter.BroadcastFlags{Timeout: 200 * time.Millisecond}},
		func(c int) { mu.Lock(); counts = append(counts, c); mu.Unlock() },
		func(a any) { mu.Lock(); acks = append(acks, mustJSON(t, a)); mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	obj, err := decodeRequest([]byte(recv(t, reqs).Payload))
	if err != nil {
		t.Fatal(err)
	}
	id := obj.str("requestId")
	if typ, _ := obj.num("type"); typ != reqBroadcast || id == "" {
		t.Fatalf("request %+v", obj)
	}
	publish(t, client, n.a.ch.response, []byte(`{"type":8,"requestId":"`+id+`","clientCount":3}`))
	ack, _ := encodeBroadcastAck(id, json.RawMessage(`{"b":2,"a":1}`))
	publish(t, client, n.a.ch.response, ack)
	adaptertest.Eventually(t, waitTime, func() bool { mu.Lock(); defer mu.Unlock(); return len(acks) == 1 && len(counts) == 2 }, "answers not routed")
	adaptertest.Eventually(t, waitTime, func() bool { return !n.a.isOwnAckRequest(id) }, "ack request not forgotten after its timeout")
	publish(t, client, n.a.ch.response, ack) // too late
	fence, _ := encodeBroadcast("peer01", "/", &adapter.Packet{Type: adapter.PacketEvent, Data: []any{"fence"}}, nil, nil, adapter.BroadcastFlags{})
	publish(t, client, n.a.ch.broadcast, fence)
	n.waitReceived(t, "fence", "s1")
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(counts, []int{1, 3}) || !slices.Equal(acks, []string{`{"b":2,"a":1}`}) {
		t.Errorf("counts %v acks %v", counts, acks)
	}
}

// TestEmitter checks every Emitter operation against adapters.
func TestEmitter(t *testing.T) {
	_, client := newMiniredis(t)
	opts := testOptions(uniqueKey(t))
	n1 := newNode(t, client, "/", opts)
	n2 := newNode(t, client, "/", opts)
	admin := newNode(t, client, "/admin", opts)
	n1.connect("a1", "r")
	n1.connect("a2", "x")
	n2.connect("b1", "r", "x")
	admin.connect("c1", "r")
	n2.ns.OnServerSideEmit(func([]any, func(any)) {})
	ctx := context.Background()
	e := NewEmitter(client, EmitterOptions{Key: opts.Key})

	if err := e.Emit(ctx, "all", 1, []byte{2}); err != nil {
		t.Fatal(err)
	}
	n1.waitReceived(t, "all", "a1", "a2")
	n2.waitReceived(t, "all", "b1")
	d := n1.ns.DeliveredEvent("all")[0]
	if b, ok := d.Packet.Data[2].([]byte); !ok || b[0] != 2 || string(d.Packet.Data[1].(json.RawMessage)) != "1" {
		t.Errorf("delivered data %#v", d.Packet.Data)
	}
	room := e.To("r").Volatile().Compress(true)
	if err := room.Emit(ctx, "room"); err != nil {
		t.Fatal(err)
	}
	n1.waitReceived(t, "room", "a1")
	n2.waitReceived(t, "room", "b1")
	if f := n1.ns.DeliveredEvent("room")[0].Flags; !f.Volatile || !f.Compress {
		t.Errorf("flags %+v", f)
	}
	if err := e.In("r", "x").Except("b1").Emit(ctx, "except"); err != nil {
		t.Fatal(err)
	}
	n1.waitReceived(t, "except", "a1", "a2")
	if err := e.Of("admin").To("r").Emit(ctx, "admin"); err != nil {
		t.Fatal(err)
	}
	admin.waitReceived(t, "admin", "c1")
	if err := e.Emit(ctx, "disconnect"); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("reserved event accepted: %v", err)
	}
	if err := e.ServerSideEmit(ctx, "connection"); err == nil {
		t.Error("reserved server-side event accepted")
	}
	// Immutability: the shared emitter gained no room.
	if len(e.rooms) != 0 || len(room.rooms) != 1 || e.volatile {
		t.Errorf("emitter mutated: %+v / %+v", e, room)
	}
	a, b := e.To("p"), e.To("q")
	if !slices.Equal(a.rooms, []string{"p"}) || !slices.Equal(b.rooms, []string{"q"}) {
		t.Errorf("derived emitters share rooms: %v %v", a.rooms, b.rooms)
	}

	if err := e.To("x").SocketsJoin(ctx, "joined"); err != nil {
		t.Fatal(err)
	}
	adaptertest.Eventually(t, waitTime, func() bool {
		return slices.Contains(n1.a.SocketRooms("a2"), "joined") && slices.Contains(n2.a.SocketRooms("b1"), "joined")
	}, "SocketsJoin not applied")
	if slices.Contains(n1.a.SocketRooms("a1"), "joined") {
		t.Error("a1 joined although not in x")
	}
	if err := e.SocketsLeave(ctx, "joined"); err != nil {
		t.Fatal(err)
	}
	adaptertest.Eventually(t, waitTime, func() bool {
		return !slices.Contains(n1.a.SocketRooms("a2"), "joined") && !slices.Contains(n2.a.SocketRooms("b1"), "joined")
	}, "SocketsLeave not applied")
	if err := e.ServerSideEmit(ctx, "hello", map[string]any{"k": 1}); err != nil {
		t.Fatal(err)
	}
	adaptertest.Eventually(t, waitTime, func() bool { return len(n2.ns.ServerSideEmits()) == 1 }, "server-side emit not received")
	if c := n2.ns.ServerSideEmits()[0]; c.Data[0] != "hello" || c.WithReply {
		t.Errorf("server-side emit %+v", c)
	}
	if err := e.Except("a1").DisconnectSockets(ctx, true); err != nil {
		t.Fatal(err)
	}
	adaptertest.Eventually(t, waitTime, func() bool { return len(n1.ns.Disconnected()) == 1 && len(n2.ns.Disconnected()) == 1 }, "DisconnectSockets not applied")
	if d := n1.ns.Disconnected()[0]; !slices.Equal(d.Sids, []adapter.SocketID{"a2"}) || !d.Close {
		t.Errorf("n1 disconnected %+v", d)
	}
	if err := NewEmitter(nil, EmitterOptions{}).Emit(ctx, "x"); err == nil {
		t.Error("emitter without client succeeded")
	}
}

// TestClusterOperationsLocalFallback checks that, while the adapter is not
// subscribed, AddSockets applies locally at once.
func TestClusterOperationsLocalFallback(t *testing.T) {
	mr := miniredis.RunT(t)
	client := outageClient(t, mr.Addr())
	n := newNode(t, client, "/", testOptions(uniqueKey(t)))
	n.connect("s1")
	mr.Close()
	adaptertest.Eventually(t, waitTime, func() bool { return n.a.Ready() != nil }, "Ready() stayed nil with Redis down")
	ctx := context.Background()
	if err := n.a.AddSockets(ctx, adapter.BroadcastOptions{}, []adapter.Room{"z"}); err == nil {
		t.Error("AddSockets with Redis down returned no error")
	}
	if !slices.Contains(n.a.SocketRooms("s1"), "z") {
		t.Error("AddSockets was not applied locally")
	}
	if err := n.a.DelSockets(ctx, adapter.BroadcastOptions{}, []adapter.Room{"z"}); err == nil {
		t.Error("DelSockets with Redis down returned no error")
	}
	if slices.Contains(n.a.SocketRooms("s1"), "z") {
		t.Error("DelSockets was not applied locally")
	}
}

// TestRedisDownLocalDeliveryAndRecovery stops miniredis: local delivery
// continues, Broadcast still returns at once, publish errors are counted
// and logged once, Ready
// reports the loss; after a restart on the same address the cluster works
// again.
func TestRedisDownLocalDeliveryAndRecovery(t *testing.T) {
	mr := miniredis.RunT(t)
	client := outageClient(t, mr.Addr())
	rec := &logRecorder{}
	var pubErrs atomic.Int64
	opts := testOptions(uniqueKey(t))
	opts.Logger = slog.New(rec)
	opts.Hooks.PublishError = func(error) { pubErrs.Add(1) }
	n1 := newNode(t, client, "/", opts)
	client2 := outageClient(t, mr.Addr())
	opts2 := opts
	opts2.Logger, opts2.Hooks = nil, Hooks{}
	n2 := newNode(t, client2, "/", opts2)
	n1.connect("a1")
	n2.connect("b1")
	ctx := context.Background()

	mr.Close()
	adaptertest.Eventually(t, waitTime, func() bool { return n1.a.Ready() != nil }, "Ready() stayed nil with Redis down")
	for i := range 5 {
		err := n1.a.Broadcast(ctx, &adapter.Packet{Type: adapter.PacketEvent, Data: []any{"down"}}, adapter.BroadcastOptions{})
		if err != nil {
			t.Fatalf("broadcast %d with Redis down: %v (want nil: queued)", i, err)
		}
	}
	if got := n1.ns.ReceivedBy("down")["a1"]; got != 5 {
		t.Errorf("local socket got %d of 5 broadcasts while Redis was down", got)
	}
	adaptertest.Eventually(t, waitTime, func() bool { return pubErrs.Load() == 5 },
		"PublishError hook called %d times; want 5", pubErrs.Load())
	if got := rec.count("publish failed"); got != 1 {
		t.Errorf("%d publish warnings logged; want 1", got)
	}
	if _, err := n1.a.ServerCount(ctx); err == nil {
		t.Error("ServerCount with Redis down returned no error")
	}

	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	adaptertest.Eventually(t, 5*time.Second, func() bool { return n1.a.Ready() == nil && n2.a.Ready() == nil }, "not ready again after restart")
	adaptertest.Eventually(t, waitTime, func() bool {
		_ = n1.a.Broadcast(ctx, &adapter.Packet{Type: adapter.PacketEvent, Data: []any{"up"}}, adapter.BroadcastOptions{})
		return len(n2.received("up")) == 1
	}, "cross-node broadcast did not resume")
}

// TestSocketsJoinAppliedViaEcho checks that AddSockets, DelSockets and
// DisconnectSockets are applied locally once, when the node's own request
// comes back from Redis, and that they return only after that.
func TestSocketsJoinAppliedViaEcho(t *testing.T) {
	_, client := newMiniredis(t)
	opts := testOptions(uniqueKey(t))
	n1 := newNode(t, client, "/", opts)
	n2 := newNode(t, client, "/", opts)
	n1.connect("a1", "r")
	n2.connect("b1", "r")
	reqs := rawSub(t, client, n1.a.ch.request)
	ctx := context.Background()
	sel := adapter.BroadcastOptions{Rooms: []adapter.Room{"r"}}

	if err := n1.a.AddSockets(ctx, sel, []adapter.Room{"j"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(n1.a.SocketRooms("a1"), "j") {
		t.Fatal("AddSockets returned before the local socket joined")
	}
	if m := recv(t, reqs); m.Payload != `{"uid":"`+n1.a.UID()+`","type":2,"opts":{"rooms":["r"],"except":[]},"rooms":["j"]}` {
		t.Errorf("published %s", m.Payload)
	}
	adaptertest.Eventually(t, waitTime, func() bool { return slices.Contains(n2.a.SocketRooms("b1"), "j") }, "b1 did not join")
	joins := 0
	for _, e := range n1.ns.RoomEvents() {
		if e.Kind == adapter.JoinRoom && e.Room == "j" {
			joins++
		}
	}
	if joins != 1 {
		t.Errorf("a1 joined j %d times; want once", joins)
	}
	if err := n1.a.DelSockets(ctx, sel, []adapter.Room{"j"}); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(n1.a.SocketRooms("a1"), "j") {
		t.Fatal("DelSockets returned before the local socket left")
	}
	if err := n1.a.DisconnectSockets(ctx, sel, false); err != nil {
		t.Fatal(err)
	}
	if d := n1.ns.Disconnected(); len(d) != 1 || d[0].Sids[0] != "a1" || d[0].Close {
		t.Fatalf("DisconnectSockets returned before the local disconnection: %+v", d)
	}
	adaptertest.Eventually(t, waitTime, func() bool { return len(n2.ns.Disconnected()) == 1 }, "b1 not disconnected")
	n1.a.mu.Lock()
	left := len(n1.a.echoes)
	n1.a.mu.Unlock()
	if left != 0 {
		t.Errorf("%d echo waiters left", left)
	}
}

// TestHooks checks that the metric hooks are called.
func TestHooks(t *testing.T) {
	_, client := newMiniredis(t)
	var published, received atomic.Int64
	var mu sync.Mutex
	kinds := map[string]int{}
	opts := testOptions(uniqueKey(t))
	opts.Hooks = Hooks{
		Published: func() { published.Add(1) },
		Received:  func() { received.Add(1) },
		RequestLatency: func(kind string, d time.Duration) {
			mu.Lock()
			kinds[kind]++
			mu.Unlock()
			if d < 0 || d > waitTime {
				t.Errorf("latency %v for %s", d, kind)
			}
		},
	}
	n1 := newNode(t, client, "/", opts)
	opts.Hooks = Hooks{}
	n2 := newNode(t, client, "/", opts)
	n2.connect("b1")
	ctx := context.Background()
	if err := n1.a.Broadcast(ctx, &adapter.Packet{Type: adapter.PacketEvent, Data: []any{"x"}}, adapter.BroadcastOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := n1.a.FetchSockets(ctx, adapter.BroadcastOptions{}); err != nil {
		t.Fatal(err)
	}
	if published.Load() != 2 {
		t.Errorf("Published called %d times; want 2", published.Load())
	}
	// n1 received its broadcast echo, its request echo and n2's answer.
	adaptertest.Eventually(t, waitTime, func() bool { return received.Load() == 3 }, "Received called %d times; want 3", received.Load())
	mu.Lock()
	defer mu.Unlock()
	if kinds["fetchSockets"] != 1 || kinds["serverCount"] != 1 {
		t.Errorf("latencies %v", kinds)
	}
}

// TestInitWithRedisDown checks that Init succeeds without Redis (after
// waiting at most RequestsTimeout), that Ready reports the problem and
// that the adapter subscribes once Redis appears.
func TestInitWithRedisDown(t *testing.T) {
	mr := miniredis.NewMiniRedis()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	opts := testOptions(uniqueKey(t))
	opts.RequestsTimeout = 200 * time.Millisecond
	start := time.Now()
	n := newNode(t, outageClient(t, addr), "/", opts)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Init took %v with Redis down", d)
	}
	if err := n.a.Ready(); err == nil {
		t.Fatal("Ready() = nil without Redis")
	}
	n.connect("s1")
	if err := n.a.Broadcast(context.Background(), &adapter.Packet{Type: adapter.PacketEvent, Data: []any{"x"}}, adapter.BroadcastOptions{}); err != nil {
		t.Errorf("Broadcast without Redis: %v (want nil: queued)", err)
	}
	n.waitReceived(t, "x", "s1")
	if err := mr.StartAddr(addr); err != nil {
		t.Skipf("cannot start miniredis on %s again: %v", addr, err)
	}
	defer mr.Close()
	adaptertest.Eventually(t, 5*time.Second, func() bool { return n.a.Ready() == nil }, "not subscribed after Redis appeared: %v", n.a.Ready())
}

// TestGlobCharactersInNames checks that keys and namespaces holding glob
// characters still only match their own channels.
func TestGlobCharactersInNames(t *testing.T) {
	_, client := newMiniredis(t)
	opts := testOptions("k*" + uniqueKey(t))
	n1 := newNode(t, client, "/a[b]?", opts)
	n2 := newNode(t, client, "/a[b]?", opts)
	other := newNode(t, client, "/ab?", opts)
	n2.connect("b1", "r")
	other.connect("o1", "r")
	if err := n1.a.Broadcast(context.Background(), &adapter.Packet{Type: adapter.PacketEvent, Data: []any{"g"}}, adapter.BroadcastOptions{Rooms: []adapter.Room{"r"}}); err != nil {
		t.Fatal(err)
	}
	n2.waitReceived(t, "g", "b1")
	if err := n1.a.Ready(); err != nil {
		t.Fatal(err)
	}
	if got := other.received("g"); got != nil {
		t.Errorf("another namespace received %v", got)
	}
}

// TestJoinThenBroadcastInOrder checks that a node applies a socketsJoin
// before a broadcast published after it, even while another request
// still holds the worker (here a server-side event handler, released
// only once the node has received all three messages): Redis delivers
// them in order, and handling the room's broadcast on another worker
// would find the socket not yet in the room and drop it.
func TestJoinThenBroadcastInOrder(t *testing.T) {
	_, client := newMiniredis(t)
	opts := testOptions(uniqueKey(t))
	a := newNode(t, client, "/", opts)
	var received atomic.Int64
	bOpts := opts
	bOpts.Hooks.Received = func() { received.Add(1) }
	b := newNode(t, client, "/", bOpts)
	release := make(chan struct{})
	b.ns.OnServerSideEmit(func([]any, func(any)) { <-release })
	b.connect("b1")
	ctx := context.Background()
	// A room whose channel hashes to another worker than the request
	// channel (4 workers): where the bug showed, routing by channel.
	room := ""
	for i := 0; room == ""; i++ {
		r := "after-join-" + strconv.Itoa(i)
		if fnv32(a.a.ch.roomChannel(r))%4 != fnv32(a.a.ch.request)%4 {
			room = r
		}
	}
	if err := a.a.ServerSideEmit(ctx, []any{"busy"}); err != nil {
		t.Fatal(err)
	}
	if err := a.a.AddSockets(ctx, adapter.BroadcastOptions{Rooms: []adapter.Room{"b1"}}, []adapter.Room{adapter.Room(room)}); err != nil {
		t.Fatal(err)
	}
	if err := a.a.Broadcast(ctx, &adapter.Packet{Type: adapter.PacketEvent, Nsp: "/", Data: []any{"hello"}},
		adapter.BroadcastOptions{Rooms: []adapter.Room{adapter.Room(room)}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return received.Load() >= 3 }, "node b received %d of 3 messages", received.Load())
	close(release)
	waitFor(t, 5*time.Second, func() bool { return len(b.received("hello")) == 1 },
		"b1 joined %s before the broadcast but received %v", room, b.received("hello"))
}

// fnv32 is the FNV-1a hash the subscriber spreads routes with.
func fnv32(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

// TestInitCloseConcurrently runs Init and Close of an adapter at the same
// time: Close may come while Init is subscribing. Nothing may crash (a
// PubSub closed before it was set), race, or outlive Close (goleak checks
// the goroutines at the end of the package), and Init must not wait for
// its subscriptions once the adapter is closed.
func TestInitCloseConcurrently(t *testing.T) {
	_, client := newMiniredis(t)
	start := time.Now()
	for range 100 {
		a, err := newAdapter(client, adaptertest.NewFakeNamespace("/"), testOptions(uniqueKey(t)))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := a.Init(context.Background()); err != nil && !errors.Is(err, adapter.ErrClosed) {
				t.Errorf("Init: %v", err)
			}
		}()
		go func() {
			defer wg.Done()
			_ = a.Close(context.Background())
		}()
		wg.Wait()
		if err := a.Ready(); err == nil {
			t.Fatal("a closed adapter reports ready")
		}
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("100 concurrent Init and Close took %v: Init waited for a closed adapter", d)
	}
}

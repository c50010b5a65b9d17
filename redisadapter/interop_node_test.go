package redisadapter

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sio-go/sio/adapter"
	"github.com/sio-go/sio/adapter/adaptertest"
)

// nodePeerScript runs a socket.io 4 server with @socket.io/redis-adapter
// 8.3 (no HTTP clients) next to the Go adapter, exercises every cluster
// operation from the Node side, prints the results, then stays up until
// its stdin closes so that the Go side can exercise the Node side.
const nodePeerScript = `
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");
(async () => {
  const pub = createClient({ url: process.env.REDIS_URL });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const io = new Server({ adapter: createAdapter(pub, sub, { key: process.env.KEY, requestsTimeout: 3000 }) });
  io.on("ping-from-go", (...args) => { const cb = args.pop(); cb({ got: args }); });
  io.on("plain-from-go", (...args) => { console.log("PLAIN " + JSON.stringify(args)); });
  const adapter = io.of("/").adapter;
  for (let i = 0; i < 100 && (await adapter.serverCount()) < 2; i++) await new Promise((r) => setTimeout(r, 20));
  const out = {};
  out.serverCount = await adapter.serverCount();
  const sockets = await io.fetchSockets();
  out.fetched = sockets.map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), data: s.data, auth: s.handshake.auth, ua: s.handshake.headers["user-agent"] }));
  out.sse = await io.serverSideEmitWithAck("from-node", 1, { b: 2, a: 1 });
  out.acks = await io.timeout(2000).emitWithAck("need-ack", "x");
  out.rooms = [...(await adapter.allRooms())].sort();
  io.to("r").emit("room-msg", { z: 1, a: [1.5, "s"] }, Buffer.from([1, 2, 3]));
  io.socketsJoin("joined-by-node");
  io.except("r").disconnectSockets(true);
  console.log("RESULT " + JSON.stringify(out));
  process.stdin.resume();
  process.stdin.on("end", async () => { io.close(); await Promise.all([pub.quit(), sub.quit()]); process.exit(0); });
})().catch((e) => { console.log("ERROR " + (e && e.stack || e)); process.exit(1); });
`

// TestNodeRedisAdapterInterop puts a Go adapter and a Node.js
// @socket.io/redis-adapter 8.3 node on the real Redis and checks every
// operation in both directions.
func TestNodeRedisAdapterInterop(t *testing.T) {
	modules := nodeModules(t)
	for _, pkg := range []string{"socket.io", "@socket.io/redis-adapter", "redis"} {
		if _, err := os.Stat(filepath.Join(modules, pkg)); err != nil {
			skipOrFail(t, pkg+" is not installed (npm ci in integration_test)")
		}
	}
	client := realRedis(t)
	opts := testOptions(uniqueKey(t))
	n := newNode(t, client, "/", opts)
	n.ns.Connect("g1", adapter.Handshake{
		Headers: map[string]string{"user-agent": "go-test"}, Auth: json.RawMessage(`{"token":"t1"}`), Query: map[string]string{},
	}, map[string]any{"k": "v"})
	n.a.AddAll("g1", "g1", "r")
	n.ns.Connect("g2", adapter.Handshake{Auth: json.RawMessage(`{}`)}, nil)
	n.a.AddAll("g2", "g2")
	n.ns.AckWith(func(sid adapter.SocketID) (any, bool) { return "ack-" + string(sid), true })
	n.ns.OnServerSideEmit(func(data []any, reply func(any)) {
		if reply != nil {
			reply(map[string]any{"echo": data[1:]})
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "-e", nodePeerScript)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules, "KEY="+opts.Key, "REDIS_URL="+redisURLOf(client.Options().Addr))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = stdin.Close()
			_ = cmd.Wait()
		})
	}
	defer stop()
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	next := func(prefix string) string {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("node exited before %s; stderr:\n%s", prefix, stderr.String())
				}
				if rest, found := strings.CutPrefix(l, prefix); found {
					return rest
				}
				if strings.HasPrefix(l, "ERROR") {
					t.Fatalf("node: %s", l)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("no %s line from node; stderr:\n%s", prefix, stderr.String())
			}
		}
	}

	// Node → Go.
	type fetched struct {
		ID    string         `json:"id"`
		Rooms []string       `json:"rooms"`
		Data  map[string]any `json:"data"`
		Auth  map[string]any `json:"auth"`
		UA    string         `json:"ua"`
	}
	var res struct {
		ServerCount int               `json:"serverCount"`
		Fetched     []fetched         `json:"fetched"`
		SSE         []json.RawMessage `json:"sse"`
		Acks        []string          `json:"acks"`
		Rooms       []string          `json:"rooms"`
	}
	if err := json.Unmarshal([]byte(next("RESULT ")), &res); err != nil {
		t.Fatal(err)
	}
	if res.ServerCount != 2 {
		t.Errorf("Node serverCount = %d; want 2", res.ServerCount)
	}
	g1 := slices.IndexFunc(res.Fetched, func(f fetched) bool { return f.ID == "g1" })
	if len(res.Fetched) != 2 || g1 < 0 || !slices.Equal(res.Fetched[g1].Rooms, []string{"g1", "r"}) ||
		res.Fetched[g1].Data["k"] != "v" || res.Fetched[g1].Auth["token"] != "t1" || res.Fetched[g1].UA != "go-test" {
		t.Errorf("Node fetchSockets = %+v", res.Fetched)
	}
	if len(res.SSE) != 1 || string(res.SSE[0]) != `{"echo":[1,{"b":2,"a":1}]}` {
		t.Errorf("Node serverSideEmitWithAck answers = %s", res.SSE)
	}
	slices.Sort(res.Acks)
	if !slices.Equal(res.Acks, []string{"ack-g1", "ack-g2"}) {
		t.Errorf("Node emitWithAck acks = %v", res.Acks)
	}
	if !slices.Equal(res.Rooms, []string{"g1", "g2", "r"}) {
		t.Errorf("Node allRooms = %v", res.Rooms)
	}
	n.waitReceived(t, "room-msg", "g1")
	d := n.ns.DeliveredEvent("room-msg")[0]
	if raw, ok := d.Packet.Data[1].(json.RawMessage); !ok || string(raw) != `{"z":1,"a":[1.5,"s"]}` {
		t.Errorf("room-msg arg 1 = %#v", d.Packet.Data[1])
	}
	if b, ok := d.Packet.Data[2].([]byte); !ok || !bytes.Equal(b, []byte{1, 2, 3}) {
		t.Errorf("room-msg arg 2 = %#v", d.Packet.Data[2])
	}
	// (g2 also joined, but the disconnection that follows removes it.)
	adaptertest.Eventually(t, waitTime, func() bool { return slices.Contains(n.a.SocketRooms("g1"), "joined-by-node") },
		"Node socketsJoin not applied")
	adaptertest.Eventually(t, waitTime, func() bool { return len(n.ns.Disconnected()) == 1 }, "Node disconnectSockets not applied")
	if dc := n.ns.Disconnected()[0]; !slices.Equal(dc.Sids, []adapter.SocketID{"g2"}) || !dc.Close {
		t.Errorf("disconnected %+v", dc)
	}

	// Go → Node.
	if c, err := n.a.ServerCount(ctx); err != nil || c != 2 {
		t.Errorf("Go ServerCount = %d, %v", c, err)
	}
	answers, err := n.a.ServerSideEmitWithAck(ctx, []any{"ping-from-go", 7})
	if err != nil || len(answers) != 1 || string(answers[0].(json.RawMessage)) != `{"got":[7]}` {
		t.Errorf("Go ServerSideEmitWithAck = %v, %v", answers, err)
	}
	if err := n.a.ServerSideEmit(ctx, []any{"plain-from-go", "x", map[string]any{"n": 1}}); err != nil {
		t.Fatal(err)
	}
	if got := next("PLAIN "); got != `["x",{"n":1}]` {
		t.Errorf("Node received server-side emit %s", got)
	}
	start := time.Now()
	infos, err := n.a.FetchSockets(ctx, adapter.BroadcastOptions{})
	if err != nil || len(infos) != 1 || time.Since(start) > time.Second {
		t.Errorf("Go FetchSockets = %d sockets, %v after %v", len(infos), err, time.Since(start))
	}
	rooms, err := n.a.AllRooms(ctx)
	if err != nil || len(rooms) == 0 {
		t.Errorf("Go AllRooms = %v, %v", rooms, err)
	}
	var mu sync.Mutex
	var counts []int
	if err := n.a.BroadcastWithAck(ctx, &adapter.Packet{Type: adapter.PacketEvent, Data: []any{"q"}}, adapter.BroadcastOptions{Flags: adapter.BroadcastFlags{Timeout: time.Second}},
		func(c int) { mu.Lock(); counts = append(counts, c); mu.Unlock() }, nil); err != nil {
		t.Fatal(err)
	}
	adaptertest.Eventually(t, waitTime, func() bool { mu.Lock(); defer mu.Unlock(); return len(counts) == 2 }, "no client count from Node")
	mu.Lock()
	slices.Sort(counts)
	if !slices.Equal(counts, []int{0, 1}) {
		t.Errorf("client counts %v; want [0 1]", counts)
	}
	mu.Unlock()
	stop()
}

func (n *testNode) waitReceivedIn(t *testing.T, event string, want ...string) {
	n.waitReceived(t, event, want...)
}

func redisURLOf(addr string) string { return "redis://" + addr }

// undefinedRoomScript is a Node node whose room lookups found nothing:
// io.in(undefined) and io.to([undefined, null]) put null rooms on the
// wire, which Node's own adapter matches with no socket.
const undefinedRoomScript = `
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");
(async () => {
  const pub = createClient({ url: process.env.REDIS_URL });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const io = new Server({ adapter: createAdapter(pub, sub, { key: process.env.KEY, requestsTimeout: 2000 }) });
  const adapter = io.of("/").adapter;
  for (let i = 0; i < 100 && (await adapter.serverCount()) < 2; i++) await new Promise((r) => setTimeout(r, 20));
  let missing; // a lookup that found nothing
  const fetched = await io.in(missing).fetchSockets();
  console.log("FETCHED " + JSON.stringify(fetched.map((s) => s.id)));
  io.to([undefined, null]).emit("leak", "secret");
  io.in(missing).socketsJoin("joined");
  io.in(missing).disconnectSockets(true);
  const acks = await io.in(missing).timeout(1000).emitWithAck("ask");
  console.log("ACKS " + JSON.stringify(acks));
  await new Promise((r) => setTimeout(r, 300));
  console.log("DONE");
  io.close(); await Promise.all([pub.quit(), sub.quit()]); process.exit(0);
})().catch((e) => { console.log("ERROR " + (e && e.stack || e)); process.exit(1); });
`

// TestNodeNullRoomsSelectNoGoSocket checks rooms a Node node sends as
// null (io.in(undefined)): Node's adapter matches no socket with them,
// and so must the Go node, where an empty room list would mean every
// socket: a fetch, a broadcast, a socketsJoin, a disconnectSockets and a
// broadcast with acks must all leave the Go node's sockets alone.
func TestNodeNullRoomsSelectNoGoSocket(t *testing.T) {
	modules := nodeModules(t)
	client := realRedis(t)
	opts := testOptions(uniqueKey(t))
	n := newNode(t, client, "/", opts)
	n.connect("g1", "r")
	n.connect("g2")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "-e", undefinedRoomScript)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules, "KEY="+opts.Key, "REDIS_URL="+redisURLOf(client.Options().Addr))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := map[string]string{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		lines[k] = v
		if k == "DONE" || k == "ERROR" {
			break
		}
	}
	_ = cmd.Wait()
	if e, ok := lines["ERROR"]; ok {
		t.Fatalf("node: %s", e)
	}
	if got := lines["FETCHED"]; got != "[]" {
		t.Errorf("io.in(undefined).fetchSockets() on Node got %s from the Go node; want []", got)
	}
	if got := lines["ACKS"]; got != "[]" {
		t.Errorf("io.in(undefined).emitWithAck() got %s; want [] (no socket asked)", got)
	}
	if got := n.received("leak"); len(got) != 0 {
		t.Errorf("io.to([undefined, null]).emit reached Go sockets %v", got)
	}
	if got := n.received("ask"); len(got) != 0 {
		t.Errorf("io.in(undefined).emitWithAck reached Go sockets %v", got)
	}
	for _, sid := range []adapter.SocketID{"g1", "g2"} {
		if slices.Contains(n.a.SocketRooms(sid), "joined") {
			t.Errorf("io.in(undefined).socketsJoin joined %s", sid)
		}
	}
	if d := n.ns.Disconnected(); len(d) != 0 {
		t.Errorf("io.in(undefined).disconnectSockets disconnected %+v", d)
	}
}

//go:build unix

// The failure tests freeze processes with SIGSTOP, which only Unix has.

package integration_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sio-go/sio/node"
	"github.com/sio-go/sio/node/engineio"
	"github.com/sio-go/sio/node/siotest"
	"github.com/sio-go/sio/redisadapter"
)

// ---- a private redis-server ----

// privateRedis is a redis-server process of one test on a free loopback
// port (never the shared server on 6379), which the test may kill and
// restart on the same port.
type privateRedis struct {
	t    *testing.T
	bin  string
	port int
	mu   sync.Mutex
	cmd  *exec.Cmd
}

// startPrivateRedis starts redis-server without persistence, or skips (fails
// under SIO_REQUIRE_ALL=1) when it is not installed.
func startPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		skipOrFail(t, "redis-server not found; install Redis to run the Redis failure tests")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	r := &privateRedis{t: t, bin: bin, port: port}
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *privateRedis) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }
func (r *privateRedis) url() string  { return "redis://" + r.addr() }

// start runs the server and waits until it answers PING.
func (r *privateRedis) start() {
	r.t.Helper()
	cmd := exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	r.mu.Lock()
	r.cmd = cmd
	r.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for redisPing(r.addr()) != nil {
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server on %s did not start", r.addr())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill stops the server with SIGKILL, as a crash would.
func (r *privateRedis) kill() {
	r.mu.Lock()
	cmd := r.cmd
	r.cmd = nil
	r.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

// ---- Go clients of a node ----

// eventLog records the events a siotest client receives.
type eventLog struct {
	mu  sync.Mutex
	evs []loggedEvent
}

type loggedEvent struct {
	name string
	arg0 json.RawMessage
	at   time.Time
}

// find returns the events named name whose first argument satisfies match.
func (l *eventLog) find(name string, match func(json.RawMessage) bool) []loggedEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []loggedEvent
	for _, e := range l.evs {
		if e.name == name && (match == nil || match(e.arg0)) {
			out = append(out, e)
		}
	}
	return out
}

// nodeClient is a siotest client joined to "/" of a node, whose events are
// logged.
type nodeClient struct {
	*siotest.Client
	log *eventLog
}

// connectClient opens a websocket client to n and joins "/" and rooms.
func connectClient(t *testing.T, n *serverNode, rooms ...string) *nodeClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	c, err := siotest.Dial(ctx, n.URL, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", n.ID, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Connect(ctx, "/", nil); err != nil {
		t.Fatalf("connect to %s: %v", n.ID, err)
	}
	nc := &nodeClient{Client: c, log: &eventLog{}}
	for _, room := range rooms {
		res, err := c.EmitWithAck(ctx, "/", "join", room)
		if err != nil || len(res) != 1 || !strings.Contains(string(res[0].(json.RawMessage)), `"ok":true`) {
			t.Fatalf("join %s on %s: %v %v", room, n.ID, res, err)
		}
	}
	go func() {
		for {
			e, err := c.Next(context.Background())
			if err != nil {
				return
			}
			le := loggedEvent{name: e.Name, at: time.Now()}
			if len(e.Args) > 0 {
				le.arg0, _ = e.Args[0].(json.RawMessage)
			}
			nc.log.mu.Lock()
			nc.log.evs = append(nc.log.evs, le)
			nc.log.mu.Unlock()
		}
	}()
	return nc
}

// ack emits event with args and returns the first ack argument, with the
// time it took.
func (c *nodeClient) ack(t *testing.T, timeout time.Duration, event string, args ...any) (json.RawMessage, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	res, err := c.EmitWithAck(ctx, "/", event, args...)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("%s: no ack after %v: %v", event, took.Round(time.Millisecond), err)
	}
	if len(res) == 0 {
		return nil, took
	}
	raw, _ := res[0].(json.RawMessage)
	return raw, took
}

// roomMsg is a room message payload {"room","from","msg":{"tag","seq"}}.
type roomMsg struct {
	Room string `json:"room"`
	From string `json:"from"`
	Msg  struct {
		Tag string `json:"tag"`
		Seq int    `json:"seq"`
	} `json:"msg"`
}

func decodeRoomMsg(raw json.RawMessage) (roomMsg, bool) {
	var m roomMsg
	return m, json.Unmarshal(raw, &m) == nil
}

// tagged matches room messages with msg.tag == tag.
func tagged(tag string) func(json.RawMessage) bool {
	return func(raw json.RawMessage) bool {
		m, ok := decodeRoomMsg(raw)
		return ok && m.Msg.Tag == tag
	}
}

// eventually polls cond every 10ms until it holds or d passes.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// ---- node HTTP probes ----

var probeClient = &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// status returns the HTTP status of GET n.URL+path (0 on a network error).
func (n *serverNode) status(path string) int {
	resp, err := probeClient.Get(n.URL + path)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// metric returns the value of the unlabelled sample name on n's /metrics.
func (n *serverNode) metric(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := probeClient.Get(n.URL + "/metrics")
	if err != nil {
		t.Fatalf("%s /metrics: %v", n.ID, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s %s: %v", n.ID, name, err)
			}
			return f
		}
	}
	t.Fatalf("%s: metric %s not found", n.ID, name)
	return 0
}

// publisher emits room messages {tag, seq} from c to room every interval
// until stopped; seq counts from 0.
type publisher struct {
	next atomic.Int64 // the seq of the next message
	stop chan struct{}
	done chan struct{}
}

func publish(c *nodeClient, room, tag string, interval time.Duration) *publisher {
	p := &publisher{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		tk := time.NewTicker(interval)
		defer tk.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tk.C:
			}
			seq := p.next.Load()
			if c.Emit("/", "room message", room, map[string]any{"tag": tag, "seq": seq}) != nil {
				return
			}
			p.next.Add(1)
		}
	}()
	return p
}

func (p *publisher) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

// seqs returns the seqs of the room messages tagged tag that c received,
// in arrival order.
func (c *nodeClient) seqs(tag string) []int {
	var out []int
	for _, e := range c.log.find("room message", tagged(tag)) {
		m, _ := decodeRoomMsg(e.arg0)
		out = append(out, m.Msg.Seq)
	}
	return out
}

// checkNoLossFrom fails unless got holds every seq in [from, to), in order
// and once each.
func checkNoLossFrom(t *testing.T, who, tag string, got []int, from, to int) {
	t.Helper()
	var tail []int
	for _, s := range got {
		if s >= from {
			tail = append(tail, s)
		}
	}
	want := make([]int, 0, to-from)
	for s := from; s < to; s++ {
		want = append(want, s)
	}
	if !slices.Equal(tail, want) {
		missing := 0
		for _, s := range want {
			if !slices.Contains(tail, s) {
				missing++
			}
		}
		t.Errorf("%s: %d of the %s messages %d..%d missing or out of order (got %d: %v)", who, missing, tag, from, to-1, len(tail), tail)
	}
}

// ---- tests ----

// TestRedisFailureThreeGoNodes kills the Redis of a three-node Go cluster
// under a steady cross-node broadcast load: the nodes stay up, local rooms
// keep working, /readyz answers 503; once Redis restarts on the same port
// cross-node broadcasts resume within 2s, /readyz is 200 again and no node
// keeps extra goroutines.
func TestRedisFailureThreeGoNodes(t *testing.T) {
	t.Parallel()
	rs := startPrivateRedis(t)
	prefix := uniquePrefix(t)
	nodes := []*serverNode{
		startGoNode(t, clusterEnv(rs.url(), prefix, "rfail-1")),
		startGoNode(t, clusterEnv(rs.url(), prefix, "rfail-2")),
		startGoNode(t, clusterEnv(rs.url(), prefix, "rfail-3")),
	}
	a := connectClient(t, nodes[0], "r", "loc")
	a2 := connectClient(t, nodes[0], "loc")
	b := connectClient(t, nodes[1], "r")
	c := connectClient(t, nodes[2], "r")

	// Steady load: b (node 2) broadcasts to r every 20ms.
	load := publish(b, "r", "load", 20*time.Millisecond)
	defer load.halt()
	if !eventually(5*time.Second, func() bool {
		return len(a.seqs("load")) > 0 && len(c.seqs("load")) > 0
	}) {
		t.Fatal("no cross-node delivery before the failure")
	}
	goroutines := make([]float64, len(nodes))
	for i, n := range nodes {
		goroutines[i] = n.metric(t, "go_goroutines")
	}

	rs.kill()
	killed := time.Now()
	for _, n := range nodes {
		if !eventually(8*time.Second, func() bool { return n.status("/readyz") == http.StatusServiceUnavailable }) {
			t.Errorf("%s: /readyz still %d with Redis down", n.ID, n.status("/readyz"))
		}
	}
	t.Logf("all /readyz 503 %v after the kill", time.Since(killed).Round(time.Millisecond))
	// Local rooms and acks keep working on every node.
	if raw, _ := a.ack(t, stepTimeout, "room message", "loc", map[string]any{"tag": "local", "seq": 0}); raw == nil {
		t.Error("room message ack missing during the outage")
	}
	if !eventually(5*time.Second, func() bool { return len(a2.seqs("local")) == 1 }) {
		t.Error("local room message not delivered with Redis down")
	}
	for i, cl := range []*nodeClient{a, b, c} {
		if raw, _ := cl.ack(t, stepTimeout, "echo", "outage"); string(raw) != `"outage"` {
			t.Errorf("node %d: echo during the outage = %s", i+1, raw)
		}
	}
	for _, n := range nodes {
		if n.exited() || n.status("/healthz") != http.StatusOK {
			t.Fatalf("%s crashed or unhealthy with Redis down (exit: %v)", n.ID, n.err)
		}
	}

	rs.start()
	restarted := time.Now()
	resumed := func(cl *nodeClient) bool {
		evs := cl.log.find("room message", tagged("load"))
		return len(evs) > 0 && evs[len(evs)-1].at.After(restarted)
	}
	if !eventually(5*time.Second, func() bool { return resumed(a) && resumed(c) }) {
		t.Fatal("cross-node broadcasts did not resume after Redis restarted")
	}
	firstAfter := func(cl *nodeClient) time.Duration {
		for _, e := range cl.log.find("room message", tagged("load")) {
			if e.at.After(restarted) {
				return e.at.Sub(restarted)
			}
		}
		return -1
	}
	ta, tc := firstAfter(a), firstAfter(c)
	t.Logf("cross-node delivery resumed %v (node 1) and %v (node 3) after the restart", ta.Round(time.Millisecond), tc.Round(time.Millisecond))
	if limit := 2*time.Second + 20*time.Millisecond; ta > limit || tc > limit {
		t.Errorf("cross-node broadcasts resumed after %v / %v, want within 2s", ta, tc)
	}
	for _, n := range nodes {
		if !eventually(5*time.Second, func() bool { return n.status("/readyz") == http.StatusOK }) {
			t.Errorf("%s: /readyz not 200 after Redis came back", n.ID)
		}
	}
	load.halt()
	for i, n := range nodes {
		var now float64
		if !eventually(5*time.Second, func() bool { now = n.metric(t, "go_goroutines"); return now <= goroutines[i]+2 }) {
			t.Errorf("%s: goroutines %v after the outage, %v before", n.ID, now, goroutines[i])
		}
	}
}

// TestNodeFailureDuringBroadcast SIGKILLs one of three nodes while two
// publishers on the other nodes broadcast to a room spanning all three:
// the survivors' clients get every message published after the kill, in
// order; fetch-sockets and server-side-emit answer within the request
// timeout with what the live nodes said.
func TestNodeFailureDuringBroadcast(t *testing.T) {
	t.Parallel()
	redisU := redisURL(t)
	prefix := uniquePrefix(t)
	n1 := startGoNode(t, clusterEnv(redisU, prefix, "nfail-1"))
	n2 := startGoNode(t, clusterEnv(redisU, prefix, "nfail-2"))
	n3 := startGoNode(t, clusterEnv(redisU, prefix, "nfail-3"))
	a := connectClient(t, n1, "r")
	b := connectClient(t, n2, "r")
	c := connectClient(t, n3, "r")

	pa := publish(a, "r", "from-a", 10*time.Millisecond)
	defer pa.halt()
	pb := publish(b, "r", "from-b", 10*time.Millisecond)
	defer pb.halt()
	if !eventually(5*time.Second, func() bool { return len(c.seqs("from-a")) > 5 && len(c.seqs("from-b")) > 5 }) {
		t.Fatal("no cross-node delivery before the failure")
	}

	sidA, sidB := socketID(t, a), socketID(t, b)

	// Frozen node (SIGSTOP): still subscribed in Redis, it answers
	// nothing. Requests time out after 5s with the live nodes' answers.
	freeze(t, n3.cmd.Process)
	var wg sync.WaitGroup
	var fetchRaw, sseRaw json.RawMessage
	var fetchTook, sseTook time.Duration
	wg.Add(2)
	go func() { defer wg.Done(); fetchRaw, fetchTook = a.ackAsync(8*time.Second, "fetch-sockets") }()
	go func() {
		defer wg.Done()
		sseRaw, sseTook = b.ackAsync(8*time.Second, "server-side-emit", "ping-from-peer", "frozen")
	}()
	wg.Wait()
	t.Logf("with node 3 frozen: fetch-sockets %v: %s; server-side-emit %v: %s",
		fetchTook.Round(time.Millisecond), fetchRaw, sseTook.Round(time.Millisecond), sseRaw)
	checkFetchLive(t, "frozen", fetchRaw, fetchTook, sidA, sidB)
	checkSSELive(t, "frozen", sseRaw, sseTook, "nfail-1")

	// Killed node (SIGKILL, from frozen).
	if err := n3.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-n3.done
	fromA, fromB := int(pa.next.Load()), int(pb.next.Load())
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Error("the killed node's client did not see its connection drop")
	}
	time.Sleep(300 * time.Millisecond) // more messages after the failure
	raw, took := a.ackAsync(8*time.Second, "fetch-sockets")
	t.Logf("fetch-sockets after the kill: %v: %s", took.Round(time.Millisecond), raw)
	checkFetchLive(t, "killed", raw, took, sidA, sidB)
	raw, took = a.ackAsync(8*time.Second, "server-side-emit", "ping-from-peer", "after-kill")
	t.Logf("server-side-emit after the kill: %v: %s", took.Round(time.Millisecond), raw)
	checkSSELive(t, "killed", raw, took, "nfail-2")

	pa.halt()
	pb.halt()
	endA, endB := int(pa.next.Load()), int(pb.next.Load())
	if endA-fromA < 20 || endB-fromB < 20 {
		t.Fatalf("too few messages after the failure (%d, %d)", endA-fromA, endB-fromB)
	}
	eventually(3*time.Second, func() bool {
		return len(a.seqs("from-b")) >= endB && len(b.seqs("from-a")) >= endA &&
			len(a.seqs("from-a")) >= endA && len(b.seqs("from-b")) >= endB
	})
	checkNoLossFrom(t, "a (node 1)", "from-b", a.seqs("from-b"), fromB, endB)
	checkNoLossFrom(t, "b (node 2)", "from-a", b.seqs("from-a"), fromA, endA)
	checkNoLossFrom(t, "a (node 1)", "from-a", a.seqs("from-a"), fromA, endA)
	checkNoLossFrom(t, "b (node 2)", "from-b", b.seqs("from-b"), fromB, endB)
	t.Logf("after the kill: %d messages from a and %d from b, none lost", endA-fromA, endB-fromB)
}

// requestBound is the cluster request timeout (5s) plus scheduling slack.
const requestBound = 6 * time.Second

// checkFetchLive checks a fetch-sockets ack: in time, with exactly the
// sockets of the live nodes (ok may be false after a timeout).
func checkFetchLive(t *testing.T, phase string, raw json.RawMessage, took time.Duration, sids ...string) {
	t.Helper()
	if took > requestBound {
		t.Errorf("%s: fetch-sockets took %v, over the 5s request timeout", phase, took)
	}
	var fr fetchResult
	if err := json.Unmarshal(raw, &fr); err != nil {
		t.Fatalf("%s: fetch-sockets ack %s: %v", phase, raw, err)
	}
	ids := fr.byID()
	for _, sid := range sids {
		if _, ok := ids[sid]; !ok {
			t.Errorf("%s: fetch-sockets lacks live socket %s: %s", phase, sid, raw)
		}
	}
	if len(fr.Sockets) != len(sids) {
		t.Errorf("%s: fetch-sockets returned %d sockets, want the %d live ones: %s", phase, len(fr.Sockets), len(sids), raw)
	}
}

// checkSSELive checks a server-side-emit "ping-from-peer" ack: in time,
// with exactly one response, from live node want.
func checkSSELive(t *testing.T, phase string, raw json.RawMessage, took time.Duration, want string) {
	t.Helper()
	if took > requestBound {
		t.Errorf("%s: server-side-emit took %v, over the 5s request timeout", phase, took)
	}
	var rr responsesResult
	if err := json.Unmarshal(raw, &rr); err != nil {
		t.Fatalf("%s: server-side-emit ack %s: %v", phase, raw, err)
	}
	if len(rr.Responses) != 1 || !strings.Contains(string(rr.Responses[0]), `"`+want+`"`) {
		t.Errorf("%s: server-side-emit responses %s, want %s's only", phase, raw, want)
	}
}

// ackAsync is ack for use off the test goroutine: a missing ack yields
// a nil result with the time waited.
func (c *nodeClient) ackAsync(timeout time.Duration, event string, args ...any) (json.RawMessage, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	res, err := c.EmitWithAck(ctx, "/", event, args...)
	took := time.Since(start)
	if err != nil || len(res) == 0 {
		return nil, took
	}
	raw, _ := res[0].(json.RawMessage)
	return raw, took
}

// socketID asks the node for c's Socket.IO id (whoami).
func socketID(t *testing.T, c *nodeClient) string {
	t.Helper()
	raw, _ := c.ack(t, stepTimeout, "whoami")
	var w struct{ ID string }
	if err := json.Unmarshal(raw, &w); err != nil || w.ID == "" {
		t.Fatalf("whoami = %s", raw)
	}
	return w.ID
}

// TestInProcessThreeNodeCluster runs three node.Servers in this process on
// redisadapter over the real Redis; official JS clients on the three nodes
// exchange room messages.
func TestInProcessThreeNodeCluster(t *testing.T) {
	t.Parallel()
	npmInstall(t)
	opts, err := redis.ParseURL(redisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	prefix := uniquePrefix(t)
	var urls []string
	for i := range 3 {
		srv, err := node.NewServer(node.Config{
			CORS:    engineio.CORS{Origins: []string{"*"}},
			Adapter: redisadapter.NewFactory(client, redisadapter.Options{Key: prefix}),
		})
		if err != nil {
			t.Fatal(err)
		}
		nodeID := fmt.Sprintf("inproc-%d", i+1)
		srv.OnConnection(func(s *node.Socket) {
			s.On("join", func(args node.Args, ack node.AckFunc) {
				room, _ := args.String(0)
				s.Join(room)
				if ack != nil {
					_ = ack(map[string]any{"ok": true, "room": room})
				}
			})
			s.On("whoami", func(_ node.Args, ack node.AckFunc) {
				if ack != nil {
					_ = ack(map[string]string{"node": nodeID, "id": s.ID()})
				}
			})
			s.On("room message", func(args node.Args, ack node.AckFunc) {
				room, _ := args.String(0)
				err := srv.To(room).Emit("room message", map[string]any{"room": room, "from": s.ID(), "msg": args.Value(1)})
				if ack != nil {
					_ = ack(map[string]any{"ok": err == nil})
				}
			})
		})
		mux := http.NewServeMux()
		mux.Handle("/socket.io/", srv)
		hs := httptest.NewServer(mux)
		t.Cleanup(func() {
			_ = srv.Close()
			hs.CloseClientConnections()
			hs.Close()
		})
		urls = append(urls, hs.URL)
	}
	t.Cleanup(func() { _ = client.Close() }) // after the servers (cleanups run last-in first-out)

	clients := []string{"a", "b", "c"}
	sc := scenario{Clients: []clientSpec{
		{Name: "a", URL: urls[0], Transports: []string{"websocket"}},
		{Name: "b", URL: urls[1], Transports: []string{"polling"}},
		{Name: "c", URL: urls[2]},
	}}
	for _, cl := range clients {
		sc.Steps = append(sc.Steps, ackStep("who-"+cl, cl, "whoami"), ackStep("join-"+cl, cl, "join", "r"))
	}
	sc.Steps = append(sc.Steps,
		ackStep("rm-a", "a", "room message", "r", "hello from a"),
		ackStep("rm-b", "b", "room message", "r", map[string]any{"n": 2}),
		ackStep("rm-c", "c", "room message", "r", "hello from c"),
	)
	for _, cl := range clients {
		sc.Steps = append(sc.Steps, waitStep(cl, "room message", 3, nil))
	}
	sc.Steps = append(sc.Steps, step{QuietMs: 200})
	r := runClient(t, sc)
	for i, cl := range clients {
		assertJSON(t, "whoami of "+cl, r.ack0(t, "who-"+cl), map[string]any{"node": fmt.Sprintf("inproc-%d", i+1), "id": r.client(t, cl).ID})
	}
	assertRoomMessage(t, r, "r", "a", "hello from a", clients...)
	assertRoomMessage(t, r, "r", "b", map[string]any{"n": 2}, clients...)
	assertRoomMessage(t, r, "r", "c", "hello from c", clients...)
}

// TestUnresponsiveRedisKeepsClients freezes Redis (SIGSTOP: connections
// stay open, nothing answers) under a client that keeps broadcasting: the
// client must stay connected and keep getting its acks, as with Node.js
// (ioredis queues the publishes).
func TestUnresponsiveRedisKeepsClients(t *testing.T) {
	t.Parallel()
	rs := startPrivateRedis(t)
	n := startGoNode(t, clusterEnv(rs.url(), uniquePrefix(t), "frozen-redis"))
	b := connectClient(t, n, "r")
	load := publish(b, "r", "load", 20*time.Millisecond)
	defer load.halt()
	rs.mu.Lock()
	cmd := rs.cmd
	rs.mu.Unlock()
	freeze(t, cmd.Process)
	defer func() { _ = cmd.Process.Signal(syscall.SIGCONT) }()
	// Longer than pingInterval+pingTimeout (1s+5s) of the test nodes.
	for end := time.Now().Add(7 * time.Second); time.Now().Before(end); {
		raw, took := b.ackAsync(5*time.Second, "echo", "frozen")
		if string(raw) != `"frozen"` {
			t.Fatalf("echo with Redis frozen: %s after %v (connection closed: %v)", raw, took.Round(time.Millisecond), isDone(b))
		}
		if took > 2*time.Second {
			t.Errorf("echo took %v with Redis frozen", took.Round(time.Millisecond))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// freeze stops p with SIGSTOP and returns once it is stopped. kill(2)
// returns before the stop takes effect: one thread takes the signal and
// then stops the others, so on a loaded machine the rest can run on for a
// while (seen: a "frozen" node answering a cluster request 7 ms after the
// signal). On Linux it waits until /proc shows every thread stopped;
// elsewhere it waits a fixed 200 ms.
func freeze(t *testing.T, p *os.Process) {
	t.Helper()
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	tasks := fmt.Sprintf("/proc/%d/task", p.Pid)
	if _, err := os.Stat(tasks); err != nil {
		time.Sleep(200 * time.Millisecond)
		return
	}
	allStopped := func() bool {
		entries, err := os.ReadDir(tasks)
		if err != nil || len(entries) == 0 {
			return false
		}
		for _, e := range entries {
			st, err := os.ReadFile(filepath.Join(tasks, e.Name(), "status"))
			if err != nil || !bytes.Contains(st, []byte("State:\tT")) {
				return false
			}
		}
		return true
	}
	if !eventually(5*time.Second, allStopped) {
		t.Fatalf("process %d not stopped 5s after SIGSTOP", p.Pid)
	}
}

func isDone(c *nodeClient) bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}

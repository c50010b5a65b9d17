package integration_test

// Real-topology tests: three cmd/sioserver nodes on the real Redis behind a
// real nginx running deploy/nginx.conf, scraped by a real Prometheus running
// deploy/prometheus.yml, driven by official socket.io-client sockets
// (topology/driver.js) and by the chat page in headless Chromium
// (topology/chat_browser.js).
//
// How clients reach different nodes: nginx hashes the client address
// ("hash $remote_addr consistent"). Every test client runs on this machine,
// so each one binds its own loopback source address (127.0.0.x, through an
// http.Agent localAddress): nginx then sees distinct client addresses
// exactly as it would see distinct machines. A probe asks, for a range of
// source addresses, which node whoami reports through nginx, and the tests
// pick addresses that land on the node they want.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds of the topology tests.
const (
	topoStartTimeout  = 15 * time.Second // nginx / Prometheus ready
	topoStepTimeout   = 10 * time.Second // one driver command
	topoFailover      = 15 * time.Second // reconnect after a node went away
	topoPromTimeout   = 20 * time.Second // a condition to show up in Prometheus
	topoDrainTimeout  = 3 * time.Second  // SIO_DRAIN_TIMEOUT of the nodes
	topoScrape        = time.Second      // Prometheus scrape interval
	topoProbeBatch    = 12               // source addresses probed at once
	topoProbeMaxAddrs = 96               // 127.0.0.2 .. 127.0.0.97 at most
)

// topoOptions selects what a topology runs besides nodes and nginx.
type topoOptions struct {
	prometheus bool
	// nodeEnv adds SIO_* variables per node index (0..2).
	nodeEnv func(i int) map[string]string
}

// topology is a running cluster: nodes, nginx in front, maybe Prometheus.
type topology struct {
	t        *testing.T
	dir      string
	nodes    []*serverNode
	nginxURL string
	promURL  string // "" without Prometheus
	// addrs maps a node ID to loopback source addresses that nginx routes
	// to it (filled by probe).
	addrs map[string][]string
}

// requireTopologyTools skips (or fails under SIO_REQUIRE_ALL=1) unless
// nginx, node, and Redis are available; it returns the Redis URL.
func requireTopologyTools(t *testing.T, prom bool) string {
	t.Helper()
	requireTool(t, "node")
	if _, err := nginxPath(); err != nil {
		skipOrFail(t, "nginx not found (%v); apt-get install nginx to run the topology tests", err)
	}
	if prom {
		if _, err := exec.LookPath("prometheus"); err != nil {
			skipOrFail(t, "prometheus not found; apt-get install prometheus to run the topology tests")
		}
	}
	npmInstall(t)
	return redisURL(t)
}

// nginxPath finds the nginx binary (Debian installs it in /usr/sbin, which
// is not always on a test's PATH).
func nginxPath() (string, error) {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("nginx not on PATH nor in /usr/sbin")
}

// clientBundle is the socket.io.min.js the nodes serve to the chat page.
func clientBundle(t testing.TB) string {
	t.Helper()
	p := filepath.Join(testDir(t), "node_modules", "socket.io-client", "dist", "socket.io.min.js")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("client bundle missing after npm install: %v", err)
	}
	return p
}

// startTopology starts three Go nodes on Redis (own prefix), nginx and,
// when asked, Prometheus, and probes which source addresses reach which
// node.
func startTopology(t *testing.T, opts topoOptions) *topology {
	t.Helper()
	redis := requireTopologyTools(t, opts.prometheus)
	tp := &topology{t: t, dir: t.TempDir(), addrs: map[string][]string{}}
	prefix := uniquePrefix(t)
	bundle := clientBundle(t)
	for i := range 3 {
		env := clusterEnv(redis, prefix, fmt.Sprintf("topo-%d", i+1))
		env["SIO_CLIENT_BUNDLE"] = bundle
		env["SIO_DRAIN_TIMEOUT"] = topoDrainTimeout.String()
		// Same-origin only, as deployed: the page served through nginx
		// must be same-origin for the node behind it.
		env["SIO_ALLOWED_ORIGINS"] = ""
		if opts.nodeEnv != nil {
			for k, v := range opts.nodeEnv(i) {
				env[k] = v
			}
		}
		tp.nodes = append(tp.nodes, startGoNode(t, env))
	}
	tp.startNginx()
	if opts.prometheus {
		tp.startPrometheus()
	}
	return tp
}

func (tp *topology) upstreams() []string {
	out := make([]string, len(tp.nodes))
	for i, n := range tp.nodes {
		out[i] = n.Addr
	}
	return out
}

// startNginx runs deploy/nginx.conf, rendered for this topology (see
// renderNginxConf), in the foreground under its own prefix directory.
func (tp *topology) startNginx() {
	t := tp.t
	t.Helper()
	bin, err := nginxPath()
	if err != nil {
		skipOrFail(t, "nginx not found: %v", err)
	}
	dir := filepath.Join(tp.dir, "nginx")
	if err := os.MkdirAll(filepath.Join(dir, "temp"), 0o755); err != nil {
		t.Fatal(err)
	}
	u := ""
	if os.Geteuid() == 0 {
		// Workers of a root master default to "nobody", who cannot enter
		// the test's private temp directory: keep them on our user.
		if cur, err := user.Current(); err == nil {
			u = cur.Username
		}
	}
	listen := freeAddr(t)
	conf, err := renderNginxConf(readRepoFile(t, "deploy/nginx.conf"), nginxParams{
		User: u, PidFile: filepath.Join(dir, "nginx.pid"), TempDir: filepath.Join(dir, "temp"),
		Listen: listen, Upstreams: tp.upstreams(),
	})
	if err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-t", "-p", dir, "-c", confPath, "-e", "stderr").CombinedOutput(); err != nil {
		t.Fatalf("nginx -t on the rendered deploy/nginx.conf: %v\n%s", err, out)
	}
	startProc(t, "nginx", exec.Command(bin, "-p", dir, "-c", confPath, "-e", "stderr", "-g", "daemon off;"))
	tp.nginxURL = "http://" + listen
	waitHTTP(t, tp.nginxURL+"/nginx-health", topoStartTimeout)
}

// startPrometheus runs deploy/prometheus.yml, rendered with the node
// targets and a short scrape interval.
func (tp *topology) startPrometheus() {
	t := tp.t
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		skipOrFail(t, "prometheus not found; apt-get install prometheus")
	}
	dir := filepath.Join(tp.dir, "prometheus")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf, err := renderPrometheusConf(readRepoFile(t, "deploy/prometheus.yml"), topoScrape, 800*time.Millisecond, tp.upstreams())
	if err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	listen := freeAddr(t)
	startProc(t, "prometheus", exec.Command(bin,
		"--config.file="+confPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+listen,
		"--log.level=warn",
	))
	tp.promURL = "http://" + listen
	waitHTTP(t, tp.promURL+"/-/ready", topoStartTimeout)
}

// waitHTTP polls u until it answers 200 or timeout passes.
func waitHTTP(t testing.TB, u string, timeout time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := client.Get(u)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %v: %v", u, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// node returns the node with id.
func (tp *topology) node(id string) *serverNode {
	for _, n := range tp.nodes {
		if n.ID == id {
			return n
		}
	}
	tp.t.Fatalf("no node %s", id)
	return nil
}

// probe finds, through nginx, which loopback source addresses land on
// which node, until every node has at least want addresses.
func (tp *topology) probe(d *topoDriver, want int) {
	t := tp.t
	t.Helper()
	enough := func() bool {
		for _, n := range tp.nodes {
			if len(tp.addrs[n.ID]) < want {
				return false
			}
		}
		return true
	}
	for next := 2; !enough(); {
		if next-2 >= topoProbeMaxAddrs {
			t.Fatalf("after %d source addresses, nginx routed %v: not %d per node", topoProbeMaxAddrs, tp.addrs, want)
		}
		var batch []string
		for range topoProbeBatch {
			batch = append(batch, fmt.Sprintf("127.0.0.%d", next))
			next++
		}
		var got map[string]string
		d.call(t, map[string]any{"cmd": "probe", "url": tp.nginxURL, "addresses": batch}, &got)
		for _, a := range batch {
			id, ok := got[a]
			if !ok {
				t.Fatalf("probe of %s returned nothing", a)
			}
			tp.addrs[id] = append(tp.addrs[id], a)
		}
	}
	t.Logf("source addresses per node through nginx: %v", tp.addrs)
}

// addrFor returns the i-th probed source address that lands on node id.
func (tp *topology) addrFor(id string, i int) string {
	tp.t.Helper()
	if len(tp.addrs[id]) <= i {
		tp.t.Fatalf("no source address #%d for node %s (have %v)", i, id, tp.addrs[id])
	}
	return tp.addrs[id][i]
}

// ---- the interactive client driver ----

// topoDriver is a running topology/driver.js.
type topoDriver struct {
	stdin  io.WriteCloser
	stderr *tailBuffer
	done   chan struct{}

	mu      sync.Mutex
	seq     int
	pending map[int]chan topoReply
}

type topoReply struct {
	ID     int             `json:"id"`
	OK     bool            `json:"ok"`
	Error  string          `json:"error"`
	Result json.RawMessage `json:"result"`
}

// startTopoDriver starts topology/driver.js; it is stopped at cleanup.
func startTopoDriver(t *testing.T) *topoDriver {
	t.Helper()
	nodeBin := requireTool(t, "node")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	cmd := exec.CommandContext(ctx, nodeBin, filepath.Join(testDir(t), "topology", "driver.js"))
	cmd.Dir = testDir(t)
	cmd.Env = childEnv(nil)
	d := &topoDriver{stderr: &tailBuffer{max: maxLogBytes}, done: make(chan struct{}), pending: map[int]chan topoReply{}}
	cmd.Stderr = d.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start topology/driver.js: %v", err)
	}
	d.stdin = stdin
	go func() {
		defer close(d.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			var r topoReply
			if json.Unmarshal(sc.Bytes(), &r) != nil {
				_, _ = d.stderr.Write(append([]byte("stdout: "), sc.Bytes()...))
				continue
			}
			d.mu.Lock()
			ch := d.pending[r.ID]
			delete(d.pending, r.ID)
			d.mu.Unlock()
			if ch != nil {
				ch <- r
			}
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = stdin.Close() // the driver disconnects its clients and exits
		select {
		case <-d.done:
		case <-time.After(5 * time.Second):
		}
		cancel()
		<-d.done
		if t.Failed() {
			t.Logf("---- topology/driver.js stderr ----\n%s", d.stderr.String())
		}
	})
	return d
}

// do sends cmd (a "cmd" plus its fields) and waits for the reply; the
// command's own timeout is topoStepTimeout unless cmd sets timeoutMs.
func (d *topoDriver) do(cmd map[string]any) (json.RawMessage, error) {
	if _, ok := cmd["timeoutMs"]; !ok {
		cmd["timeoutMs"] = topoStepTimeout.Milliseconds()
	}
	ms, _ := cmd["timeoutMs"].(int64)
	if v, ok := cmd["timeoutMs"].(int); ok {
		ms = int64(v)
	}
	d.mu.Lock()
	d.seq++
	id := d.seq
	ch := make(chan topoReply, 1)
	d.pending[id] = ch
	d.mu.Unlock()
	cmd["id"] = id
	line, err := json.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	if _, err := d.stdin.Write(append(line, '\n')); err != nil {
		return nil, fmt.Errorf("driver gone: %v", err)
	}
	select {
	case r := <-ch:
		if !r.OK {
			return nil, fmt.Errorf("%s: %s", cmd["cmd"], r.Error)
		}
		return r.Result, nil
	case <-d.done:
		return nil, fmt.Errorf("driver exited during %s", cmd["cmd"])
	case <-time.After(time.Duration(ms)*time.Millisecond + 5*time.Second):
		return nil, fmt.Errorf("no reply to %s within %dms", line, ms)
	}
}

// call runs cmd and decodes its result into out (when not nil); an error
// fails the test.
func (d *topoDriver) call(t testing.TB, cmd map[string]any, out any) {
	t.Helper()
	res, err := d.do(cmd)
	if err != nil {
		t.Fatalf("driver: %v", err)
	}
	if out != nil {
		if err := json.Unmarshal(res, out); err != nil {
			t.Fatalf("driver %s result %s: %v", cmd["cmd"], res, err)
		}
	}
}

// topoClient is the state the driver reports for a client.
type topoClient struct {
	ID            string   `json:"id"`
	Node          string   `json:"node"`
	Connected     bool     `json:"connected"`
	Transport     string   `json:"transport"`
	Upgraded      bool     `json:"upgraded"`
	Sessions      int      `json:"sessions"`
	Disconnects   []string `json:"disconnects"`
	ConnectErrors int      `json:"connectErrors"`
}

// topoSpec describes a driver client.
type topoSpec struct {
	name       string
	addr       string   // source address
	transports []string // nil: polling then websocket
	upgrade    bool
	rooms      []string
}

// open connects a client through nginx and returns its first session.
func (d *topoDriver) open(t testing.TB, tp *topology, s topoSpec) topoClient {
	t.Helper()
	cmd := map[string]any{"cmd": "open", "name": s.name, "url": tp.nginxURL, "localAddress": s.addr,
		"upgrade": s.upgrade, "rooms": s.rooms}
	if s.transports != nil {
		cmd["transports"] = s.transports
	}
	var c topoClient
	d.call(t, cmd, &c)
	return c
}

func (d *topoDriver) state(t testing.TB, name string) topoClient {
	t.Helper()
	var c topoClient
	d.call(t, map[string]any{"cmd": "state", "name": name}, &c)
	return c
}

// roomMessage sends a room message from client from and checks its ack.
func (d *topoDriver) roomMessage(t testing.TB, from, room, msg string) {
	t.Helper()
	var ack []map[string]any
	d.call(t, map[string]any{"cmd": "emit", "name": from, "event": "room message", "args": []any{room, msg}, "ack": true}, &ack)
	if len(ack) != 1 || ack[0]["ok"] != true {
		t.Fatalf("room message ack from %s = %v, want [{ok:true}]", from, ack)
	}
}

// expectRoomMessage waits until client name received msg in room from the
// socket id from.
func (d *topoDriver) expectRoomMessage(t testing.TB, name, room, fromID, msg string) {
	t.Helper()
	var args []roomMessage
	d.call(t, map[string]any{"cmd": "wait", "name": name, "event": "room message",
		"match": map[string]any{"room": room, "msg": msg}}, &args)
	if len(args) != 1 || args[0].From != fromID {
		t.Fatalf("%s got room message %+v, want from %s", name, args, fromID)
	}
}

// ---- Prometheus API ----

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// value returns the sample's value as a float.
func (s promSample) value() float64 {
	str, _ := s.Value[1].(string)
	f, _ := strconv.ParseFloat(str, 64)
	return f
}

// promQuery evaluates an instant query through Prometheus' HTTP API.
func promQuery(base, q string) ([]promSample, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string       `json:"resultType"`
			Result     []promSample `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("query %q: %s: %v", q, resp.Status, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %q: %s: %s", q, resp.Status, body.Error)
	}
	return body.Data.Result, nil
}

// promEventually polls query q until ok accepts its result.
func promEventually(t testing.TB, base, q string, ok func([]promSample) bool) []promSample {
	t.Helper()
	deadline := time.Now().Add(topoPromTimeout)
	for {
		res, err := promQuery(base, q)
		if err == nil && ok(res) {
			return res
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus %q: condition not met within %v (last: %v, err %v)", q, topoPromTimeout, mustJSON(res), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// byInstance indexes samples by their instance label.
func byInstance(res []promSample) map[string]float64 {
	m := map[string]float64{}
	for _, s := range res {
		m[s.Metric["instance"]] = s.value()
	}
	return m
}

// ---- tests ----

// TestTopologyCluster: official clients on each transport land on
// different nodes through nginx and talk across them; Prometheus scrapes
// all three nodes and evaluates every dashboard query; the chat page works
// in real Chromium through nginx.
func TestTopologyCluster(t *testing.T) {
	tp := startTopology(t, topoOptions{prometheus: true})
	d := startTopoDriver(t)
	tp.probe(d, 1)
	ids := []string{tp.nodes[0].ID, tp.nodes[1].ID, tp.nodes[2].ID}

	t.Run("clients_across_nodes", func(t *testing.T) {
		const room = "lobby"
		specs := []topoSpec{
			{name: "poll", addr: tp.addrFor(ids[0], 0), transports: []string{"polling"}, rooms: []string{room}},
			{name: "ws", addr: tp.addrFor(ids[1], 0), transports: []string{"websocket"}, rooms: []string{room}},
			{name: "up", addr: tp.addrFor(ids[2], 0), upgrade: true, rooms: []string{room}},
		}
		got := map[string]topoClient{}
		for i, s := range specs {
			c := d.open(t, tp, s)
			if c.Node != ids[i] {
				t.Fatalf("client %s from %s landed on %s, want %s", s.name, s.addr, c.Node, ids[i])
			}
			got[s.name] = c
		}
		if got["poll"].Transport != "polling" || got["ws"].Transport != "websocket" {
			t.Errorf("transports: poll=%s ws=%s", got["poll"].Transport, got["ws"].Transport)
		}
		var up topoClient
		d.call(t, map[string]any{"cmd": "waitUpgrade", "name": "up"}, &up)
		if !up.Upgraded || up.Node != ids[2] {
			t.Errorf("upgrading client: %+v, want upgraded on %s", up, ids[2])
		}
		// Every client sends one room message; everyone receives all three
		// through Redis, with the sender's socket id.
		for _, s := range specs {
			d.roomMessage(t, s.name, room, "hello from "+s.name)
		}
		for _, to := range specs {
			for _, from := range specs {
				d.expectRoomMessage(t, to.name, room, got[from.name].ID, "hello from "+from.name)
			}
		}
		// Acks through nginx on every transport, and the node still the same.
		for i, s := range specs {
			var echo []any
			d.call(t, map[string]any{"cmd": "emit", "name": s.name, "event": "echo", "args": []any{"ping", 7.0}, "ack": true}, &echo)
			if mustJSON(echo) != `["ping",7]` {
				t.Errorf("%s echo ack = %s", s.name, mustJSON(echo))
			}
			var who []map[string]string
			d.call(t, map[string]any{"cmd": "emit", "name": s.name, "event": "whoami", "ack": true}, &who)
			if len(who) != 1 || who[0]["node"] != ids[i] || who[0]["id"] != got[s.name].ID {
				t.Errorf("%s whoami = %v, want node %s id %s (sticky)", s.name, who, ids[i], got[s.name].ID)
			}
		}
		for _, s := range specs {
			if st := d.state(t, s.name); st.Sessions != 1 || len(st.Disconnects) != 0 {
				t.Errorf("%s reconnected during the test: %+v", s.name, st)
			}
		}
		// Prometheus counted the deliveries on the nodes: 3 room messages
		// to 3 clients on 3 different nodes.
		promEventually(t, tp.promURL, `sum(sio_broadcast_deliveries_total)`, func(r []promSample) bool {
			return len(r) == 1 && r[0].value() >= 9
		})
	})

	t.Run("nginx_edge", func(t *testing.T) {
		client := &http.Client{Timeout: 5 * time.Second}
		resp, err := client.Get(tp.nginxURL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET /metrics through nginx: %s, want 403 (metrics stay internal)", resp.Status)
		}
		// The nodes' health endpoints stay internal too: a 503 from
		// /readyz (Redis down) must not reach nginx's retry logic.
		for _, path := range []string{"/readyz", "/healthz"} {
			resp, err := client.Get(tp.nginxURL + path)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("GET %s through nginx: %s, want 403 (probed on each node directly)", path, resp.Status)
			}
		}
		resp, err = client.Get(tp.nginxURL + "/")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `src="/vendor/socket.io.min.js"`) {
			t.Errorf("chat page through nginx: %s, local bundle referenced: %v", resp.Status, strings.Contains(string(page), "/vendor/socket.io.min.js"))
		}
	})

	t.Run("prometheus_scrapes_all_nodes", func(t *testing.T) {
		want := tp.upstreams()
		up := promEventually(t, tp.promURL, `up{job="sio"}`, func(r []promSample) bool {
			m := byInstance(r)
			for _, a := range want {
				if m[a] != 1 {
					return false
				}
			}
			return true
		})
		if len(up) != 3 {
			t.Errorf("up{job=sio} has %d series, want 3: %s", len(up), mustJSON(up))
		}
		// Every node had sockets (the probes reached all three), so
		// sio_sockets has a series from each.
		res := promEventually(t, tp.promURL, `sum by (instance) (sio_sockets)`, func(r []promSample) bool {
			return len(byInstance(r)) == 3
		})
		m := byInstance(res)
		for _, a := range want {
			if _, ok := m[a]; !ok {
				t.Errorf("sio_sockets has no series from node %s: %v", a, m)
			}
		}
		promEventually(t, tp.promURL, `sum by (instance) (sio_redis_publishes_total)`, func(r []promSample) bool {
			return len(r) == 3
		})
	})

	t.Run("dashboard_queries", func(t *testing.T) {
		exprs := dashboardExprs(loadDashboard(t))
		for _, k := range keysOf(exprs) {
			if _, err := promQuery(tp.promURL, concreteExpr(exprs[k])); err != nil {
				t.Errorf("dashboard panel %s: %v", k, err)
			}
		}
		// Panels fed by the traffic above have data.
		for _, q := range []string{
			`sum by (transport) (sio_engine_sessions{instance=~".*"})`,
			`sum by (instance, namespace) (sio_sockets{instance=~".*"})`,
			`sum(sio_rooms{instance=~".*"})`,
		} {
			promEventually(t, tp.promURL, q, func(r []promSample) bool { return len(r) > 0 })
		}
	})

	t.Run("browser_chat", func(t *testing.T) {
		runBrowserChat(t, tp)
	})
}

// runBrowserChat drives topology/chat_browser.js: two Chromium pages
// through nginx join one room and exchange messages.
func runBrowserChat(t *testing.T, tp *topology) {
	chromium := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			chromium = p
			break
		}
	}
	if chromium == "" {
		skipOrFail(t, "chromium not found; apt-get install chromium to run the browser test")
	}
	if _, err := os.Stat(filepath.Join(testDir(t), "node_modules", "playwright-core", "package.json")); err != nil {
		skipOrFail(t, "playwright-core not installed in integration_test/node_modules: %v", err)
	}
	art := filepath.Join(testDir(t), "artifacts")
	if err := os.MkdirAll(art, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(art, "chat.png")
	_ = os.Remove(shot)
	input, _ := json.Marshal(map[string]any{"url": tp.nginxURL + "/", "room": "browsers", "screenshot": shot,
		"executablePath": chromium, "timeoutMs": 20000})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, requireTool(t, "node"), filepath.Join(testDir(t), "topology", "chat_browser.js"))
	cmd.Dir = testDir(t)
	cmd.Env = childEnv(nil)
	cmd.Stdin = strings.NewReader(string(input))
	var stderr tailBuffer
	stderr.max = maxLogBytes
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var res struct {
		OK           bool       `json:"ok"`
		Error        string     `json:"error"`
		Status       []string   `json:"status"`
		Items        [][]string `json:"items"`
		Transports   []string   `json:"transports"`
		BundleLoaded bool       `json:"bundleLoaded"`
		PageErrors   []string   `json:"pageErrors"`
	}
	if jerr := json.Unmarshal(out, &res); jerr != nil {
		t.Fatalf("chat_browser.js: %v (decode: %v)\nstdout: %s\nstderr: %s", err, jerr, out, stderr.String())
	}
	if !res.OK {
		t.Fatalf("chat in Chromium failed: %s\n%s\nstderr: %s", res.Error, mustJSON(res), stderr.String())
	}
	if mustJSON(res.Transports) != `["websocket","websocket"]` {
		t.Errorf("page transports %v, want both upgraded to websocket through nginx", res.Transports)
	}
	if !res.BundleLoaded {
		t.Error("the page did not load /vendor/socket.io.min.js from the node")
	}
	if len(res.PageErrors) > 0 {
		t.Errorf("page errors: %v", res.PageErrors)
	}
	ids := map[string]bool{}
	for _, n := range tp.nodes {
		ids[n.ID] = true
	}
	for i, s := range res.Status {
		id, _, _ := strings.Cut(strings.TrimPrefix(s, "connected to "), " ")
		if !ids[id] {
			t.Errorf("page %d status %q does not name a cluster node", i, s)
		}
		items := strings.Join(res.Items[i], "\n")
		for _, want := range []string{"joined browsers", "#browsershello from page A", "#browsershi A, page B here"} {
			if !strings.Contains(items, want) {
				t.Errorf("page %d messages lack %q:\n%s", i, want, items)
			}
		}
	}
	st, err := os.Stat(shot)
	if err != nil || st.Size() < 2000 {
		t.Errorf("screenshot %s: %v (size %d)", shot, err, sizeOf(st))
	}
	t.Logf("chat screenshot: %s; page status: %v", shot, res.Status)
}

func sizeOf(st os.FileInfo) int64 {
	if st == nil {
		return 0
	}
	return st.Size()
}

// failoverClients opens, through nginx, two clients sticky to victim (one
// polling-only, one websocket-only) and one on each other node, all in
// room, and returns the first sessions by name.
func failoverClients(t *testing.T, tp *topology, d *topoDriver, victim string, room string) map[string]topoClient {
	t.Helper()
	var others []string
	for _, n := range tp.nodes {
		if n.ID != victim {
			others = append(others, n.ID)
		}
	}
	specs := []topoSpec{
		{name: "v-poll", addr: tp.addrFor(victim, 0), transports: []string{"polling"}, rooms: []string{room}},
		{name: "v-ws", addr: tp.addrFor(victim, 1), transports: []string{"websocket"}, rooms: []string{room}},
		{name: "b", addr: tp.addrFor(others[0], 0), upgrade: true, rooms: []string{room}},
		{name: "c", addr: tp.addrFor(others[1], 0), upgrade: true, rooms: []string{room}},
	}
	want := map[string]string{"v-poll": victim, "v-ws": victim, "b": others[0], "c": others[1]}
	out := map[string]topoClient{}
	for _, s := range specs {
		c := d.open(t, tp, s)
		if c.Node != want[s.name] {
			t.Fatalf("client %s from %s landed on %s, want %s", s.name, s.addr, c.Node, want[s.name])
		}
		out[s.name] = c
	}
	return out
}

// assertFailover checks that the victim's clients came back on other
// nodes, that b and c never noticed, and that the next room message reaches
// every client.
func assertFailover(t *testing.T, d *topoDriver, victim, room string) map[string]topoClient {
	t.Helper()
	after := map[string]topoClient{}
	for _, name := range []string{"v-poll", "v-ws"} {
		var c topoClient
		d.call(t, map[string]any{"cmd": "waitSession", "name": name, "after": 1, "timeoutMs": topoFailover.Milliseconds()}, &c)
		if c.Node == victim || c.Node == "" {
			t.Errorf("%s reconnected to %q, want another node than %s", name, c.Node, victim)
		}
		if len(c.Disconnects) == 0 {
			t.Errorf("%s saw no disconnect: %+v", name, c)
		}
		after[name] = c
	}
	for _, name := range []string{"b", "c"} {
		c := d.state(t, name)
		if c.Sessions != 1 || len(c.Disconnects) != 0 || !c.Connected {
			t.Errorf("%s was disturbed by the failure of %s: %+v", name, victim, c)
		}
		after[name] = c
	}
	for _, from := range []string{"b", "v-ws"} {
		msg := "after failover from " + from
		d.roomMessage(t, from, room, msg)
		for _, to := range []string{"v-poll", "v-ws", "b", "c"} {
			d.expectRoomMessage(t, to, room, after[from].ID, msg)
		}
	}
	return after
}

// TestTopologyNodeKilled: a node dies (SIGKILL); its clients reconnect
// through nginx to the others and get the next room message, the other
// clients are untouched, and Prometheus reports the node's target down.
func TestTopologyNodeKilled(t *testing.T) {
	tp := startTopology(t, topoOptions{prometheus: true})
	d := startTopoDriver(t)
	tp.probe(d, 2)
	victim := tp.nodes[0]
	const room = "survivors"
	failoverClients(t, tp, d, victim.ID, room)
	// Prometheus sees the victim up before it dies.
	promEventually(t, tp.promURL, `up{job="sio",instance="`+victim.Addr+`"}`, func(r []promSample) bool {
		return len(r) == 1 && r[0].value() == 1
	})

	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-victim.done:
	case <-time.After(stopTimeout):
		t.Fatal("killed node did not exit")
	}
	assertFailover(t, d, victim.ID, room)

	promEventually(t, tp.promURL, `up{job="sio",instance="`+victim.Addr+`"}`, func(r []promSample) bool {
		return len(r) == 1 && r[0].value() == 0
	})
	// The targets API agrees, and the other two are still healthy.
	resp, err := http.Get(tp.promURL + "/api/v1/targets?state=active")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var targets struct {
		Data struct {
			ActiveTargets []struct {
				Labels    map[string]string `json:"labels"`
				Health    string            `json:"health"`
				LastError string            `json:"lastError"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&targets); err != nil {
		t.Fatal(err)
	}
	health := map[string]string{}
	for _, tg := range targets.Data.ActiveTargets {
		health[tg.Labels["instance"]] = tg.Health
	}
	for _, n := range tp.nodes {
		want := "up"
		if n == victim {
			want = "down"
		}
		if health[n.Addr] != want {
			t.Errorf("target %s (%s) health %q, want %q (all: %v)", n.Addr, n.ID, health[n.Addr], want, health)
		}
	}
}

// TestTopologyNodeDrained: SIGTERM drains a node: it disconnects its
// sockets with reason "server shutting down", exits cleanly within the
// drain timeout, its clients reconnect through nginx to the others, and
// nothing else breaks.
func TestTopologyNodeDrained(t *testing.T) {
	tp := startTopology(t, topoOptions{nodeEnv: func(i int) map[string]string {
		if i == 0 {
			// The engine logs each closed session and its reason at debug.
			return map[string]string{"SIO_LOG_LEVEL": "debug"}
		}
		return nil
	}})
	d := startTopoDriver(t)
	tp.probe(d, 2)
	victim := tp.nodes[0]
	const room = "drain"
	failoverClients(t, tp, d, victim.ID, room)

	start := time.Now()
	if err := victim.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-victim.done:
	case <-time.After(topoDrainTimeout + 3*time.Second):
		t.Fatalf("drained node still running %v after SIGTERM (drain timeout %v)", time.Since(start), topoDrainTimeout)
	}
	took := time.Since(start)
	if victim.err != nil {
		t.Errorf("drained node exited with %v, want status 0", victim.err)
	}
	if took > topoDrainTimeout+time.Second {
		t.Errorf("drain took %v, want within the drain timeout %v", took, topoDrainTimeout)
	}
	logs := victim.logs.String()
	if n := strings.Count(logs, `reason="server shutting down"`); n < 2 {
		t.Errorf("drained node closed %d sessions with reason \"server shutting down\", want >= 2 (its two clients)\n%s", n, tail([]byte(logs), 4000))
	}
	for _, want := range []string{"draining", "stopped"} {
		if !strings.Contains(logs, "msg="+want) {
			t.Errorf("drained node did not log %q", want)
		}
	}
	after := assertFailover(t, d, victim.ID, room)
	reasons := append(append([]string(nil), after["v-poll"].Disconnects...), after["v-ws"].Disconnects...)
	sort.Strings(reasons)
	for _, r := range reasons {
		if r != "transport close" && r != "transport error" {
			t.Errorf("client disconnect reason %q: a drain closes the transport (client reasons %v)", r, reasons)
		}
	}
	// The survivors still serve new clients through nginx.
	fresh := d.open(t, tp, topoSpec{name: "fresh", addr: tp.addrFor(victim.ID, 0), rooms: []string{room}})
	if fresh.Node == victim.ID {
		t.Errorf("a new client reached the drained node %s", victim.ID)
	}
	d.roomMessage(t, "c", room, "welcome")
	d.expectRoomMessage(t, "fresh", room, after["c"].ID, "welcome")
}

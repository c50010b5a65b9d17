package integration_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Timeouts of the harness. Each scenario step has its own (≤ stepTimeout).
const (
	stepTimeout      = 10 * time.Second
	nodeStartTimeout = 15 * time.Second
	clientRunTimeout = 60 * time.Second
	stopTimeout      = 5 * time.Second
	maxLogBytes      = 256 << 10
)

// Node settings used for every node the tests start: short pings so that
// heartbeats are exercised during the scenarios, lenient timeouts so a busy
// machine does not flake.
var nodeDefaults = map[string]string{
	"SIO_PING_INTERVAL":   "1s",
	"SIO_PING_TIMEOUT":    "5s",
	"SIO_DRAIN_TIMEOUT":   "3s",
	"SIO_ALLOWED_ORIGINS": "*",
	// The Go node offers the cluster test events (see js/refserver.js)
	// only in its test mode; refserver.js ignores the variable.
	"SIO_TEST_HOOKS": "1",
}

var (
	binDir string // temp dir for the sioserver binary, removed by TestMain

	buildOnce     sync.Once
	buildPath     string
	buildErr      error
	buildReported sync.Once // the full build error is printed by one test only

	npmOnce sync.Once
	npmErr  error // errToolMissing-wrapped when npm is absent or offline
)

var errToolMissing = errors.New("tool missing")

// TestMain owns the temporary build directory of the package and fails the
// run when a goroutine outlives the tests.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sio-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration_test:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	// Every goroutine a test started (log readers, clients, in-process
	// nodes) must be gone once the tests are.
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "integration_test: leaked goroutines:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// requireAll reports whether SIO_REQUIRE_ALL=1 turns skips into failures.
func requireAll() bool { return os.Getenv("SIO_REQUIRE_ALL") == "1" }

// skipOrFail skips the test with msg, or fails it when SIO_REQUIRE_ALL=1.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if requireAll() {
		t.Fatalf("%s (SIO_REQUIRE_ALL=1)", msg)
	}
	t.Skip(msg)
}

var toolHints = map[string]string{
	"node": "install Node.js 20",
	"npm":  "install npm (ships with Node.js 20)",
	"go":   "install Go",
}

// requireTool skips (or fails under SIO_REQUIRE_ALL=1) when the executable
// name is not on PATH, and returns its path. For node it also requires
// Node.js 18 or newer.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		hint := toolHints[name]
		if hint == "" {
			hint = "install " + name
		}
		skipOrFail(t, "%s not found; %s to run the cross-language tests", name, hint)
	}
	if name == "node" {
		out, err := exec.Command(p, "--version").Output()
		if err != nil {
			skipOrFail(t, "node --version failed: %v", err)
		}
		v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
		major, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
		if major < 18 {
			skipOrFail(t, "node %s is too old; install Node.js 20 to run the cross-language tests", v)
		}
	}
	return p
}

// testDir returns the absolute path of integration_test/.
func testDir(t testing.TB) string {
	t.Helper()
	d, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// npmInstall makes sure integration_test/node_modules matches
// package-lock.json, running `npm ci` at most once per test process. It
// skips (or fails under SIO_REQUIRE_ALL=1) when npm is absent or the
// install fails (e.g. offline).
func npmInstall(t testing.TB) {
	t.Helper()
	requireTool(t, "node")
	dir := testDir(t)
	npmOnce.Do(func() {
		if !nodeModulesStale(dir) {
			return
		}
		npm, err := exec.LookPath("npm")
		if err != nil {
			npmErr = fmt.Errorf("%w: npm not found; install npm (ships with Node.js 20) to run the cross-language tests", errToolMissing)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			npmErr = fmt.Errorf("%w: npm ci in %s failed (offline?): %v\n%s", errToolMissing, dir, err, tail(out, 4000))
		}
	})
	if npmErr != nil {
		skipOrFail(t, "%v", npmErr)
	}
}

// nodeModulesStale reports whether npm ci is needed: node_modules is missing
// or older than package.json / package-lock.json.
func nodeModulesStale(dir string) bool {
	installed, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if err != nil {
		return true
	}
	for _, f := range []string{"package.json", "package-lock.json"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.ModTime().After(installed.ModTime()) {
			return true
		}
	}
	return false
}

// buildSioserver builds ./cmd/sioserver once per test process and returns the
// binary path. A build failure fails the test.
func buildSioserver(t testing.TB) string {
	t.Helper()
	goBin := requireTool(t, "go")
	buildOnce.Do(func() {
		out := filepath.Join(binDir, "sioserver")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, "./cmd/sioserver")
		cmd.Dir = filepath.Dir(testDir(t))
		if b, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/sioserver: %v\n%s", err, tail(b, 8000))
			return
		}
		buildPath = out
	})
	if buildErr != nil {
		full := false
		buildReported.Do(func() { full = true })
		if full {
			t.Fatalf("%v", buildErr)
		}
		t.Fatalf("go build ./cmd/sioserver failed (output in the first failing test)")
	}
	return buildPath
}

// ---- processes ----

// tailBuffer is a goroutine-safe writer keeping the last max bytes.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// proc is a child process whose combined output is captured.
type proc struct {
	name string
	cmd  *exec.Cmd
	logs *tailBuffer
	done chan struct{} // closed when the process has exited
	err  error         // exit error, valid after done
}

// startProc starts cmd, captures its output and registers a cleanup that
// stops it (SIGTERM, then SIGKILL) and prints its output when t failed.
func startProc(t testing.TB, name string, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{name: name, cmd: cmd, logs: &tailBuffer{max: maxLogBytes}, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.logs
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.logs
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("---- output of %s (exit: %v) ----\n%s\n---- end of %s ----", name, p.err, p.logs.String(), name)
		}
	})
	return p
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to stopTimeout, then kills. It returns the
// exit error and is safe to call more than once.
func (p *proc) stop() error {
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	return p.err
}

// childEnv returns the environment for a child: the test's environment
// without SIO_* variables (so a developer's settings never leak into a
// node), plus extra.
func childEnv(extra map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SIO_") {
			env = append(env, kv)
		}
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+extra[k])
	}
	return env
}

// freeAddr returns a free 127.0.0.1 address.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// serverNode is a running chat node (Go or Node.js).
type serverNode struct {
	*proc
	Kind string // "go" or "ref"
	ID   string // SIO_NODE_ID, as reported by whoami
	Addr string // host:port
	URL  string // http://host:port
}

var nodeSeq struct {
	sync.Mutex
	n int
}

// startGoNode starts cmd/sioserver with env (SIO_* variables) on a free
// loopback port and waits for /healthz and /readyz.
func startGoNode(t testing.TB, env map[string]string) *serverNode {
	t.Helper()
	bin := buildSioserver(t)
	return startNode(t, "go", env, func() *exec.Cmd { return exec.Command(bin) })
}

// startRefNode starts js/refserver.js with env on a free loopback port and
// waits for /healthz and /readyz.
func startRefNode(t testing.TB, env map[string]string) *serverNode {
	t.Helper()
	node := requireTool(t, "node")
	npmInstall(t)
	script := filepath.Join(testDir(t), "js", "refserver.js")
	return startNode(t, "ref", env, func() *exec.Cmd { return exec.Command(node, script) })
}

// testTarget returns the node kind under test: "go" unless
// SIO_TEST_TARGET=ref.
func testTarget(t testing.TB) string {
	t.Helper()
	switch v := os.Getenv("SIO_TEST_TARGET"); v {
	case "", "go":
		return "go"
	case "ref":
		return "ref"
	default:
		t.Fatalf("SIO_TEST_TARGET=%q: want go or ref", v)
		return ""
	}
}

// startTargetNode starts the node under test (see testTarget).
func startTargetNode(t testing.TB, env map[string]string) *serverNode {
	t.Helper()
	if testTarget(t) == "ref" {
		return startRefNode(t, env)
	}
	return startGoNode(t, env)
}

func startNode(t testing.TB, kind string, env map[string]string, mk func() *exec.Cmd) *serverNode {
	t.Helper()
	vars := map[string]string{}
	for k, v := range nodeDefaults {
		vars[k] = v
	}
	for k, v := range env {
		vars[k] = v
	}
	if vars["SIO_ADDR"] == "" {
		vars["SIO_ADDR"] = freeAddr(t)
	}
	if vars["SIO_NODE_ID"] == "" {
		nodeSeq.Lock()
		nodeSeq.n++
		vars["SIO_NODE_ID"] = fmt.Sprintf("%s-node-%d", kind, nodeSeq.n)
		nodeSeq.Unlock()
	}
	cmd := mk()
	cmd.Env = childEnv(vars)
	cmd.Dir = testDir(t)
	n := &serverNode{Kind: kind, ID: vars["SIO_NODE_ID"], Addr: vars["SIO_ADDR"]}
	n.URL = "http://" + n.Addr
	n.proc = startProc(t, kind+" node "+n.ID, cmd)
	n.waitReady(t)
	return n
}

// waitReady polls /healthz and then /readyz until both answer 200.
func (n *serverNode) waitReady(t testing.TB) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(nodeStartTimeout)
	for _, path := range []string{"/healthz", "/readyz"} {
		for {
			if n.exited() {
				t.Fatalf("%s node %s exited during start-up: %v\n%s", n.Kind, n.ID, n.err, n.logs.String())
			}
			resp, err := client.Get(n.URL + path)
			if err == nil {
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s node %s: %s not 200 after %v (last error: %v)", n.Kind, n.ID, path, nodeStartTimeout, err)
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
}

// ---- Redis ----

// redisURL returns the Redis URL for cluster tests: SIO_REDIS_URL, or
// redis://127.0.0.1:6379 when a server answers PING there. Otherwise the
// test is skipped (failed under SIO_REQUIRE_ALL=1).
func redisURL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("SIO_REDIS_URL"); u != "" {
		pu, err := url.Parse(u)
		if err != nil || pu.Host == "" {
			t.Fatalf("SIO_REDIS_URL=%q is not a redis:// URL", u)
		}
		if err := redisPing(pu.Host); err != nil {
			skipOrFail(t, "redis not reachable at SIO_REDIS_URL=%s: %v", u, err)
		}
		return u
	}
	const addr = "127.0.0.1:6379"
	if err := redisPing(addr); err != nil {
		skipOrFail(t, "redis not reachable at %s (%v); start redis-server or set SIO_REDIS_URL to run the cluster tests", addr, err)
	}
	return "redis://" + addr
}

// redisPing sends an inline PING and expects a reply (+PONG, or -NOAUTH when
// the URL carries credentials; either proves a Redis is there).
func redisPing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") && !strings.HasPrefix(line, "-NOAUTH") {
		return fmt.Errorf("unexpected PING reply %q", strings.TrimSpace(line))
	}
	return nil
}

var prefixUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// uniquePrefix returns a Redis key prefix no other test (or run) uses.
func uniquePrefix(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := prefixUnsafe.ReplaceAllString(t.Name(), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	return "siotest-" + name + "-" + hex.EncodeToString(b[:])
}

// clusterEnv returns the node env for a Redis cluster on prefix.
func clusterEnv(redis, prefix, nodeID string) map[string]string {
	return map[string]string{"SIO_REDIS_URL": redis, "SIO_REDIS_PREFIX": prefix, "SIO_NODE_ID": nodeID}
}

// ---- JS clients ----

// scenario is the input of js/client.js (see its header for the semantics).
type scenario struct {
	URL       string       `json:"url,omitempty"`
	TimeoutMs int          `json:"timeoutMs,omitempty"`
	Clients   []clientSpec `json:"clients"`
	Steps     []step       `json:"steps"`
}

// clientSpec describes one socket.io-client socket.
type clientSpec struct {
	Name       string         `json:"name"`
	URL        string         `json:"url,omitempty"`
	Namespace  string         `json:"namespace,omitempty"`
	Transports []string       `json:"transports,omitempty"`
	Upgrade    *bool          `json:"upgrade,omitempty"`
	Auth       map[string]any `json:"auth,omitempty"`
	Acks       map[string]any `json:"acks,omitempty"`
	Lazy       bool           `json:"lazy,omitempty"`
}

// step is one scenario step; exactly one action field is set.
type step struct {
	Client      string `json:"client,omitempty"`
	Emit        string `json:"emit,omitempty"`
	Args        []any  `json:"args,omitempty"`
	Ack         bool   `json:"ack,omitempty"`
	Save        string `json:"save,omitempty"`
	Until       any    `json:"until,omitempty"`
	Wait        string `json:"wait,omitempty"`
	Count       int    `json:"count,omitempty"`
	Match       any    `json:"match,omitempty"`
	WaitUpgrade bool   `json:"waitUpgrade,omitempty"`
	WaitDisc    bool   `json:"waitDisconnect,omitempty"`
	QuietMs     int    `json:"quietMs,omitempty"`
	Mark        string `json:"mark,omitempty"`
	Connect     string `json:"connect,omitempty"`
	Disconnect  string `json:"disconnect,omitempty"`
	TimeoutMs   int    `json:"timeoutMs,omitempty"`
}

// Step constructors keep scenarios short and readable.

func emitStep(client, event string, args ...any) step {
	return step{Client: client, Emit: event, Args: args}
}

func ackStep(save, client, event string, args ...any) step {
	return step{Client: client, Emit: event, Args: args, Ack: true, Save: save}
}

func waitStep(client, event string, count int, match any) step {
	return step{Client: client, Wait: event, Count: count, Match: match}
}

// bin encodes b for scenario args and for comparing received binary values.
func bin(b []byte) map[string]any {
	return map[string]any{"$bin": base64.StdEncoding.EncodeToString(b)}
}

// idOf is the placeholder for client name's socket id in scenario values.
func idOf(name string) string { return "$id:" + name }

// clientState is what js/client.js reports for one client.
type clientState struct {
	ID           string `json:"id"`
	Connected    bool   `json:"connected"`
	ConnectError *struct {
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	} `json:"connectError"`
	TransportAtOpen  string        `json:"transportAtOpen"`
	Transport        string        `json:"transport"`
	Upgraded         bool          `json:"upgraded"`
	Pings            int           `json:"pings"`
	DisconnectReason string        `json:"disconnectReason"`
	Events           []eventRecord `json:"events"`
}

// eventRecord is one event received by a client.
type eventRecord struct {
	Event string            `json:"event"`
	Args  []json.RawMessage `json:"args"`
}

// String formats e as event name plus JSON args, for failure messages.
func (e eventRecord) String() string {
	return e.Event + mustJSON(e.Args)
}

// named returns the received events called event, in arrival order.
func (c *clientState) named(event string) []eventRecord {
	var out []eventRecord
	for _, e := range c.Events {
		if e.Event == event {
			out = append(out, e)
		}
	}
	return out
}

// runResult is the final output of js/client.js.
type runResult struct {
	OK         bool                         `json:"ok"`
	Error      string                       `json:"error"`
	FailedStep int                          `json:"failedStep"`
	Clients    map[string]*clientState      `json:"clients"`
	Results    map[string][]json.RawMessage `json:"results"`
}

// client returns the state of client name or fails the test.
func (r *runResult) client(t testing.TB, name string) *clientState {
	t.Helper()
	c, ok := r.Clients[name]
	if !ok {
		t.Fatalf("no client %q in result", name)
	}
	return c
}

// ack returns the ack arguments saved under key, or fails the test.
func (r *runResult) ack(t testing.TB, key string) []json.RawMessage {
	t.Helper()
	a, ok := r.Results[key]
	if !ok {
		t.Fatalf("no ack saved as %q (have %v)", key, keysOf(r.Results))
	}
	return a
}

// ack0 returns the first ack argument saved under key.
func (r *runResult) ack0(t testing.TB, key string) json.RawMessage {
	t.Helper()
	a := r.ack(t, key)
	if len(a) == 0 {
		t.Fatalf("ack %q has no arguments", key)
	}
	return a[0]
}

// clientRun is a running js/client.js process.
type clientRun struct {
	t      testing.TB
	cmd    *exec.Cmd
	stderr *tailBuffer
	cancel context.CancelFunc
	marks  chan string
	done   chan struct{}
	result *runResult
	raw    []string // non-JSON stdout lines, for diagnostics
}

// startClient starts js/client.js on sc. Use waitMark to synchronise with
// {"mark"} steps and wait for the result.
func startClient(t testing.TB, sc scenario) *clientRun {
	t.Helper()
	node := requireTool(t, "node")
	npmInstall(t)
	input, err := json.Marshal(sc)
	if err != nil {
		t.Fatalf("marshal scenario: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clientRunTimeout)
	cmd := exec.CommandContext(ctx, node, filepath.Join(testDir(t), "js", "client.js"))
	cmd.Dir = testDir(t)
	cmd.Env = childEnv(nil)
	cmd.Stdin = bytes.NewReader(input)
	cr := &clientRun{t: t, cmd: cmd, stderr: &tailBuffer{max: maxLogBytes}, cancel: cancel,
		marks: make(chan string, 64), done: make(chan struct{})}
	cmd.Stderr = cr.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start js/client.js: %v", err)
	}
	go func() {
		defer close(cr.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			line := sc.Text()
			var head struct {
				Type string `json:"type"`
				Name string `json:"name"`
			}
			if json.Unmarshal([]byte(line), &head) != nil {
				if len(cr.raw) < 100 {
					cr.raw = append(cr.raw, line)
				}
				continue
			}
			switch head.Type {
			case "mark":
				select {
				case cr.marks <- head.Name:
				default:
				}
			case "result":
				var r runResult
				if err := json.Unmarshal([]byte(line), &r); err == nil {
					cr.result = &r
				} else {
					cr.raw = append(cr.raw, "bad result: "+err.Error())
				}
			}
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		cancel()
		<-cr.done
	})
	return cr
}

// waitMark waits until the client script reaches the {"mark": name} step.
func (cr *clientRun) waitMark(t testing.TB, name string) {
	t.Helper()
	timer := time.NewTimer(clientRunTimeout)
	defer timer.Stop()
	for {
		select {
		case m := <-cr.marks:
			if m == name {
				return
			}
		case <-cr.done:
			r := cr.wait(t)
			t.Fatalf("client script ended before mark %q (ok=%v, error=%s)", name, r.OK, r.Error)
		case <-timer.C:
			t.Fatalf("timeout waiting for mark %q", name)
		}
	}
}

// wait waits for the script to end and returns its result; a failed
// scenario fails the test with the script's error, its output and the
// events each client received.
func (cr *clientRun) wait(t testing.TB) *runResult {
	t.Helper()
	<-cr.done
	cr.cancel()
	if cr.result == nil {
		t.Fatalf("js/client.js printed no result (exit: %v)\nstdout: %s\nstderr: %s",
			cr.cmd.ProcessState, strings.Join(cr.raw, "\n"), cr.stderr.String())
	}
	if !cr.result.OK {
		var b strings.Builder
		for _, name := range keysOf(cr.result.Clients) {
			c := cr.result.Clients[name]
			fmt.Fprintf(&b, "  client %s: id=%q connected=%v transport=%s connectError=%v events=", name, c.ID, c.Connected, c.Transport, c.ConnectError)
			ev, _ := json.Marshal(c.Events)
			b.Write(tail(ev, 2000))
			b.WriteByte('\n')
		}
		t.Fatalf("client scenario failed at step %d: %s\n%sresults: %s\nstderr: %s",
			cr.result.FailedStep, cr.result.Error, b.String(), mustJSON(cr.result.Results), cr.stderr.String())
	}
	return cr.result
}

// runClient runs scenario sc to completion (see js/client.js) and returns
// the result; a failed scenario fails the test.
func runClient(t testing.TB, sc scenario) *runResult {
	t.Helper()
	return startClient(t, sc).wait(t)
}

// runEmitter runs js/emit.js (@socket.io/redis-emitter) with req.
func runEmitter(t testing.TB, req map[string]any) {
	t.Helper()
	node := requireTool(t, "node")
	npmInstall(t)
	input, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(testDir(t), "js", "emit.js"))
	cmd.Dir = testDir(t)
	cmd.Env = childEnv(nil)
	cmd.Stdin = bytes.NewReader(input)
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte(`{"ok":true}`)) {
		t.Fatalf("js/emit.js %s: %v\n%s", input, err, out)
	}
}

// ---- JSON assertions ----

// normJSON decodes JSON into generic values for comparison.
func normJSON(t testing.TB, raw []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("invalid JSON %s: %v", raw, err)
	}
	return v
}

// assertJSON fails unless got is JSON-equal to want (any JSON-marshalable
// value, or a json.RawMessage).
func assertJSON(t testing.TB, what string, got json.RawMessage, want any) {
	t.Helper()
	wb, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normJSON(t, got), normJSON(t, wb)) {
		t.Errorf("%s:\n got  %s\n want %s", what, got, wb)
	}
}

// decodeJSON unmarshals raw into T or fails the test.
func decodeJSON[T any](t testing.TB, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s into %T: %v", raw, v, err)
	}
	return v
}

// roomMessage is the payload of the "room message" event.
type roomMessage struct {
	Room string          `json:"room"`
	From string          `json:"from"`
	Msg  json.RawMessage `json:"msg"`
}

// fetchedSocket is one entry of the fetch-sockets helper's result.
type fetchedSocket struct {
	ID    string          `json:"id"`
	Rooms []string        `json:"rooms"`
	Data  json.RawMessage `json:"data"`
}

// fetchResult is the ack of the fetch-sockets helper.
type fetchResult struct {
	OK      bool            `json:"ok"`
	Error   string          `json:"error"`
	Sockets []fetchedSocket `json:"sockets"`
}

// byID indexes fetched sockets by id.
func (f fetchResult) byID() map[string]fetchedSocket {
	m := make(map[string]fetchedSocket, len(f.Sockets))
	for _, s := range f.Sockets {
		m[s.ID] = s
	}
	return m
}

// responsesResult is the ack of the room-ack and server-side-emit helpers.
type responsesResult struct {
	OK        bool              `json:"ok"`
	Error     string            `json:"error"`
	Responses []json.RawMessage `json:"responses"`
}

// sortedStrings decodes each raw value as a string and sorts them.
func sortedStrings(t testing.TB, raws []json.RawMessage) []string {
	t.Helper()
	out := make([]string, 0, len(raws))
	for _, r := range raws {
		out = append(out, decodeJSON[string](t, r))
	}
	sort.Strings(out)
	return out
}

// sorted returns a sorted copy of s.
func sorted(s ...string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func keysOf[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return string(b)
}

func tail(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return append([]byte("…"), b[len(b)-n:]...)
}

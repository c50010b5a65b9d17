package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// runResult is a parsed siobench JSON line.
type runResult struct {
	Scenario string         `json:"scenario"`
	Label    string         `json:"label"`
	Params   map[string]any `json:"params"`
	Metrics  map[string]any `json:"metrics"`
	Error    string         `json:"error"`
}

func (r *runResult) num(t testing.TB, key string) float64 {
	t.Helper()
	v, ok := r.Metrics[key].(float64)
	if !ok {
		t.Fatalf("metric %q = %#v, want a number (metrics %v)", key, r.Metrics[key], r.Metrics)
	}
	return v
}

func (r *runResult) lat(t testing.TB, key string) map[string]any {
	t.Helper()
	v, ok := r.Metrics[key].(map[string]any)
	if !ok {
		t.Fatalf("metric %q = %#v, want a latency object", key, r.Metrics[key])
	}
	return v
}

// runBench runs siobench in-process with args (plus -progress 0 unless
// given) and returns its JSON line, its error and its stderr.
func runBench(t testing.TB, args ...string) (*runResult, error, string) {
	t.Helper()
	var stderr, stdout bytes.Buffer
	if !strings.Contains(strings.Join(args, " "), "-progress") {
		args = append(args, "-progress", "0")
	}
	cfg, err := parseConfig(args, &stderr)
	if err != nil {
		t.Fatalf("parseConfig(%q): %v", args, err)
	}
	runErr := run(context.Background(), cfg, &stdout, &stderr)
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want exactly one JSON line on stdout, got %q (stderr %s)", stdout.String(), stderr.String())
	}
	var res runResult
	if err := json.Unmarshal([]byte(lines[0]), &res); err != nil {
		t.Fatalf("stdout is not JSON: %v: %q", err, lines[0])
	}
	if (runErr == nil) != (res.Error == "") {
		t.Fatalf("run error %v but JSON error %q", runErr, res.Error)
	}
	return &res, runErr, stderr.String()
}

func TestFanoutAcrossNodes(t *testing.T) {
	fc := newFakeCluster()
	a, b := fc.start(t, nil), fc.start(t, nil)
	res, err, stderr := runBench(t, "-scenario", "fanout", "-urls", a.url()+","+b.url(),
		"-clients", "10", "-messages", "50", "-window", "8", "-label", "fake", "-metrics-path", "")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	if res.Scenario != "fanout" || res.Label != "fake" || res.Params["messages"] != 50.0 {
		t.Fatalf("header: %+v", res)
	}
	for key, want := range map[string]float64{
		"sent": 50, "acked": 50, "expected": 500, "received": 500, "lost": 0, "out_of_order": 0,
		"connected": 10, "receivers": 10, "disconnects": 0, "bad_frames": 0,
	} {
		if got := res.num(t, key); got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
	if res.Metrics["complete"] != true {
		t.Errorf("complete = %v", res.Metrics["complete"])
	}
	if got := fmt.Sprint(res.Metrics["receivers_per_node"]); got != "[5 5]" {
		t.Errorf("receivers_per_node = %s", got)
	}
	same, cross := res.lat(t, "latency_same_node"), res.lat(t, "latency_cross_node")
	if same["count"] != 250.0 || cross["count"] != 250.0 || res.lat(t, "latency")["count"] != 500.0 {
		t.Errorf("latency counts same=%v cross=%v", same["count"], cross["count"])
	}
	if p50, max := same["p50_ms"].(float64), same["max_ms"].(float64); p50 <= 0 || p50 > max {
		t.Errorf("same-node p50 %v max %v", p50, max)
	}
	if res.num(t, "delivered_per_s") <= 0 {
		t.Error("no delivery rate")
	}
	if _, ok := res.Metrics["gen_cpu_pct"].(float64); !ok {
		t.Error("no generator CPU")
	}
	if !strings.Contains(stderr, "== siobench fanout") || !strings.Contains(stderr, "latency_cross_node") {
		t.Errorf("no human summary on stderr:\n%s", stderr)
	}
}

func TestFanoutCountsLostDeliveries(t *testing.T) {
	fc := newFakeCluster()
	n := fc.start(t, func(n *fakeNode) { n.dropEvery = 7 })
	res, err, stderr := runBench(t, "-scenario", "fanout", "-urls", n.url(),
		"-clients", "5", "-messages", "20", "-grace", "150ms", "-metrics-path", "")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	dropped := n.deliveries.Load() / 7
	if got := res.num(t, "lost"); got != float64(dropped) || dropped == 0 {
		t.Fatalf("lost = %v, want %d", got, dropped)
	}
	if res.Metrics["complete"] != false {
		t.Error("a run with losses reported complete")
	}
	if got := res.num(t, "received") + res.num(t, "lost"); got != 100 {
		t.Fatalf("received+lost = %v, want 100", got)
	}
}

func TestRateScenario(t *testing.T) {
	fc := newFakeCluster()
	a, b := fc.start(t, nil), fc.start(t, nil)
	start := time.Now()
	res, err, stderr := runBench(t, "-scenario", "rate", "-urls", a.url()+","+b.url(),
		"-clients", "4", "-rate", "100", "-duration", "300ms", "-metrics-path", "")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	if el := time.Since(start); el < 280*time.Millisecond {
		t.Fatalf("rate run of 300ms took %v", el)
	}
	if got := res.num(t, "sent"); got != 30 {
		t.Fatalf("sent = %v, want 30 (100/s for 300ms)", got)
	}
	if res.num(t, "received") != 120 || res.num(t, "lost") != 0 {
		t.Fatalf("received %v lost %v", res.Metrics["received"], res.Metrics["lost"])
	}
	if bps := res.num(t, "broadcasts_per_s"); bps < 70 || bps > 130 {
		t.Fatalf("broadcasts_per_s = %v, want about 100", bps)
	}
	if _, ok := res.Metrics["late_sends"]; !ok {
		t.Fatal("no late_sends")
	}
}

func TestEchoScenario(t *testing.T) {
	fc := newFakeCluster()
	a, b := fc.start(t, nil), fc.start(t, nil)
	res, err, stderr := runBench(t, "-scenario", "echo", "-urls", a.url()+","+b.url(),
		"-clients", "4", "-duration", "300ms", "-payload", "5", "-metrics-path", "")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	n := res.num(t, "round_trips")
	if n < 4 || res.lat(t, "latency")["count"] != n {
		t.Fatalf("round_trips %v latency %v", n, res.Metrics["latency"])
	}
	if res.num(t, "payload_mismatches") != 0 || res.num(t, "unfinished_clients") != 0 || res.num(t, "bad_frames") != 0 {
		t.Fatalf("metrics %v", res.Metrics)
	}
	if rps := res.num(t, "round_trips_per_s"); rps <= 0 {
		t.Fatalf("round_trips_per_s = %v", rps)
	}
}

func TestIdleScenario(t *testing.T) {
	fc := newFakeCluster()
	n := fc.start(t, func(n *fakeNode) { n.pingInterval = 40 * time.Millisecond })
	// The fake node runs in this process, so -pid is the test's own pid.
	res, err, stderr := runBench(t, "-scenario", "idle", "-urls", n.url(), "-clients", "20",
		"-settle", "0s", "-duration", "300ms", "-pid", fmt.Sprint(os.Getpid()))
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	if res.num(t, "connected") != 20 || res.num(t, "disconnects") != 0 {
		t.Fatalf("metrics %v", res.Metrics)
	}
	if res.num(t, "pings_in_window") < 20 || n.pongs.Load() < 20 {
		t.Fatalf("pings answered %v, pongs seen %d", res.Metrics["pings_in_window"], n.pongs.Load())
	}
	for _, k := range []string{"rss_base_mb", "rss_end_mb", "rss_per_conn_bytes", "rss_per_conn_connected_bytes", "cpu_window_s"} {
		res.num(t, k)
	}
	if cpu := res.Metrics["node_cpu_pct"].([]any); len(cpu) != 1 || cpu[0] == nil {
		t.Fatalf("node_cpu_pct = %v", cpu)
	}

	// Without a pid the node's metrics endpoint is read (the fake one
	// reports a constant 10 MiB).
	res, err, stderr = runBench(t, "-scenario", "idle", "-urls", n.url(), "-clients", "3",
		"-settle", "0s", "-duration", "50ms")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	if res.num(t, "rss_base_mb") != 10 || res.num(t, "rss_per_conn_bytes") != 0 {
		t.Fatalf("metrics %v", res.Metrics)
	}

	// With neither, the run says RSS is unavailable.
	res, err, _ = runBench(t, "-scenario", "idle", "-urls", n.url(), "-clients", "1",
		"-settle", "0s", "-duration", "10ms", "-metrics-path", "")
	if err == nil || !strings.Contains(res.Error, "no RSS reading") || res.Metrics["rss_base_mb"] != nil {
		t.Fatalf("no-RSS run: %v, %+v", err, res)
	}
}

func TestConnectRefused(t *testing.T) {
	n := newFakeCluster().start(t, func(n *fakeNode) { n.rejectWith = "not today" })
	res, err, _ := runBench(t, "-scenario", "echo", "-urls", n.url(), "-clients", "200", "-ramp", "4", "-metrics-path", "")
	if err == nil || !strings.Contains(err.Error(), "connect refused: not today") {
		t.Fatalf("err = %v", err)
	}
	// The ramp gives up after max(10, 200/20) failures instead of trying all 200.
	if got := res.num(t, "connect_errors"); got < 11 || got > 11+4 {
		t.Fatalf("connect_errors = %v", got)
	}
}

func TestUnreachableNode(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	start := time.Now()
	res, err, _ := runBench(t, "-scenario", "fanout", "-urls", "http://"+addr, "-clients", "50", "-metrics-path", "")
	if err == nil || res.num(t, "connected") != 0 || !strings.Contains(res.Metrics["first_error"].(string), "dial") {
		t.Fatalf("err %v metrics %v", err, res.Metrics)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("failing fast took %v", el)
	}
}

func TestGlobalTimeout(t *testing.T) {
	n := newFakeCluster().start(t, nil)
	start := time.Now()
	res, err, _ := runBench(t, "-scenario", "rate", "-urls", n.url(), "-clients", "2",
		"-rate", "10", "-duration", "1m", "-timeout", "400ms", "-metrics-path", "")
	if err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("err = %v", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("-timeout 400ms run took %v", el)
	}
	if s := res.num(t, "sent"); s < 1 || s > 6 {
		t.Fatalf("sent = %v", s)
	}
}

func TestProgressLines(t *testing.T) {
	n := newFakeCluster().start(t, nil)
	_, err, stderr := runBench(t, "-scenario", "echo", "-urls", n.url(), "-clients", "2",
		"-duration", "250ms", "-progress", "50ms", "-metrics-path", "")
	if err != nil {
		t.Fatal(err)
	}
	if c := strings.Count(stderr, "[echo "); c < 2 || !strings.Contains(stderr, "round trips") {
		t.Fatalf("%d progress lines:\n%s", c, stderr)
	}
}

// TestScenariosWithReaderGoroutines runs fanout and echo with a reader
// goroutine per connection, the path TLS connections and platforms
// without pollers take.
func TestScenariosWithReaderGoroutines(t *testing.T) {
	defer func(old bool) { disablePoller = old }(disablePoller)
	disablePoller = true
	fc := newFakeCluster()
	a, b := fc.start(t, nil), fc.start(t, nil)
	res, err, stderr := runBench(t, "-scenario", "fanout", "-urls", a.url()+","+b.url(),
		"-clients", "10", "-messages", "50", "-window", "8", "-metrics-path", "")
	if err != nil {
		t.Fatalf("fanout: %v\n%s", err, stderr)
	}
	if res.num(t, "received") != 500 || res.num(t, "lost") != 0 || res.num(t, "bad_frames") != 0 {
		t.Fatalf("fanout metrics %v", res.Metrics)
	}
	res, err, stderr = runBench(t, "-scenario", "echo", "-urls", a.url()+","+b.url(),
		"-clients", "4", "-duration", "200ms", "-payload", "5", "-metrics-path", "")
	if err != nil {
		t.Fatalf("echo: %v\n%s", err, stderr)
	}
	if res.num(t, "round_trips") < 4 || res.num(t, "payload_mismatches") != 0 {
		t.Fatalf("echo metrics %v", res.Metrics)
	}
}

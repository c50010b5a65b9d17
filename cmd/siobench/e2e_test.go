package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The end-to-end tests run siobench against real chat nodes: the Go node
// (cmd/sioserver, built into a temp dir) and the Node.js reference
// (integration_test/js/refserver.js). A target that cannot be built or
// started is skipped, or fails when SIO_REQUIRE_ALL=1.

func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("SIO_REQUIRE_ALL") == "1" {
		t.Fatalf(format+" (SIO_REQUIRE_ALL=1)", args...)
	}
	t.Skipf(format, args...)
}

// moduleRoot is the repository root (this package is cmd/siobench).
func moduleRoot(t *testing.T) string {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startProcess starts cmd, stops it with the test and waits until
// http://addr/healthz answers.
func startProcess(t *testing.T, cmd *exec.Cmd, addr string) {
	t.Helper()
	var logs tailWriter
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		skipOrFail(t, "start %s: %v", cmd.Path, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("node output:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-exited:
			t.Fatalf("node exited during startup:\n%s", logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("node not healthy after 15s:\n%s", logs.String())
		}
	}
}

// tailWriter keeps the last 16 KiB written to it.
type tailWriter struct {
	mu  sync.Mutex
	buf []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) > 16<<10 {
		w.buf = w.buf[len(w.buf)-16<<10:]
	}
	return len(p), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}

func startGoNode(t *testing.T) (url string, pid int) {
	if testing.Short() {
		t.Skip("builds cmd/sioserver; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "sioserver")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/sioserver")
	build.Dir = moduleRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		skipOrFail(t, "cmd/sioserver does not build: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "-addr", addr, "-node-id", "e2e", "-log-level", "warn")
	startProcess(t, cmd, addr)
	return "http://" + addr, cmd.Process.Pid
}

func startRefNode(t *testing.T) (url string, pid int) {
	if testing.Short() {
		t.Skip("starts Node.js; skipped with -short")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFail(t, "node not found: %v", err)
	}
	dir := filepath.Join(moduleRoot(t), "integration_test")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "socket.io")); err != nil {
		skipOrFail(t, "integration_test/node_modules missing (run npm ci there): %v", err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(node, filepath.Join(dir, "js", "refserver.js"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SIO_ADDR="+addr, "SIO_NODE_ID=e2e", "SIO_REDIS_URL=")
	startProcess(t, cmd, addr)
	return "http://" + addr, cmd.Process.Pid
}

func TestEndToEnd(t *testing.T) {
	for name, start := range map[string]func(*testing.T) (string, int){"go": startGoNode, "ref": startRefNode} {
		t.Run(name, func(t *testing.T) {
			url, pid := start(t)
			res, err, stderr := runBench(t, "-scenario", "fanout", "-urls", url, "-clients", "10",
				"-messages", "50", "-label", name, "-pid", fmt.Sprint(pid))
			if err != nil {
				t.Fatalf("fanout: %v\n%s", err, stderr)
			}
			if res.num(t, "received") != 500 || res.num(t, "lost") != 0 || res.num(t, "out_of_order") != 0 || res.num(t, "bad_frames") != 0 {
				t.Fatalf("fanout metrics: %v", res.Metrics)
			}
			if cpu := res.Metrics["node_cpu_pct"].([]any); cpu[0] == nil {
				t.Fatalf("no node CPU reading: %v", res.Metrics)
			}

			res, err, stderr = runBench(t, "-scenario", "echo", "-urls", url, "-clients", "10",
				"-duration", "300ms", "-payload", "16", "-label", name)
			if err != nil {
				t.Fatalf("echo: %v\n%s", err, stderr)
			}
			if res.num(t, "round_trips") < 10 || res.num(t, "payload_mismatches") != 0 {
				t.Fatalf("echo metrics: %v", res.Metrics)
			}

			// Idle with default heartbeats: RSS from /proc, no losses.
			res, err, stderr = runBench(t, "-scenario", "idle", "-urls", url, "-clients", "50",
				"-settle", "100ms", "-duration", "200ms", "-pid", fmt.Sprint(pid))
			if err != nil {
				t.Fatalf("idle: %v\n%s", err, stderr)
			}
			res.num(t, "rss_per_conn_bytes")
			if name == "go" {
				// The Go node's own /metrics must be readable without a pid.
				res, err, stderr = runBench(t, "-scenario", "idle", "-urls", url, "-clients", "5",
					"-settle", "0s", "-duration", "100ms")
				if err != nil || strings.Contains(stderr, "no RSS/CPU readings") {
					t.Fatalf("idle via /metrics: %v\n%s", err, stderr)
				}
				res.num(t, "rss_base_mb")
			}
		})
	}
}

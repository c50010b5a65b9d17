package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sio-go/sio/node/siotest"
	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// rawArg returns an ack argument as JSON text.
func rawArg(v any) string {
	if r, ok := v.(json.RawMessage); ok {
		return string(r)
	}
	return fmt.Sprintf("<%T>", v)
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// skipOrFail skips, or fails under SIO_REQUIRE_ALL=1.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("SIO_REQUIRE_ALL") == "1" {
		t.Fatalf("%s (SIO_REQUIRE_ALL=1)", msg)
	}
	t.Skip(msg)
}

func testConfig(t *testing.T, env map[string]string) config {
	t.Helper()
	cfg, err := parseConfig(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestHTTPServerTimeouts pins the slowloris protections of the node's
// http.Server.
func TestHTTPServerTimeouts(t *testing.T) {
	cfg := testConfig(t, map[string]string{"SIO_ADDR": "127.0.0.1:0"})
	h := http.NotFoundHandler()
	hs := newHTTPServer(cfg, h)
	if hs.Addr != "127.0.0.1:0" {
		t.Errorf("Addr = %q", hs.Addr)
	}
	if hs.ReadHeaderTimeout != 10*time.Second {
		t.Errorf("ReadHeaderTimeout = %v, want 10s", hs.ReadHeaderTimeout)
	}
	if hs.IdleTimeout <= 0 || hs.IdleTimeout > 5*time.Minute {
		t.Errorf("IdleTimeout = %v, want a bound ≤ 5m", hs.IdleTimeout)
	}
	if hs.MaxHeaderBytes <= 0 || hs.MaxHeaderBytes > 1<<20 {
		t.Errorf("MaxHeaderBytes = %d, want a bound ≤ 1 MiB", hs.MaxHeaderBytes)
	}
	// Long-polling GETs and websockets outlive any whole-request timeout.
	if hs.ReadTimeout != 0 || hs.WriteTimeout != 0 {
		t.Errorf("ReadTimeout %v / WriteTimeout %v would cut long-polls and websockets", hs.ReadTimeout, hs.WriteTimeout)
	}
}

// TestSlowlorisHalfRequests opens many connections that send half a
// request and stop: the server keeps serving a well-behaved client, and
// closes the half requests once the header timeout passes (shortened here
// from the production 10s).
func TestSlowlorisHalfRequests(t *testing.T) {
	cfg := testConfig(t, nil)
	a, err := newApp(cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	hs := newHTTPServer(cfg, a.handler())
	hs.ReadHeaderTimeout = 300 * time.Millisecond
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hs.Serve(l) }()
	defer hs.Close()
	addr := l.Addr().String()

	const n = 40
	half := make([]net.Conn, 0, n)
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
			t.Fatal(err)
		}
		half = append(half, c)
	}
	// A well-behaved client is served meanwhile.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := siotest.Dial(ctx, "http://"+addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Connect(ctx, "/", nil); err != nil {
		t.Fatal(err)
	}
	res, err := c.EmitWithAck(ctx, "/", "echo", "still here")
	if err != nil || len(res) != 1 || rawArg(res[0]) != `"still here"` {
		t.Fatalf("echo = %v, %v", res, err)
	}
	// Every half request is dropped after the header timeout.
	for i, hc := range half {
		_ = hc.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(hc), nil)
		if err == nil {
			// net/http may answer 408 before closing.
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusRequestTimeout {
				t.Fatalf("half request %d answered %d", i, resp.StatusCode)
			}
			continue
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("half request %d still open after the header timeout", i)
		}
	}
}

func TestParseConfig(t *testing.T) {
	cfg := testConfig(t, map[string]string{
		"SIO_ADDR": ":4000", "SIO_ALLOWED_ORIGINS": " https://a.example, https://b.example ,",
		"SIO_MAX_CONNECTIONS": "10", "SIO_MAX_PACKETS_PER_SECOND": "50", "SIO_PING_INTERVAL": "2s",
	})
	if cfg.addr != ":4000" || cfg.maxConns != 10 || cfg.maxRate != 50 || cfg.pingInterval != 2*time.Second ||
		strings.Join(cfg.origins, "|") != "https://a.example|https://b.example" {
		t.Fatalf("config %+v", cfg)
	}
	// Flags win over the environment.
	cfg, err := parseConfig([]string{"-addr", ":5000"}, func(k string) string {
		return map[string]string{"SIO_ADDR": ":4000"}[k]
	})
	if err != nil || cfg.addr != ":5000" {
		t.Fatalf("flag override: %v %q", err, cfg.addr)
	}
	for _, env := range []map[string]string{
		{"SIO_PING_INTERVAL": "soon"}, {"SIO_MAX_CONNECTIONS": "many"}, {"SIO_LOG_LEVEL": "loud"},
		{"SIO_TEST_HOOKS": "perhaps"}, {"SIO_DRAIN_TIMEOUT": "-"}, {"SIO_MAX_PACKETS_PER_SECOND": "1e3"},
	} {
		if _, err := parseConfig(nil, func(k string) string { return env[k] }); err == nil {
			t.Errorf("%v accepted", env)
		}
	}
	if _, err := newApp(testConfig(t, map[string]string{"SIO_REDIS_URL": "http://nope"}), quietLog()); err == nil {
		t.Error("a non-redis URL was accepted")
	}
}

// TestRedisURLTLSAndACL checks what the app gets from a rediss:// URL with
// ACL credentials (redis.ParseURL, as newApp uses it).
func TestRedisURLTLSAndACL(t *testing.T) {
	opts, err := redis.ParseURL("rediss://user:pass@host:6380/0")
	if err != nil {
		t.Fatal(err)
	}
	if opts.TLSConfig == nil || opts.TLSConfig.ServerName != "host" {
		t.Errorf("TLS config %+v, want one for server name host", opts.TLSConfig)
	}
	if opts.Username != "user" || opts.Password != "pass" || opts.Addr != "host:6380" || opts.DB != 0 {
		t.Errorf("options: user %q pass %q addr %q db %d", opts.Username, opts.Password, opts.Addr, opts.DB)
	}
	opts, err = redis.ParseURL("redis://:only-pass@127.0.0.1:6379/2")
	if err != nil || opts.TLSConfig != nil || opts.Username != "" || opts.Password != "only-pass" || opts.DB != 2 {
		t.Errorf("requirepass URL: %v %+v", err, opts)
	}
}

// startACLRedis starts a private redis-server whose default user is
// disabled and where user alice (password s3cret) may do everything.
func startACLRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		skipOrFail(t, "redis-server is not installed; install it to test Redis ACL credentials")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--loglevel", "warning", "--user", "default", "off",
		"--user", "alice", "on", ">s3cret", "~*", "&*", "+@all")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not start: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRedisACLCredentials runs the app against a Redis that requires ACL
// credentials: the right ones make the node ready and serving; a wrong
// password leaves it not ready (/readyz 503) with the auth error.
func TestRedisACLCredentials(t *testing.T) {
	addr := startACLRedis(t)
	prefix := fmt.Sprintf("siotest-acl-%d", time.Now().UnixNano())

	t.Run("right password", func(t *testing.T) {
		t.Parallel()
		a, err := newApp(testConfig(t, map[string]string{
			"SIO_REDIS_URL": "redis://alice:s3cret@" + addr, "SIO_REDIS_PREFIX": prefix}), quietLog())
		if err != nil {
			t.Fatal(err)
		}
		defer a.close()
		hs := httptest.NewServer(a.handler())
		defer hs.Close()
		deadline := time.Now().Add(5 * time.Second)
		for {
			resp, err := http.Get(hs.URL + "/readyz")
			if err == nil {
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz not 200 with the right credentials: %v %v", resp, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := siotest.Dial(ctx, hs.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Connect(ctx, "/", nil); err != nil {
			t.Fatal(err)
		}
		if res, err := c.EmitWithAck(ctx, "/", "join", "r"); err != nil || len(res) != 1 {
			t.Fatalf("join: %v %v", res, err)
		}
		// The room message goes through Redis (publish) and back to us.
		if err := c.Emit("/", "room message", "r", "via redis"); err != nil {
			t.Fatal(err)
		}
		e, err := c.Wait(ctx, "room message")
		if err != nil || !strings.Contains(e.Raw(0), `"via redis"`) {
			t.Fatalf("room message: %v %v", e.Args, err)
		}
		hs.CloseClientConnections()
	})
	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		a, err := newApp(testConfig(t, map[string]string{
			"SIO_REDIS_URL": "redis://alice:wrong@" + addr, "SIO_REDIS_PREFIX": prefix}), quietLog())
		if err != nil {
			t.Fatal(err)
		}
		defer a.close()
		hs := httptest.NewServer(a.handler())
		defer hs.Close()
		resp, err := http.Get(hs.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("/readyz = %d %q with a wrong password, want 503", resp.StatusCode, body)
		}
		if !strings.Contains(strings.ToUpper(string(body)), "WRONGPASS") {
			t.Errorf("/readyz body %q does not name the auth failure", body)
		}
		// The subscription keeps failing: sio_redis_errors_total counts it
		// (the subscriber retries every 50-500 ms).
		deadline := time.Now().Add(5 * time.Second)
		for {
			resp, err := http.Get(hs.URL + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			m, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if re := regexp.MustCompile(`(?m)^sio_redis_errors_total ([0-9.e+]+)$`).FindSubmatch(m); re != nil && string(re[1]) != "0" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("sio_redis_errors_total stayed 0 while the subscription failed")
			}
			time.Sleep(50 * time.Millisecond)
		}
		hs.CloseClientConnections()
	})
}

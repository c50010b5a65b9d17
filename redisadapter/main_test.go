package redisadapter

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/sio-go/sio/adapter"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// go-redis logs every failed dial; the outage tests make many.
	redis.SetLogger(quietLogger{})
	goleak.VerifyTestMain(m)
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// prefixSeq makes every test cluster's key unique.
var prefixSeq atomic.Int64

func uniqueKey(t testing.TB) string {
	return fmt.Sprintf("siotest-%d-%d", os.Getpid(), prefixSeq.Add(1))
}

// newMiniredis starts a miniredis server and a client for it, both
// released at the end of the test.
func newMiniredis(t testing.TB) (*miniredis.Miniredis, *redis.Client) {
	t.Helper()
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = client.Close() })
	return mr, client
}

// outageClient is a client for tests that stop Redis: it fails fast
// instead of retrying each command for seconds.
func outageClient(t testing.TB, addr string) *redis.Client {
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// testOptions are short timeouts for tests.
func testOptions(key string) Options {
	return Options{Key: key, RequestsTimeout: 2 * time.Second}
}

// factories returns n factories over client with one fresh key.
func factories(t testing.TB, client redis.UniversalClient, n int, opts Options) []adapter.Factory {
	opts.Key = uniqueKey(t)
	out := make([]adapter.Factory, n)
	for i := range out {
		out[i] = NewFactory(client, opts)
	}
	return out
}

// requireAll reports whether tests must fail instead of skipping when an
// external dependency is missing.
func requireAll() bool { return os.Getenv("SIO_REQUIRE_ALL") == "1" }

// skipOrFail skips the test with msg, or fails it under SIO_REQUIRE_ALL=1.
func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if requireAll() {
		t.Fatalf("%s (SIO_REQUIRE_ALL=1)", msg)
	}
	t.Skip(msg)
}

// realRedis returns a client for the real Redis at SIO_REDIS_URL (default
// redis://127.0.0.1:6379), or skips.
func realRedis(t *testing.T) *redis.Client {
	t.Helper()
	url := os.Getenv("SIO_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("SIO_REDIS_URL: %v", err)
	}
	if host, _, err := net.SplitHostPort(opt.Addr); err != nil || !isLoopback(host) {
		t.Fatalf("SIO_REDIS_URL must point to a loopback address, got %q", opt.Addr)
	}
	client := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		skipOrFail(t, fmt.Sprintf("no Redis at %s: %v", opt.Addr, err))
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// waitFor polls cond every few milliseconds until it holds or timeout
// passes.
func waitFor(t testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf(format, args...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

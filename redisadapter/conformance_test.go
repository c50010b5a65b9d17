package redisadapter

import (
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/sio-go/sio/adapter"
	"github.com/sio-go/sio/adapter/adaptertest"
)

// TestConformanceMiniredis runs the adapter conformance suite with every
// node on one miniredis server.
func TestConformanceMiniredis(t *testing.T) {
	adaptertest.Run(t, func(t *testing.T, n int) []adapter.Factory {
		_, client := newMiniredis(t)
		return factories(t, client, n, testOptions(""))
	})
}

// TestConformanceRealRedis runs the conformance suite against the real
// Redis (SIO_REDIS_URL, default 127.0.0.1:6379) with a unique key prefix.
func TestConformanceRealRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	client := realRedis(t)
	adaptertest.Run(t, func(t *testing.T, n int) []adapter.Factory {
		return factories(t, redis.UniversalClient(client), n, testOptions(""))
	})
}

// Package integration_test holds the cross-language integration tests of sio:
// official Socket.IO JavaScript clients against the Go node (cmd/sioserver),
// clusters of Go nodes on one Redis, and mixed clusters of Go nodes and
// Node.js socket.io nodes (@socket.io/redis-adapter 8).
//
// # Layout
//
//   - harness_test.go: tool checks, npm install, building cmd/sioserver,
//     starting Go and Node.js nodes, running JS client scenarios, Redis.
//   - js/refserver.js: the Node.js reference node; its header documents the
//     event contract and the test-helper events both node kinds implement.
//   - js/client.js: scripted socket.io-client driver (JSON scenario in,
//     JSON result out); js/emit.js: @socket.io/redis-emitter driver.
//   - jsclient_test.go (TestJSClient*), cluster_test.go (TestRedisCluster*),
//     mixed_test.go and mixed_goemitter_test.go (TestMixedCluster*).
//   - TestMain (harness_test.go) owns the temporary directory the
//     sioserver binary is built into; the package has no other TestMain.
//   - bench/: compare.sh runs cmd/siobench against the Go nodes, the
//     Node.js reference and, for the echo and rate cases, bench/floorserver
//     (a minimal epoll server: the least work any server can do per round
//     trip or delivery); RESULTS.md keeps every table it produced.
//
// # Environment
//
//   - SIO_TEST_TARGET: "go" (default) tests cmd/sioserver; "ref" runs the
//     same tests against js/refserver.js (used to validate the harness).
//   - SIO_REDIS_URL: Redis for the cluster tests (default: probe
//     127.0.0.1:6379).
//   - SIO_REQUIRE_ALL=1: a missing Node.js, npm or Redis fails the tests
//     instead of skipping them.
//
// # Concurrency
//
// Every test starts its own nodes on free loopback ports and uses its own
// Redis key prefix, so top-level tests may run in parallel. Child processes
// are stopped in t.Cleanup; their output is printed when a test fails.
package integration_test

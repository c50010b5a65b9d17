// Command siobench is a load generator for Socket.IO v4 chat nodes that
// implement the sio chat contract (cmd/sioserver, or the Node.js
// reference integration_test/js/refserver.js).
//
// It speaks Engine.IO v4 / Socket.IO v5 over WebSocket itself, with
// hand-rolled minimal framing (0 open, 40 connect, 2/3 ping/pong,
// 42 events, 43 acks) on top of its own client side of RFC 6455 (ws.go),
// and imports nothing from the sio node packages, so it measures any
// implementation the same way and stays cheap.
//
// # Scenarios (-scenario)
//
//   - fanout: -clients receivers, spread round-robin over the -urls
//     nodes, join -room; one publisher on the first node sends -messages
//     "room message" events, each carrying {"t":<send time>,"seq":<n>},
//     with at most -window unacknowledged. Reports delivered messages/s,
//     lost deliveries (expected minus received once nothing arrived for
//     -grace), out-of-order deliveries and latency p50/p90/p99/p99.9/max,
//     overall and split into same-node (receiver on the publisher's node)
//     and cross-node.
//   - rate: as fanout, but the publisher sends -rate broadcasts per second
//     for -duration. Each message carries its scheduled send time, so a
//     sender that falls behind shows up as latency (late_sends counts it).
//     On Linux the publisher waits on a timerfd, not a time.Timer, whose
//     millisecond granularity would add up to ~1 ms to every latency.
//   - idle: -clients connections to the first node that only answer
//     pings. Reports the node's resident memory per connection (against a
//     reading taken before connecting, after -settle and at the end of the
//     -duration window) and the node's CPU use over the window.
//   - echo: -clients clients, round-robin over the nodes, each running a
//     closed loop of "echo" with ack for -duration. Reports round trips/s
//     and latency.
//
// Node RSS and CPU come from /proc/<pid> for the nodes given with -pid
// (in -urls order) and otherwise from the node's Prometheus endpoint
// (-metrics-path: process_resident_memory_bytes,
// process_cpu_seconds_total). Every scenario also reports the
// generator's own CPU use (gen_cpu_pct, percent of one core) over the
// measurement window, to show whether the generator was the bottleneck.
//
// # Output
//
// A progress line goes to stderr every -progress, and a human summary to
// stderr at the end. Exactly one JSON line goes to stdout:
//
//	{"scenario":"fanout","label":"go","params":{...},"metrics":{...},"error":"..."}
//
// Latencies are objects {"count","mean_ms","p50_ms","p90_ms","p99_ms",
// "p999_ms","max_ms"}; per-node arrays follow -urls order and hold null
// where unknown. The exit status is 0 on success, 1 when the run failed
// or was incomplete (the JSON line is still written, with "error"), and 2
// for bad flags.
//
// # Bounds and efficiency
//
// The whole run is bounded by -timeout; connections ramp up with at most
// -ramp handshakes in flight and the ramp stops once more than
// max(10, clients/20) connections fail; RLIMIT_NOFILE is raised as
// needed. Each connection has exactly one reader. On Linux, plain-TCP
// connections are read by pollers (-pollers; one per CPU), each serving
// many connections from an epoll instance of its own with edge-triggered
// notifications and raw non-blocking reads and writes; elsewhere, and for
// TLS, each connection has a reader goroutine. A reader takes every frame
// already in the connection's reused buffer before reading again, and
// parses only what it needs (the send time and sequence number of a
// broadcast, the id of an ack) without allocating; latencies go to
// lock-free sharded log-linear histograms (1.6 % resolution). A frame is
// masked and written with one write call from the writer's own buffer,
// so writers need no lock; the write deadline is moved only when less
// than 7/8 of it is left.
//
// Receivers delay their TCP ACKs as a client across a network does: the
// pollers turn the kernel's quick-ACK mode off (TCP_QUICKACK 0) before a
// connection's first read and again after a quiet gap of 30 ms (the
// kernel's delayed-ACK timer, which turns it back on, waits 40 ms at
// least), so a receiver ACKs every second small message instead of each
// one it reads.
// Over loopback each such ACK costs the generator a trip through the TCP
// stack on the cores it shares with the nodes (46 % of its CPU at 50
// messages/s to each of 1,000 receivers); -quickack keeps the kernel's
// default, for comparison. Either way the nodes under test are the same.
//
// # Example
//
//	siobench -scenario fanout -urls http://127.0.0.1:3001,http://127.0.0.1:3002 \
//	    -clients 1000 -messages 2000 -window 100 -label go
package main

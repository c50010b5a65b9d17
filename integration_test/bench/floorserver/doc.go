// Command floorserver is the floor of the echo and rate benchmarks: the
// least work any server can do per round trip of cmd/siobench's echo
// scenario and per delivery of its rate scenario on the machine it runs
// on, so that integration_test/bench/compare.sh can show how far those
// results are bounded by the operating system rather than by the server.
//
// It is not a Socket.IO server. It speaks exactly what the benchmarks
// need: the WebSocket upgrade of /socket.io/?EIO=4&transport=websocket,
// the Engine.IO open packet, a Socket.IO CONNECT to "/", and the events
//
//	42<id>["echo",<payload>]          acked 43<id>[<payload>]
//	42<id>["join",<room>]             acked 43<id>[{"ok":true,"room":<room>}]
//	42<id>["room message",<room>,<m>] acked 43<id>[{"ok":true}] (id optional)
//
// A room message goes to the room's members as
// 42["room message",{"room":<room>,"from":"<sid>","msg":<m>}], the chat
// node's contract, built once per message. With -redis, nodes sharing a
// -channel form a cluster: a node writes the frame to its own members and
// PUBLISHes it once, with its -node-id and the room, for the others.
// Everything else is ignored (no heartbeats, no leave, no namespaces, no
// binary, no reconnection to Redis: losing Redis stops the server with an
// error). GET /readyz answers 200 so that the benchmark script can wait
// for it.
//
// One thread runs an epoll loop over non-blocking sockets, the Redis
// connections included, waiting with a raw epoll_pwait that keeps its Go
// processor (no scheduler hand-off per wait). Client connections are
// edge-triggered: per readable socket one read (more only when a read
// fills the buffer), every complete frame handled, and one write of all
// the answers; a room message costs one write per member. That is one read and one write
// system call per echo round trip and one write per delivery, plus the
// epoll_wait calls shared by everything that became ready together: what
// a server cannot avoid with the socket API.
//
// Bounds: a client whose unprocessed input (an unfinished request head)
// exceeds 64 KiB, that sends a frame
// longer than 65535 bytes or an unmasked frame, or whose unwritten output
// exceeds 256 KiB is closed; the other connections are unaffected.
//
// The package's benchmarks measure the host's unit costs that bound the
// floor, and so every server, on the machine they run on: a system call,
// one small message over loopback TCP (an echo round trip is two) and a
// wake-up of a thread on the same or on another CPU:
//
//	go test -run '^$' -bench Host ./integration_test/bench/floorserver
//
// Linux only (epoll); elsewhere it exits with an error.
//
// Usage:
//
//	go run ./integration_test/bench/floorserver -addr 127.0.0.1:4900 \
//	    [-redis 127.0.0.1:6379 -channel floor -node-id n1]
package main

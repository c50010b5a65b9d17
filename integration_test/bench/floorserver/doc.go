// Command floorserver is the kernel floor of the echo benchmark: the least
// work any server can do per round trip of cmd/siobench's echo scenario on
// the machine it runs on, so that integration_test/bench/compare.sh can
// show how far the echo ratio is bounded by the operating system rather
// than by the server.
//
// It is not a Socket.IO server. It speaks exactly what the echo scenario
// needs: the WebSocket upgrade of /socket.io/?EIO=4&transport=websocket,
// the Engine.IO open packet, a Socket.IO CONNECT to "/" and the event
// 42<id>["echo",<payload>], answered with 43<id>[<payload>]. Everything
// else is ignored (no heartbeats, no rooms, no namespaces, no binary);
// GET /readyz answers 200 so that the benchmark script can wait for it.
//
// One thread runs a level-triggered epoll loop over non-blocking sockets:
// per readable socket one read, every complete frame answered, and one
// write of all the answers; no allocation per message. That is one read
// and one write system call per round trip and the epoll_wait calls
// shared by everything that became readable together, which is what a
// server cannot avoid with the socket API.
//
// Bounds: a connection whose unread input exceeds 64 KiB, that sends a
// frame longer than 65535 bytes or an unmasked frame, or whose output
// exceeds 256 KiB is closed; the other connections are unaffected.
//
// Linux only (epoll); elsewhere it exits with an error.
//
// Usage:
//
//	go run ./integration_test/bench/floorserver -addr 127.0.0.1:4900
package main

// Package engineio implements an Engine.IO v4 server: the transport layer
// under Socket.IO, wire-compatible with Node's engine.io 6 and the official
// clients.
//
// # Contract
//
// A Server is an http.Handler mounted at the Engine.IO path (for example
// "/engine.io/" or "/socket.io/"). It speaks protocol v4 only (EIO=4) over
// HTTP long-polling and WebSocket (RFC 6455, our own frame reader and
// writer; no extension is negotiated, as Node's default), including the
// polling→websocket upgrade (2probe/3probe, noop, 5). Handshakes answer
// 0{"sid","upgrades","pingInterval","pingTimeout","maxPayload"}; errors are
// Node's JSON {"code":N,"message":"..."} with HTTP 400 (403 for code 4
// "Forbidden"; 503 while SetAccepting(false)). Long-polling payloads are
// joined by "\x1e", binary as "b"+base64; a websocket carries one packet per
// frame, binary frames raw. The server pings every PingInterval and closes a
// session with "ping timeout" when no pong arrives within PingTimeout.
//
// Every new session is passed to the onConnection callback before any of its
// packets is handled; it sets the session's Handler. Messages go out with
// Conn.Send (or Conn.TrySend for volatile ones); a Message is encoded once
// and may be shared by any number of sessions (broadcast).
//
// # Concurrency
//
// Server and Conn methods are safe for concurrent use. Send, SendDirect and
// TrySend never block: each session has a byte-bounded queue
// (Config.MaxQueueBytes); going past it closes the session with "slow
// consumer". A session's writes are serialized by its transport: the pending
// long-polling GET, or one websocket writer at a time. No lock is held
// across network I/O.
//
// Websocket writes: the writer takes everything queued, encodes the frames
// itself into one pooled buffer (server frames are unmasked) and writes
// them to the socket in one call. Queued sessions are written by a few
// per-server flusher goroutines (at most GOMAXPROCS, running only while
// there is work) in FIFO order, with non-blocking writes; a session whose
// socket buffer is full is handed to a goroutine of its own that blocks
// under Config.WriteTimeout, so a slow client never holds up the others.
// TLS sessions always use a goroutine of their own. The non-blocking writes
// go straight to the socket's descriptor, not through net's RawConn (whose
// descriptor lock and poll-state reset cost about a twentieth of a
// broadcast's CPU); a count of such writes in flight makes the close of a
// websocket wait for them, so a descriptor number is never written after
// the kernel could hand it to another connection. SendDirect, for a packet
// to one session (a reply), writes in the caller when nothing is queued,
// without a hand-off. Control frames go through the writer too: a pong
// answering a client ping is queued like a message, and the close frame is
// written by the writer that finishes a graceful close. Only a probe
// websocket (before the upgrade completes) and a refused one, which no
// writer owns, are written by their reader.
//
// Websocket reads: one reader goroutine at a time per websocket reads
// what the socket has into a pooled buffer, handles every complete frame
// (unmasking in place, assembling fragments, answering pings, bounding a
// message by MaxHTTPBufferSize) and waits for more. The frames are handled
// inside net's RawConn.Read callback, so a read that drained the socket
// is followed by a wait, not by another read that would return EAGAIN
// (one read call per message answered at once, not two); the callback
// holds the same count as the writer's direct writes, so a close never
// waits for a handler to return. After 100 ms without
// data the reader returns its buffer and exits, and the connection parks:
// the server's poller (an epoll instance, itself watched by the Go
// runtime's poller; one per server, existing only while connections are
// registered with it) starts a new reader when data arrives. A busy
// connection keeps its reader, with no hand-off per message. Where there
// is no poller (platforms other than Linux) or no raw socket (TLS), the
// reader never parks.
//
// Handler methods of one session are called one at a time, in order, never
// concurrently; OnClose is called exactly once, last. A Handler may call
// Send, TrySend and Close from inside its methods. For long-polling, a POST
// is answered only after OnMessage returned for all of its packets, so
// replies sent from OnMessage reach the next GET in one batch.
//
// Heartbeats of all sessions run on one scheduler goroutine (a timer heap)
// that exists only while sessions do. An idle websocket session holds no
// goroutine and no buffer: its Conn, its socket and a poller entry (about
// 1.5 KB in this package).
//
// Lock order: Conn.hmu (handler calls), then Conn.mu, then the scheduler's
// or the flusher's lock; Server.mu is never taken with Conn.mu held. Hooks may run with
// Conn.mu held and must not call back into the package.
//
// # Closing
//
// Conn.Close flushes the queue, then sends the close (a websocket close
// frame; "1" to the pending or next long-polling GET) and ends the session.
// Server.Close does this for every session, refuses new handshakes, and
// returns when every session has ended and the package's goroutines for
// this server have exited.
package engineio

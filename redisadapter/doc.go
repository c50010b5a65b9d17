// Package redisadapter is the Redis pub/sub adapter of sio: the nodes of
// a cluster share one Redis (or Redis Cluster) and reach each other's
// sockets through it. It speaks the wire format of the classic
// @socket.io/redis-adapter 8.x (createAdapter, not the sharded adapter),
// so Go nodes, Node.js nodes and @socket.io/redis-emitter publishers can
// share one cluster.
//
// # Usage
//
//	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	cfg.Adapter = redisadapter.NewFactory(client, redisadapter.Options{})
//
// The client is owned by the caller: adapters never close it and it must
// outlive them. Each namespace gets its own Adapter with its own PubSub
// connection; publishing uses the client's pool. Emitter publishes to the
// cluster from a Go program that is not a node.
//
// # Channels
//
// For key K (Options.Key, default "socket.io") and namespace N:
//
//	K#N#            broadcasts (PSUBSCRIBE K#N#*)
//	K#N#room#       broadcasts to exactly one room
//	K-request#N#    requests (SUBSCRIBE)
//	K-response#N#   responses (SUBSCRIBE)
//	K-response#N#uid#  responses for this node only (SUBSCRIBE)
//
// # Wire format
//
// A broadcast is the MessagePack array [uid, {type, data, nsp}, {rooms,
// except, flags}] encoded as notepack.io 3.x does (smallest integer forms,
// float64 for other numbers, str for strings, bin for binary, maps with
// string keys). Requests are JSON with a numeric "type" (0 SOCKETS,
// 1 ALL_ROOMS, 2 REMOTE_JOIN, 3 REMOTE_LEAVE, 4 REMOTE_DISCONNECT,
// 5 REMOTE_FETCH, 6 SERVER_SIDE_EMIT), except the broadcast with acks
// (7 BROADCAST) and its per-client answers (9 BROADCAST_ACK), which are
// MessagePack maps; 8 BROADCAST_CLIENT_COUNT answers are JSON. Receivers
// tell JSON from MessagePack by a leading '{'. Decoding is lenient: a
// missing nsp means "/", missing or nil options and flags mean none,
// numbers may be integers or floats, the legacy {sid, room, requestId}
// forms of requests 2–4 are answered, and anything malformed is ignored.
//
// Packet arguments keep their JSON form across the cluster: a
// json.RawMessage is transcoded into MessagePack with its key order and
// integers intact, and a received argument without binary becomes a
// json.RawMessage again. Binary ([]byte) travels as MessagePack bin; a
// received argument holding nested binary is decoded into
// map[string]any / []any trees with []byte leaves. Server-side emits and
// fetchSockets answers are JSON, as in socket.io.
//
// # Semantics
//
// The adapter follows the Node adapter: a broadcast is delivered to local
// sockets and published unless the Local flag is set; a node ignores its
// own broadcasts, other namespaces, and broadcasts to a single room with
// no local member (without decoding them). ServerCount is PUBSUB NUMSUB
// of the request channel (summed over the masters of a Redis Cluster).
// Sockets, AllRooms, FetchSockets and ServerSideEmitWithAck wait for one
// answer from each other node, until RequestsTimeout (or the flags
// timeout, or ctx); on timeout they return what arrived together with an
// error matching ErrTimeout that carries the Node adapter's message.
// AddSockets, DelSockets and DisconnectSockets are applied by this node
// when its own request comes back from Redis, as in the Node adapter; the
// Go methods wait for that, so local sockets are affected when they
// return. With the Local flag, or while the adapter is not subscribed, or
// when the publish fails, they are applied locally at once. For a
// broadcast with acks each other node answers with its client count and
// forwards each client's first ack argument; the request is forgotten
// after the flags timeout (RequestsTimeout when zero).
//
// # Delivery, backpressure and Redis outages
//
// Delivery across nodes is at most once. The receive loop never blocks:
// it hands each message to one of Options.Workers goroutines through a
// queue of Options.QueueSize messages; when a queue is full the message
// is dropped and counted (Hooks.Dropped, Adapter.Dropped). The requests
// and the broadcasts of a namespace (the request channel, the
// namespace's broadcast channel and every room's) all go to one worker,
// which handles them in the order Redis delivered them, as the Node
// adapter does: a socketsJoin, socketsLeave or disconnectSockets takes
// effect on this node before a broadcast published after it is
// delivered. Answers to this node's own requests go to the worker of
// their channel.
//
// Everything an adapter publishes (broadcasts, requests, answers to other
// nodes) goes through one FIFO queue of Options.PublishQueueSize
// messages, drained by one goroutine that sends what is queued in
// pipelines of up to Options.PublishBatchSize PUBLISH commands (one per
// message), so the messages of a namespace reach Redis in the order they
// were issued: a socketsJoin never overtakes an earlier broadcast. No
// caller waits for Redis unless it needs the result: Broadcast and
// ServerSideEmit only queue their message; BroadcastWithAck, the requests
// that wait for answers (Sockets, AllRooms, FetchSockets,
// ServerSideEmitWithAck) and AddSockets, DelSockets and DisconnectSockets
// wait for their own message to be published, within their ctx and their
// timeout; a message still queued when its caller gives up is withdrawn.
//
// While Redis is slow or unresponsive (connections open, no answers),
// messages wait in the queue; when it is full, Broadcast and
// ServerSideEmit return an error matching ErrPublishQueueFull at once
// (counted with Hooks.PublishError and logged), the waiting methods fail
// with it, and answers to other nodes are dropped (Hooks.Dropped). Each
// round trip is bounded by the go-redis client's ReadTimeout and
// WriteTimeout (and retries), which the owner of the client should keep
// short.
//
// While Redis is unreachable, local delivery continues; what other nodes
// publish meanwhile is lost for this node (Redis pub/sub stores nothing),
// and what this node publishes is lost for the others: each failed
// PUBLISH is counted by Hooks.PublishError and a warning is logged at
// most once every 10 seconds; the methods that wait for their
// publication return the error. Cluster requests fail with the Redis
// error. go-redis reconnects and resubscribes by itself; the adapter
// pings an idle connection every 3 seconds and replaces one that stops
// answering. Ready (adapter.ReadyChecker) returns an error from the loss
// of the subscription until Redis confirms it again.
//
// # Concurrency
//
// All Adapter and Emitter methods are goroutine-safe. The adapter never
// holds a lock across network I/O or while it calls the Namespace. Per
// adapter it runs one receive goroutine, Options.Workers worker
// goroutines and one publisher goroutine, all stopped by Close. Close
// publishes what is still queued until its ctx ends and discards the rest
// (Hooks.Dropped); a round trip in flight when ctx ends cannot be
// interrupted, so the publisher goroutine may outlive Close until the
// client's timeouts end it (or the client is closed). Namespace
// callbacks (Deliver, ServerSideEmit, DisconnectSockets, RoomEvent) run
// on worker goroutines for remote messages and must not block. The
// callbacks of BroadcastWithAck may run concurrently on several
// goroutines. Hooks are called synchronously and must not block.
package redisadapter

// Package node is a Socket.IO v4 server: Socket.IO protocol v5 over
// Engine.IO protocol v4 (package engineio), with namespaces, sockets,
// rooms, acknowledgements and broadcast operators shaped like socket.io's
// server API. Official Socket.IO v4 clients connect unchanged over HTTP
// long-polling, WebSocket, and the upgrade from one to the other.
//
// # Rooms and the cluster
//
// Each namespace has an adapter (package adapter) that stores which local
// sockets are in which rooms and carries broadcasts and cluster requests.
// The default in-memory adapter serves one node; the Redis adapter (package
// redisadapter) makes rooms span every node of a cluster. The operators
// (To, Except, Local, Volatile, Timeout, Emit, EmitWithAck, FetchSockets,
// SocketsJoin, SocketsLeave, DisconnectSockets, ServerSideEmit) are
// cluster-wide unless Local is set.
//
// # Concurrency
//
// Server, Namespace, Socket and BroadcastOperator are goroutine-safe:
// handlers may emit from any goroutine. The packets of one connection are
// handled in order on one goroutine; event handlers run there and must not
// block for long (start a goroutine for slow work). Connection handlers
// run where the last middleware called next; when that is another
// goroutine, the socket's first events are held until they have run
// (acks, DISCONNECT and other namespaces' packets are not), and the
// disconnect hooks they register on a socket that closed meanwhile run
// after them. A broadcast is encoded
// once and the same frames are queued to every recipient's writer without
// blocking; each connection's writes are serialized by its own writer. A
// client whose queue passes Config.MaxQueueBytes is disconnected with
// reason "slow consumer". No lock is held across a network write or an
// adapter's network call: a namespace's adapter is created and
// initialised (the Redis adapter waits for its subscriptions) with no
// lock held, one creation per name at a time.
//
// Lock order: Server.mu, then Namespace.mu, then client.mu, then
// Socket.mu; ParentNamespace.mu is taken with none of them held. Adapters
// take their own locks and never call back into the namespace while
// holding them. OnNewNamespace listeners run with no lock held.
//
// # Shutdown
//
// Shutdown stops accepting connections (readiness false), disconnects
// every socket with reason "server shutting down" so clients reconnect
// elsewhere, and closes the adapters.
package node

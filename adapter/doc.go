// Package adapter defines how a Socket.IO namespace stores its rooms and
// reaches sockets on other nodes, and provides the in-memory adapter.
//
// An Adapter serves one namespace. The node package creates it through a
// Factory, passing itself as the Namespace callback interface; adapters
// speak only in socket ids, rooms and unencoded packets and never import
// the node package. The model is socket.io-adapter's: two maps, rooms
// (room → members) and sids (socket → rooms), and a set of operations
// that select sockets with BroadcastOptions.
//
// # Local and cluster-wide methods
//
// Local-only methods (AddAll, Del, DelAll, SocketRooms, Rooms, Sids) read
// or change this node's maps and never leave the process. Cluster-wide
// methods (Broadcast, BroadcastWithAck, Sockets, AllRooms, FetchSockets,
// AddSockets, DelSockets, DisconnectSockets, ServerSideEmit,
// ServerSideEmitWithAck, ServerCount) act on every node of the cluster
// unless BroadcastFlags.Local is set; each node applies them to its own
// local sockets. In the in-memory adapter, Memory, the cluster is this
// node alone: ServerCount is 1, ServerSideEmit reaches nobody.
//
// Selection follows socket.io exactly: with no Rooms every socket of the
// namespace matches; with Rooms the union of their members matches, each
// socket once; members of any Except room never match. Every socket is a
// member of the room named by its own id (the node joins it with AddAll
// when the socket connects), so a socket id works wherever a room does.
// A room exists from its first member to its last; its creation,
// deletion, and every join and leave are reported through
// Namespace.RoomEvent.
//
// # Guarantees
//
// Delivery across nodes is at most once: a packet published while a node
// is unreachable is lost for that node, never repeated. Packets broadcast
// from one node with the same options are delivered in order on every
// node (ordered per room per node); there is no order between different
// rooms or different senders. A socket receives a given broadcast at most
// once, however many of the targeted rooms it is in. Each node encodes a
// broadcast once, with one Namespace.Deliver call for all its recipients.
// After Close, cluster-wide methods return ErrClosed; local-only methods
// keep working so that the namespace can remove its sockets. Operations an
// adapter cannot perform return ErrNotSupported (test with errors.Is).
//
// # Concurrency
//
// All Adapter methods are goroutine-safe. No adapter holds a lock while
// it calls the Namespace or performs network I/O: Memory collects the
// matching ids under a read lock, releases it, then calls Deliver. The
// Namespace callbacks must not block (Deliver only queues) and may call
// back into the adapter. Room events are reported after the adapter's
// lock is released, in the order the changes happened, one goroutine at a
// time; a change made while another goroutine is reporting is reported by
// that goroutine, so the events of an AddAll may be reported after AddAll
// returns. Acks of BroadcastWithAck arrive on other goroutines, possibly
// before onClientCount is called.
//
// The lock order is namespace, then adapter, then socket; Memory has a
// single RWMutex and takes no other lock while holding it.
//
// # Writing an adapter
//
// Implement Adapter, usually by wrapping a Memory that keeps the local
// maps and performs the local part of every operation: the cluster adapter
// publishes the operation, then calls the Memory method, and applies an
// operation received from another node by calling the same Memory method,
// whose effect is local. BroadcastWithAck must report a client count from
// every node, 0 included, so that the caller knows when all have answered.
// Return ErrNotSupported for what the backend cannot do. Then run the
// conformance suite of package adapter/adaptertest from a test:
//
//	func TestConformance(t *testing.T) {
//		adaptertest.Run(t, func(t *testing.T, n int) []adapter.Factory {
//			// return n factories whose adapters share one fresh cluster
//		})
//	}
package adapter

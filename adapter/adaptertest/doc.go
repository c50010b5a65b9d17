// Package adaptertest is the conformance suite of adapter.Adapter
// implementations, and the test doubles it is built with.
//
// An implementation runs the suite from one of its tests:
//
//	func TestConformance(t *testing.T) {
//		adaptertest.Run(t, func(t *testing.T, n int) []adapter.Factory {
//			// n factories whose adapters share one fresh cluster,
//			// or nil when the implementation cannot make n nodes
//		})
//	}
//
// Run builds fresh adapters for every test, each over a FakeNamespace
// that records what the adapter asks of the node, and checks socket.io's
// semantics: room membership and room events, selection of sockets
// (union of rooms, except, each socket once), broadcasts with and without
// acks, the socket-management operations, server-side emits, ServerCount
// and Close. With n > 1 it checks that every node applies cluster-wide
// operations to its own local sockets and that the Local flag keeps them
// on the calling node. Cross-node checks poll: they finish as soon as the
// expected effect is seen and fail after a few seconds otherwise. An
// operation that returns adapter.ErrNotSupported skips its test.
//
// FakeNamespace and Eventually are exported for the adapters' own tests.
//
// # Concurrency
//
// FakeNamespace is goroutine-safe. Eventually and the Wait* helpers call
// t.Fatalf and must run on the test's goroutine.
package adaptertest

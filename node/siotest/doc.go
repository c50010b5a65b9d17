// Package siotest is a small Socket.IO v5 client over WebSocket for tests
// of sio servers (and of any Socket.IO v4 server): connect to namespaces,
// emit with or without acks, receive events and answer their acks.
//
// A Client is goroutine-safe. Incoming events are buffered up to a bound
// (EventBuffer); a client that lets them pile up past it gets ErrOverflow.
//
// # Concurrency
//
// Emit, EmitWithAck, Connect, Disconnect, SendRaw and Close may be called
// from any goroutine; writes are serialized by the client. One goroutine
// reads the connection, answers pings and dispatches acks; Next and Wait
// should be called from one goroutine at a time.
package siotest

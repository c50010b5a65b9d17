package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// SocketID is the Socket.IO id of a socket (not the Engine.IO session id).
// Every socket is a member of the room whose name equals its own id.
type SocketID string

// Room is the name of a room. A socket id is also a valid room.
type Room string

// Socket.IO v5 packet types, as they appear on the wire.
const (
	PacketConnect      = 0
	PacketDisconnect   = 1
	PacketEvent        = 2
	PacketAck          = 3
	PacketConnectError = 4
	PacketBinaryEvent  = 5
	PacketBinaryAck    = 6
)

// ErrNotSupported is returned by adapters for operations they cannot perform.
var ErrNotSupported = errors.New("adapter: operation not supported")

// ErrClosed is returned by an adapter after Close.
var ErrClosed = errors.New("adapter: closed")

// BroadcastFlags modify a broadcast or a cluster operation.
type BroadcastFlags struct {
	// Local restricts the operation to this node (no cluster traffic).
	Local bool
	// Volatile packets may be dropped for a socket that is not ready to write.
	Volatile bool
	// Compress asks for per-message compression where the transport supports it.
	Compress bool
	// Timeout bounds BroadcastWithAck and FetchSockets; zero means the
	// adapter's default.
	Timeout time.Duration
}

// BroadcastOptions select the sockets an operation applies to.
//
// With no Rooms, every socket of the namespace matches. With Rooms, the
// union of their members matches, each socket once. The members of any
// Except room never match.
type BroadcastOptions struct {
	Rooms  []Room
	Except []Room
	Flags  BroadcastFlags
}

// Packet is a Socket.IO packet as the adapters carry it, before encoding.
//
// Data holds the event name followed by its arguments, exactly as
// socket.io's packet.data. Each element is one of: json.RawMessage (kept
// byte for byte), []byte (a binary attachment, sent as such), or any value
// that encoding/json can marshal (maps, slices, strings, numbers, structs),
// which may itself contain []byte values at any depth.
//
// A Packet handed to an adapter must not be modified afterwards: it is
// shared by every recipient and encoded once.
type Packet struct {
	// Type is PacketEvent for broadcasts; the encoder turns it into
	// PacketBinaryEvent when Data holds binary values.
	Type int
	// Nsp is the namespace name, e.g. "/" or "/admin".
	Nsp string
	// Data is [event, args...].
	Data []any
}

// Handshake describes how a socket connected, as socket.io's
// socket.handshake. It is JSON-serialisable with socket.io's field names so
// that it crosses the cluster unchanged.
type Handshake struct {
	// Headers are the request headers, lower-cased names, several values joined by ", ".
	Headers map[string]string `json:"headers"`
	// Time is the connection time as JavaScript's Date.toString().
	Time string `json:"time"`
	// Address is the client's remote address.
	Address string `json:"address"`
	// XDomain is true when the request carried an Origin header.
	XDomain bool `json:"xdomain"`
	// Secure is true for TLS connections.
	Secure bool `json:"secure"`
	// Issued is the connection time in milliseconds since the Unix epoch.
	Issued int64 `json:"issued"`
	// URL is the request URL of the Engine.IO handshake (path and query).
	URL string `json:"url"`
	// Query holds the query parameters of the handshake, first value of each.
	Query map[string]string `json:"query"`
	// Auth is the CONNECT payload, {} when the client sent none.
	Auth json.RawMessage `json:"auth"`
}

// SocketInfo is what FetchSockets returns for each matching socket, local
// or remote.
type SocketInfo struct {
	ID        SocketID  `json:"id"`
	Handshake Handshake `json:"handshake"`
	Rooms     []Room    `json:"rooms"`
	// Data is the socket's free-form data. For a local socket it is the
	// value set by the application; for a remote one it is the JSON-decoded
	// value.
	Data any `json:"data"`
}

// RoomEventKind tells which membership change a RoomEvent reports.
type RoomEventKind int

// The room events of socket.io's in-memory adapter.
const (
	CreateRoom RoomEventKind = iota // "create-room": a room got its first member
	DeleteRoom                      // "delete-room": a room lost its last member
	JoinRoom                        // "join-room": a socket joined a room
	LeaveRoom                       // "leave-room": a socket left a room
)

// String returns socket.io's event name for k.
func (k RoomEventKind) String() string {
	switch k {
	case CreateRoom:
		return "create-room"
	case DeleteRoom:
		return "delete-room"
	case JoinRoom:
		return "join-room"
	case LeaveRoom:
		return "leave-room"
	}
	return "unknown"
}

// AckFunc receives one client's acknowledgement of a broadcast: the first
// argument the client passed to its ack callback (nil when it passed none).
type AckFunc func(arg any)

// Namespace is how an adapter reaches the local sockets of its namespace.
// The node package implements it; adapters never import node.
//
// All methods are goroutine-safe and must not block on the network.
type Namespace interface {
	// Name returns the namespace name, e.g. "/".
	Name() string

	// Deliver encodes pkt once and queues it to each listed local socket,
	// skipping ids that are not (or no longer) connected. With
	// flags.Volatile a socket that is not ready to write is skipped. When
	// onAck is not nil the packet asks for an acknowledgement: the
	// namespace assigns it an ack id and calls onAck once per client that
	// answers within flags.Timeout (no timeout when zero). Deliver returns
	// the number of sockets the packet was queued to.
	Deliver(pkt *Packet, sids []SocketID, flags BroadcastFlags, onAck AckFunc) int

	// SocketInfo describes a local socket for FetchSockets.
	SocketInfo(sid SocketID) (SocketInfo, bool)

	// DisconnectSockets disconnects the listed local sockets with reason
	// "server namespace disconnect"; close also closes their connections.
	DisconnectSockets(sids []SocketID, close bool)

	// ServerSideEmit delivers an event emitted by another node with
	// ServerSideEmit. data is [event, args...]. reply is nil when the
	// sender asked for no acknowledgement; otherwise the application must
	// call it at most once with its answer.
	ServerSideEmit(data []any, reply func(arg any))

	// RoomEvent reports a membership change. The adapter calls it after
	// releasing its own locks, in the order the changes happened.
	RoomEvent(kind RoomEventKind, room Room, sid SocketID)
}

// Adapter stores which local sockets are in which rooms, and carries
// broadcasts and cluster requests for one namespace.
//
// Methods marked local-only touch only this node's maps. Cluster-wide
// methods reach every node of the cluster unless the Local flag is set; in
// the in-memory adapter "the cluster" is this node alone.
//
// All methods are goroutine-safe. No method holds a lock while it calls
// the Namespace or performs network I/O.
type Adapter interface {
	// Init starts the adapter (subscriptions for a cluster adapter).
	Init(ctx context.Context) error
	// Close stops the adapter and releases its resources; later
	// cluster-wide calls return ErrClosed.
	Close(ctx context.Context) error

	// AddAll adds a local socket to rooms. Local-only.
	AddAll(sid SocketID, rooms ...Room)
	// Del removes a local socket from one room. Local-only.
	Del(sid SocketID, room Room)
	// DelAll removes a local socket from every room it is in. Local-only.
	DelAll(sid SocketID)
	// SocketRooms returns the rooms of a local socket, nil if unknown. Local-only.
	SocketRooms(sid SocketID) []Room
	// Rooms returns a snapshot of the local rooms map: room → members.
	// Local-only; O(number of memberships).
	Rooms() map[Room][]SocketID
	// Sids returns a snapshot of the local sids map: socket → rooms.
	// Local-only; O(number of memberships).
	Sids() map[SocketID][]Room

	// Broadcast delivers pkt to the matching sockets. Cluster-wide.
	Broadcast(ctx context.Context, pkt *Packet, opts BroadcastOptions) error
	// BroadcastWithAck delivers pkt asking each client for an ack.
	// onClientCount is called once per node (this node included), with the
	// number of clients that node reached, 0 included, so the caller can
	// tell when every node has answered; onAck once per client answer.
	// Acks may arrive before their node's count. Acks are awaited for
	// opts.Flags.Timeout. Cluster-wide.
	BroadcastWithAck(ctx context.Context, pkt *Packet, opts BroadcastOptions, onClientCount func(n int), onAck AckFunc) error

	// Sockets returns the ids of the sockets in any of rooms (all sockets
	// when rooms is empty). Cluster-wide.
	Sockets(ctx context.Context, rooms []Room) ([]SocketID, error)
	// AllRooms returns the union of every node's rooms. Cluster-wide.
	AllRooms(ctx context.Context) ([]Room, error)
	// FetchSockets describes the matching sockets. Cluster-wide; with a
	// timeout it returns what arrived together with an error.
	FetchSockets(ctx context.Context, opts BroadcastOptions) ([]SocketInfo, error)
	// AddSockets makes the matching sockets join rooms. Cluster-wide.
	AddSockets(ctx context.Context, opts BroadcastOptions, rooms []Room) error
	// DelSockets makes the matching sockets leave rooms. Cluster-wide.
	DelSockets(ctx context.Context, opts BroadcastOptions, rooms []Room) error
	// DisconnectSockets disconnects the matching sockets. Cluster-wide.
	DisconnectSockets(ctx context.Context, opts BroadcastOptions, close bool) error
	// ServerSideEmit sends [event, args...] to every other node. Cluster-wide.
	ServerSideEmit(ctx context.Context, data []any) error
	// ServerSideEmitWithAck sends [event, args...] to every other node and
	// waits for one answer from each, until ctx ends or the adapter's
	// request timeout passes; on timeout it returns the answers that
	// arrived and an error. Cluster-wide.
	ServerSideEmitWithAck(ctx context.Context, data []any) ([]any, error)
	// ServerCount returns the number of nodes in the cluster, this one
	// included. Cluster-wide.
	ServerCount(ctx context.Context) (int, error)
}

// Factory creates the adapter of one namespace.
type Factory func(ns Namespace) (Adapter, error)

// ReadyChecker is implemented by adapters that can be not ready (for
// example unsubscribed from Redis). A node reports not-ready while any
// adapter's Ready returns an error.
type ReadyChecker interface {
	Ready() error
}

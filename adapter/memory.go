package adapter

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// errNilPacket is returned by Broadcast and BroadcastWithAck for a nil packet.
var errNilPacket = errors.New("adapter: nil packet")

// Tuning of Match and of the room-event queue.
const (
	// smallSetLimit is the number of rooms (or except rooms) up to which
	// Match tests membership room by room instead of building a set: for a
	// handful of rooms a few map lookups per socket are cheaper than
	// allocating and filling a map.
	smallSetLimit = 4

	// maxPendingRoomEvents bounds the room events waiting to be reported.
	// A membership change that finds this many events queued waits until
	// the reporting goroutine has taken them.
	maxPendingRoomEvents = 1 << 16

	// maxSpareRoomEvents is the largest event buffer kept for reuse.
	maxSpareRoomEvents = 1024
)

// setListMax is the largest set kept as a slice; bigger sets use a map.
const setListMax = 8

// set is a compact set of K, stored by value in the rooms and sids maps.
// Most sets are tiny: every socket's own room has one member, and a socket
// is usually in one to a few rooms. So a set holds its only element inline
// (no allocation), up to setListMax elements in a slice, and more in a
// map. An idle socket thus costs two map entries and no set allocation
// (a map per set cost ~0.8 KB per socket).
//
// A set is a value: after a mutating method, store it back in its map. The
// zero set is empty.
type set[K comparable] struct {
	one  K              // the element when n == 1
	list []K            // the elements when 2 <= n <= setListMax (m nil)
	m    map[K]struct{} // the elements when m != nil
	n    int            // number of elements
}

// size returns the number of elements.
func (s *set[K]) size() int { return s.n }

// has reports whether k is in s.
func (s *set[K]) has(k K) bool {
	switch {
	case s.m != nil:
		_, ok := s.m[k]
		return ok
	case s.n == 1:
		return s.one == k
	}
	for _, x := range s.list {
		if x == k {
			return true
		}
	}
	return false
}

// add inserts k; it reports whether k was new.
func (s *set[K]) add(k K) bool {
	if s.has(k) {
		return false
	}
	switch {
	case s.m != nil:
		s.m[k] = struct{}{}
	case s.n == 0:
		s.one = k
	case s.n == 1:
		s.list = append(make([]K, 0, 4), s.one, k)
		var zero K
		s.one = zero
	case s.n < setListMax:
		s.list = append(s.list, k)
	default:
		s.m = make(map[K]struct{}, 2*setListMax)
		for _, x := range s.list {
			s.m[x] = struct{}{}
		}
		s.m[k] = struct{}{}
		s.list = nil
	}
	s.n++
	return true
}

// remove deletes k; it reports whether k was there. A set shrinking back
// to a few elements returns to the compact forms.
func (s *set[K]) remove(k K) bool {
	var zero K
	switch {
	case s.m != nil:
		if _, ok := s.m[k]; !ok {
			return false
		}
		delete(s.m, k)
		s.n--
		if s.n <= setListMax/2 {
			list := make([]K, 0, setListMax/2)
			for x := range s.m {
				list = append(list, x)
			}
			s.m, s.list = nil, list
			s.normalize()
		}
		return true
	case s.n == 1:
		if s.one != k {
			return false
		}
		s.one, s.n = zero, 0
		return true
	}
	for i, x := range s.list {
		if x == k {
			last := len(s.list) - 1
			s.list[i] = s.list[last]
			s.list[last] = zero
			s.list = s.list[:last]
			s.n--
			s.normalize()
			return true
		}
	}
	return false
}

// normalize moves a one-element list inline.
func (s *set[K]) normalize() {
	if s.m == nil && s.n == 1 && len(s.list) == 1 {
		s.one, s.list = s.list[0], nil
	}
}

// all yields every element once, in no particular order. s must not be
// modified during the iteration.
func (s *set[K]) all(yield func(K) bool) {
	switch {
	case s.m != nil:
		for k := range s.m {
			if !yield(k) {
				return
			}
		}
	case s.n == 1:
		yield(s.one)
	default:
		for _, k := range s.list {
			if !yield(k) {
				return
			}
		}
	}
}

// roomSet is the set of members of a room.
type roomSet = set[SocketID]

// roomEvent is a membership change waiting to be reported.
type roomEvent struct {
	kind RoomEventKind
	room Room
	sid  SocketID
}

// Memory implements Adapter for one node; its cluster-wide methods act on
// this node only.
//
// It keeps socket.io's two maps, rooms (room → members) and sids (socket →
// rooms), under one RWMutex. A room exists from its first member to its
// last. A socket stays known (and matches broadcasts to every socket) from
// its first AddAll until DelAll, even when it has left every room.
//
// Room events are reported through Namespace.RoomEvent after the lock is
// released, one goroutine at a time and in the order the changes happened.
// When a change happens while another goroutine is reporting, that
// goroutine reports it too, so RoomEvent may call back into the adapter.
// The queue of events waiting to be reported is bounded (65,536): a change
// that finds it full waits until the reporting goroutine takes them, which
// is why RoomEvent must not block.
//
// Cluster adapters embed or wrap a Memory for their local part: its
// methods are the local path of every operation.
type Memory struct {
	ns     Namespace
	closed atomic.Bool

	mu    sync.RWMutex
	rooms map[Room]roomSet
	sids  map[SocketID]set[Room]

	// Room-event queue, guarded by mu. pending holds the events not yet
	// reported; reporting is true while a goroutine delivers them; spare is
	// a drained buffer kept for reuse; waiting counts the goroutines
	// blocked on roomCond because pending is full.
	pending   []roomEvent
	spare     []roomEvent
	reporting bool
	waiting   int
	roomCond  sync.Cond
}

var _ Adapter = (*Memory)(nil)

// NewMemory returns the in-memory adapter for ns.
func NewMemory(ns Namespace) *Memory {
	m := &Memory{
		ns:    ns,
		rooms: make(map[Room]roomSet),
		sids:  make(map[SocketID]set[Room]),
	}
	m.roomCond.L = &m.mu
	return m
}

// MemoryFactory is the Factory of the in-memory adapter (the default).
func MemoryFactory(ns Namespace) (Adapter, error) {
	if ns == nil {
		return nil, errors.New("adapter: nil namespace")
	}
	return NewMemory(ns), nil
}

// Namespace returns the namespace the adapter serves.
func (m *Memory) Namespace() Namespace { return m.ns }

// Init starts the adapter. It returns ErrClosed after Close.
func (m *Memory) Init(context.Context) error {
	if m.closed.Load() {
		return ErrClosed
	}
	return nil
}

// Close marks the adapter closed: later cluster-wide calls return
// ErrClosed. The local membership methods keep working so that the
// namespace can still remove its sockets. Close is idempotent.
func (m *Memory) Close(context.Context) error {
	m.closed.Store(true)
	return nil
}

// AddAll adds a local socket to rooms, creating the rooms that do not
// exist. With no rooms it only registers the socket. Local-only.
func (m *Memory) AddAll(sid SocketID, rooms ...Room) { m.add(sid, rooms, false) }

// AddKnown is AddAll for a socket the adapter knows: it changes nothing
// and returns false when the socket is unknown (it never joined a room,
// or DelAll forgot it). A join that acts on sockets found earlier, such
// as AddSockets after Match, uses it so that a socket that disconnected
// in between is not brought back into rooms it would never leave.
// Local-only.
func (m *Memory) AddKnown(sid SocketID, rooms ...Room) bool { return m.add(sid, rooms, true) }

// add implements AddAll and AddKnown.
func (m *Memory) add(sid SocketID, rooms []Room, knownOnly bool) bool {
	m.mu.Lock()
	m.waitRoomQueueLocked()
	mine, known := m.sids[sid]
	if knownOnly && !known {
		m.mu.Unlock()
		return false
	}
	for _, room := range rooms {
		mine.add(room)
		members, ok := m.rooms[room]
		if !ok {
			m.pending = append(m.pending, roomEvent{CreateRoom, room, ""})
		}
		if members.add(sid) {
			m.pending = append(m.pending, roomEvent{JoinRoom, room, sid})
		}
		m.rooms[room] = members
	}
	m.sids[sid] = mine
	m.reportAndUnlock()
	return true
}

// Del removes a local socket from one room, deleting the room when it was
// the last member. The socket stays known even when it is in no room.
// Local-only.
func (m *Memory) Del(sid SocketID, room Room) {
	m.mu.Lock()
	m.waitRoomQueueLocked()
	if mine, ok := m.sids[sid]; ok && mine.remove(room) {
		m.sids[sid] = mine
	}
	m.delLocked(room, sid)
	m.reportAndUnlock()
}

// DelAll removes a local socket from every room it is in and forgets it.
// Local-only.
func (m *Memory) DelAll(sid SocketID) {
	m.mu.Lock()
	m.waitRoomQueueLocked()
	mine, ok := m.sids[sid]
	if ok {
		for room := range mine.all {
			m.delLocked(room, sid)
		}
		delete(m.sids, sid)
	}
	m.reportAndUnlock()
}

// delLocked removes sid from the members of room and queues the events of
// the real changes. m.mu must be write-locked.
func (m *Memory) delLocked(room Room, sid SocketID) {
	members, ok := m.rooms[room]
	if !ok {
		return
	}
	if members.remove(sid) {
		m.pending = append(m.pending, roomEvent{LeaveRoom, room, sid})
	}
	if members.size() == 0 {
		delete(m.rooms, room)
		m.pending = append(m.pending, roomEvent{DeleteRoom, room, ""})
	} else {
		m.rooms[room] = members
	}
}

// waitRoomQueueLocked blocks while the room-event queue is full and
// another goroutine is draining it. m.mu must be write-locked.
func (m *Memory) waitRoomQueueLocked() {
	for m.reporting && len(m.pending) >= maxPendingRoomEvents {
		m.waiting++
		m.roomCond.Wait()
		m.waiting--
	}
}

// reportAndUnlock reports the queued room events, in order, then releases
// m.mu, which must be write-locked. If another goroutine is already
// reporting, it leaves the events to that goroutine. Events are delivered
// without holding m.mu.
func (m *Memory) reportAndUnlock() {
	if m.reporting || len(m.pending) == 0 {
		m.mu.Unlock()
		return
	}
	m.reporting = true
	for len(m.pending) > 0 {
		batch := m.pending
		m.pending = m.spare[:0]
		m.spare = nil
		if m.waiting > 0 {
			m.roomCond.Broadcast()
		}
		m.mu.Unlock()

		for _, e := range batch {
			m.ns.RoomEvent(e.kind, e.room, e.sid)
		}
		clear(batch)

		m.mu.Lock()
		if cap(batch) <= maxSpareRoomEvents {
			m.spare = batch[:0]
		}
	}
	m.reporting = false
	if m.waiting > 0 {
		m.roomCond.Broadcast()
	}
	m.mu.Unlock()
}

// SocketRooms returns the rooms of a local socket, nil if unknown (an
// empty, non-nil slice for a known socket in no room). Local-only.
func (m *Memory) SocketRooms(sid SocketID) []Room {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.socketRoomsLocked(sid)
}

// socketRoomsLocked is SocketRooms with m.mu held.
func (m *Memory) socketRoomsLocked(sid SocketID) []Room {
	mine, ok := m.sids[sid]
	if !ok {
		return nil
	}
	out := make([]Room, 0, mine.size())
	for room := range mine.all {
		out = append(out, room)
	}
	return out
}

// Rooms returns a snapshot of the local rooms map: room → members.
// Local-only; O(number of memberships).
func (m *Memory) Rooms() map[Room][]SocketID {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return snapshot(m.rooms)
}

// Sids returns a snapshot of the local sids map: socket → rooms.
// Local-only; O(number of memberships).
func (m *Memory) Sids() map[SocketID][]Room {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return snapshot(m.sids)
}

// snapshot copies one of the two maps into plain slices sharing a single
// backing array; the caller holds m.mu.
func snapshot[K, V comparable](src map[K]set[V]) map[K][]V {
	total := 0
	for _, members := range src {
		total += members.size()
	}
	backing := make([]V, 0, total)
	out := make(map[K][]V, len(src))
	for k, members := range src {
		start := len(backing)
		for v := range members.all {
			backing = append(backing, v)
		}
		// Full slice expression: appending to one entry never overwrites
		// the next.
		out[k] = backing[start:len(backing):len(backing)]
	}
	return out
}

// Match returns the local socket ids matching opts (union of Rooms, minus
// Except; all when Rooms is empty), each once.
func (m *Memory) Match(opts BroadcastOptions) []SocketID {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.matchLocked(opts.Rooms, opts.Except)
}

// matchLocked implements Match with m.mu held. It allocates only the
// result, unless more than smallSetLimit rooms or except rooms ask for a
// deduplication or exclusion set.
func (m *Memory) matchLocked(rooms, except []Room) []SocketID {
	// Resolve the except rooms that exist: up to smallSetLimit member sets
	// are tested one by one, more are merged into one set.
	var exceptBuf [smallSetLimit]roomSet
	exceptSets := exceptBuf[:0]
	exceptSize := 0
	for _, room := range except {
		if members := m.rooms[room]; members.size() > 0 {
			exceptSets = append(exceptSets, members)
			exceptSize += members.size()
		}
	}
	var exceptSet map[SocketID]struct{}
	if len(exceptSets) > smallSetLimit {
		exceptSet = make(map[SocketID]struct{}, exceptSize)
		for _, members := range exceptSets {
			for sid := range members.all {
				exceptSet[sid] = struct{}{}
			}
		}
	}
	excluded := func(sid SocketID) bool {
		if exceptSet != nil {
			_, ok := exceptSet[sid]
			return ok
		}
		for i := range exceptSets {
			// Big sets are maps: look up inline (hot for large excepts).
			if em := exceptSets[i].m; em != nil {
				if _, ok := em[sid]; ok {
					return true
				}
			} else if exceptSets[i].has(sid) {
				return true
			}
		}
		return false
	}

	switch len(rooms) {
	case 0:
		if len(m.sids) == 0 {
			return nil
		}
		out := make([]SocketID, 0, len(m.sids))
		for sid := range m.sids {
			if !excluded(sid) {
				out = append(out, sid)
			}
		}
		return out
	case 1:
		members := m.rooms[rooms[0]]
		if members.size() == 0 {
			return nil
		}
		out := make([]SocketID, 0, members.size())
		if members.m != nil {
			// The hot path of big-room broadcasts: a plain map range.
			for sid := range members.m {
				if !excluded(sid) {
					out = append(out, sid)
				}
			}
			return out
		}
		for sid := range members.all {
			if !excluded(sid) {
				out = append(out, sid)
			}
		}
		return out
	}

	// Several rooms: visit each distinct existing room once.
	var setBuf [smallSetLimit]roomSet
	sets := setBuf[:0]
	total := 0
	for i, room := range rooms {
		members := m.rooms[room]
		if members.size() == 0 || containsRoom(rooms[:i], room) {
			continue
		}
		sets = append(sets, members)
		total += members.size()
	}
	if total == 0 {
		return nil
	}
	out := make([]SocketID, 0, total)
	if len(sets) <= smallSetLimit {
		// A socket is new in sets[i] when no earlier set holds it.
		for i := range sets {
		next:
			for sid := range sets[i].all {
				for j := range sets[:i] {
					if sets[j].has(sid) {
						continue next
					}
				}
				if !excluded(sid) {
					out = append(out, sid)
				}
			}
		}
		return out
	}
	seen := make(map[SocketID]struct{}, total)
	for i := range sets {
		for sid := range sets[i].all {
			if _, ok := seen[sid]; ok {
				continue
			}
			seen[sid] = struct{}{}
			if !excluded(sid) {
				out = append(out, sid)
			}
		}
	}
	return out
}

// containsRoom reports whether rooms holds room.
func containsRoom(rooms []Room, room Room) bool {
	for _, r := range rooms {
		if r == room {
			return true
		}
	}
	return false
}

// Broadcast delivers pkt to the matching local sockets with one
// Namespace.Deliver call (none when no socket matches). Cluster-wide; here
// the cluster is this node.
func (m *Memory) Broadcast(_ context.Context, pkt *Packet, opts BroadcastOptions) error {
	if m.closed.Load() {
		return ErrClosed
	}
	if pkt == nil {
		return errNilPacket
	}
	if sids := m.Match(opts); len(sids) > 0 {
		m.ns.Deliver(pkt, sids, opts.Flags, nil)
	}
	return nil
}

// BroadcastWithAck delivers pkt to the matching local sockets asking each
// for an acknowledgement, then calls onClientCount exactly once with the
// number of sockets reached (0 included). onAck is called by the namespace
// once per answer, possibly before onClientCount and from other
// goroutines. Cluster-wide; here the cluster is this node.
func (m *Memory) BroadcastWithAck(_ context.Context, pkt *Packet, opts BroadcastOptions, onClientCount func(n int), onAck AckFunc) error {
	if m.closed.Load() {
		return ErrClosed
	}
	if pkt == nil {
		return errNilPacket
	}
	if onAck == nil {
		onAck = func(any) {}
	}
	n := 0
	if sids := m.Match(opts); len(sids) > 0 {
		n = m.ns.Deliver(pkt, sids, opts.Flags, onAck)
	}
	if onClientCount != nil {
		onClientCount(n)
	}
	return nil
}

// Sockets returns the ids of the local sockets in any of rooms (all when
// rooms is empty). Cluster-wide; here the cluster is this node.
func (m *Memory) Sockets(_ context.Context, rooms []Room) ([]SocketID, error) {
	if m.closed.Load() {
		return nil, ErrClosed
	}
	return m.Match(BroadcastOptions{Rooms: rooms}), nil
}

// AllRooms returns the local rooms. Cluster-wide; here the cluster is this
// node.
func (m *Memory) AllRooms(context.Context) ([]Room, error) {
	if m.closed.Load() {
		return nil, ErrClosed
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Room, 0, len(m.rooms))
	for room := range m.rooms {
		out = append(out, room)
	}
	return out, nil
}

// FetchSockets describes the matching local sockets: Namespace.SocketInfo
// of each, with Rooms taken from the adapter. Sockets the namespace no
// longer knows are skipped. Cluster-wide; here the cluster is this node.
func (m *Memory) FetchSockets(_ context.Context, opts BroadcastOptions) ([]SocketInfo, error) {
	if m.closed.Load() {
		return nil, ErrClosed
	}
	sids := m.Match(opts)
	out := make([]SocketInfo, 0, len(sids))
	for _, sid := range sids {
		info, ok := m.ns.SocketInfo(sid)
		if !ok {
			continue
		}
		rooms := m.SocketRooms(sid)
		if rooms == nil {
			continue // left between Match and now
		}
		info.ID = sid
		info.Rooms = rooms
		out = append(out, info)
	}
	return out, nil
}

// AddSockets makes the matching local sockets join rooms. Cluster-wide;
// here the cluster is this node.
func (m *Memory) AddSockets(_ context.Context, opts BroadcastOptions, rooms []Room) error {
	if m.closed.Load() {
		return ErrClosed
	}
	if len(rooms) == 0 {
		return nil
	}
	for _, sid := range m.Match(opts) {
		m.AddKnown(sid, rooms...)
	}
	return nil
}

// DelSockets makes the matching local sockets leave rooms. Cluster-wide;
// here the cluster is this node.
func (m *Memory) DelSockets(_ context.Context, opts BroadcastOptions, rooms []Room) error {
	if m.closed.Load() {
		return ErrClosed
	}
	if len(rooms) == 0 {
		return nil
	}
	for _, sid := range m.Match(opts) {
		for _, room := range rooms {
			m.Del(sid, room)
		}
	}
	return nil
}

// DisconnectSockets asks the namespace to disconnect the matching local
// sockets; close also closes their connections. Cluster-wide; here the
// cluster is this node.
func (m *Memory) DisconnectSockets(_ context.Context, opts BroadcastOptions, close bool) error {
	if m.closed.Load() {
		return ErrClosed
	}
	if sids := m.Match(opts); len(sids) > 0 {
		m.ns.DisconnectSockets(sids, close)
	}
	return nil
}

// ServerSideEmit does nothing: there is no other node. Cluster-wide.
func (m *Memory) ServerSideEmit(context.Context, []any) error {
	if m.closed.Load() {
		return ErrClosed
	}
	return nil
}

// ServerSideEmitWithAck returns no answers at once: there is no other
// node. Cluster-wide.
func (m *Memory) ServerSideEmitWithAck(context.Context, []any) ([]any, error) {
	if m.closed.Load() {
		return nil, ErrClosed
	}
	return []any{}, nil
}

// ServerCount returns 1. Cluster-wide.
func (m *Memory) ServerCount(context.Context) (int, error) {
	if m.closed.Load() {
		return 0, ErrClosed
	}
	return 1, nil
}

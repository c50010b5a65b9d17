package adapter

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// TestSetMatchesMap drives a set through every form (inline, slice, map
// and back) with random adds and removes, checking it against a map.
func TestSetMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var s set[string]
		ref := map[string]bool{}
		universe := 1 + rng.IntN(3*setListMax)
		for range 400 {
			k := fmt.Sprint("k", rng.IntN(universe))
			if rng.IntN(2) == 0 {
				if got, want := s.add(k), !ref[k]; got != want {
					t.Fatalf("round %d: add(%q) = %v, want %v", round, k, got, want)
				}
				ref[k] = true
			} else {
				if got, want := s.remove(k), ref[k]; got != want {
					t.Fatalf("round %d: remove(%q) = %v, want %v", round, k, got, want)
				}
				delete(ref, k)
			}
			checkSet(t, &s, ref)
		}
	}
}

func checkSet(t *testing.T, s *set[string], ref map[string]bool) {
	t.Helper()
	if s.size() != len(ref) {
		t.Fatalf("size %d, want %d", s.size(), len(ref))
	}
	var got []string
	for k := range s.all {
		got = append(got, k)
	}
	want := make([]string, 0, len(ref))
	for k := range ref {
		want = append(want, k)
		if !s.has(k) {
			t.Fatalf("has(%q) = false", k)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("elements %v, want %v", got, want)
	}
	if s.has("absent") {
		t.Fatal(`has("absent") = true`)
	}
	// The form follows the size: inline for one element, no map up to
	// setListMax.
	switch {
	case len(ref) == 1 && (s.m != nil || s.list != nil):
		t.Fatalf("one element not inline: list %v, map %v", s.list, s.m)
	case len(ref) <= setListMax/2 && s.m != nil:
		t.Fatalf("%d elements kept in a map", len(ref))
	case len(ref) > setListMax && s.m == nil:
		t.Fatalf("%d elements not in a map", len(ref))
	}
}

// TestSetAllStops checks that all honours a false yield in every form.
func TestSetAllStops(t *testing.T) {
	for _, n := range []int{1, 3, setListMax + 3} {
		var s set[int]
		for i := range n {
			s.add(i)
		}
		calls := 0
		for range s.all {
			calls++
			break
		}
		if calls != 1 {
			t.Fatalf("n=%d: %d iterations after break", n, calls)
		}
	}
}

// TestMemoryIdleSocketHeap bounds the adapter's heap per socket that is
// only in its own room (the idle case): a map per set cost ~0.8 KB.
func TestMemoryIdleSocketHeap(t *testing.T) {
	const n = 20_000
	ids := make([]SocketID, n)
	for i := range ids {
		ids[i] = SocketID(fmt.Sprintf("sid-%016d", i))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := NewMemory(idleNS{})
	for _, sid := range ids {
		m.AddAll(sid, Room(sid))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perSocket := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("adapter heap per idle socket: %.0f B", perSocket)
	if perSocket > 400 {
		t.Errorf("adapter heap per idle socket = %.0f B, want <= 400", perSocket)
	}
	if got := len(m.SocketRooms(ids[0])); got != 1 {
		t.Fatalf("socket in %d rooms, want 1", got)
	}
	runtime.KeepAlive(m)
}

// idleNS is a Namespace that ignores everything.
type idleNS struct{}

func (idleNS) Name() string                                             { return "/" }
func (idleNS) Deliver(*Packet, []SocketID, BroadcastFlags, AckFunc) int { return 0 }
func (idleNS) SocketInfo(SocketID) (SocketInfo, bool)                   { return SocketInfo{}, false }
func (idleNS) DisconnectSockets([]SocketID, bool)                       {}
func (idleNS) ServerSideEmit([]any, func(any))                          {}
func (idleNS) RoomEvent(RoomEventKind, Room, SocketID)                  {}

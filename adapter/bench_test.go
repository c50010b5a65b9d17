package adapter_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sio-go/sio/adapter"
)

// noopNS is a Namespace that does nothing, to measure the adapter alone.
type noopNS struct{}

func (noopNS) Name() string { return "/" }
func (noopNS) Deliver(_ *adapter.Packet, sids []adapter.SocketID, _ adapter.BroadcastFlags, _ adapter.AckFunc) int {
	return len(sids)
}
func (noopNS) SocketInfo(adapter.SocketID) (adapter.SocketInfo, bool) {
	return adapter.SocketInfo{}, false
}
func (noopNS) DisconnectSockets([]adapter.SocketID, bool)                      {}
func (noopNS) ServerSideEmit([]any, func(any))                                 {}
func (noopNS) RoomEvent(adapter.RoomEventKind, adapter.Room, adapter.SocketID) {}

// benchMemory returns a Memory with size sockets, each in its own room,
// in "room", and every other one in "half".
func benchMemory(size int) *adapter.Memory {
	m := adapter.NewMemory(noopNS{})
	for i := range size {
		sid := adapter.SocketID(fmt.Sprintf("sid-%08d", i))
		rs := []adapter.Room{adapter.Room(sid), "room"}
		if i%2 == 0 {
			rs = append(rs, "half")
		}
		m.AddAll(sid, rs...)
	}
	return m
}

var benchSizes = []int{1, 100, 1_000, 10_000}

func BenchmarkBroadcast(b *testing.B) {
	ctx := context.Background()
	pkt := &adapter.Packet{Type: adapter.PacketEvent, Nsp: "/", Data: []any{"ev", "payload"}}
	for _, size := range benchSizes {
		m := benchMemory(size)
		b.Run(fmt.Sprintf("room=%d", size), func(b *testing.B) {
			opts := adapter.BroadcastOptions{Rooms: []adapter.Room{"room"}}
			b.ReportAllocs()
			for b.Loop() {
				if err := m.Broadcast(ctx, pkt, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("room=%d/except-sender", size), func(b *testing.B) {
			opts := adapter.BroadcastOptions{Rooms: []adapter.Room{"room"}, Except: []adapter.Room{"sid-00000000"}}
			b.ReportAllocs()
			for b.Loop() {
				if err := m.Broadcast(ctx, pkt, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMatch(b *testing.B) {
	cases := []struct {
		name string
		opts adapter.BroadcastOptions
	}{
		{"all", adapter.BroadcastOptions{}},
		{"one-room", adapter.BroadcastOptions{Rooms: []adapter.Room{"room"}}},
		{"two-rooms", adapter.BroadcastOptions{Rooms: []adapter.Room{"half", "room"}}},
		{"six-rooms", adapter.BroadcastOptions{Rooms: []adapter.Room{"half", "room", "a", "b", "c", "d"}}},
		{"room-except-half", adapter.BroadcastOptions{Rooms: []adapter.Room{"room"}, Except: []adapter.Room{"half"}}},
		{"room-except-six", adapter.BroadcastOptions{Rooms: []adapter.Room{"room"}, Except: []adapter.Room{"half", "a", "b", "c", "d", "e"}}},
	}
	for _, size := range []int{100, 10_000} {
		m := benchMemory(size)
		for _, tc := range cases {
			b.Run(fmt.Sprintf("%s/sockets=%d", tc.name, size), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_ = m.Match(tc.opts)
				}
			})
		}
	}
}

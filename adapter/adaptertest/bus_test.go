package adaptertest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/sio-go/sio/adapter"
)

// This file checks the suite's multi-node cases against busAdapter, a
// minimal cluster adapter over an in-process bus: every node wraps a
// Memory, fire-and-forget operations reach the other nodes asynchronously
// through one ordered inbox per node, requests are answered synchronously.
// Values crossing the bus go through JSON, as they would through Redis.

// bus connects the nodes of one test cluster.
type bus struct {
	mu    sync.Mutex
	nodes []*busAdapter
}

// others returns the open nodes of namespace nsp other than self.
func (b *bus) others(self *busAdapter) []*busAdapter {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*busAdapter
	for _, n := range b.nodes {
		if n != self && n.mem.Namespace().Name() == self.mem.Namespace().Name() && !n.isClosed() {
			out = append(out, n)
		}
	}
	return out
}

// busAdapter is a cluster adapter over a bus.
type busAdapter struct {
	*adapter.Memory
	mem   *adapter.Memory
	bus   *bus
	inbox chan func()
	done  chan struct{}

	mu     sync.Mutex
	closed bool
}

func (a *busAdapter) isClosed() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closed
}

func newBusCluster(t *testing.T, n int) []adapter.Factory {
	b := &bus{}
	out := make([]adapter.Factory, n)
	for i := range out {
		out[i] = func(ns adapter.Namespace) (adapter.Adapter, error) {
			mem := adapter.NewMemory(ns)
			a := &busAdapter{Memory: mem, mem: mem, bus: b, inbox: make(chan func(), 64), done: make(chan struct{})}
			go func() {
				defer close(a.done)
				for fn := range a.inbox {
					fn()
				}
			}()
			b.mu.Lock()
			b.nodes = append(b.nodes, a)
			b.mu.Unlock()
			return a, nil
		}
	}
	return out
}

// roundTrip passes v through JSON, as a remote node would see it, except
// binary values ([]byte), which are copied as such (Redis carries them).
func roundTrip[T any](v T) T {
	var out T
	switch x := any(v).(type) {
	case []any:
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = roundTrip(e)
		}
		return any(c).(T)
	case map[string]any:
		c := make(map[string]any, len(x))
		for k, e := range x {
			c[k] = roundTrip(e)
		}
		return any(c).(T)
	case []byte:
		return any(slices.Clone(x)).(T)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		panic(err)
	}
	return out
}

// send queues fn on every other node's inbox (blocking when full: the
// test cluster is small).
func (a *busAdapter) send(fn func(*busAdapter)) {
	for _, o := range a.bus.others(a) {
		o.inbox <- func() { fn(o) }
	}
}

func (a *busAdapter) Close(ctx context.Context) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.mu.Unlock()
	close(a.inbox)
	<-a.done
	return a.mem.Close(ctx)
}

func (a *busAdapter) ServerCount(ctx context.Context) (int, error) {
	if _, err := a.mem.ServerCount(ctx); err != nil {
		return 0, err
	}
	return 1 + len(a.bus.others(a)), nil
}

func (a *busAdapter) Broadcast(ctx context.Context, pkt *adapter.Packet, opts adapter.BroadcastOptions) error {
	if err := a.mem.Broadcast(ctx, pkt, opts); err != nil || opts.Flags.Local {
		return err
	}
	remote := &adapter.Packet{Type: pkt.Type, Nsp: pkt.Nsp, Data: roundTrip(pkt.Data)}
	a.send(func(o *busAdapter) { _ = o.mem.Broadcast(ctx, remote, opts) })
	return nil
}

func (a *busAdapter) BroadcastWithAck(ctx context.Context, pkt *adapter.Packet, opts adapter.BroadcastOptions, onCount func(int), onAck adapter.AckFunc) error {
	if err := a.mem.BroadcastWithAck(ctx, pkt, opts, onCount, onAck); err != nil || opts.Flags.Local {
		return err
	}
	remote := &adapter.Packet{Type: pkt.Type, Nsp: pkt.Nsp, Data: roundTrip(pkt.Data)}
	a.send(func(o *busAdapter) {
		_ = o.mem.BroadcastWithAck(ctx, remote, opts, onCount, func(arg any) { onAck(roundTrip(arg)) })
	})
	return nil
}

func (a *busAdapter) Sockets(ctx context.Context, rooms []adapter.Room) ([]adapter.SocketID, error) {
	out, err := a.mem.Sockets(ctx, rooms)
	if err != nil {
		return nil, err
	}
	for _, o := range a.bus.others(a) {
		ids, _ := o.mem.Sockets(ctx, rooms)
		out = append(out, ids...)
	}
	return out, nil
}

func (a *busAdapter) AllRooms(ctx context.Context) ([]adapter.Room, error) {
	out, err := a.mem.AllRooms(ctx)
	if err != nil {
		return nil, err
	}
	for _, o := range a.bus.others(a) {
		rooms, _ := o.mem.AllRooms(ctx)
		out = append(out, rooms...)
	}
	return out, nil
}

func (a *busAdapter) FetchSockets(ctx context.Context, opts adapter.BroadcastOptions) ([]adapter.SocketInfo, error) {
	out, err := a.mem.FetchSockets(ctx, opts)
	if err != nil || opts.Flags.Local {
		return out, err
	}
	for _, o := range a.bus.others(a) {
		infos, _ := o.mem.FetchSockets(ctx, opts)
		out = append(out, roundTrip(infos)...)
	}
	return out, nil
}

func (a *busAdapter) AddSockets(ctx context.Context, opts adapter.BroadcastOptions, rooms []adapter.Room) error {
	if err := a.mem.AddSockets(ctx, opts, rooms); err != nil || opts.Flags.Local {
		return err
	}
	a.send(func(o *busAdapter) { _ = o.mem.AddSockets(ctx, opts, rooms) })
	return nil
}

func (a *busAdapter) DelSockets(ctx context.Context, opts adapter.BroadcastOptions, rooms []adapter.Room) error {
	if err := a.mem.DelSockets(ctx, opts, rooms); err != nil || opts.Flags.Local {
		return err
	}
	a.send(func(o *busAdapter) { _ = o.mem.DelSockets(ctx, opts, rooms) })
	return nil
}

func (a *busAdapter) DisconnectSockets(ctx context.Context, opts adapter.BroadcastOptions, close bool) error {
	if err := a.mem.DisconnectSockets(ctx, opts, close); err != nil || opts.Flags.Local {
		return err
	}
	a.send(func(o *busAdapter) { _ = o.mem.DisconnectSockets(ctx, opts, close) })
	return nil
}

func (a *busAdapter) ServerSideEmit(ctx context.Context, data []any) error {
	if err := a.mem.ServerSideEmit(ctx, data); err != nil {
		return err
	}
	remote := roundTrip(data)
	a.send(func(o *busAdapter) { o.mem.Namespace().ServerSideEmit(remote, nil) })
	return nil
}

func (a *busAdapter) ServerSideEmitWithAck(ctx context.Context, data []any) ([]any, error) {
	if _, err := a.mem.ServerSideEmitWithAck(ctx, data); err != nil {
		return nil, err
	}
	others := a.bus.others(a)
	answers := make(chan any, len(others))
	remote := roundTrip(data)
	a.send(func(o *busAdapter) {
		var once sync.Once
		o.mem.Namespace().ServerSideEmit(remote, func(arg any) {
			once.Do(func() { answers <- roundTrip(arg) })
		})
	})
	out := []any{}
	for range others {
		select {
		case arg := <-answers:
			out = append(out, arg)
		case <-ctx.Done():
			return out, fmt.Errorf("bus: %d of %d answers: %w", len(out), len(others), ctx.Err())
		}
	}
	return out, nil
}

func TestSuiteOnBusCluster(t *testing.T) {
	Run(t, newBusCluster)
}

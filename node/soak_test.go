package node

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// churnOnce runs one connect/disconnect cycle of kind k:
//
//	0: websocket, CONNECT, event, then the TCP connection is dropped
//	1: websocket, CONNECT, Engine.IO close packet
//	2: websocket, CONNECT, Socket.IO DISCONNECT, then close
//	3: polling, CONNECT, event, Engine.IO close packet
func churnOnce(ctx context.Context, e *hostileEnv, k int) error {
	if k == 3 {
		st, body, err := e.tryDo("GET", "EIO=4&transport=polling", "", nil)
		i := strings.Index(body, `"sid":"`)
		if err != nil || st != 200 || i < 0 {
			return fmt.Errorf("polling handshake %d %q %v", st, body, err)
		}
		sid := body[i+7:]
		sid = sid[:strings.IndexByte(sid, '"')]
		q := "EIO=4&transport=polling&sid=" + sid
		if st, _, err := e.tryDo("POST", q, "40\x1e42[\"echo\",1]", nil); err != nil || st != 200 {
			return fmt.Errorf("polling POST %d %v", st, err)
		}
		if st, body, err := e.tryDo("GET", q, "", nil); err != nil || st != 200 || !strings.HasPrefix(body, "40{") {
			return fmt.Errorf("polling GET %d %q %v", st, body, err)
		}
		if st, _, err := e.tryDo("POST", q, "1", nil); err != nil || st != 200 {
			return fmt.Errorf("polling close %d %v", st, err)
		}
		return nil
	}
	c, err := dialLight(ctx, e.base, false)
	if err != nil {
		return err
	}
	defer c.ws.Close()
	switch k {
	case 0:
		return c.ws.WriteMessage(websocket.TextMessage, []byte(`42["echo",1]`))
	case 1:
		return c.ws.WriteMessage(websocket.TextMessage, []byte("1"))
	default:
		if err := c.ws.WriteMessage(websocket.TextMessage, []byte("41")); err != nil {
			return err
		}
		return c.ws.WriteMessage(websocket.TextMessage, []byte("1"))
	}
}

// heapAfterGC returns the live heap after two collections (the second one
// empties sync.Pools).
func heapAfterGC() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestSoakConnectDisconnectChurn runs 2,000 connect/disconnect cycles over
// both transports and every way of leaving: afterwards no session, socket
// or room is left, the goroutines are back to the baseline and the live
// heap is flat.
func TestSoakConnectDisconnectChurn(t *testing.T) {
	const (
		cycles  = 2000
		workers = 4
		budget  = 30 * time.Second
	)
	e := newHostileEnv(t, Config{})
	var connected atomic.Int64
	e.srv.OnConnection(func(so *Socket) {
		so.Join("churn")
		connected.Add(1)
	})
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	run := func(n int) {
		t.Helper()
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= n || ctx.Err() != nil {
						return
					}
					if err := churnOnce(ctx, e, i%4); err != nil {
						errs <- fmt.Errorf("cycle %d: %w", i, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if ctx.Err() != nil {
			t.Fatalf("churn did not finish within %v", budget)
		}
	}
	settled := func(what string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for e.srv.Engine().Count() != 0 || e.srv.Sockets().SocketCount() != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d sessions and %d sockets left", what, e.srv.Engine().Count(), e.srv.Sockets().SocketCount())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	run(200) // warm-up: pools, maps and buffers reach their steady size
	settled("warm-up")
	baseG := runtime.NumGoroutine()
	baseHeap := heapAfterGC()
	start := time.Now()
	run(cycles)
	elapsed := time.Since(start)
	settled("churn")

	if got := connected.Load(); got != 200+cycles {
		t.Fatalf("%d connections handled, want %d", got, 200+cycles)
	}
	if rooms := e.srv.Sockets().adapter.Rooms(); len(rooms) != 0 {
		t.Fatalf("%d rooms left after the churn", len(rooms))
	}
	var g int
	deadline := time.Now().Add(5 * time.Second)
	for g = runtime.NumGoroutine(); g > baseG && time.Now().Before(deadline); g = runtime.NumGoroutine() {
		time.Sleep(10 * time.Millisecond)
	}
	if g > baseG {
		t.Fatalf("goroutines %d after %d cycles, baseline %d", g, cycles, baseG)
	}
	heap := heapAfterGC()
	const margin = 1 << 20
	if heap > baseHeap+margin {
		t.Fatalf("live heap grew from %d to %d bytes over %d cycles (margin %d)", baseHeap, heap, cycles, margin)
	}
	t.Logf("%d cycles in %v; goroutines %d→%d; heap %d→%d KiB", cycles, elapsed.Round(time.Millisecond), baseG, g, baseHeap>>10, heap>>10)
	e.assertServes(e.good())
}

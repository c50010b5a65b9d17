package engineio

import (
	"runtime"
	"sync"
)

// flusher writes the queues of websocket connections from a small pool of
// goroutines (GOMAXPROCS of them at most), in FIFO order of connections.
//
// Why: a broadcast to a large room queues a frame to thousands of
// connections. One writer goroutine per connection makes the broadcasting
// goroutine compete with thousands of runnable writers, so it is starved
// and every connection's write carries one or two frames; on loopback a
// write call costs about 5µs whatever its size. With a few flushers the
// broadcaster keeps its share of the CPU, queues grow while a connection
// waits for its turn, and each write carries everything queued; the FIFO
// also serves the connections of a room fairly.
//
// Flushers only ever write without blocking (Conn.writeNow): a connection
// whose socket buffer is full is handed to its own writer goroutine
// (Conn.writeLoop), which may block under the write deadline, so one slow
// client never holds up the others. Connections without a raw socket (TLS)
// always use their own writer goroutine.
//
// Each connection is in the list at most once (it holds writerRunning
// while listed), so the list is bounded by the number of connections. The
// goroutines run only while the list is non-empty, like the heartbeat
// scheduler.
type flusher struct {
	mu      sync.Mutex
	list    []*Conn // FIFO: list[head:] are waiting
	head    int
	running int
	max     int
	wg      sync.WaitGroup
}

func newFlusher() *flusher {
	return &flusher{max: max(1, runtime.GOMAXPROCS(0))}
}

// flusherLinger is how many times an idle flusher yields, re-checking the
// list, before it exits.
const flusherLinger = 2

// push appends c, whose writerRunning the caller set, and makes sure a
// flusher runs.
func (f *flusher) push(c *Conn) {
	f.mu.Lock()
	f.list = append(f.list, c)
	if f.running < f.max {
		f.running++
		f.wg.Add(1)
		go f.run()
	}
	f.mu.Unlock()
}

// pop returns the next connection, nil when the list is empty.
func (f *flusher) pop() *Conn {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.head == len(f.list) {
		f.list, f.head = f.list[:0], 0
		if cap(f.list) > 1024 {
			f.list = nil // do not keep a big list while idle
		}
		return nil
	}
	c := f.list[f.head]
	f.list[f.head] = nil
	f.head++
	if f.head > 1024 && f.head*2 > len(f.list) {
		n := copy(f.list, f.list[f.head:])
		clear(f.list[n:])
		f.list, f.head = f.list[:n], 0
	}
	return c
}

func (f *flusher) run() {
	defer f.wg.Done()
	idle := 0
	for {
		c := f.pop()
		if c != nil {
			idle = 0
			c.flush()
			continue
		}
		if idle < flusherLinger {
			idle++
			runtime.Gosched()
			continue
		}
		f.mu.Lock()
		if f.head < len(f.list) {
			f.mu.Unlock()
			continue
		}
		f.running--
		f.mu.Unlock()
		return
	}
}

// wait blocks until every flusher goroutine has exited.
func (f *flusher) wait() { f.wg.Wait() }

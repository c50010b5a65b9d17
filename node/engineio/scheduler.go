package engineio

import (
	"sync"
	"time"
)

// scheduler runs every session's heartbeat timer from one goroutine: a
// min-heap of sessions ordered by their next heartbeat deadline, with one
// time.Timer armed for the earliest. The goroutine runs only while the heap
// is non-empty and exits when it drains.
//
// Each session has at most one entry (its next ping or its pong deadline).
// Entries carry the session's heartbeat generation; the session ignores a
// firing whose generation is stale. Callbacks run without s.mu held and
// must not block.
//
// Lock order: Conn.mu may be held when calling set/cancel (Conn.mu before
// scheduler.mu); the run loop never holds s.mu while calling a session.
type scheduler struct {
	base time.Time

	mu      sync.Mutex
	heap    []*Conn
	running bool
	wake    chan struct{}
	wg      sync.WaitGroup
}

func newScheduler() *scheduler {
	return &scheduler{base: time.Now(), wake: make(chan struct{}, 1)}
}

// now returns the monotonic time in nanoseconds since the scheduler's base.
func (s *scheduler) now() int64 { return int64(time.Since(s.base)) }

// set (re)schedules c's heartbeat at the monotonic time at, tagged gen.
func (s *scheduler) set(c *Conn, at int64, gen uint64) {
	s.mu.Lock()
	c.hbAt = at
	c.hbSchedGen = gen
	if c.hbIdx >= 0 {
		s.fix(c.hbIdx)
	} else {
		c.hbIdx = len(s.heap)
		s.heap = append(s.heap, c)
		s.up(c.hbIdx)
	}
	if !s.running {
		s.running = true
		s.wg.Add(1)
		go s.run()
	} else if c.hbIdx == 0 {
		s.wakeLocked()
	}
	s.mu.Unlock()
}

// cancel removes c's entry, if any. Emptying the heap wakes the run loop
// so that it exits now rather than at the old deadline.
func (s *scheduler) cancel(c *Conn) {
	s.mu.Lock()
	if i := c.hbIdx; i >= 0 {
		s.removeAt(i)
		if len(s.heap) == 0 && s.running {
			s.wakeLocked()
		}
	}
	s.mu.Unlock()
}

// wakeLocked makes the run loop re-examine the heap.
func (s *scheduler) wakeLocked() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// len returns the number of scheduled sessions.
func (s *scheduler) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.heap)
}

// wait blocks until the run goroutine has exited (heap drained).
func (s *scheduler) wait() { s.wg.Wait() }

type dueEntry struct {
	c   *Conn
	gen uint64
}

func (s *scheduler) run() {
	defer s.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	var due []dueEntry
	for {
		s.mu.Lock()
		now := s.now()
		for len(s.heap) > 0 && s.heap[0].hbAt <= now {
			c := s.heap[0]
			due = append(due, dueEntry{c, c.hbSchedGen})
			s.removeAt(0)
		}
		if len(s.heap) == 0 && len(due) == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		wait := time.Duration(-1)
		if len(s.heap) > 0 {
			wait = time.Duration(s.heap[0].hbAt - now)
		}
		s.mu.Unlock()

		for i, d := range due {
			d.c.onHeartbeat(d.gen)
			due[i] = dueEntry{}
		}
		due = due[:0]
		if wait < 0 {
			// The heap was empty; the callbacks may have refilled it.
			continue
		}
		t.Reset(wait)
		select {
		case <-t.C:
		case <-s.wake:
			t.Stop()
		}
	}
}

// Heap primitives; s.mu held.

func (s *scheduler) less(i, j int) bool { return s.heap[i].hbAt < s.heap[j].hbAt }

func (s *scheduler) swap(i, j int) {
	h := s.heap
	h[i], h[j] = h[j], h[i]
	h[i].hbIdx = i
	h[j].hbIdx = j
}

func (s *scheduler) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !s.less(j, i) {
			break
		}
		s.swap(i, j)
		j = i
	}
}

func (s *scheduler) down(i int) bool {
	i0, n := i, len(s.heap)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && s.less(r, l) {
			j = r
		}
		if !s.less(j, i) {
			break
		}
		s.swap(i, j)
		i = j
	}
	return i > i0
}

func (s *scheduler) fix(i int) {
	if !s.down(i) {
		s.up(i)
	}
}

func (s *scheduler) removeAt(i int) {
	n := len(s.heap) - 1
	c := s.heap[i]
	if i != n {
		s.swap(i, n)
	}
	s.heap[n] = nil
	s.heap = s.heap[:n]
	if i != n {
		s.fix(i)
	}
	c.hbIdx = -1
}

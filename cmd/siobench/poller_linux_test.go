//go:build linux

package main

import (
	"syscall"
	"testing"
	"time"
)

// ackProbe records, from inside the poller right after each read, whether
// the socket is in the kernel's quick-ACK mode.
type ackProbe struct {
	quick chan int
}

func (p *ackProbe) onEvent(c *client, _ []byte) {
	v := -1
	_ = c.raw.Control(func(fd uintptr) {
		v, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK)
	})
	p.quick <- v
}

func (p *ackProbe) onAck(*client, uint64, []byte) {}

// TestPollerDelaysACKs checks that the poller turns quick-ACK mode off
// before a connection's reads, and leaves it alone with -quickack.
func TestPollerDelaysACKs(t *testing.T) {
	if disablePoller {
		t.Skip("pollers disabled")
	}
	event := text(`42["x"]`)
	for _, tc := range []struct {
		quickAck bool
		want     int
	}{{false, 0}, {true, 1}} {
		b := testBench(t, func(c *config) { c.QuickAck = tc.quickAck })
		c, srv := rawPair(t, b)
		probe := &ackProbe{quick: make(chan int, 4)}
		c.start(probe)
		if c.pc.h == nil {
			t.Fatal("the connection is not served by a poller")
		}
		// A new connection ACKs its first segments at once whatever the
		// mode, so a burst first uses those up. Then a quiet spell lets the
		// kernel's delayed-ACK timer (40 to 200 ms) fire, which returns the
		// socket to quick-ACK mode: the read after it must turn it off again.
		for i, burst := range []int{24, 1} {
			if i > 0 {
				time.Sleep(300 * time.Millisecond)
			}
			for range burst {
				if _, err := srv.Write(event); err != nil {
					t.Fatal(err)
				}
				select {
				case got := <-probe.quick:
					if got != tc.want {
						t.Fatalf("quickack=%v: TCP_QUICKACK after a read of burst %d = %d, want %d", tc.quickAck, i+1, got, tc.want)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("quickack=%v: no event in burst %d", tc.quickAck, i+1)
				}
			}
		}
	}
}

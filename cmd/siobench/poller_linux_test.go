//go:build linux

package main

import (
	"io"
	"net"
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

// pollerPair connects a client served by a fresh poller of a bench with
// cfg to a plain TCP server end, which it returns.
func pollerPair(t *testing.T, cfg config, h handler) net.Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	b, err := newBench(cfg, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	p, err := newPoller(b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Close()
		_ = conn.Close()
		p.close()
		b.readers.Wait()
	})
	p.add(b.newClient(0, conn, nil), h)
	return srv
}

// TestPollerDelaysACKs checks that the poller turns quick-ACK mode off
// before a connection's reads, and leaves it alone with -quickack.
func TestPollerDelaysACKs(t *testing.T) {
	event := []byte{0x81, 7, '4', '2', '[', '"', 'x', '"', ']'}
	for _, tc := range []struct {
		quickAck bool
		want     int
	}{{false, 0}, {true, 1}} {
		cfg := config{URLs: []string{"http://127.0.0.1:1"}, Path: "/socket.io/", MaxFrame: 1 << 16, QuickAck: tc.quickAck}
		probe := &ackProbe{quick: make(chan int, 4)}
		srv := pollerPair(t, cfg, probe)
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

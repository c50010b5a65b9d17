package engineio

import (
	"net"
	"testing"
)

// TestCloseBeforeFirstParkLeavesPollerEmpty checks the race of a reader
// parking for the first time with a close from another goroutine (a ping
// timeout, a slow consumer): when the close comes first, the park must
// not register the websocket, or the poller keeps it, its session and
// its handler for the server's lifetime, and never stops.
func TestCloseBeforeFirstParkLeavesPollerEmpty(t *testing.T) {
	e := newEnv(t, Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cli, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	w := newWSConn(e.srv, nc)
	wsSession(e.srv, w, "x")
	w.close()     // the closer runs first...
	if w.park() { // ...then the reader, whose 100 ms wait just ended
		t.Error("a closed websocket parked")
	}
	e.srv.pollMu.Lock()
	p := e.srv.pl
	e.srv.pollMu.Unlock()
	if p == nil {
		return
	}
	p.mu.Lock()
	n := len(p.conns)
	p.mu.Unlock()
	if n != 0 {
		t.Errorf("the poller holds %d websockets after the only one closed", n)
	}
}

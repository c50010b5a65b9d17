package main

import (
	"bytes"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gorilla/websocket"
)

// connected dials addr and completes the CONNECT; it returns the
// connection and its sid.
func connected(t *testing.T, addr string) (*websocket.Conn, string) {
	t.Helper()
	ws := dial(t, addr)
	read(t, ws)
	write(t, ws, "40")
	c := read(t, ws)
	sid, ok := strings.CutPrefix(c, `40{"sid":"`)
	if !ok {
		t.Fatalf("connect answer %q", c)
	}
	return ws, strings.TrimSuffix(sid, `"}`)
}

func joined(t *testing.T, addr, room string) *websocket.Conn {
	t.Helper()
	ws, _ := connected(t, addr)
	write(t, ws, `425["join","`+room+`"]`)
	if a, want := read(t, ws), `435[{"ok":true,"room":"`+room+`"}]`; a != want {
		t.Fatalf("join ack %q, want %q", a, want)
	}
	return ws
}

// TestRoomsAcrossNodes: a room message reaches the room's members on
// its own node and, through one Redis message, on the other node, once
// each, and no one outside the room.
func TestRoomsAcrossNodes(t *testing.T) {
	mr := miniredis.RunT(t)
	n1 := startNode(t, config{redisAddr: mr.Addr(), channel: "c1", nodeID: "n1"})
	n2 := startNode(t, config{redisAddr: mr.Addr(), channel: "c1", nodeID: "n2"})
	// The same channel name with another prefix: a different cluster.
	other := startNode(t, config{redisAddr: mr.Addr(), channel: "c2", nodeID: "n1"})

	a := joined(t, n1, "r")
	b := joined(t, n2, "r")
	c := joined(t, n2, "r")
	elsewhere := joined(t, n2, "q")
	stranger := joined(t, other, "r")
	sub := mr.NewSubscriber()
	defer sub.Close()
	sub.Subscribe("c1")

	pub, sid := connected(t, n1)
	write(t, pub, `427["room message","r",{"t":1,"seq":2}]`)
	if ack := read(t, pub); ack != `437[{"ok":true}]` {
		t.Fatalf("room message ack %q", ack)
	}
	want := `42["room message",{"room":"r","from":"` + sid + `","msg":{"t":1,"seq":2}}]`
	// miniredis's PUBLISH waits for its test subscriber to take the
	// message before it writes to the other subscribers: read it first.
	select {
	case m := <-sub.Messages():
		if !bytes.HasPrefix([]byte(m.Message), []byte("n1\n\"r\"\n")) {
			t.Errorf("published %q", m.Message)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing published")
	}
	for name, ws := range map[string]*websocket.Conn{"same node": a, "other node": b, "other node, 2nd": c} {
		_, got, err := ws.ReadMessage()
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
	}
	// Nothing more: one PUBLISH, and nothing for the other room or cluster.
	write(t, a, `428["echo",1]`)
	if got := read(t, a); got != `438[1]` {
		t.Errorf("after the room message: %q, want only the echo ack", got)
	}
	for name, ws := range map[string]*websocket.Conn{"other room": elsewhere, "other cluster": stranger} {
		write(t, ws, `429["echo",2]`)
		if got := read(t, ws); got != `439[2]` {
			t.Errorf("%s got %q, want only its echo ack", name, got)
		}
	}
	select {
	case m := <-sub.Messages():
		t.Errorf("a second publish: %q", m.Message)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestRedisLossEndsServe: without Redis the rooms would quietly become
// node-local, so the server stops with an error instead.
func TestRedisLossEndsServe(t *testing.T) {
	mr := miniredis.RunT(t)
	_, done := startNodeDone(t, config{redisAddr: mr.Addr(), channel: "c", nodeID: "n"})
	mr.Close()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "redis") {
			t.Fatalf("serve returned %v, want the Redis loss", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve still running after Redis went away")
	}
}

func TestParseArray(t *testing.T) {
	msg := []byte("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n")
	for i := range len(msg) {
		if _, rest, ok := parseArray(nil, msg[:i]); !ok || rest != nil {
			t.Fatalf("prefix of %d bytes: rest %q ok %v, want incomplete", i, rest, ok)
		}
	}
	elems, rest, ok := parseArray(nil, append(msg, '*'))
	if !ok || string(rest) != "*" || len(elems) != 3 || string(elems[2]) != "hello" {
		t.Fatalf("elems %q rest %q ok %v", elems, rest, ok)
	}
	elems, _, ok = parseArray(nil, []byte("*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"))
	if !ok || len(elems) != 3 || string(elems[2]) != "1" {
		t.Fatalf("subscribe confirmation: %q %v", elems, ok)
	}
	for _, bad := range []string{"+OK\r\n", "*x\r\n", "*1\r\n$-1\r\n", "*1\r\n$99999999\r\n", strings.Repeat("*", 40)} {
		if _, _, ok := parseArray(nil, []byte(bad)); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// socketPair returns a connected pair of stream sockets, closed at
// cleanup.
func socketPair(t *testing.T) (int, int) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Close(fds[0]); _ = syscall.Close(fds[1]) })
	return fds[0], fds[1]
}

// TestNoAllocationPerMessage: answering an echo, a room message to a
// member with a PUBLISH, and delivering a Redis push to a member allocate
// nothing once the buffers have grown.
func TestNoAllocationPerMessage(t *testing.T) {
	s := &server{cfg: config{channel: "ch", nodeID: "n1"}, rooms: map[string]*room{}}
	mfd, mpeer := socketPair(t)
	pfd, ppeer := socketPair(t)
	member := &conn{fd: mfd, sid: []byte("floor1")}
	s.pub = &conn{fd: pfd, kind: redisPub}
	s.join(member, []byte(`"r"`))
	sender := &conn{fd: -1, sid: []byte("floor2"), out: make([]byte, 0, 4096)}
	drain, pubDrain := make([]byte, 1<<16), make([]byte, 1<<16)
	echo := []byte(`4212["echo","abc"]`)
	roomMsg := []byte(`42["room message","r",{"t":1,"seq":2}]`)
	payload := "n2\n\"r\"\n" + string(appendFrame(nil, []byte(`42["x"]`)))
	push := []byte("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$" + strconv.Itoa(len(payload)) + "\r\n" + payload + "\r\n")
	sub := &conn{fd: -1, kind: redisSub, in: make([]byte, 0, 4096)}
	var memberGot []byte
	run := func() {
		sender.out = sender.out[:0]
		s.answer(sender, echo)
		s.answer(sender, roomMsg)
		sub.in = append(sub.in[:0], push...)
		if !s.processSub(sub) || len(sub.in) != 0 {
			t.Fatalf("push not consumed: %q", sub.in)
		}
		got, _ := syscall.Read(mpeer, drain)
		memberGot = drain[:max(got, 0)]
		_, _ = syscall.Read(ppeer, pubDrain)
	}
	run()
	if got, want := string(sender.out), string(appendFrame(nil, []byte(`4312["abc"]`))); got != want {
		t.Fatalf("sender got %q, want only the echo ack %q", got, want)
	}
	want := string(appendFrame(nil, []byte(`42["room message",{"room":"r","from":"floor2","msg":{"t":1,"seq":2}}]`))) +
		string(appendFrame(nil, []byte(`42["x"]`)))
	if string(memberGot) != want {
		t.Fatalf("member got %q, want %q", memberGot, want)
	}
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Fatalf("%.1f allocations per echo + room message + push, want 0", n)
	}
}

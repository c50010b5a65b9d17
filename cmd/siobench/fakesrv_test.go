package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeNode is a minimal in-process Socket.IO chat node for the tests: it
// implements join, room message and echo of the chat contract on "/"
// over WebSocket, sends pings every pingInterval, and can be told to
// misbehave. Several fakeNodes can share a fakeCluster to emulate a
// multi-node cluster without Redis.
type fakeNode struct {
	t            testing.TB
	cluster      *fakeCluster
	srv          *httptest.Server
	pingInterval time.Duration
	rejectWith   string // non-empty: refuse CONNECT with this message
	dropEvery    int    // >0: skip every n-th delivery
	pongs        atomic.Int64
	deliveries   atomic.Int64
}

// fakeCluster holds the room members of every fakeNode in it.
type fakeCluster struct {
	mu    sync.Mutex
	rooms map[string][]*fakeConn
}

type fakeConn struct {
	node *fakeNode
	id   string
	mu   sync.Mutex
	ws   *websocket.Conn
}

func (c *fakeConn) write(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_ = c.ws.WriteMessage(websocket.TextMessage, []byte(s))
}

func newFakeCluster() *fakeCluster { return &fakeCluster{rooms: map[string][]*fakeConn{}} }

// start serves a new node of the cluster; it stops with the test.
func (fc *fakeCluster) start(t testing.TB, mod func(*fakeNode)) *fakeNode {
	n := &fakeNode{t: t, cluster: fc, pingInterval: time.Hour}
	if mod != nil {
		mod(n)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/socket.io/", n.serveWS)
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "process_resident_memory_bytes %d\nprocess_cpu_seconds_total 1.5\n", 10<<20)
	})
	n.srv = httptest.NewServer(mux)
	t.Cleanup(n.srv.Close)
	return n
}

func (n *fakeNode) url() string { return n.srv.URL }

var fakeIDs atomic.Int64

func (n *fakeNode) serveWS(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("EIO") != "4" || r.URL.Query().Get("transport") != "websocket" {
		http.Error(w, "bad query", http.StatusBadRequest)
		return
	}
	ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer ws.Close()
	c := &fakeConn{node: n, ws: ws, id: "s" + strconv.FormatInt(fakeIDs.Add(1), 10)}
	c.write(fmt.Sprintf(`0{"sid":"e%s","upgrades":[],"pingInterval":%d,"pingTimeout":20000,"maxPayload":1000000}`,
		c.id, n.pingInterval.Milliseconds()))
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(n.pingInterval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				c.write("2")
			}
		}
	}()
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		msg := string(data)
		switch {
		case msg == "3":
			n.pongs.Add(1)
		case msg == "40":
			if n.rejectWith != "" {
				c.write(`44{"message":` + string(jsonString(n.rejectWith)) + `}`)
				continue
			}
			c.write(`40{"sid":"` + c.id + `"}`)
		case len(msg) > 2 && msg[:2] == "42":
			n.onEvent(c, msg[2:])
		}
	}
}

func (n *fakeNode) onEvent(c *fakeConn, body string) {
	i := 0
	for i < len(body) && body[i] >= '0' && body[i] <= '9' {
		i++
	}
	id := body[:i]
	var args []json.RawMessage
	if err := json.Unmarshal([]byte(body[i:]), &args); err != nil || len(args) == 0 {
		n.t.Errorf("fake node: bad event %q", body)
		return
	}
	var name, room string
	_ = json.Unmarshal(args[0], &name)
	ack := func(payload string) {
		if id != "" {
			c.write("43" + id + "[" + payload + "]")
		}
	}
	switch name {
	case "join":
		_ = json.Unmarshal(args[1], &room)
		n.cluster.mu.Lock()
		n.cluster.rooms[room] = append(n.cluster.rooms[room], c)
		n.cluster.mu.Unlock()
		ack(`{"ok":true,"room":` + string(args[1]) + `}`)
	case "room message":
		_ = json.Unmarshal(args[1], &room)
		out := `42["room message",{"room":` + string(args[1]) + `,"from":"` + c.id + `","msg":` + string(args[2]) + `}]`
		n.cluster.mu.Lock()
		members := append([]*fakeConn(nil), n.cluster.rooms[room]...)
		n.cluster.mu.Unlock()
		for _, m := range members {
			k := m.node.deliveries.Add(1)
			if m.node.dropEvery > 0 && k%int64(m.node.dropEvery) == 0 {
				continue
			}
			m.write(out)
		}
		ack(`{"ok":true}`)
	case "echo":
		ack(string(args[1]))
	}
}

package integration_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sio-go/sio/redisadapter"
)

// TestMixedClusterGoEmitter checks that the Go redisadapter.Emitter reaches
// clients on the Node.js reference node (and on the node under test) through
// the @socket.io/redis-adapter wire format: a room emit with binary, and
// SocketsJoin.
func TestMixedClusterGoEmitter(t *testing.T) {
	t.Parallel()
	npmInstall(t) // node and the npm packages first: skip before starting anything
	rurl, prefix, g, rn := startMixedCluster(t)
	cr := startClient(t, scenario{
		Clients: []clientSpec{
			{Name: "r", URL: rn.URL, Transports: []string{"websocket"}},
			{Name: "rp", URL: rn.URL, Transports: []string{"polling"}},
			{Name: "g", URL: g.URL},
			{Name: "out", URL: rn.URL}, // not in the room
		},
		Steps: []step{
			ackStep("join-r", "r", "join", "gem"),
			ackStep("join-rp", "rp", "join", "gem"),
			ackStep("join-g", "g", "join", "gem"),
			{Mark: "joined"},
			waitStep("r", "from-go-emitter", 1, nil),
			waitStep("rp", "from-go-emitter", 1, nil),
			waitStep("g", "from-go-emitter", 1, nil),
			{Client: "g", Emit: "fetch-sockets", Args: []any{"gem2"}, Ack: true, Save: "fetch-gem2",
				Until: map[string]any{"ok": true, "sockets": clientIDs("r", "rp", "g")}},
			{QuietMs: 200},
		},
	})
	cr.waitMark(t, "joined")

	opt, err := redis.ParseURL(rurl)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opt)
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	blob := []byte{0, 1, 2, 0xff}
	em := redisadapter.NewEmitter(client, redisadapter.EmitterOptions{Key: prefix})
	if err := em.To("gem").Emit(ctx, "from-go-emitter", "hi", blob, map[string]any{"n": 7}); err != nil {
		t.Fatalf("Emit: %v", err)
	}
	if err := em.To("gem").SocketsJoin(ctx, "gem2"); err != nil {
		t.Fatalf("SocketsJoin: %v", err)
	}
	r := cr.wait(t)

	for _, c := range []string{"r", "rp", "g"} {
		ev := r.client(t, c).named("from-go-emitter")
		if len(ev) != 1 || len(ev[0].Args) != 3 {
			t.Errorf("%s: from-go-emitter events %+v, want one with 3 args", c, ev)
			continue
		}
		assertJSON(t, c+" arg 0", ev[0].Args[0], "hi")
		assertJSON(t, c+" arg 1 (binary)", ev[0].Args[1], bin(blob))
		assertJSON(t, c+" arg 2", ev[0].Args[2], map[string]any{"n": 7})
	}
	if ev := r.client(t, "out").named("from-go-emitter"); len(ev) != 0 {
		t.Errorf("client outside the room got %+v", ev)
	}
	assertFetch(t, r, "fetch-gem2", []clusterClient{{"r", rn}, {"rp", rn}, {"g", g}}, "gem", "gem2")
}

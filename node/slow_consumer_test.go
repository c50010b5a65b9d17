package node

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
)

// lightClient is a raw websocket Socket.IO client joined to "/" that
// records the latency of "t" ticks (`42["t",seq,unixNanos]`) by seq.
type lightClient struct {
	ws *websocket.Conn

	mu   sync.Mutex
	lats []time.Duration // indexed by seq; 0 = not received
}

var lightDialer = &websocket.Dialer{ReadBufferSize: 512, WriteBufferSize: 256, HandshakeTimeout: 10 * time.Second}

// dialLight opens a session on base and joins "/". When stall is set, the
// socket's receive buffer is shrunk and nothing is read after the CONNECT
// reply.
func dialLight(ctx context.Context, base string, stall bool) (*lightClient, error) {
	d := *lightDialer
	if stall {
		d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				_ = c.(*net.TCPConn).SetReadBuffer(4096)
			}
			return c, err
		}
	}
	u := strings.Replace(base, "http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
	ws, resp, err := d.DialContext(ctx, u, nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := ws.ReadMessage(); err != nil { // open
		ws.Close()
		return nil, err
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
		ws.Close()
		return nil, err
	}
	if _, _, err := ws.ReadMessage(); err != nil { // CONNECT reply
		ws.Close()
		return nil, err
	}
	_ = ws.SetReadDeadline(time.Time{})
	return &lightClient{ws: ws}, nil
}

// readTicks reads until the connection ends, recording tick latencies and
// counting each tick in got.
func (c *lightClient) readTicks(got *atomic.Int64) {
	for {
		_, m, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		rest, ok := strings.CutPrefix(string(m), `42["t",`)
		if !ok {
			if string(m) == "2" {
				_ = c.ws.WriteMessage(websocket.TextMessage, []byte("3"))
			}
			continue
		}
		seqS, nsS, _ := strings.Cut(strings.TrimSuffix(rest, "]"), ",")
		seq, err1 := strconv.Atoi(seqS)
		ns, err2 := strconv.ParseInt(nsS, 10, 64)
		if err1 != nil || err2 != nil || seq < 0 || seq > 1<<16 {
			continue
		}
		lat := time.Since(time.Unix(0, ns))
		if lat <= 0 {
			lat = 1
		}
		c.mu.Lock()
		if seq >= len(c.lats) {
			c.lats = append(c.lats, make([]time.Duration, seq+1-len(c.lats))...)
		}
		c.lats[seq] = lat
		c.mu.Unlock()
		got.Add(1)
	}
}

// p99 returns the 99th percentile latency over clients for seqs [from, to),
// and the number of missing ticks.
func p99(clients []*lightClient, from, to int) (time.Duration, int) {
	var all []time.Duration
	missing := 0
	for _, c := range clients {
		c.mu.Lock()
		for s := from; s < to; s++ {
			if s < len(c.lats) && c.lats[s] > 0 {
				all = append(all, c.lats[s])
			} else {
				missing++
			}
		}
		c.mu.Unlock()
	}
	if len(all) == 0 {
		return 0, missing
	}
	slices.Sort(all)
	return all[len(all)*99/100], missing
}

// TestSlowConsumerInLargeRoom stalls one member of a 1,000-socket room:
// it is disconnected with reason "slow consumer" once its queue passes
// MaxQueueBytes (metric incremented), while the other members keep
// receiving every broadcast with a p99 latency close to the one measured
// without the stalled client.
func TestSlowConsumerInLargeRoom(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 connections; skipped in -short mode")
	}
	const (
		members  = 1000
		ticks    = 40 // per phase
		interval = 15 * time.Millisecond
	)
	start := time.Now()
	reg := prometheus.NewRegistry()
	srv, err := NewServer(Config{MaxQueueBytes: 64 << 10, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		reasons = map[string]string{} // socket id -> reason
		stalled = make(chan *Socket, 1)
		stallOn atomic.Bool
		joined  atomic.Int64
	)
	srv.OnConnection(func(so *Socket) {
		so.Join("room")
		joined.Add(1)
		so.OnDisconnect(func(r string) {
			mu.Lock()
			reasons[so.ID()] = r
			mu.Unlock()
		})
		if stallOn.Load() {
			stalled <- so
		}
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	hs := httptest.NewServer(mux)
	var clients []*lightClient
	var readers sync.WaitGroup
	defer func() {
		for _, c := range clients {
			_ = c.ws.Close()
		}
		readers.Wait()
		_ = srv.Close()
		hs.CloseClientConnections()
		hs.Close()
	}()

	// Connect the members with a few parallel dialers.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got atomic.Int64
	clients = make([]*lightClient, members)
	var dialWG sync.WaitGroup
	var dialErr atomic.Value
	for w := range 8 {
		dialWG.Add(1)
		go func() {
			defer dialWG.Done()
			for i := w; i < members; i += 8 {
				c, err := dialLight(ctx, hs.URL, false)
				if err != nil {
					dialErr.Store(err)
					return
				}
				clients[i] = c
			}
		}()
	}
	dialWG.Wait()
	if err, _ := dialErr.Load().(error); err != nil {
		clients = slices.DeleteFunc(clients, func(c *lightClient) bool { return c == nil })
		t.Fatalf("dialing members: %v", err)
	}
	for _, c := range clients {
		readers.Add(1)
		go func() { defer readers.Done(); c.readTicks(&got) }()
	}
	waitFor(t, "members in the room", func() bool { return joined.Load() == members })
	t.Logf("%d members connected in %v", members, time.Since(start).Round(time.Millisecond))

	// runPhase broadcasts ticks [from, from+ticks) to the room and waits
	// until every member received them.
	runPhase := func(from int, during func(i int)) {
		t.Helper()
		for i := range ticks {
			if err := srv.To("room").Emit("t", from+i, time.Now().UnixNano()); err != nil {
				t.Fatalf("broadcast: %v", err)
			}
			if during != nil {
				during(i)
			}
			time.Sleep(interval)
		}
		want := int64(members * (from + ticks))
		deadline := time.Now().Add(5 * time.Second)
		for got.Load() < want && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}

	// Phase A: no stalled client.
	runPhase(0, nil)
	baseP99, missA := p99(clients, 0, ticks)

	// Phase B: one more member that never reads. First its socket buffers
	// are filled (16 KiB events) until its writer is stuck with bytes
	// queued; then the room broadcasts run while each tick also sends it
	// a 2 KiB event, so that its queue passes the bound mid-phase.
	stallOn.Store(true)
	stall, err := dialLight(ctx, hs.URL, true)
	if err != nil {
		t.Fatal(err)
	}
	defer stall.ws.Close()
	so := <-stalled
	stallOn.Store(false)
	big := strings.Repeat("F", 16<<10)
	for deadline := time.Now().Add(5 * time.Second); gatherSum(t, reg, "sio_writer_queue_bytes") < 24<<10; {
		if time.Now().After(deadline) {
			t.Fatal("the stalled client's writer never blocked")
		}
		if err := so.Emit("fill", big); err != nil {
			t.Fatalf("stalled client cut while filling its socket buffers: %v", err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	filler := strings.Repeat("f", 2<<10)
	stalledAt := -1
	runPhase(ticks, func(i int) {
		if stalledAt < 0 && so.Emit("fill", filler) != nil {
			stalledAt = i
		}
	})
	stallP99, missB := p99(clients, ticks, 2*ticks)
	// Larger kernel buffers than expected: keep filling until the cut.
	for deadline := time.Now().Add(5 * time.Second); stalledAt < 0 && time.Now().Before(deadline); {
		if so.Emit("fill", filler) != nil {
			stalledAt = ticks
		}
	}

	// Phase C: the stalled client is gone; a second baseline.
	runPhase(2*ticks, nil)
	afterP99, missC := p99(clients, 2*ticks, 3*ticks)
	t.Logf("healthy p99: %v before, %v with the stalled client (cut at tick %d of %d), %v after; total %v",
		baseP99, stallP99, stalledAt, ticks, afterP99, time.Since(start).Round(time.Millisecond))

	if missA+missB+missC != 0 {
		t.Fatalf("healthy members missed %d, %d, %d ticks in the three phases", missA, missB, missC)
	}
	waitFor(t, "slow consumer disconnect", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return reasons[so.ID()] != ""
	})
	mu.Lock()
	r, others := reasons[so.ID()], len(reasons)-1
	mu.Unlock()
	if r != ReasonSlowConsumer {
		t.Fatalf("stalled client disconnected with %q, want %q", r, ReasonSlowConsumer)
	}
	if stalledAt < 1 || stalledAt >= ticks {
		t.Fatalf("stalled client cut at tick %d, want during the room broadcasts", stalledAt)
	}
	if others != 0 {
		t.Fatalf("%d healthy members were disconnected", others)
	}
	if n := gatherSum(t, reg, "sio_slow_consumer_disconnects_total"); n != 1 {
		t.Fatalf("sio_slow_consumer_disconnects_total = %v, want 1", n)
	}
	if base := max(baseP99, afterP99); stallP99 > 3*base+20*time.Millisecond {
		t.Errorf("healthy p99 %v with the stalled client, over 3×%v+20ms", stallP99, base)
	}
	if srv.Sockets().SocketCount() != members {
		t.Errorf("sockets = %d, want %d", srv.Sockets().SocketCount(), members)
	}
}

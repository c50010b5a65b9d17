package node

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/sio-go/sio/adapter"
)

// pollClient is a raw long-polling Engine.IO client.
type pollClient struct {
	t    *testing.T
	base string
	sid  string
}

func newPollClient(t *testing.T, base string) *pollClient {
	t.Helper()
	body := httpDo(t, "GET", base+"/socket.io/?EIO=4&transport=polling", "")
	var open struct{ SID string }
	if err := json.Unmarshal([]byte(body[1:]), &open); err != nil {
		t.Fatalf("handshake %q: %v", body, err)
	}
	return &pollClient{t: t, base: base, sid: open.SID}
}

func (p *pollClient) url() string {
	return p.base + "/socket.io/?EIO=4&transport=polling&sid=" + p.sid
}

func (p *pollClient) post(payload string) {
	p.t.Helper()
	if got := httpDo(p.t, "POST", p.url(), payload); got != "ok" {
		p.t.Fatalf("POST %q: %q", payload, got)
	}
}

func (p *pollClient) get() string {
	p.t.Helper()
	return httpDo(p.t, "GET", p.url(), "")
}

func httpDo(t *testing.T, method, url, body string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	return string(b)
}

func TestVolatileDroppedWhenNotWritable(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv, base := newTestServer(t, Config{Registerer: reg}, nil)
	p := newPollClient(t, base)
	p.post("40")
	if got := p.get(); !strings.HasPrefix(got, `40{"sid":`) {
		t.Fatalf("connect reply %q", got)
	}
	// No GET is pending: a volatile packet is dropped, a normal one queued.
	if err := srv.Volatile().Emit("v", 1); err != nil {
		t.Fatal(err)
	}
	if err := srv.Emit("n", 2); err != nil {
		t.Fatal(err)
	}
	if got := p.get(); got != `42["n",2]` {
		t.Fatalf("GET = %q, want only the non-volatile packet", got)
	}
	if n := counterValue(t, srv.Metrics().volatileDrops); n != 1 {
		t.Fatalf("volatile drops = %v", n)
	}
}

func TestLocalCompressAndRoomEvents(t *testing.T) {
	var (
		mu     sync.Mutex
		events []string
	)
	srv, base := newTestServer(t, Config{}, func(s *Server) {
		s.Sockets().OnRoomEvent(func(k adapter.RoomEventKind, room adapter.Room, _ adapter.SocketID) {
			if room != "r1" {
				return // skip the sockets' own rooms (a socket id may start with "r")
			}
			mu.Lock()
			events = append(events, k.String()+":"+string(room))
			mu.Unlock()
		})
		s.OnConnection(func(so *Socket) { so.Join("r1") })
	})
	c, _ := dial(t, base, "/", nil)
	waitFor(t, "join", func() bool { return len(srv.Sockets().Adapter().Rooms()["r1"]) == 1 })
	// The operators are immutable: deriving Local/Compress does not change the base.
	base1 := srv.To("r1")
	local := base1.Local().Compress(true)
	if base1.flags.Local || base1.flags.Compress || !local.flags.Local || !local.flags.Compress {
		t.Fatalf("flags leaked between operators: %+v / %+v", base1.flags, local.flags)
	}
	if err := local.Emit("l"); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, c, "l")
	if err := srv.Sockets().DisconnectSockets(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "room events", func() bool { mu.Lock(); defer mu.Unlock(); return len(events) == 4 })
	want := "create-room:r1 join-room:r1 leave-room:r1 delete-room:r1"
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(events, " "); got != want {
		t.Fatalf("room events %q, want %q", got, want)
	}
}

// counterValue reads a counter's current value.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

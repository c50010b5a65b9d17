package node

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sio-go/sio/node/siotest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newTestServer starts a Server behind httptest and returns it with its base URL.
func newTestServer(t *testing.T, cfg Config, setup func(*Server)) (*Server, string) {
	t.Helper()
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(srv)
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		_ = srv.Close()
		hs.CloseClientConnections()
		hs.Close()
	})
	return srv, hs.URL
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dial opens a client and connects it to nsp.
func dial(t *testing.T, base, nsp string, auth any) (*siotest.Client, string) {
	t.Helper()
	c, err := siotest.Dial(ctxT(t), base, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sid, err := c.Connect(ctxT(t), nsp, auth)
	if err != nil {
		t.Fatal(err)
	}
	return c, sid
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func expectEvent(t *testing.T, c *siotest.Client, name string) siotest.Event {
	t.Helper()
	e, err := c.Wait(ctxT(t), name)
	if err != nil {
		t.Fatalf("waiting for %q: %v", name, err)
	}
	return e
}

// expectNoEvent asserts that c receives no event named name within d.
func expectNoEvent(t *testing.T, c *siotest.Client, name string, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if e, err := c.Wait(ctx, name); err == nil {
		t.Fatalf("unexpected event %q: %v", name, e.Args)
	}
}

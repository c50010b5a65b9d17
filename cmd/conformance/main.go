// Command conformance runs the reference servers the official protocol test
// suites expect on one port: a raw Engine.IO v4 echo server at /engine.io/
// (pingInterval 300ms, pingTimeout 200ms, maxHttpBufferSize 1e6, CORS "*",
// every message sent back unchanged) and, mounted by mountSocketIO, the
// Socket.IO v5 reference server at /socket.io/.
//
// Usage:
//
//	go run ./cmd/conformance -addr :3000
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sio-go/sio/node/engineio"
)

// echo sends every message back to its session, text as text and binary as
// binary.
type echo struct{ c *engineio.Conn }

func (e echo) OnMessage(data []byte, binary bool) {
	if binary {
		_ = e.c.Send(engineio.NewBinaryMessage(append([]byte(nil), data...)))
		return
	}
	_ = e.c.Send(engineio.NewTextMessage(data))
}

func (e echo) OnClose(string) {}

// newEngineIOEcho returns the Engine.IO reference server of the v4 test
// suite.
func newEngineIOEcho() *engineio.Server {
	return engineio.NewServer(engineio.Config{
		PingInterval:      300 * time.Millisecond,
		PingTimeout:       200 * time.Millisecond,
		MaxHTTPBufferSize: 1e6,
		CORS:              engineio.CORS{Origins: []string{"*"}},
	}, func(c *engineio.Conn) { c.SetHandler(echo{c}) })
}

func main() {
	addr := flag.String("addr", ":3000", "listen address")
	flag.Parse()

	eio := newEngineIOEcho()
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", eio)
	mountSocketIO(mux)

	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		eio.Close("server shutting down")
	}()
	log.Printf("conformance server listening on %s", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

package main

import (
	"log"
	"net/http"
	"time"

	"github.com/sio-go/sio/node"
	"github.com/sio-go/sio/node/engineio"
)

// mountSocketIO serves the Socket.IO v5 suite's reference server at
// /socket.io/: pingInterval 300, pingTimeout 200, maxHttpBufferSize 1e6,
// connectTimeout 1000, CORS "*"; namespaces "/" and "/custom" emit "auth"
// with the handshake auth on connection, echo "message" as
// "message-back" and answer "message-with-ack" with the same arguments.
func mountSocketIO(mux *http.ServeMux) {
	srv, err := node.NewServer(node.Config{
		PingInterval:      300 * time.Millisecond,
		PingTimeout:       200 * time.Millisecond,
		ConnectTimeout:    1000 * time.Millisecond,
		MaxHTTPBufferSize: 1e6,
		CORS:              engineio.CORS{Origins: []string{"*"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	onConnection := func(s *node.Socket) {
		_ = s.Emit("auth", s.Handshake().Auth)
		s.On("message", func(args node.Args, _ node.AckFunc) {
			_ = s.Emit("message-back", args...)
		})
		s.On("message-with-ack", func(args node.Args, ack node.AckFunc) {
			if ack != nil {
				_ = ack(args...)
			}
		})
	}
	srv.OnConnection(onConnection)
	srv.Of("/custom").OnConnection(onConnection)
	mux.Handle("/socket.io/", srv)
}

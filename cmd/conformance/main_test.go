package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestEngineIOEcho checks the reference configuration and the echo of text
// and binary messages over both transports.
func TestEngineIOEcho(t *testing.T) {
	eio := newEngineIOEcho()
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", eio)
	mountSocketIO(mux)
	ts := httptest.NewServer(mux)
	defer ts.Close()
	defer eio.Close("server shutting down")
	client := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()

	do := func(method, q, body string) (int, string) {
		req, _ := http.NewRequest(method, ts.URL+"/engine.io/?"+q, strings.NewReader(body))
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	st, open := do("GET", "EIO=4&transport=polling", "")
	want := `,"upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}`
	if st != 200 || !strings.HasSuffix(open, want) {
		t.Fatalf("handshake = %d %q", st, open)
	}
	sid := open[9:29]
	if st, body := do("POST", "EIO=4&transport=polling&sid="+sid, "4hello\x1ebAQIDBA=="); st != 200 || body != "ok" {
		t.Fatalf("post = %d %q", st, body)
	}
	if st, body := do("GET", "EIO=4&transport=polling&sid="+sid, ""); st != 200 || body != "4hello\x1ebAQIDBA==" {
		t.Fatalf("get = %d %q", st, body)
	}

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http")+"/engine.io/?EIO=4&transport=websocket", http.Header{"Origin": {"https://elsewhere.example"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, b, err := ws.ReadMessage(); err != nil || !strings.HasPrefix(string(b), "0{") {
		t.Fatalf("open = %q %v", b, err)
	}
	for _, m := range []struct {
		mt   int
		data string
	}{{websocket.TextMessage, "4hi"}, {websocket.BinaryMessage, "\x01\x02\x03"}} {
		if err := ws.WriteMessage(m.mt, []byte(m.data)); err != nil {
			t.Fatal(err)
		}
		mt, b, err := ws.ReadMessage()
		if err != nil || mt != m.mt || string(b) != m.data {
			t.Fatalf("echo = %d %q %v, want %d %q", mt, b, err, m.mt, m.data)
		}
	}
}

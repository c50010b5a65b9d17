package engineio

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"
)

var benchPayload = []byte(`2["chat",{"user":"alice","text":"hello everyone, this is a broadcast"}]`)

// BenchmarkSendQueue measures queueing one shared Message to the queues of
// 1,000 connections (the broadcast fan-out cost without network I/O).
func BenchmarkSendQueue(b *testing.B) {
	srv := NewServer(Config{MaxQueueBytes: 1 << 30}, nil)
	conns := make([]*Conn, 1000)
	for i := range conns {
		conns[i] = newConn(srv, strconv.Itoa(i), nil)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := NewTextMessage(benchPayload)
		for _, c := range conns {
			if err := c.Send(m); err != nil {
				b.Fatal(err)
			}
		}
		if i%64 == 63 {
			b.StopTimer()
			for _, c := range conns {
				c.mu.Lock()
				c.queue, c.queueBytes = c.queue[:0], 0
				c.mu.Unlock()
			}
			b.StartTimer()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(conns)), "ns/conn")
}

// BenchmarkWriteBatch measures the websocket writer's batch path: frames
// encoded into one pooled buffer and written in one call, for batches of
// 1 and 16 shared messages.
func BenchmarkWriteBatch(b *testing.B) {
	for _, n := range []int{1, 16} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			srv := NewServer(Config{}, nil)
			ws, dc := fakeServerWS(b, srv, false)
			c := newConn(srv, "b", nil)
			m := NewTextMessage(benchPayload)
			batch := make([]*Message, n)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				for j := range batch {
					batch[j] = m
				}
				if _, err := c.writeBatch(ws.nc, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(dc.n.Load())/float64(b.N), "B/batch")
		})
	}
}

// BenchmarkWebSocketBroadcast is the end-to-end path: Send of one Message to
// 1,000 websocket sessions, each writer goroutine started on demand and
// writing to a discarding connection, until every queue is drained.
func BenchmarkWebSocketBroadcast(b *testing.B) {
	srv := NewServer(Config{}, nil)
	conns := make([]*Conn, 1000)
	for i := range conns {
		ws, _ := fakeServerWS(b, srv, false)
		conns[i] = wsSession(srv, ws, strconv.Itoa(i))
	}
	idle := func(c *Conn) bool { // everything written
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.queue) == 0 && !c.inflight
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := NewTextMessage(benchPayload)
		for _, c := range conns {
			if err := c.Send(m); err != nil {
				b.Fatal(err)
			}
		}
		for _, c := range conns {
			for !idle(c) {
				runtime.Gosched()
			}
		}
	}
	b.StopTimer()
	srv.wg.Wait()
}

// BenchmarkIdleWebSocketMemory opens idle websocket sessions from raw TCP
// clients (which hold no goroutine or buffer of their own) and reports the
// heap+stack bytes per session, and the RSS growth per session. Run it once:
//
//	go test -run ^$ -bench IdleWebSocketMemory -benchtime 1x ./node/engineio
//
// SIO_MEMTEST_CONNS sets the number of sessions (default 2000).
func BenchmarkIdleWebSocketMemory(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("SIO_MEMTEST_CONNS")); err == nil && v > 0 {
		n = v
	}
	srv := NewServer(Config{}, func(c *Conn) { c.SetHandler(nopHandler{}) })
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close("done")
	addr := strings.TrimPrefix(ts.URL, "http://")

	measure := func() (heap, stack, rss uint64) {
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse, ms.StackInuse, readRSS()
	}
	h0, s0, r0 := measure()
	clients := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := dialRawWS(addr)
		if err != nil {
			b.Fatalf("conn %d: %v", i, err)
		}
		clients = append(clients, c)
	}
	for srv.Count() != n {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // writers of the open packet exit
	h1, s1, r1 := measure()
	if path := os.Getenv("SIO_MEMTEST_PROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			_ = pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	per := func(a, b uint64) float64 { return (float64(b) - float64(a)) / float64(n) }
	b.ReportMetric(per(h0, h1), "heapB/conn")
	b.ReportMetric(per(s0, s1), "stackB/conn")
	b.ReportMetric(per(h0+s0, h1+s1), "B/conn")
	if r0 > 0 && r1 > 0 {
		b.ReportMetric(per(r0, r1), "rssB/conn")
	}
	b.ReportMetric(float64(runtime.NumGoroutine())/float64(n), "goroutines/conn")
}

type nopHandler struct{}

func (nopHandler) OnMessage([]byte, bool) {}
func (nopHandler) OnClose(string)         {}

// dialRawWS performs a websocket handshake over a plain TCP connection and
// reads the 101 response and the open packet frame.
func dialRawWS(addr string) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	fmt.Fprintf(c, "GET /?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n", addr, base64.StdEncoding.EncodeToString(key[:]))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReaderSize(c, 512)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != 101 {
		c.Close()
		return nil, fmt.Errorf("handshake: %v %v", err, res)
	}
	var hdr [2]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		c.Close()
		return nil, err
	}
	if _, err := io.ReadFull(br, make([]byte, int(hdr[1]&0x7f))); err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, nil
}

// readRSS returns the resident set size in bytes, 0 when unknown.
func readRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

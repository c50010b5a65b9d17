package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// echoLoop is the handler of the echo clients: each client keeps exactly
// one echo request in flight and sends the next one from its reader
// goroutine as soon as the ack arrives, until end.
type echoLoop struct {
	b           *bench
	lat         *latency
	payloadJSON []byte
	expect      []byte // the ack payload: [<payloadJSON>]
	end         int64  // ns since bench start; no request is sent after it
	finished    atomic.Int64
	mismatch    atomic.Int64
}

func (h *echoLoop) onEvent(*client, []byte) {}

func (h *echoLoop) onAck(c *client, id uint64, payload []byte) {
	if c.done || id != c.ackID {
		h.b.badFrames.Add(1)
		return
	}
	now := h.b.now()
	h.lat.record(c.idx, now-c.sentAt)
	if !bytes.Equal(payload, h.expect) {
		if h.mismatch.Add(1) == 1 {
			h.b.noteErr(fmt.Sprintf("echo returned %q", truncate(payload, 200)))
		}
	}
	c.recv.Add(1)
	c.last.Store(now)
	if now >= h.end || h.b.closing.Load() {
		c.done = true
		h.finished.Add(1)
		return
	}
	h.fire(c, now)
}

// fire sends the next request of c. It runs on c's reader goroutine, or
// before that goroutine starts.
func (h *echoLoop) fire(c *client, now int64) {
	c.ackID++
	c.sentAt = now
	c.sbuf = appendEcho(c.sbuf[:0], c.ackID, h.payloadJSON)
	if err := c.send(&c.fbuf, c.sbuf); err != nil {
		c.done = true
		h.finished.Add(1)
		h.b.lost(c, err)
	}
}

// runEcho runs cfg.Clients closed loops of echo-with-ack, spread
// round-robin over the nodes, for cfg.Duration.
func (b *bench) runEcho(ctx context.Context) (*result, error) {
	cfg := b.cfg
	res := &result{Params: b.params(), Metrics: map[string]any{}}
	res.Params["duration_s"] = cfg.Duration.Seconds()
	m := res.Metrics
	payload := jsonString(strings.Repeat("x", cfg.Payload))
	h := &echoLoop{
		b:           b,
		lat:         &latency{},
		payloadJSON: payload,
		expect:      append(append([]byte{'['}, payload...), ']'),
	}
	nodes := len(b.wsURLs)

	var phase atomic.Value
	phase.Store("ramp")
	var clients []*client
	var prevRecv, prevAt int64
	total := func() int64 {
		var n int64
		for _, c := range clients {
			if c != nil {
				n += c.recv.Load()
			}
		}
		return n
	}
	stop := b.progress(func() string {
		if phase.Load() == "ramp" {
			return fmt.Sprintf("ramp: %d connected, %d failed", b.connected.Load(), b.connErrs.Load())
		}
		now, n := b.now(), total()
		rate := float64(n-prevRecv) / (float64(now-prevAt) / 1e9)
		prevRecv, prevAt = n, now
		return fmt.Sprintf("echo: %d round trips (%.0f/s) lost-conns %d latency %s",
			n, rate, b.disconnects.Load(), h.lat.snapshot().summary())
	})
	defer stop()

	clients, err := b.ramp(ctx, cfg.Clients, func(i int) int { return i % nodes }, nil, nil)
	if err != nil {
		return res, err
	}
	live := int64(0)
	m0 := b.mark(ctx)
	startAt := b.now()
	h.end = startAt + int64(cfg.Duration)
	prevAt = startAt
	phase.Store("echo")
	for _, c := range clients {
		if c == nil {
			continue
		}
		live++
		h.fire(c, b.now()) // before start: the reader owns c from then on
		c.start(h)
	}
	deadline := time.Now().Add(cfg.Duration + cfg.Grace)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for h.finished.Load() < live && time.Now().Before(deadline) && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	m1 := b.mark(ctx)
	stop()

	n := total()
	var last int64
	for _, c := range clients {
		if c != nil {
			last = max(last, c.last.Load())
		}
	}
	m["round_trips"] = n
	m["unfinished_clients"] = live - h.finished.Load()
	m["payload_mismatches"] = h.mismatch.Load()
	if span := last - startAt; span > 0 {
		m["round_trips_per_s"] = round3(float64(n) / (float64(span) / 1e9))
		m["span_s"] = round3(float64(span) / 1e9)
	}
	m["latency"] = h.lat.snapshot().summary()
	addUsage(m, m0, m1)
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("echo: %w", err)
	}
	if u := live - h.finished.Load(); u > 0 {
		return res, fmt.Errorf("echo: %d clients did not finish (lost acks or connections)", u)
	}
	return res, nil
}

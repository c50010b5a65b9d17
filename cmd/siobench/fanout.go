package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// receiver is the handler of the room members in fanout and rate: it
// takes the send time out of each "room message" and records the latency
// as same-node (receiver on the publisher's node 0) or cross-node.
type receiver struct {
	b           *bench
	same, cross *latency
}

func (r *receiver) onEvent(c *client, body []byte) {
	t, seq, ok := parseRoomMessage(body)
	if !ok {
		r.b.badFrames.Add(1)
		return
	}
	now := r.b.now()
	if c.node == 0 {
		r.same.record(c.idx, now-t)
	} else {
		r.cross.record(c.idx, now-t)
	}
	if seq <= c.lastSeq {
		c.ooo.Add(1)
	}
	c.lastSeq = seq
	c.recv.Add(1)
	c.last.Store(now)
}

func (r *receiver) onAck(*client, uint64, []byte) {}

// publisher is the handler of the publishing connection: every ack frees
// one slot of the in-flight window.
type publisher struct {
	b      *bench
	win    chan struct{}
	acked  atomic.Int64
	ackErr atomic.Int64
}

func (p *publisher) onEvent(*client, []byte) {}

func (p *publisher) onAck(_ *client, _ uint64, payload []byte) {
	if ackOK(payload) {
		p.acked.Add(1)
	} else {
		p.ackErr.Add(1)
		p.b.noteErr(fmt.Sprintf("room message refused: %s", truncate(payload, 200)))
	}
	select {
	case <-p.win:
	default:
	}
}

// runFanout runs the fanout scenario (cfg.Messages broadcasts, as fast as
// the window allows) or, with atRate, the rate scenario (cfg.Rate
// broadcasts per second for cfg.Duration; each message carries its
// scheduled send time so that a stalled sender shows up as latency).
func (b *bench) runFanout(ctx context.Context, atRate bool) (*result, error) {
	cfg := b.cfg
	res := &result{Params: b.params(), Metrics: map[string]any{}}
	res.Params["room"] = cfg.Room
	res.Params["window"] = cfg.Window
	res.Params["grace_s"] = cfg.Grace.Seconds()
	if atRate {
		res.Params["rate"] = cfg.Rate
		res.Params["duration_s"] = cfg.Duration.Seconds()
	} else {
		res.Params["messages"] = cfg.Messages
	}
	m := res.Metrics
	roomJSON := jsonString(cfg.Room)
	pad := bytes.Repeat([]byte("x"), cfg.Payload)
	nodes := len(b.wsURLs)
	recvH := &receiver{b: b, same: &latency{}, cross: &latency{}}
	pubH := &publisher{b: b, win: make(chan struct{}, cfg.Window)}

	var phase atomic.Value
	phase.Store("ramp")
	var receivers []*client
	var sent atomic.Int64
	var received = func() int64 {
		var n int64
		for _, c := range receivers {
			if c != nil {
				n += c.recv.Load()
			}
		}
		return n
	}
	var prevRecv, prevAt int64
	stop := b.progress(func() string {
		if phase.Load() == "ramp" {
			return fmt.Sprintf("ramp: %d connected, %d failed", b.connected.Load(), b.connErrs.Load())
		}
		now, recv := b.now(), received()
		rate := float64(recv-prevRecv) / (float64(now-prevAt) / 1e9)
		prevRecv, prevAt = recv, now
		all := recvH.same.snapshot()
		all.merge(recvH.cross.snapshot())
		return fmt.Sprintf("%s: sent %d acked %d received %d (%.0f/s) lost-conns %d latency %s",
			phase.Load(), sent.Load(), pubH.acked.Load(), recv, rate, b.disconnects.Load(), all.summary())
	})
	defer stop()

	receivers, err := b.ramp(ctx, cfg.Clients, func(i int) int { return i % nodes },
		func(c *client) error { return c.join(roomJSON) }, recvH)
	joined := b.connected.Load()
	perNode := make([]int, nodes)
	for _, c := range receivers {
		if c != nil {
			perNode[c.node]++
		}
	}
	m["receivers"] = joined
	m["receivers_per_node"] = perNode
	if err != nil {
		return res, err
	}
	pub, err := b.connect(ctx, 0)
	if err != nil {
		return res, fmt.Errorf("publisher: %w", err)
	}
	pub.idx = -1
	b.track(pub)
	pub.start(pubH)

	prevAt = b.now()
	phase.Store("publish")
	m0 := b.mark(ctx)
	firstSend := b.now()
	frame := make([]byte, 0, 128+len(pad))
	var wire frameBuf
	var late int64
	var sendErr error
	total := cfg.Messages
	interval := time.Duration(0)
	var pace *pacer
	if atRate {
		total = max(1, int(cfg.Rate*cfg.Duration.Seconds()))
		interval = time.Duration(float64(time.Second) / cfg.Rate)
		pace = newPacer()
		defer pace.close()
	}
send:
	for seq := range total {
		t := b.now()
		if atRate {
			due := firstSend + int64(seq)*int64(interval)
			if wait := time.Duration(due - t); wait > 0 {
				if pace.sleep(ctx, wait) != nil {
					break send
				}
			}
			t = due
		}
		select {
		case pubH.win <- struct{}{}:
		case <-ctx.Done():
			break send
		}
		if atRate {
			if behind := b.now() - t; behind > int64(time.Millisecond) {
				late++
			}
		} else {
			t = b.now()
		}
		frame = appendRoomMessage(frame[:0], uint64(seq), roomJSON, t, int64(seq), pad)
		if sendErr = pub.send(&wire, frame); sendErr != nil {
			break
		}
		sent.Add(1)
	}
	lastSend := b.now()
	nSent := sent.Load()

	// Wait for the acks and the deliveries; stop when everything arrived
	// or nothing moved for cfg.Grace.
	phase.Store("drain")
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	lastMove, prevTotal := time.Now(), int64(-1)
	complete := false
	for ctx.Err() == nil {
		acks := pubH.acked.Load() + pubH.ackErr.Load()
		recv := received()
		if acks >= nSent && recv >= pubH.acked.Load()*joined {
			complete = true
			break
		}
		if acks+recv != prevTotal {
			prevTotal, lastMove = acks+recv, time.Now()
		} else if time.Since(lastMove) > cfg.Grace {
			break
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	m1 := b.mark(ctx)
	stop()

	recv := received()
	acked := pubH.acked.Load()
	expected := acked * joined
	var lastRecv, ooo int64
	for _, c := range receivers {
		if c != nil {
			lastRecv = max(lastRecv, c.last.Load())
			ooo += c.ooo.Load()
		}
	}
	same, cross := recvH.same.snapshot(), recvH.cross.snapshot()
	all := *same
	all.merge(cross)
	m["sent"] = nSent
	m["acked"] = acked
	m["ack_errors"] = pubH.ackErr.Load()
	m["unacked"] = nSent - acked - pubH.ackErr.Load()
	m["expected"] = expected
	m["received"] = recv
	m["lost"] = max(0, expected-recv)
	m["extra"] = max(0, recv-expected)
	m["out_of_order"] = ooo
	m["complete"] = complete
	if span := lastRecv - firstSend; span > 0 && recv > 0 {
		m["delivered_per_s"] = round3(float64(recv) / (float64(span) / 1e9))
		m["delivery_span_s"] = round3(float64(span) / 1e9)
	}
	if span := lastSend - firstSend; span > 0 {
		m["broadcasts_per_s"] = round3(float64(nSent) / (float64(span) / 1e9))
	}
	if atRate {
		m["late_sends"] = late
	}
	m["latency"] = all.summary()
	m["latency_same_node"] = same.summary()
	m["latency_cross_node"] = cross.summary()
	addUsage(m, m0, m1)

	switch {
	case sendErr != nil:
		return res, fmt.Errorf("publisher send: %w", sendErr)
	case ctx.Err() != nil:
		return res, fmt.Errorf("%s: %w", phase.Load(), ctx.Err())
	case nSent < int64(total):
		return res, errors.New("publisher stopped early")
	}
	return res, nil
}

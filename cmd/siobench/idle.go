package main

import (
	"context"
	"errors"
	"fmt"
)

// runIdle opens cfg.Clients idle connections to the first node, which
// only answer pings, and reports the node's resident memory per
// connection (after cfg.Settle and again at the end of the cfg.Duration
// window, both against the reading taken before connecting) and its CPU
// use over the window.
func (b *bench) runIdle(ctx context.Context) (*result, error) {
	cfg := b.cfg
	res := &result{Params: b.params(), Metrics: map[string]any{}}
	res.Params["urls"] = cfg.URLs[:1]
	res.Params["duration_s"] = cfg.Duration.Seconds()
	res.Params["settle_s"] = cfg.Settle.Seconds()
	m := res.Metrics
	s := b.samplers[0]
	rss := func() int64 {
		ns, err := s.sample(ctx)
		if err != nil {
			return -1
		}
		return ns.rss
	}
	base := rss()
	m["rss_base_mb"] = mb(base)

	stop := b.progress(func() string {
		return fmt.Sprintf("ramp: %d connected, %d failed, node rss %s", b.connected.Load(), b.connErrs.Load(), fmtMB(rss()))
	})
	_, err := b.ramp(ctx, cfg.Clients, func(int) int { return 0 }, nil, noHandler{})
	stop()
	n := b.connected.Load()
	if err != nil {
		return res, err
	}
	stop = b.progress(func() string {
		return fmt.Sprintf("idle: %d connected, %d lost, %d pings answered, node rss %s",
			b.connected.Load()-b.disconnects.Load(), b.disconnects.Load(), b.pings.Load(), fmtMB(rss()))
	})
	defer stop()
	if err := sleep(ctx, cfg.Settle); err != nil {
		return res, err
	}
	connectedRSS := rss()
	m0 := b.mark(ctx)
	pings0 := b.pings.Load()
	if err := sleep(ctx, cfg.Duration); err != nil {
		return res, err
	}
	m1 := b.mark(ctx)
	endRSS := m1.nodes[0].rss

	m["rss_connected_mb"] = mb(connectedRSS)
	m["rss_end_mb"] = mb(endRSS)
	if base >= 0 && connectedRSS >= 0 && n > 0 {
		m["rss_per_conn_connected_bytes"] = (connectedRSS - base) / n
	}
	if base >= 0 && endRSS >= 0 && n > 0 {
		m["rss_per_conn_bytes"] = (endRSS - base) / n
	}
	m["pings_in_window"] = b.pings.Load() - pings0
	addUsage(m, m0, m1)
	if base < 0 {
		return res, errors.New("no RSS reading for node 0: pass -pid or serve process metrics")
	}
	if d := b.disconnects.Load(); d > 0 {
		return res, fmt.Errorf("%d idle connections were lost", d)
	}
	return res, nil
}

// mb converts bytes to MiB, or nil when unknown.
func mb(v int64) *float64 {
	if v < 0 {
		return nil
	}
	return ptr(round3(float64(v) / (1 << 20)))
}

func fmtMB(v int64) string {
	if v < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1fMiB", float64(v)/(1<<20))
}

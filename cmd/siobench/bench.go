package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// bench is one run of one scenario: the shared connection machinery,
// counters and samplers. Counters are atomics; everything else is set up
// before any reader goroutine starts.
type bench struct {
	cfg      config
	out      io.Writer // JSON result
	errOut   io.Writer // progress lines and the human summary
	start    time.Time // origin of now(); monotonic
	wsURLs   []string
	samplers []*sampler

	readers sync.WaitGroup // running readLoops and pollers

	pollOnce sync.Once // starts pollers on first use; closeAll stops that
	pollers  []*poller // set by pollOnce
	pollNext atomic.Uint32
	closing  atomic.Bool // set before the generator closes its connections

	connected   atomic.Int64
	connErrs    atomic.Int64
	disconnects atomic.Int64 // connections lost before the end of the run
	pings       atomic.Int64 // Engine.IO pings answered
	badFrames   atomic.Int64 // events or acks the generator could not parse

	mu       sync.Mutex
	conns    []*client // every open connection, for teardown
	firstErr string
	errCount int
}

func newBench(cfg config, out, errOut io.Writer) (*bench, error) {
	b := &bench{
		cfg:    cfg,
		out:    out,
		errOut: errOut,
		start:  time.Now(),
	}
	for i, u := range cfg.URLs {
		ws, metrics, err := nodeURLs(u, cfg.Path, cfg.MetricsPath)
		if err != nil {
			return nil, err
		}
		b.wsURLs = append(b.wsURLs, ws)
		s := &sampler{metricsURL: metrics}
		if i < len(cfg.PIDs) {
			s.pid = cfg.PIDs[i]
			s.metricsURL = ""
		}
		b.samplers = append(b.samplers, s)
	}
	return b, nil
}

// now is the time since the run started, in nanoseconds (monotonic).
func (b *bench) now() int64 { return int64(time.Since(b.start)) }

// noteErr keeps the first error message and counts them all.
func (b *bench) noteErr(msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.errCount == 0 {
		b.firstErr = msg
	}
	b.errCount++
}

// lost records a connection that failed, unless the generator is closing
// it on purpose.
func (b *bench) lost(c *client, err error) {
	if b.closing.Load() {
		return
	}
	b.disconnects.Add(1)
	b.noteErr(fmt.Sprintf("connection %d (node %d) lost: %v", c.idx, c.node, err))
}

// track registers c for teardown.
func (b *bench) track(c *client) {
	b.mu.Lock()
	b.conns = append(b.conns, c)
	b.mu.Unlock()
}

// closeAll closes every connection and waits (bounded) for the readers.
func (b *bench) closeAll() {
	b.closing.Store(true)
	b.mu.Lock()
	conns := b.conns
	b.conns = nil
	b.mu.Unlock()
	for _, c := range conns {
		_ = c.conn.Close()
	}
	b.pollOnce.Do(func() {}) // no poller starts from now on
	done := make(chan struct{})
	go func() {
		for _, p := range b.pollers {
			p.close()
		}
		b.readers.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		fmt.Fprintln(b.errOut, "siobench: some readers did not stop within 10s")
	}
}

// pollerFor returns the poller that is to read c, or nil when c needs a
// reader goroutine: on TLS connections and where pollers are not
// available.
func (b *bench) pollerFor(c *client) *poller {
	if disablePoller || c.raw == nil {
		return nil
	}
	b.pollOnce.Do(b.startPollers)
	if len(b.pollers) == 0 {
		return nil
	}
	return b.pollers[int(b.pollNext.Add(1))%len(b.pollers)]
}

// startPollers starts cfg.Pollers pollers (0: one per CPU the Go runtime
// may use), or none where the platform has no poller.
func (b *bench) startPollers() {
	n := b.cfg.Pollers
	if n == 0 {
		n = runtime.GOMAXPROCS(0)
	}
	for range n {
		p, err := newPoller(b)
		if err != nil {
			if !errors.Is(err, errors.ErrUnsupported) {
				fmt.Fprintf(b.errOut, "siobench: poller: %v; using a reader goroutine per connection\n", err)
			}
			return
		}
		b.pollers = append(b.pollers, p)
	}
}

// ramp opens n connections with at most cfg.Ramp handshakes in flight.
// nodeOf picks each connection's node; setup (may be nil) runs on the new
// connection before its reader starts; the reader starts with h unless h
// is nil (the caller then starts it). Failed slots are nil. Ramp gives up
// when ctx ends or more than max(10, n/20) connections fail.
func (b *bench) ramp(ctx context.Context, n int, nodeOf func(int) int, setup func(*client) error, h handler) ([]*client, error) {
	clients := make([]*client, n)
	maxErrs := int64(max(10, n/20))
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(b.cfg.Ramp, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				c, err := b.connect(rctx, nodeOf(i))
				if err == nil {
					c.idx = i
					if setup != nil {
						if err = setup(c); err != nil {
							_ = c.conn.Close()
						}
					}
				}
				if err != nil {
					if rctx.Err() == nil {
						b.noteErr(fmt.Sprintf("connection %d: %v", i, err))
					}
					if b.connErrs.Add(1) > maxErrs {
						cancel()
					}
					continue
				}
				b.track(c)
				clients[i] = c
				b.connected.Add(1)
				if h != nil {
					c.start(h)
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return clients, fmt.Errorf("ramp-up: %w", err)
	}
	if e := b.connErrs.Load(); e > maxErrs {
		return clients, fmt.Errorf("ramp-up: %d connections failed (first: %s)", e, b.firstError())
	}
	return clients, nil
}

func (b *bench) firstError() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.firstErr
}

// progress prints line() to errOut every cfg.Progress until the returned
// stop function (idempotent) is called.
func (b *bench) progress(line func() string) (stop func()) {
	if b.cfg.Progress <= 0 {
		return func() {}
	}
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(b.cfg.Progress)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				fmt.Fprintf(b.errOut, "[%s %5.1fs] %s\n", b.cfg.Scenario, time.Since(b.start).Seconds(), line())
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(quit); <-done }) }
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// result is one JSON line on stdout.
type result struct {
	Scenario string         `json:"scenario"`
	Label    string         `json:"label"`
	Params   map[string]any `json:"params"`
	Metrics  map[string]any `json:"metrics"`
	Error    string         `json:"error,omitempty"`
}

// common adds the metrics every scenario reports.
func (b *bench) common(m map[string]any) {
	b.mu.Lock()
	first, count := b.firstErr, b.errCount
	b.mu.Unlock()
	m["connected"] = b.connected.Load()
	m["connect_errors"] = b.connErrs.Load()
	m["disconnects"] = b.disconnects.Load()
	m["bad_frames"] = b.badFrames.Load()
	m["errors"] = count
	if first != "" {
		m["first_error"] = first
	}
}

// params returns the parameters common to every scenario.
func (b *bench) params() map[string]any {
	return map[string]any{
		"urls":    b.cfg.URLs,
		"clients": b.cfg.Clients,
		"payload": b.cfg.Payload,
	}
}

// run executes the configured scenario and writes its result. The
// returned error is also in the JSON line; a run that timed out or lost
// connections still reports what it measured.
func run(ctx context.Context, cfg config, out, errOut io.Writer) error {
	need := uint64(cfg.Clients) + 64
	if got, err := raiseFileLimit(need); err != nil {
		fmt.Fprintf(errOut, "siobench: file limit: %v\n", err)
	} else if got < need {
		fmt.Fprintf(errOut, "siobench: warning: open file limit %d < %d needed\n", got, need)
	}
	b, err := newBench(cfg, out, errOut)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	b.probeSamplers(ctx)

	var res *result
	switch cfg.Scenario {
	case "fanout":
		res, err = b.runFanout(ctx, false)
	case "rate":
		res, err = b.runFanout(ctx, true)
	case "echo":
		res, err = b.runEcho(ctx)
	case "idle":
		res, err = b.runIdle(ctx)
	default:
		err = fmt.Errorf("unknown scenario %q", cfg.Scenario)
	}
	b.closeAll()
	if res == nil {
		res = &result{Params: b.params(), Metrics: map[string]any{}}
	}
	res.Scenario, res.Label = cfg.Scenario, cfg.Label
	b.common(res.Metrics)
	if err != nil {
		res.Error = err.Error()
	}
	line, jerr := json.Marshal(res)
	if jerr != nil {
		return errors.Join(err, jerr)
	}
	fmt.Fprintln(errOut, b.humanSummary(res))
	if _, werr := fmt.Fprintf(out, "%s\n", line); werr != nil {
		return errors.Join(err, werr)
	}
	return err
}

// humanSummary renders res for people: one indented line per metric,
// latency summaries on their own lines.
func (b *bench) humanSummary(res *result) string {
	var sb strings.Builder
	label := res.Label
	if label == "" {
		label = "-"
	}
	fmt.Fprintf(&sb, "== siobench %s  target=%s  urls=%s\n", res.Scenario, label, strings.Join(b.cfg.URLs, ","))
	for _, k := range sortedKeys(res.Metrics) {
		v := res.Metrics[k]
		switch x := v.(type) {
		case latencySummary:
			fmt.Fprintf(&sb, "   %-30s %s\n", k, x)
		case float64:
			fmt.Fprintf(&sb, "   %-30s %.3f\n", k, x)
		case *float64:
			if x == nil {
				fmt.Fprintf(&sb, "   %-30s n/a\n", k)
			} else {
				fmt.Fprintf(&sb, "   %-30s %.3f\n", k, *x)
			}
		case []*float64:
			parts := make([]string, len(x))
			for i, p := range x {
				parts[i] = "n/a"
				if p != nil {
					parts[i] = fmt.Sprintf("%.3f", *p)
				}
			}
			fmt.Fprintf(&sb, "   %-30s [%s]\n", k, strings.Join(parts, " "))
		default:
			fmt.Fprintf(&sb, "   %-30s %v\n", k, v)
		}
	}
	if res.Error != "" {
		fmt.Fprintf(&sb, "   ERROR: %s\n", res.Error)
	}
	return strings.TrimRight(sb.String(), "\n")
}

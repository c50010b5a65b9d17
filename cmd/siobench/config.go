package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// config is the parsed command line; parseConfig documents every field's
// flag and default.
type config struct {
	URLs        []string
	Scenario    string
	Label       string
	Clients     int
	Messages    int
	Window      int
	Rate        float64
	Duration    time.Duration
	Grace       time.Duration
	Settle      time.Duration
	Timeout     time.Duration
	Payload     int
	Room        string
	Ramp        int
	Path        string
	PIDs        []int
	MetricsPath string
	Progress    time.Duration
	MaxFrame    int
	CPUProfile  string
	Pollers     int
	QuickAck    bool
}

var scenarios = []string{"fanout", "rate", "idle", "echo"}

// parseConfig parses the command line; usage and errors go to errOut.
func parseConfig(args []string, errOut io.Writer) (config, error) {
	fs := flag.NewFlagSet("siobench", flag.ContinueOnError)
	fs.SetOutput(errOut)
	var c config
	var urls, pids string
	fs.StringVar(&urls, "urls", "http://127.0.0.1:3000", "comma-separated node base URLs (http://, https://, ws:// or wss://); the first node hosts the publisher and the idle connections")
	fs.StringVar(&c.Scenario, "scenario", "fanout", "fanout, rate, idle or echo")
	fs.StringVar(&c.Label, "label", "", "target label copied into the JSON result (e.g. go, ref)")
	fs.IntVar(&c.Clients, "clients", 100, "receivers (fanout, rate), idle connections (idle) or echo clients (echo); spread round-robin over the nodes except for idle")
	fs.IntVar(&c.Messages, "messages", 1000, "fanout: broadcasts the publisher sends")
	fs.IntVar(&c.Window, "window", 100, "fanout, rate: broadcasts in flight, counted by the publisher's acks")
	fs.Float64Var(&c.Rate, "rate", 50, "rate: broadcasts per second")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "rate, echo: sending time; idle: measurement window")
	fs.DurationVar(&c.Grace, "grace", 2*time.Second, "after sending, how long without any new delivery before the rest counts as lost")
	fs.DurationVar(&c.Settle, "settle", 2*time.Second, "idle: pause after connecting before measuring")
	fs.DurationVar(&c.Timeout, "timeout", 5*time.Minute, "global bound for the whole run")
	fs.IntVar(&c.Payload, "payload", 0, "bytes of padding in each broadcast (fanout, rate) or size of the echo string (echo)")
	fs.StringVar(&c.Room, "room", "siobench", "room the receivers join")
	fs.IntVar(&c.Ramp, "ramp", 32, "concurrent connection attempts while ramping up")
	fs.StringVar(&c.Path, "path", "/socket.io/", "Socket.IO endpoint path")
	fs.StringVar(&pids, "pid", "", "comma-separated node process ids, in -urls order, for RSS and CPU from /proc; nodes without one are read from their metrics endpoint")
	fs.StringVar(&c.MetricsPath, "metrics-path", "/metrics", "Prometheus endpoint read for process_resident_memory_bytes and process_cpu_seconds_total when no pid is given; empty disables")
	fs.DurationVar(&c.Progress, "progress", time.Second, "progress line interval on stderr; 0 disables")
	fs.IntVar(&c.MaxFrame, "max-frame", 1<<20, "largest WebSocket frame accepted, in bytes")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write the generator's own CPU profile (pprof) to this file")
	fs.BoolVar(&c.QuickAck, "quickack", false, "Linux: leave the receivers' sockets in the kernel's quick-ACK mode (a pure ACK for every small message read) instead of delaying ACKs as a receiver across a network does; see the package doc")
	fs.IntVar(&c.Pollers, "pollers", 0, "Linux: epoll pollers reading the plain-TCP connections; 0 is one per CPU the Go runtime may use (GOMAXPROCS)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	for _, u := range strings.Split(urls, ",") {
		if u = strings.TrimSpace(u); u != "" {
			c.URLs = append(c.URLs, u)
		}
	}
	for _, p := range strings.Split(pids, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 {
			return c, fmt.Errorf("-pid: invalid process id %q", p)
		}
		c.PIDs = append(c.PIDs, n)
	}
	return c, c.validate()
}

// validate rejects values the scenarios cannot run with.
func (c *config) validate() error {
	var errs []error
	if len(c.URLs) == 0 {
		errs = append(errs, errors.New("-urls: no node URL"))
	}
	for _, u := range c.URLs {
		if _, _, err := nodeURLs(u, c.Path, c.MetricsPath); err != nil {
			errs = append(errs, err)
		}
	}
	known := false
	for _, s := range scenarios {
		known = known || s == c.Scenario
	}
	if !known {
		errs = append(errs, fmt.Errorf("-scenario: %q is not one of %s", c.Scenario, strings.Join(scenarios, ", ")))
	}
	if len(c.PIDs) > len(c.URLs) {
		errs = append(errs, fmt.Errorf("-pid: %d pids for %d urls", len(c.PIDs), len(c.URLs)))
	}
	check := func(ok bool, msg string) {
		if !ok {
			errs = append(errs, errors.New(msg))
		}
	}
	check(c.Clients > 0 && c.Clients <= 1_000_000, "-clients must be in 1..1000000")
	check(c.Pollers >= 0 && c.Pollers <= 1024, "-pollers must be in 0..1024")
	check(c.Messages > 0 && c.Messages <= 100_000_000, "-messages must be in 1..100000000")
	check(c.Window > 0 && c.Window <= 1_000_000, "-window must be in 1..1000000")
	check(c.Rate > 0 && c.Rate <= 1_000_000, "-rate must be in (0, 1000000]")
	check(c.Duration > 0, "-duration must be positive")
	check(c.Grace > 0, "-grace must be positive")
	check(c.Settle >= 0, "-settle must not be negative")
	check(c.Timeout > 0, "-timeout must be positive")
	check(c.Payload >= 0 && c.Payload <= 1<<20, "-payload must be in 0..1048576")
	check(c.Ramp > 0 && c.Ramp <= 10_000, "-ramp must be in 1..10000")
	check(c.Room != "" && len(c.Room) <= 128, "-room must be 1..128 bytes")
	check(c.Progress >= 0, "-progress must not be negative")
	check(c.MaxFrame >= 1024 && c.MaxFrame <= 64<<20, "-max-frame must be in 1024..67108864")
	check(c.MaxFrame >= c.Payload+1024, "-max-frame must exceed -payload by at least 1024")
	return errors.Join(errs...)
}

// nodeURLs derives the WebSocket endpoint and the metrics URL ("" when
// metricsPath is empty) of a node base URL.
func nodeURLs(base, path, metricsPath string) (ws, metrics string, err error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", "", fmt.Errorf("-urls: %q: %w", base, err)
	}
	if u.Host == "" {
		return "", "", fmt.Errorf("-urls: %q has no host", base)
	}
	var wsScheme, httpScheme string
	switch u.Scheme {
	case "http", "ws":
		wsScheme, httpScheme = "ws", "http"
	case "https", "wss":
		wsScheme, httpScheme = "wss", "https"
	default:
		return "", "", fmt.Errorf("-urls: %q: scheme must be http, https, ws or wss", base)
	}
	if !strings.HasPrefix(path, "/") {
		return "", "", fmt.Errorf("-path: %q must start with /", path)
	}
	ws = (&url.URL{Scheme: wsScheme, Host: u.Host, Path: path, RawQuery: "EIO=4&transport=websocket"}).String()
	if metricsPath != "" {
		metrics = (&url.URL{Scheme: httpScheme, Host: u.Host, Path: metricsPath}).String()
	}
	return ws, metrics, nil
}

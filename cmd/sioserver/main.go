// Command sioserver is the sio chat node: the Socket.IO get-started chat
// with rooms, served by one Go binary that joins a cluster through Redis
// when a Redis URL is configured and runs alone on the in-memory adapter
// otherwise.
//
// Every flag has an environment fallback (SIO_ADDR, SIO_REDIS_URL, ...);
// run with -h for the list.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	addr         string
	redisURL     string
	redisPrefix  string
	pingInterval time.Duration
	pingTimeout  time.Duration
	origins      []string
	nodeID       string
	logLevel     slog.Level
	logJSON      bool
	clientBundle string
	drainTimeout time.Duration
	testHooks    bool
	maxConns     int
	maxRate      int
}

// parseConfig reads flags, falling back to the environment for every flag
// not given on the command line.
func parseConfig(args []string, getenv func(string) string) (config, error) {
	fs := flag.NewFlagSet("sioserver", flag.ContinueOnError)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	host, _ := os.Hostname()
	var (
		c                                        config
		pingInterval, pingTimeout, drain, origin string
		level, logJSON, hooks, maxConns, maxRate string
	)
	fs.StringVar(&c.addr, "addr", env("SIO_ADDR", ":3000"), "listen address (SIO_ADDR)")
	fs.StringVar(&c.redisURL, "redis", env("SIO_REDIS_URL", ""), "Redis URL, redis:// or rediss:// with optional user:password; empty runs on the in-memory adapter (SIO_REDIS_URL)")
	fs.StringVar(&c.redisPrefix, "redis-prefix", env("SIO_REDIS_PREFIX", "socket.io"), "Redis channel prefix, as the Node adapter's key option (SIO_REDIS_PREFIX)")
	fs.StringVar(&pingInterval, "ping-interval", env("SIO_PING_INTERVAL", "25s"), "Engine.IO ping interval (SIO_PING_INTERVAL)")
	fs.StringVar(&pingTimeout, "ping-timeout", env("SIO_PING_TIMEOUT", "20s"), "Engine.IO ping timeout (SIO_PING_TIMEOUT)")
	fs.StringVar(&origin, "origins", env("SIO_ALLOWED_ORIGINS", ""), "comma-separated allowed cross-origin origins, * for any; empty allows same-origin only (SIO_ALLOWED_ORIGINS)")
	fs.StringVar(&c.nodeID, "node-id", env("SIO_NODE_ID", host), "node name reported by whoami and in logs (SIO_NODE_ID)")
	fs.StringVar(&level, "log-level", env("SIO_LOG_LEVEL", "info"), "debug, info, warn or error (SIO_LOG_LEVEL)")
	fs.StringVar(&logJSON, "log-json", env("SIO_LOG_JSON", "false"), "JSON logs (SIO_LOG_JSON)")
	fs.StringVar(&c.clientBundle, "client-bundle", env("SIO_CLIENT_BUNDLE", ""), "path of socket.io.min.js to serve at /vendor/socket.io.min.js; empty loads it from the public CDN (SIO_CLIENT_BUNDLE)")
	fs.StringVar(&drain, "drain-timeout", env("SIO_DRAIN_TIMEOUT", "10s"), "how long SIGTERM waits for the drain (SIO_DRAIN_TIMEOUT)")
	fs.StringVar(&hooks, "test-hooks", env("SIO_TEST_HOOKS", "false"), "enable the cluster test events (fetch-sockets, server-side-emit, ...); never in production (SIO_TEST_HOOKS)")
	fs.StringVar(&maxConns, "max-connections", env("SIO_MAX_CONNECTIONS", "0"), "maximum Engine.IO sessions, 0 for no limit (SIO_MAX_CONNECTIONS)")
	fs.StringVar(&maxRate, "max-packets-per-second", env("SIO_MAX_PACKETS_PER_SECOND", "0"), "per-connection packet rate limit, 0 for none (SIO_MAX_PACKETS_PER_SECOND)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var err error
	if c.pingInterval, err = time.ParseDuration(pingInterval); err != nil {
		return c, fmt.Errorf("ping-interval: %w", err)
	}
	if c.pingTimeout, err = time.ParseDuration(pingTimeout); err != nil {
		return c, fmt.Errorf("ping-timeout: %w", err)
	}
	if c.drainTimeout, err = time.ParseDuration(drain); err != nil {
		return c, fmt.Errorf("drain-timeout: %w", err)
	}
	if err = c.logLevel.UnmarshalText([]byte(level)); err != nil {
		return c, fmt.Errorf("log-level: %w", err)
	}
	if c.logJSON, err = strconv.ParseBool(logJSON); err != nil {
		return c, fmt.Errorf("log-json: %w", err)
	}
	if c.testHooks, err = strconv.ParseBool(hooks); err != nil {
		return c, fmt.Errorf("test-hooks: %w", err)
	}
	if c.maxConns, err = strconv.Atoi(maxConns); err != nil {
		return c, fmt.Errorf("max-connections: %w", err)
	}
	if c.maxRate, err = strconv.Atoi(maxRate); err != nil {
		return c, fmt.Errorf("max-packets-per-second: %w", err)
	}
	for _, o := range strings.Split(origin, ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.origins = append(c.origins, o)
		}
	}
	return c, nil
}

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sioserver:", err)
		os.Exit(2)
	}
	var h slog.Handler
	opts := &slog.HandlerOptions{Level: cfg.logLevel}
	if cfg.logJSON {
		h = slog.NewJSONHandler(os.Stderr, opts)
	} else {
		h = slog.NewTextHandler(os.Stderr, opts)
	}
	log := slog.New(h).With("node", cfg.nodeID)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("exiting", "err", err)
		os.Exit(1)
	}
}

// newHTTPServer returns the node's HTTP server for handler. Its timeouts
// bound what a slow or idle client can hold: a request's headers must
// arrive within 10s (slowloris), idle keep-alive connections close after
// 2 minutes and headers are capped at 64 KiB. There is no read or write
// timeout for the whole request, as long-polling GETs and websockets stay
// open far longer.
func newHTTPServer(cfg config, handler http.Handler) *http.Server {
	return &http.Server{
		Addr:              cfg.addr,
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// run serves until ctx ends, then drains within cfg.drainTimeout.
func run(ctx context.Context, cfg config, log *slog.Logger) error {
	app, err := newApp(cfg, log)
	if err != nil {
		return err
	}
	defer app.close()
	hs := newHTTPServer(cfg, app.handler())
	errc := make(chan error, 1)
	go func() { errc <- hs.ListenAndServe() }()
	log.Info("listening", "addr", cfg.addr, "redis", cfg.redisURL != "", "gomaxprocs", runtime.GOMAXPROCS(0))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("draining", "timeout", cfg.drainTimeout)
	dctx, cancel := context.WithTimeout(context.Background(), cfg.drainTimeout)
	defer cancel()
	if err := app.srv.Shutdown(dctx); err != nil {
		log.Warn("drain", "err", err)
	}
	if err := hs.Shutdown(dctx); err != nil {
		log.Warn("http shutdown", "err", err)
		_ = hs.Close()
	}
	log.Info("stopped")
	return nil
}

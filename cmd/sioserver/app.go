package main

import (
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"github.com/sio-go/sio/node"
	"github.com/sio-go/sio/node/engineio"
	"github.com/sio-go/sio/redisadapter"
)

//go:embed index.html
var indexHTML string

var indexTmpl = template.Must(template.New("index").Parse(indexHTML))

// cdnBundle is loaded by the chat page when no local bundle is configured.
const cdnBundle = "https://cdn.socket.io/4.8.1/socket.io.min.js"

type app struct {
	cfg   config
	log   *slog.Logger
	srv   *node.Server
	reg   *prometheus.Registry
	redis redis.UniversalClient
}

func newApp(cfg config, log *slog.Logger) (*app, error) {
	a := &app{cfg: cfg, log: log, reg: prometheus.NewRegistry()}
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ncfg := node.Config{
		PingInterval:        cfg.pingInterval,
		PingTimeout:         cfg.pingTimeout,
		CORS:                engineio.CORS{Origins: cfg.origins},
		MaxConnections:      cfg.maxConns,
		MaxPacketsPerSecond: cfg.maxRate,
		Logger:              log,
		Registerer:          a.reg,
	}
	// metrics is set once the server exists. The adapter's hooks can fire
	// before (NewServer initialises the first namespace's adapter, whose
	// subscription may fail or receive), from its goroutines: they load
	// it atomically and count nothing until then.
	var metrics atomic.Pointer[node.Metrics]
	if cfg.redisURL != "" {
		opts, err := redis.ParseURL(cfg.redisURL)
		if err != nil {
			return nil, fmt.Errorf("redis url: %w", err)
		}
		// Bound how long a publish can stall while Redis is unreachable:
		// local delivery must not wait on a dead server. go-redis also
		// retries each failed dial (5 times, 100ms apart, by default),
		// which would hold every publish about a second during an outage.
		opts.MaxRetries = 1
		opts.DialerRetries = 1
		opts.DialTimeout = 2 * time.Second
		opts.ReadTimeout = 2 * time.Second
		opts.WriteTimeout = 2 * time.Second
		redis.SetLogger(&redisLogger{log: log, interval: 10 * time.Second})
		a.redis = redis.NewClient(opts)
		ncfg.Adapter = redisadapter.NewFactory(a.redis, redisadapter.Options{
			Key:    cfg.redisPrefix,
			Logger: log,
			Hooks: redisadapter.Hooks{
				Published: func() {
					if m := metrics.Load(); m != nil {
						m.ObserveRedisPublish(nil)
					}
				},
				PublishError: func(err error) {
					if m := metrics.Load(); m != nil {
						m.ObserveRedisPublish(err)
					}
				},
				SubscribeError: func(error) {
					if m := metrics.Load(); m != nil {
						m.ObserveRedisError()
					}
				},
				Received: func() {
					if m := metrics.Load(); m != nil {
						m.ObserveRedisReceived()
					}
				},
				Dropped: func() {
					if m := metrics.Load(); m != nil {
						m.ObserveRedisDropped()
					}
				},
				RequestLatency: func(kind string, d time.Duration) {
					if m := metrics.Load(); m != nil {
						m.ObserveRedisRequest(kind, d)
					}
				},
			},
		})
	}
	srv, err := node.NewServer(ncfg)
	if err != nil {
		a.close()
		return nil, err
	}
	metrics.Store(srv.Metrics())
	a.srv = srv
	registerChat(srv, cfg)
	return a, nil
}

func (a *app) close() {
	if a.srv != nil {
		_ = a.srv.Close()
	}
	if a.redis != nil {
		_ = a.redis.Close()
	}
}

func (a *app) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", a.srv)
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.ready(ctx); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	bundle := cdnBundle
	if a.cfg.clientBundle != "" {
		bundle = "/vendor/socket.io.min.js"
		mux.HandleFunc("GET /vendor/socket.io.min.js", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/javascript; charset=utf-8")
			http.ServeFile(w, r, a.cfg.clientBundle)
		})
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := indexTmpl.Execute(w, struct{ ClientBundle string }{bundle}); err != nil {
			a.log.Warn("rendering page", "err", err)
		}
	})
	return mux
}

// ready is nil when the node can take traffic: not draining, and
// subscribed to Redis when Redis is used.
func (a *app) ready(ctx context.Context) error {
	if err := a.srv.Ready(); err != nil {
		return err
	}
	if a.redis != nil {
		if err := a.redis.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis: %w", err)
		}
	}
	return nil
}

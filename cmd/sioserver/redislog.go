package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// redisLogger routes go-redis's internal messages (dial failures while
// Redis is down, ...) to slog, at most one line per interval, so an outage
// does not flood the logs.
type redisLogger struct {
	log      *slog.Logger
	interval time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// Printf implements go-redis's internal logging interface.
func (l *redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.last) < l.interval {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	l.log.Warn("redis client", "msg", fmt.Sprintf(format, v...), "suppressed", suppressed)
}

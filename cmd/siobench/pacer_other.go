//go:build !linux

package main

import (
	"context"
	"time"
)

// pacer wakes the rate scenario's publisher at its scheduled send times;
// outside Linux it is a time.Timer.
type pacer struct{}

func newPacer() *pacer { return &pacer{} }

// sleep waits for d, or until ctx is done (returning its error).
func (*pacer) sleep(ctx context.Context, d time.Duration) error { return sleep(ctx, d) }

// precise reports whether the pacer waits on a timerfd: never here.
func (*pacer) precise() bool { return false }

func (*pacer) close() {}

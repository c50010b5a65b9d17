package main

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// TestPacerNeverEarly checks that a pacer's sleep lasts at least what was
// asked, sleep after sleep (the timerfd is re-armed each time), and that
// zero and negative waits return at once.
func TestPacerNeverEarly(t *testing.T) {
	p := newPacer()
	defer p.close()
	if runtime.GOOS == "linux" && !p.precise() {
		t.Fatal("newPacer: no timerfd on Linux")
	}
	ctx := context.Background()
	for _, d := range []time.Duration{3 * time.Millisecond, 500 * time.Microsecond, 2 * time.Millisecond, 0, -time.Second} {
		start := time.Now()
		if err := p.sleep(ctx, d); err != nil {
			t.Fatalf("sleep(%v): %v", d, err)
		}
		if got := time.Since(start); got < d {
			t.Fatalf("sleep(%v) returned after %v", d, got)
		}
	}
}

// TestPacerCancel checks that a done context ends a long sleep with its
// error, and that the pacer still sleeps correctly afterwards (the timer
// disarmed, the file's deadline cleared).
func TestPacerCancel(t *testing.T) {
	p := newPacer()
	defer p.close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	if err := p.sleep(ctx, time.Minute); err != context.Canceled {
		t.Fatalf("sleep with a cancelled context: %v, want context.Canceled", err)
	}
	if got := time.Since(start); got > 30*time.Second {
		t.Fatalf("cancel took %v", got)
	}
	if err := p.sleep(ctx, time.Millisecond); err != context.Canceled {
		t.Fatalf("sleep on a done context: %v, want context.Canceled", err)
	}
	d := 5 * time.Millisecond
	start = time.Now()
	if err := p.sleep(context.Background(), d); err != nil {
		t.Fatalf("sleep after a cancel: %v", err)
	}
	if got := time.Since(start); got < d {
		t.Fatalf("sleep(%v) after a cancel returned after %v", d, got)
	}
}

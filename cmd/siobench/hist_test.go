package main

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestBuckets checks that every value lands in a bucket whose bounds hold
// it and whose width is within the promised resolution.
func TestBuckets(t *testing.T) {
	values := []int64{0, 1, 127, 128, 129, 255, 256, 1000, 1 << 20, 123456789, histMax}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		values = append(values, r.Int64N(histMax+1), r.Int64N(1<<20))
	}
	for _, v := range values {
		i := bucketOf(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d, out of range", v, i)
		}
		hi := bucketUpper(i)
		lo := int64(0)
		if i > 0 {
			lo = bucketUpper(i-1) + 1
		}
		if v < lo || v > hi {
			t.Fatalf("value %d in bucket %d = [%d, %d]", v, i, lo, hi)
		}
		if width := hi - lo + 1; v >= 2*histSub && float64(width) > float64(lo)/histSub+1 {
			t.Fatalf("bucket %d = [%d, %d] wider than 1/%d of its values", i, lo, hi, histSub)
		}
	}
	if got := bucketUpper(histBuckets - 1); got != histMax {
		t.Fatalf("last bucket ends at %d, want %d", got, histMax)
	}
}

func TestQuantiles(t *testing.T) {
	var l latency
	// 1..100000 microseconds, each once, spread over shards.
	for i := int64(1); i <= 100000; i++ {
		l.record(int(i), i*1000)
	}
	s := l.snapshot()
	if s.n != 100000 || s.max != 100000*1000 {
		t.Fatalf("n=%d max=%d", s.n, s.max)
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		want := q * 100000 * 1000
		got := float64(s.quantile(q))
		if math.Abs(got-want)/want > 1.0/histSub {
			t.Errorf("quantile(%v) = %v, want %v within %.1f%%", q, got, want, 100.0/histSub)
		}
	}
	sum := s.summary()
	if sum.Count != 100000 || math.Abs(sum.Mean-50.0005) > 0.01 || sum.Max != 100 {
		t.Errorf("summary = %+v", sum)
	}
	if sum.P50 > sum.P99 || sum.P99 > sum.P999 || sum.P999 > sum.Max {
		t.Errorf("summary not monotonic: %+v", sum)
	}
}

func TestHistogramEdges(t *testing.T) {
	var empty latency
	if s := empty.snapshot(); s.quantile(0.5) != 0 || s.summary() != (latencySummary{}) {
		t.Fatalf("empty histogram: %+v", s.summary())
	}
	var l latency
	l.record(0, -5)          // clock skew: counts as 0
	l.record(1, histMax*100) // clamped
	s := l.snapshot()
	if s.n != 2 || s.quantile(0) != 0 || s.quantile(1) != histMax {
		t.Fatalf("n=%d q0=%d q1=%d", s.n, s.quantile(0), s.quantile(1))
	}
	// A quantile never exceeds the observed maximum even though the
	// bucket's upper bound does.
	var one latency
	one.record(0, 1_000_001)
	if got := one.snapshot().quantile(0.5); got != 1_000_001 {
		t.Fatalf("single value quantile = %d", got)
	}
}

func TestMerge(t *testing.T) {
	var a, b latency
	for i := range 100 {
		a.record(i, 1000)
		b.record(i, 3000)
	}
	s := a.snapshot()
	s.merge(b.snapshot())
	if s.n != 200 || s.max != 3000 || s.sum != 100*1000+100*3000 {
		t.Fatalf("merged n=%d max=%d sum=%d", s.n, s.max, s.sum)
	}
	if q := s.quantile(0.25); q > 1020 {
		t.Fatalf("q25 = %d", q)
	}
	if q := s.quantile(0.75); q < 2950 {
		t.Fatalf("q75 = %d", q)
	}
}

func TestConcurrentRecord(t *testing.T) {
	var l latency
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				l.record(g, int64(i+g))
			}
		}()
	}
	wg.Wait()
	s := l.snapshot()
	if s.n != 16000 || s.max != 1999+7 {
		t.Fatalf("n=%d max=%d", s.n, s.max)
	}
}

func BenchmarkRecord(b *testing.B) {
	var l latency
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			l.record(i, int64(i)*997)
		}
	})
}

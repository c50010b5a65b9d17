package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// The latency histogram is log-linear: values below 2*histSub nanoseconds
// get one bucket each, and every further power of two is split into
// histSub buckets, so a bucket's width is at most 1/histSub (1.6 %) of its
// values. Values are clamped to histMax (about 18 minutes).
const (
	histSubBits = 6
	histSub     = 1 << histSubBits
	histMaxBits = 40
	histMax     = 1<<histMaxBits - 1
	histBuckets = (histMaxBits-histSubBits)*histSub + histSub
	histShards  = 16
)

// bucketOf returns the bucket index of v (nanoseconds, 0..histMax).
func bucketOf(v int64) int {
	if v < 2*histSub {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - histSubBits - 1
	return shift*histSub + int(v>>shift)
}

// bucketUpper returns the largest value that falls into bucket i.
func bucketUpper(i int) int64 {
	if i < 2*histSub {
		return int64(i)
	}
	shift := i/histSub - 1
	m := int64(i - shift*histSub)
	return (m+1)<<shift - 1
}

// histogram counts latencies. record may be called from many goroutines;
// it is lock-free (atomic adds).
type histogram struct {
	counts [histBuckets]atomic.Uint64
	sum    atomic.Int64
	max    atomic.Int64
}

// record adds one value in nanoseconds; negative values count as 0.
func (h *histogram) record(v int64) {
	if v < 0 {
		v = 0
	} else if v > histMax {
		v = histMax
	}
	h.counts[bucketOf(v)].Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// latency is a histogram split into shards so that thousands of reader
// goroutines do not all hit the same cache lines; a caller picks its
// shard with a stable key such as its connection index.
type latency struct {
	shards [histShards]histogram
}

// record adds v (nanoseconds) to the shard chosen by key.
func (l *latency) record(key int, v int64) {
	l.shards[uint(key)%histShards].record(v)
}

// snapshot merges the shards. It may run while records continue; the
// result is then a consistent-enough view for progress and reports.
func (l *latency) snapshot() *histSnapshot {
	s := &histSnapshot{}
	for i := range l.shards {
		sh := &l.shards[i]
		for b := range sh.counts {
			c := sh.counts[b].Load()
			s.counts[b] += c
			s.n += c
		}
		s.sum += sh.sum.Load()
		s.max = max(s.max, sh.max.Load())
	}
	return s
}

// histSnapshot is a merged, immutable copy of a histogram.
type histSnapshot struct {
	counts [histBuckets]uint64
	n      uint64
	sum    int64
	max    int64
}

// merge adds o into s.
func (s *histSnapshot) merge(o *histSnapshot) {
	for i := range s.counts {
		s.counts[i] += o.counts[i]
	}
	s.n += o.n
	s.sum += o.sum
	s.max = max(s.max, o.max)
}

// quantile returns the value at quantile q (0..1): the upper bound of the
// bucket holding the q-th value, capped at the observed maximum. It is 0
// for an empty histogram.
func (s *histSnapshot) quantile(q float64) int64 {
	if s.n == 0 {
		return 0
	}
	rank := uint64(q*float64(s.n) + 0.5)
	rank = min(max(rank, 1), s.n)
	var seen uint64
	for i, c := range s.counts {
		seen += c
		if seen >= rank {
			return min(bucketUpper(i), s.max)
		}
	}
	return s.max
}

// latencySummary is the JSON form of a latency distribution, in
// milliseconds.
type latencySummary struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

func ms(ns int64) float64 {
	return float64(ns/1000) / 1000 // microsecond resolution
}

// summary returns the distribution in milliseconds.
func (s *histSnapshot) summary() latencySummary {
	out := latencySummary{Count: s.n}
	if s.n == 0 {
		return out
	}
	out.Mean = ms(s.sum / int64(s.n))
	out.P50 = ms(s.quantile(0.50))
	out.P90 = ms(s.quantile(0.90))
	out.P99 = ms(s.quantile(0.99))
	out.P999 = ms(s.quantile(0.999))
	out.Max = ms(s.max)
	return out
}

// String is the one-line human form used in progress lines and summaries.
func (l latencySummary) String() string {
	if l.Count == 0 {
		return "n=0"
	}
	d := func(v float64) string {
		return time.Duration(v * float64(time.Millisecond)).Round(time.Microsecond).String()
	}
	return "n=" + itoa(int64(l.Count)) + " p50=" + d(l.P50) + " p99=" + d(l.P99) + " p999=" + d(l.P999) + " max=" + d(l.Max)
}

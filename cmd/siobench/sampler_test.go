package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestParseVmRSS(t *testing.T) {
	status := "Name:\tnode\nVmPeak:\t  999 kB\nVmRSS:\t   12345 kB\nThreads:\t7\n"
	if got, err := parseVmRSS([]byte(status)); err != nil || got != 12345*1024 {
		t.Fatalf("parseVmRSS = %d, %v", got, err)
	}
	for _, bad := range []string{"Name: x\n", "VmRSS: 12 MB\n", "VmRSS: x kB\n"} {
		if _, err := parseVmRSS([]byte(bad)); err == nil {
			t.Errorf("parseVmRSS(%q) accepted", bad)
		}
	}
}

func TestParseStatCPU(t *testing.T) {
	// Field 2 holds spaces and a parenthesis; utime=250, stime=50 ticks.
	stat := "4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 100 1000 500"
	if got, err := parseStatCPU([]byte(stat)); err != nil || got != 3.0 {
		t.Fatalf("parseStatCPU = %v, %v", got, err)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 x 1 0"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("parseStatCPU(%q) accepted", bad)
		}
	}
}

func TestSampleProcSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	s, err := sampleProc(os.Getpid())
	if err != nil || s.rss <= 0 || s.cpu < 0 {
		t.Fatalf("sampleProc(self) = %+v, %v", s, err)
	}
	if _, err := sampleProc(1 << 30); err == nil {
		t.Fatal("sampleProc of a missing pid succeeded")
	}
}

const metricsText = `# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 3.3554432e+07
sio_connections 3
`

func TestParseMetrics(t *testing.T) {
	s, err := parseMetrics([]byte(metricsText))
	if err != nil || s.rss != 32<<20 || s.cpu != 12.5 {
		t.Fatalf("parseMetrics = %+v, %v", s, err)
	}
	if _, err := parseMetrics([]byte("process_cpu_seconds_total 1\n")); err == nil {
		t.Fatal("missing RSS accepted")
	}
	if _, err := parseMetrics([]byte("process_resident_memory_bytes abc\nprocess_cpu_seconds_total 1\n")); err == nil {
		t.Fatal("bad value accepted")
	}
}

func TestSampleMetricsHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(metricsText))
	}))
	defer srv.Close()
	s, err := sampleMetrics(context.Background(), srv.URL+"/metrics")
	if err != nil || s.rss != 32<<20 {
		t.Fatalf("sampleMetrics = %+v, %v", s, err)
	}
	if _, err := sampleMetrics(context.Background(), srv.URL+"/nope"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("404 endpoint: %v", err)
	}
}

func TestAddUsage(t *testing.T) {
	from := usageMark{self: 1, nodes: []nodeSample{{rss: 1 << 20, cpu: 10}, {rss: -1, cpu: -1}}}
	to := from
	to.wall = from.wall.Add(2e9)
	to.self = 2
	to.nodes = []nodeSample{{rss: 2 << 20, cpu: 11}, {rss: -1, cpu: -1}}
	m := map[string]any{}
	addUsage(m, from, to)
	if m["gen_cpu_pct"] != 50.0 {
		t.Errorf("gen_cpu_pct = %v", m["gen_cpu_pct"])
	}
	cpu := m["node_cpu_pct"].([]*float64)
	rss := m["node_rss_mb"].([]*float64)
	if *cpu[0] != 50 || cpu[1] != nil || *rss[0] != 2 || rss[1] != nil {
		t.Errorf("node usage = %v %v", cpu, rss)
	}
}

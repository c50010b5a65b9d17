package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat;
// it is 100 on every Linux architecture Go supports.
const clockTicks = 100

// sampler reads a node's resident memory and CPU time, from /proc when
// pid is set, else from its Prometheus endpoint. A sampler that failed
// its probe is disabled and reports nothing.
type sampler struct {
	pid        int
	metricsURL string
	disabled   bool
}

// nodeSample is one reading; a field is -1 when unknown.
type nodeSample struct {
	rss int64   // bytes
	cpu float64 // seconds of user+system time since the process started
}

var metricsClient = &http.Client{Timeout: 2 * time.Second}

// probeSamplers takes one sample from every sampler and disables (with a
// note on stderr) those that cannot be read, so later samples are cheap
// and silent.
func (b *bench) probeSamplers(ctx context.Context) {
	for i, s := range b.samplers {
		if s.pid == 0 && s.metricsURL == "" {
			s.disabled = true
			continue
		}
		if _, err := s.sample(ctx); err != nil {
			fmt.Fprintf(b.errOut, "siobench: node %d: no RSS/CPU readings: %v\n", i, err)
			s.disabled = true
		}
	}
}

// sample returns the current reading.
func (s *sampler) sample(ctx context.Context) (nodeSample, error) {
	if s.disabled {
		return nodeSample{rss: -1, cpu: -1}, errors.New("disabled")
	}
	if s.pid > 0 {
		return sampleProc(s.pid)
	}
	return sampleMetrics(ctx, s.metricsURL)
}

// sampleProc reads VmRSS from /proc/<pid>/status and utime+stime from
// /proc/<pid>/stat.
func sampleProc(pid int) (nodeSample, error) {
	out := nodeSample{rss: -1, cpu: -1}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return out, err
	}
	if out.rss, err = parseVmRSS(status); err != nil {
		return out, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return out, err
	}
	if out.cpu, err = parseStatCPU(stat); err != nil {
		return out, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return out, nil
}

// parseVmRSS returns the VmRSS line of /proc/<pid>/status in bytes.
func parseVmRSS(status []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("VmRSS:")) {
			continue
		}
		f := bytes.Fields(line[len("VmRSS:"):])
		if len(f) != 2 || string(f[1]) != "kB" {
			return -1, fmt.Errorf("unexpected VmRSS line %q", line)
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return -1, fmt.Errorf("VmRSS: %w", err)
		}
		return kb * 1024, nil
	}
	return -1, errors.New("no VmRSS line")
}

// parseStatCPU returns utime+stime (fields 14 and 15) of /proc/<pid>/stat
// in seconds. The command name (field 2) may hold spaces and parentheses,
// so fields are counted from its closing parenthesis.
func parseStatCPU(stat []byte) (float64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return -1, errors.New("no command name")
	}
	f := bytes.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return -1, errors.New("too few fields")
	}
	utime, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	stime, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return -1, err
	}
	return float64(utime+stime) / clockTicks, nil
}

// sampleMetrics reads process_resident_memory_bytes and
// process_cpu_seconds_total from a Prometheus text endpoint.
func sampleMetrics(ctx context.Context, url string) (nodeSample, error) {
	out := nodeSample{rss: -1, cpu: -1}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return out, err
	}
	resp, err := metricsClient.Do(req)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return out, fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return out, err
	}
	return parseMetrics(body)
}

// parseMetrics extracts the two process metrics from Prometheus text.
func parseMetrics(body []byte) (nodeSample, error) {
	out := nodeSample{rss: -1, cpu: -1}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := bytes.Cut(sc.Bytes(), []byte(" "))
		if !ok {
			continue
		}
		switch string(name) {
		case "process_resident_memory_bytes":
			v, err := strconv.ParseFloat(string(bytes.TrimSpace(value)), 64)
			if err != nil {
				return out, fmt.Errorf("process_resident_memory_bytes: %w", err)
			}
			out.rss = int64(v)
		case "process_cpu_seconds_total":
			v, err := strconv.ParseFloat(string(bytes.TrimSpace(value)), 64)
			if err != nil {
				return out, fmt.Errorf("process_cpu_seconds_total: %w", err)
			}
			out.cpu = v
		}
	}
	if out.rss < 0 || out.cpu < 0 {
		return out, errors.New("process_resident_memory_bytes or process_cpu_seconds_total missing")
	}
	return out, nil
}

// usageMark is a point in time for CPU accounting.
type usageMark struct {
	wall  time.Time
	self  float64 // generator CPU seconds, -1 unknown
	nodes []nodeSample
}

// mark samples the generator and every node.
func (b *bench) mark(ctx context.Context) usageMark {
	m := usageMark{wall: time.Now(), self: selfCPU()}
	for _, s := range b.samplers {
		ns, err := s.sample(ctx)
		if err != nil {
			ns = nodeSample{rss: -1, cpu: -1}
		}
		m.nodes = append(m.nodes, ns)
	}
	return m
}

// addUsage reports CPU use between two marks as percent of one core:
// gen_cpu_pct for the generator, node_cpu_pct per node (null when
// unknown) and node_rss_mb per node at the later mark.
func addUsage(m map[string]any, from, to usageMark) {
	wall := to.wall.Sub(from.wall).Seconds()
	if wall <= 0 {
		return
	}
	if from.self >= 0 && to.self >= 0 {
		m["gen_cpu_pct"] = round3(100 * (to.self - from.self) / wall)
	}
	cpu := make([]*float64, len(to.nodes))
	rss := make([]*float64, len(to.nodes))
	for i := range to.nodes {
		if a, z := from.nodes[i].cpu, to.nodes[i].cpu; a >= 0 && z >= 0 {
			cpu[i] = ptr(round3(100 * (z - a) / wall))
		}
		if r := to.nodes[i].rss; r >= 0 {
			rss[i] = ptr(round3(float64(r) / (1 << 20)))
		}
	}
	m["node_cpu_pct"] = cpu
	m["node_rss_mb"] = rss
	m["cpu_window_s"] = round3(wall)
}

func ptr(v float64) *float64 { return &v }

func round3(v float64) float64 {
	return math.Round(v*1000) / 1000
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

package integration_test

// Checks of the deployment files (deploy/, docker-compose.yml) that need no
// external tool, plus the rendering of deploy/nginx.conf and
// deploy/prometheus.yml that topology_test.go runs under real servers.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/sio-go/sio/node"
)

// repoFile returns the absolute path of a file given relative to the
// repository root.
func repoFile(t testing.TB, rel string) string {
	t.Helper()
	return filepath.Join(filepath.Dir(testDir(t)), filepath.FromSlash(rel))
}

// readRepoFile reads a file given relative to the repository root.
func readRepoFile(t testing.TB, rel string) string {
	t.Helper()
	b, err := os.ReadFile(repoFile(t, rel))
	if err != nil {
		t.Fatalf("read %s: %v", rel, err)
	}
	return string(b)
}

// ---- rendering of the deploy files for the topology tests ----

// nginxParams are what topology_test.go substitutes in deploy/nginx.conf.
type nginxParams struct {
	User      string   // worker user; "" drops the user line (non-root run)
	PidFile   string   // pid file path
	TempDir   string   // replaces /var/cache/nginx in the temp paths
	Listen    string   // listen address, e.g. 127.0.0.1:8080
	Upstreams []string // host:port of the nodes
}

var markerRE = regexp.MustCompile(`#\s*sio:([a-z-]+)\s*$`)

// renderNginxConf rewrites the "# sio:<name>" lines of deploy/nginx.conf
// (see its header) and leaves every other line as written. Every marker
// must be present.
func renderNginxConf(src string, p nginxParams) (string, error) {
	seen := map[string]int{}
	var out []string
	for _, line := range strings.Split(src, "\n") {
		m := markerRE.FindStringSubmatch(line)
		if m == nil {
			out = append(out, line)
			continue
		}
		name := m[1]
		seen[name]++
		indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
		body := strings.TrimSpace(line[:len(line)-len(m[0])])
		switch name {
		case "user":
			if p.User != "" {
				out = append(out, indent+"user "+p.User+";")
			}
		case "pid":
			out = append(out, indent+"pid "+p.PidFile+";")
		case "temp":
			if !strings.Contains(body, "/var/cache/nginx") {
				return "", fmt.Errorf("nginx.conf: sio:temp line without /var/cache/nginx: %q", line)
			}
			out = append(out, indent+strings.ReplaceAll(body, "/var/cache/nginx", p.TempDir))
		case "listen":
			out = append(out, indent+"listen "+p.Listen+";")
		case "upstream":
			if seen[name] > 1 {
				continue // all server lines are generated from the first one
			}
			f := strings.Fields(strings.TrimSuffix(body, ";"))
			if len(f) < 2 || f[0] != "server" {
				return "", fmt.Errorf("nginx.conf: sio:upstream line is not a server line: %q", line)
			}
			params := strings.Join(f[2:], " ")
			for _, u := range p.Upstreams {
				out = append(out, strings.TrimRight(indent+"server "+u+" "+params, " ")+";")
			}
		default:
			return "", fmt.Errorf("nginx.conf: unknown marker sio:%s", name)
		}
	}
	for _, name := range []string{"user", "pid", "temp", "listen", "upstream"} {
		if seen[name] == 0 {
			return "", fmt.Errorf("nginx.conf: marker sio:%s missing", name)
		}
	}
	return strings.Join(out, "\n"), nil
}

// renderPrometheusConf rewrites the "# sio:<name>" lines of
// deploy/prometheus.yml: the intervals (scrape_timeout gets timeout, the
// others interval) and the node targets.
func renderPrometheusConf(src string, interval, timeout time.Duration, targets []string) (string, error) {
	seen := map[string]int{}
	var out []string
	for _, line := range strings.Split(src, "\n") {
		m := markerRE.FindStringSubmatch(line)
		if m == nil {
			out = append(out, line)
			continue
		}
		seen[m[1]]++
		indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
		body := strings.TrimSpace(line[:len(line)-len(m[0])])
		switch m[1] {
		case "interval":
			key, _, ok := strings.Cut(body, ":")
			if !ok {
				return "", fmt.Errorf("prometheus.yml: sio:interval line without a key: %q", line)
			}
			d := interval
			if key == "scrape_timeout" {
				d = timeout
			}
			out = append(out, fmt.Sprintf("%s%s: %s", indent, key, d))
		case "targets":
			if !strings.HasPrefix(body, "- targets:") {
				return "", fmt.Errorf("prometheus.yml: sio:targets line is not a targets list: %q", line)
			}
			q := make([]string, len(targets))
			for i, tg := range targets {
				q[i] = fmt.Sprintf("%q", tg)
			}
			out = append(out, indent+"- targets: ["+strings.Join(q, ", ")+"]")
		default:
			return "", fmt.Errorf("prometheus.yml: unknown marker sio:%s", m[1])
		}
	}
	for _, name := range []string{"interval", "targets"} {
		if seen[name] == 0 {
			return "", fmt.Errorf("prometheus.yml: marker sio:%s missing", name)
		}
	}
	return strings.Join(out, "\n"), nil
}

func TestDeployNginxConfRenders(t *testing.T) {
	src := readRepoFile(t, "deploy/nginx.conf")
	p := nginxParams{User: "tester", PidFile: "/tmp/x/nginx.pid", TempDir: "/tmp/x/tmp", Listen: "127.0.0.1:18080",
		Upstreams: []string{"127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003"}}
	got, err := renderNginxConf(src, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"user tester;", "pid /tmp/x/nginx.pid;", "listen 127.0.0.1:18080;",
		"client_body_temp_path /tmp/x/tmp/client_temp;", "proxy_temp_path /tmp/x/tmp/proxy_temp;",
		"server 127.0.0.1:1001 max_fails=0;", "server 127.0.0.1:1003 max_fails=0;",
		"location = /readyz {", "location = /healthz {",
		// The parts the topology tests rely on, kept as written.
		"hash $remote_addr consistent;", "proxy_set_header Upgrade $http_upgrade;",
		"proxy_set_header Connection $connection_upgrade;", "proxy_set_header Host $http_host;", "proxy_http_version 1.1;", "proxy_read_timeout 75s;",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("rendered nginx.conf lacks %q", want)
		}
	}
	directives := regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(got, "")
	for _, gone := range []string{"node1:3000", "/var/cache/nginx", "listen 8080", "/var/run/nginx.pid", "user nginx"} {
		if strings.Contains(directives, gone) {
			t.Errorf("rendered nginx.conf still contains %q", gone)
		}
	}
	if n := strings.Count(got, "server 127.0.0.1:"); n != 3 {
		t.Errorf("rendered nginx.conf has %d upstream servers, want 3", n)
	}
	// A non-root run drops the user line.
	p.User = ""
	got, err = renderNginxConf(src, p)
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`(?m)^\s*user\s`).MatchString(got) {
		t.Error("rendered nginx.conf without a user keeps a user line")
	}
	// A file without its markers is refused, not silently half-rendered.
	if _, err := renderNginxConf(strings.ReplaceAll(src, "# sio:listen", ""), p); err == nil || !strings.Contains(err.Error(), "sio:listen") {
		t.Errorf("render without the listen marker: err = %v, want a missing-marker error", err)
	}
}

func TestDeployPrometheusConfRenders(t *testing.T) {
	src := readRepoFile(t, "deploy/prometheus.yml")
	got, err := renderPrometheusConf(src, time.Second, 800*time.Millisecond, []string{"127.0.0.1:1001", "127.0.0.1:1002"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"scrape_interval: 1s", "scrape_timeout: 800ms", "evaluation_interval: 1s",
		`- targets: ["127.0.0.1:1001", "127.0.0.1:1002"]`, "metrics_path: /metrics", "job_name: sio"} {
		if !strings.Contains(got, want) {
			t.Errorf("rendered prometheus.yml lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "node1:3000") {
		t.Error("rendered prometheus.yml still targets node1:3000")
	}
	// The file as written targets the three compose nodes.
	if !strings.Contains(src, `["node1:3000", "node2:3000", "node3:3000"]`) {
		t.Error("deploy/prometheus.yml does not target node1..node3:3000")
	}
}

// ---- Grafana ----

// dashboard is the part of deploy/grafana/dashboards/sio.json the tests read.
type dashboard struct {
	UID    string `json:"uid"`
	Title  string `json:"title"`
	Panels []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource *struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
		GridPos *struct{ H, W, X, Y int } `json:"gridPos"`
		Targets []struct {
			RefID      string `json:"refId"`
			Expr       string `json:"expr"`
			Datasource *struct {
				UID string `json:"uid"`
			} `json:"datasource"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// loadDashboard parses deploy/grafana/dashboards/sio.json.
func loadDashboard(t testing.TB) dashboard {
	t.Helper()
	var d dashboard
	if err := json.Unmarshal([]byte(readRepoFile(t, "deploy/grafana/dashboards/sio.json")), &d); err != nil {
		t.Fatalf("deploy/grafana/dashboards/sio.json is not valid JSON: %v", err)
	}
	return d
}

// dashboardExprs returns every PromQL expression of the dashboard, keyed by
// "panel title/refId".
func dashboardExprs(d dashboard) map[string]string {
	out := map[string]string{}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out[p.Title+"/"+tg.RefID] = tg.Expr
		}
	}
	return out
}

// concreteExpr replaces the dashboard's Grafana variables so Prometheus
// can evaluate expr directly.
func concreteExpr(expr string) string {
	return strings.NewReplacer(`"$instance"`, `".*"`, "$__rate_interval", "30s").Replace(expr)
}

// regRecorder is a prometheus.Registerer that only records collectors.
type regRecorder struct{ cs []prometheus.Collector }

func (r *regRecorder) Register(c prometheus.Collector) error { r.cs = append(r.cs, c); return nil }
func (r *regRecorder) MustRegister(cs ...prometheus.Collector) {
	r.cs = append(r.cs, cs...)
}
func (r *regRecorder) Unregister(prometheus.Collector) bool { return false }

var descRE = regexp.MustCompile(`fqName: "([^"]+)".*variableLabels: \{([^}]*)\}`)

// exportedMetrics returns every metric name a chat node can export (the
// node package's collectors plus the Go and process collectors
// cmd/sioserver registers) with its variable label names.
func exportedMetrics(t testing.TB) map[string][]string {
	t.Helper()
	rec := &regRecorder{}
	srv, err := node.NewServer(node.Config{Registerer: rec})
	if err != nil {
		t.Fatalf("node.NewServer: %v", err)
	}
	defer srv.Close()
	rec.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	out := map[string][]string{}
	for _, c := range rec.cs {
		ch := make(chan *prometheus.Desc, 256)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			m := descRE.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("cannot parse metric description %s", d)
			}
			var labels []string
			for _, l := range strings.Split(m[2], ",") {
				if l = strings.TrimSpace(l); l != "" {
					labels = append(labels, l)
				}
			}
			out[m[1]] = labels
		}
	}
	if len(out) < 20 {
		t.Fatalf("only %d metrics described; the recorder missed the node's collectors", len(out))
	}
	return out
}

var (
	metricRefRE = regexp.MustCompile(`\b(?:sio|go|process)_[a-z0-9_]+\b|\bup\b`)
	byLabelsRE  = regexp.MustCompile(`\bby \(([^)]*)\)`)
)

func TestDeployGrafanaDashboard(t *testing.T) {
	d := loadDashboard(t)
	metrics := exportedMetrics(t)
	// Check the checker: the metric names the brief lists must be known.
	for _, name := range []string{"sio_engine_sessions", "sio_sockets", "sio_rooms", "sio_broadcasts_total",
		"sio_broadcast_deliveries_total", "sio_disconnects_total", "sio_redis_publishes_total",
		"sio_redis_request_duration_seconds", "sio_writer_queue_bytes", "sio_slow_consumer_disconnects_total"} {
		if _, ok := metrics[name]; !ok {
			t.Errorf("node does not export %s", name)
		}
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard uid %q / title %q must be set", d.UID, d.Title)
	}
	dsUID := regexp.MustCompile(`(?m)^\s*uid:\s*(\S+)`).FindStringSubmatch(readRepoFile(t, "deploy/grafana/provisioning/datasources/prometheus.yml"))
	if dsUID == nil {
		t.Fatal("datasource provisioning has no uid")
	}
	ids := map[int]bool{}
	used := map[string]bool{}
	panels := 0
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos == nil || p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: bad gridPos %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		panels++
		if p.Datasource == nil || p.Datasource.UID != dsUID[1] {
			t.Errorf("panel %q: datasource %+v, want uid %s (provisioned)", p.Title, p.Datasource, dsUID[1])
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			where := p.Title + "/" + tg.RefID
			if tg.Datasource == nil || tg.Datasource.UID != dsUID[1] {
				t.Errorf("%s: target datasource %+v, want uid %s", where, tg.Datasource, dsUID[1])
			}
			refs := metricRefRE.FindAllString(tg.Expr, -1)
			if len(refs) == 0 {
				t.Errorf("%s: expression %q references no metric", where, tg.Expr)
			}
			labels := map[string]bool{"instance": true, "job": true}
			for _, ref := range refs {
				name := ref
				if _, ok := metrics[name]; !ok && ref != "up" {
					base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(ref, "_bucket"), "_sum"), "_count")
					if _, ok := metrics[base]; base == ref || !ok {
						t.Errorf("%s: %q references %s, which no node exports", where, tg.Expr, ref)
						continue
					}
					name = base
					labels["le"] = strings.HasSuffix(ref, "_bucket")
				}
				used[name] = true
				for _, l := range metrics[name] {
					labels[l] = true
				}
			}
			for _, m := range byLabelsRE.FindAllStringSubmatch(tg.Expr, -1) {
				for _, l := range strings.Split(m[1], ",") {
					if l = strings.TrimSpace(l); !labels[l] {
						t.Errorf("%s: %q groups by label %q, which its metrics do not have", where, tg.Expr, l)
					}
				}
			}
		}
	}
	if panels < 12 {
		t.Errorf("dashboard has %d panels, want the full set (>= 12)", panels)
	}
	// Every area of the brief has a panel.
	for _, name := range []string{"sio_engine_sessions", "sio_sockets", "sio_rooms", "sio_packets_in_total",
		"sio_packets_out_total", "sio_broadcasts_total", "sio_broadcast_deliveries_total", "sio_redis_publishes_total",
		"sio_redis_errors_total", "sio_redis_messages_dropped_total", "sio_redis_request_duration_seconds",
		"sio_disconnects_total", "sio_writer_queue_bytes", "sio_slow_consumer_disconnects_total"} {
		if !used[name] {
			t.Errorf("no dashboard panel shows %s", name)
		}
	}
	if !strings.Contains(strings.Join(sortedValues(dashboardExprs(d)), "\n"), "histogram_quantile(") {
		t.Error("no latency quantile panel (histogram_quantile)")
	}
	// Grafana's template variable must be one the expressions use.
	if len(d.Templating.List) != 1 || d.Templating.List[0].Name != "instance" {
		t.Errorf("templating: want one variable \"instance\", got %+v", d.Templating.List)
	}
}

func sortedValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, k := range keysOf(m) {
		out = append(out, m[k])
	}
	return out
}

func TestDeployGrafanaProvisioning(t *testing.T) {
	prov := readRepoFile(t, "deploy/grafana/provisioning/dashboards/sio.yml")
	compose := readRepoFile(t, "docker-compose.yml")
	path := regexp.MustCompile(`(?m)^\s*path:\s*(\S+)`).FindStringSubmatch(prov)
	if path == nil {
		t.Fatal("dashboard provisioning has no options.path")
	}
	if !strings.Contains(compose, "./deploy/grafana/dashboards:"+path[1]) {
		t.Errorf("docker-compose.yml does not mount deploy/grafana/dashboards at %s (the provisioning path)", path[1])
	}
	if !strings.Contains(compose, "./deploy/grafana/provisioning:/etc/grafana/provisioning") {
		t.Error("docker-compose.yml does not mount the Grafana provisioning directory")
	}
	ds := readRepoFile(t, "deploy/grafana/provisioning/datasources/prometheus.yml")
	if !strings.Contains(ds, "url: http://prometheus:9090") || !strings.Contains(ds, "type: prometheus") {
		t.Errorf("datasource provisioning does not point at the compose prometheus service:\n%s", ds)
	}
}

// ---- Dockerfile and compose ----

func TestDeployDockerfileBundleVersion(t *testing.T) {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal([]byte(readRepoFile(t, "integration_test/package.json")), &pkg); err != nil {
		t.Fatal(err)
	}
	want := pkg.Dependencies["socket.io-client"]
	if want == "" {
		t.Fatal("integration_test/package.json pins no socket.io-client")
	}
	df := readRepoFile(t, "deploy/Dockerfile")
	m := regexp.MustCompile(`socket\.io-client@(\S+)`).FindAllStringSubmatch(df, -1)
	if len(m) != 1 {
		t.Fatalf("deploy/Dockerfile: want one socket.io-client@<version> install, found %d", len(m))
	}
	if m[0][1] != want {
		t.Errorf("deploy/Dockerfile installs socket.io-client@%s, integration_test/package.json pins %s", m[0][1], want)
	}
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/sioserver", "SIO_CLIENT_BUNDLE=/app/static/socket.io.min.js",
		"/app/static/socket.io.min.js", "USER sio", "EXPOSE 3000", "HEALTHCHECK"} {
		if !strings.Contains(df, want) {
			t.Errorf("deploy/Dockerfile lacks %q", want)
		}
	}
}

// composeCmd returns the argv prefix of a Compose implementation, or nil.
func composeCmd() []string {
	if p, err := exec.LookPath("docker-compose"); err == nil {
		return []string{p}
	}
	if p, err := exec.LookPath("docker"); err == nil {
		if exec.Command(p, "compose", "version").Run() == nil {
			return []string{p, "compose"}
		}
	}
	return nil
}

func TestDeployComposeConfig(t *testing.T) {
	compose := readRepoFile(t, "docker-compose.yml")
	// Files the compose file mounts or builds from must exist.
	for _, m := range regexp.MustCompile(`\./deploy/[A-Za-z0-9_./-]+`).FindAllString(compose, -1) {
		if _, err := os.Stat(repoFile(t, m)); err != nil {
			t.Errorf("docker-compose.yml refers to %s: %v", m, err)
		}
	}
	if !strings.Contains(compose, "dockerfile: deploy/Dockerfile") {
		t.Error("docker-compose.yml does not build the nodes from deploy/Dockerfile")
	}
	argv := composeCmd()
	if argv == nil {
		skipOrFail(t, "neither docker-compose nor the docker compose plugin found; apt-get install docker-compose to validate docker-compose.yml")
	}
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, argv[0], append(append(argv[1:], "-f", repoFile(t, "docker-compose.yml")), args...)...)
		cmd.Dir = filepath.Dir(testDir(t))
		cmd.Env = childEnv(nil)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", strings.Join(argv, " "), strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("config", "-q")
	services := strings.Fields(run("config", "--services"))
	sort.Strings(services)
	want := []string{"grafana", "nginx", "node1", "node2", "node3", "prometheus", "redis"}
	if strings.Join(services, ",") != strings.Join(want, ",") {
		t.Errorf("services = %v, want %v", services, want)
	}
	// In the resolved file (anchors expanded), every service has a
	// healthcheck and every depends_on waits for health.
	blocks := serviceBlocks(run("config"))
	for _, s := range want {
		b, ok := blocks[s]
		if !ok {
			t.Errorf("service %s missing from the resolved config", s)
			continue
		}
		if !strings.Contains(b, "healthcheck:") {
			t.Errorf("service %s has no healthcheck", s)
		}
		if strings.Contains(b, "depends_on:") && strings.Count(b, "condition: service_healthy") == 0 {
			t.Errorf("service %s depends on others without condition: service_healthy", s)
		}
	}
	if b := blocks["nginx"]; strings.Count(b, "condition: service_healthy") != 3 {
		t.Errorf("nginx must wait for the three healthy nodes:\n%s", b)
	}
	for _, n := range []string{"node1", "node2", "node3"} {
		b := blocks[n]
		for _, want := range []string{"SIO_REDIS_URL: redis://redis:6379", "SIO_NODE_ID: " + n} {
			if !strings.Contains(b, want) {
				t.Errorf("service %s lacks %q", n, want)
			}
		}
	}
}

// serviceBlocks splits a resolved compose file into its service sections.
func serviceBlocks(resolved string) map[string]string {
	out := map[string]string{}
	in := false
	cur := ""
	for _, line := range strings.Split(resolved, "\n") {
		switch {
		case line == "services:":
			in = true
			continue
		case in && line != "" && !strings.HasPrefix(line, " "):
			in = false
		}
		if !in {
			continue
		}
		if strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "   ") && strings.HasSuffix(line, ":") {
			cur = strings.TrimSuffix(strings.TrimSpace(line), ":")
			continue
		}
		if cur != "" {
			out[cur] += line + "\n"
		}
	}
	return out
}

// TestDeployPrometheusConfigValid runs promtool on deploy/prometheus.yml as
// written (the compose file mounts it unchanged).
func TestDeployPrometheusConfigValid(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		skipOrFail(t, "promtool not found; apt-get install prometheus to validate deploy/prometheus.yml")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, promtool, "check", "config", repoFile(t, "deploy/prometheus.yml")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool check config deploy/prometheus.yml: %v\n%s", err, out)
	}
}

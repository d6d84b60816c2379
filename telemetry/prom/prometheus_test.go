package prom_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/snug-go/snug/telemetry"
	"github.com/snug-go/snug/telemetry/prom"
)

// prometheusBinary finds a Prometheus server to run, or skips: CI installs
// the Debian package and sets SNUG_REQUIRE_PROMETHEUS=1, which turns the
// skip into a failure.
func prometheusBinary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("SNUG_PROMETHEUS"), "prometheus", "/usr/bin/prometheus"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("SNUG_REQUIRE_PROMETHEUS") == "1" {
		t.Fatal("no prometheus binary and SNUG_REQUIRE_PROMETHEUS=1 (apt-get install prometheus)")
	}
	t.Skip("no prometheus binary (apt-get install prometheus, or set SNUG_PROMETHEUS)")
	return ""
}

// freePort returns a loopback port nothing listens on at the moment.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestRealPrometheus serves snug's metrics from a real http.Server, has a
// real Prometheus server (v2.42 from Debian here) scrape it every second,
// and reads the series back through Prometheus' query API.
func TestRealPrometheus(t *testing.T) {
	bin := prometheusBinary(t)

	// The service: an exporter on its own mux, snug's instruments with a
	// health check, and a GC so that there are pauses to count.
	exp, err := prom.New()
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	defer mp.Shutdown(context.Background())
	reg, err := telemetry.Register(telemetry.WithMeterProvider(mp),
		telemetry.WithChecks(func(dst []telemetry.CheckResult) []telemetry.CheckResult {
			return append(dst, telemetry.CheckResult{Name: "db", Kind: "readiness", Passing: true, Duration: 3 * time.Millisecond})
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Unregister()
	runtime.GC()

	mux := http.NewServeMux()
	mux.Handle("/metrics", exp)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	// The Prometheus server, with its own configuration and storage.
	dir := t.TempDir()
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: snug
    static_configs:
      - targets: ['%s']
`, ln.Addr())
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	api := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+api,
		"--log.level=warn",
	)
	logs, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			data, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Logf("prometheus log:\n%s", data)
		}
	}()

	query := func(q string) (float64, bool) {
		resp, err := http.Get("http://" + api + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return 0, false
		}
		defer resp.Body.Close()
		var r struct {
			Status string
			Data   struct {
				Result []struct {
					Value [2]any
				}
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Status != "success" || len(r.Data.Result) == 0 {
			return 0, false
		}
		s, _ := r.Data.Result[0].Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		return v, err == nil
	}

	// Wait until Prometheus has scraped the service successfully.
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			data, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Fatalf("prometheus exited: %v\n%s", err, data)
		default:
		}
		if v, ok := query(`up{job="snug"}`); ok && v == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Prometheus did not scrape the service within 60 s")
		}
		time.Sleep(250 * time.Millisecond)
	}

	checks := []struct {
		query  string
		lo, hi float64
	}{
		// Go runtime.
		{`go_goroutine_count{job="snug"}`, 1, 10000},
		{`go_processor_limit{job="snug"}`, float64(runtime.GOMAXPROCS(0)), float64(runtime.GOMAXPROCS(0))},
		{`go_memory_used_bytes{job="snug",go_memory_type="other"}`, 1 << 20, 1 << 34},
		{`go_memory_allocated_bytes_total{job="snug"}`, 1, 1 << 40},
		{`go_memory_gc_pause_duration_seconds_count{job="snug"}`, 2, 1e9},
		{`histogram_quantile(1, go_memory_gc_pause_duration_seconds_bucket{job="snug"})`, 1e-7, 1},
		// Health.
		{`snug_health_status{job="snug",snug_health_check="db",snug_health_kind="readiness"}`, 1, 1},
		{`snug_health_duration_seconds{job="snug",snug_health_check="db"}`, 0.003, 0.003},
	}
	if _, err := os.Stat("/proc/self/cgroup"); err == nil {
		// Container: the test process's own cgroup on this machine.
		checks = append(checks,
			struct {
				query  string
				lo, hi float64
			}{`container_memory_usage_bytes{job="snug"}`, 1 << 20, 1 << 50},
			struct {
				query  string
				lo, hi float64
			}{`container_cpu_time_seconds_total{job="snug"}`, 1e-3, 1e9},
		)
	}
	for _, c := range checks {
		v, ok := query(c.query)
		if !ok {
			t.Errorf("%s: no result", c.query)
			continue
		}
		if v < c.lo || v > c.hi {
			t.Errorf("%s = %v, want within [%v, %v]", c.query, v, c.lo, c.hi)
		}
	}
	// target_info carries the resource; with no resource configured here,
	// the SDK default names the service after the executable.
	if v, ok := query(`target_info{job="snug"}`); !ok || v != 1 {
		t.Errorf("target_info: %v %v", v, ok)
	}
}

package prom_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"runtime"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/snug-go/snug/internal/promtest"
	"github.com/snug-go/snug/telemetry"
	"github.com/snug-go/snug/telemetry/prom"
)

// TestRealPrometheus serves snug's metrics from a real http.Server, has a
// real Prometheus server (v2.42 from Debian here) scrape it every second,
// and reads the series back through Prometheus' query API.
func TestRealPrometheus(t *testing.T) {
	bin := promtest.Binary(t)
	if bin == "" {
		t.Skip("no prometheus binary (apt-get install prometheus, or set SNUG_PROMETHEUS)")
	}

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
	server := promtest.Start(t, bin, ln.Addr().String(), "snug")
	server.WaitUp(t)
	query := server.Query

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

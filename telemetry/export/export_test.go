package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/snug-go/snug/telemetry"
	"github.com/snug-go/snug/telemetry/export"
)

// clearEnv unsets every variable Setup reads, for the test's duration, so
// that the machine's environment cannot change the outcome.
func clearEnv(t *testing.T) {
	for _, k := range []string{
		"OTEL_SDK_DISABLED", "OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
		"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_METRIC_EXPORT_INTERVAL",
		"OTEL_METRIC_EXPORT_TIMEOUT", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
		"K8S_POD_NAME", "K8S_POD_UID", "K8S_NAMESPACE_NAME", "K8S_NODE_NAME", "K8S_CONTAINER_NAME",
	} {
		t.Setenv(k, "")
	}
}

// warnings collects what Setup sends to the OpenTelemetry error handler.
type warnings struct {
	mu   sync.Mutex
	errs []string
}

func captureWarnings(t *testing.T) *warnings {
	w := &warnings{}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		w.mu.Lock()
		w.errs = append(w.errs, err.Error())
		w.mu.Unlock()
	}))
	t.Cleanup(func() {
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { t.Logf("otel: %v", err) }))
	})
	return w
}

func (w *warnings) joined() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.errs, "\n")
}

func scrape(t *testing.T, h http.Handler) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Code, rec.Body.String()
}

// TestSetupDefault: with nothing configured, the Prometheus handler serves
// every kind of metric and nothing is pushed.
func TestSetupDefault(t *testing.T) {
	clearEnv(t)
	t.Setenv("OTEL_SERVICE_NAME", "checkout")
	t.Setenv("K8S_POD_NAME", "checkout-7d9f-abcde")
	t.Setenv("K8S_NAMESPACE_NAME", "shop")
	w := captureWarnings(t)

	p, err := export.Setup(context.Background(), export.WithoutGlobal(), export.WithServiceName("ignored-env-wins"),
		export.WithTelemetry(telemetry.WithChecks(func(dst []telemetry.CheckResult) []telemetry.CheckResult {
			return append(dst, telemetry.CheckResult{Name: "db", Kind: "readiness", Passing: true, Duration: 2 * time.Millisecond})
		})))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())

	code, body := scrape(t, p.Handler())
	if code != 200 {
		t.Fatalf("scrape: %d %s", code, body)
	}
	for _, want := range []string{
		"go_memory_used_bytes{", `go_memory_type="stack"`, "go_goroutine_count{", "go_processor_limit{",
		"go_memory_allocated_bytes_total{", "go_schedule_duration_seconds_bucket{",
		"go_memory_gc_pause_duration_seconds_bucket{", "go_cpu_time_seconds_total{",
		`snug_health_status{`, `snug_health_check="db"`,
		`target_info{`, `service_name="checkout"`, `k8s_pod_name="checkout-7d9f-abcde"`, `k8s_namespace_name="shop"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape has no %s", want)
		}
	}
	// The private registry has none of client_golang's own collectors.
	if strings.Contains(body, "go_memstats_") || strings.Contains(body, "process_cpu_seconds_total") {
		t.Error("client_golang's Go or process collector is served")
	}
	s := p.String()
	if !strings.Contains(s, "prometheus") || strings.Contains(s, "otlp") || !strings.Contains(s, "service.name=checkout") {
		t.Errorf("summary %q", s)
	}
	if v, _ := p.Resource().Set().Value(attribute.Key("service.name")); v.AsString() != "checkout" {
		t.Errorf("service.name = %q, OTEL_SERVICE_NAME wins over WithServiceName", v.AsString())
	}
	if got := w.joined(); got != "" {
		t.Errorf("warnings: %s", got)
	}
}

// TestSetupGlobal: by default the provider becomes the global one, so the
// service's own instruments are served too.
func TestSetupGlobal(t *testing.T) {
	clearEnv(t)
	prev := otel.GetMeterProvider()
	defer otel.SetMeterProvider(prev)

	p, err := export.Setup(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	c, err := otel.Meter("app").Int64Counter("app.orders")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(context.Background(), 3)
	if _, body := scrape(t, p.Handler()); !strings.Contains(body, "app_orders_total{") {
		t.Error("the service's own counter is not served")
	}
}

func TestSetupOTLPOnlyHandler404(t *testing.T) {
	clearEnv(t)
	t.Setenv("OTEL_METRICS_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1") // nothing listens
	p, err := export.Setup(context.Background(), export.WithoutGlobal())
	if err != nil {
		t.Fatal(err)
	}
	code, body := scrape(t, p.Handler())
	if code != 404 || !strings.Contains(body, "OTEL_METRICS_EXPORTER") {
		t.Errorf("handler: %d %q", code, body)
	}
	if !strings.Contains(p.String(), "otlp http/protobuf to http://127.0.0.1:1") {
		t.Errorf("summary %q", p.String())
	}
	// The endpoint is down: Shutdown must still return by its deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	p.Shutdown(ctx)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Shutdown took %v past its 2 s deadline", d)
	}
}

func TestSetupDisabled(t *testing.T) {
	clearEnv(t)
	t.Setenv("OTEL_SDK_DISABLED", "true")
	t.Setenv("OTEL_METRICS_EXPORTER", "otlp")
	p, err := export.Setup(context.Background(), export.WithoutGlobal())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.MeterProvider().(noop.MeterProvider); !ok {
		t.Errorf("MeterProvider is %T, want the no-op one", p.MeterProvider())
	}
	if code, body := scrape(t, p.Handler()); code != 404 || !strings.Contains(body, "OTEL_SDK_DISABLED") {
		t.Errorf("handler: %d %q", code, body)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

// TestSetupConsoleFlushes: with a 60 s interval nothing is written until
// Shutdown, which must export once more.
func TestSetupConsoleFlushes(t *testing.T) {
	clearEnv(t)
	t.Setenv("OTEL_METRICS_EXPORTER", "console")
	var buf bytes.Buffer
	var mu sync.Mutex
	p, err := export.Setup(context.Background(), export.WithoutGlobal(), export.WithConsoleWriter(lockedWriter{&mu, &buf}))
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if buf.Len() != 0 {
		t.Errorf("console written before the interval: %d bytes", buf.Len())
	}
	mu.Unlock()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ScopeMetrics []struct {
			Metrics []struct{ Name string }
		}
	}
	if err := json.NewDecoder(&buf).Decode(&doc); err != nil {
		t.Fatalf("console output: %v", err)
	}
	names := map[string]bool{}
	for _, sm := range doc.ScopeMetrics {
		for _, m := range sm.Metrics {
			names[m.Name] = true
		}
	}
	for _, n := range []string{"go.memory.used", "go.goroutine.count", "go.memory.gc.pause.duration"} {
		if !names[n] {
			t.Errorf("flushed output has no %s (has %v)", n, names)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestSetupWarnings: values Setup cannot use are reported and the defaults
// apply; a bad K8S_* value is left out of the resource.
func TestSetupWarnings(t *testing.T) {
	clearEnv(t)
	t.Setenv("OTEL_METRICS_EXPORTER", "prometheus,zipkin")
	t.Setenv("K8S_POD_NAME", "bad\x01name")
	t.Setenv("K8S_NODE_NAME", "node-1")
	w := captureWarnings(t)
	p, err := export.Setup(context.Background(), export.WithoutGlobal())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	got := w.joined()
	if !strings.Contains(got, "zipkin") || !strings.Contains(got, "K8S_POD_NAME") {
		t.Errorf("warnings %q", got)
	}
	set := p.Resource().Set()
	if _, ok := set.Value("k8s.pod.name"); ok {
		t.Error("k8s.pod.name taken from a malformed value")
	}
	if v, _ := set.Value("k8s.node.name"); v.AsString() != "node-1" {
		t.Errorf("k8s.node.name = %q", v.AsString())
	}
	if code, _ := scrape(t, p.Handler()); code != 200 {
		t.Errorf("prometheus handler %d", code)
	}
}

// TestSetupShutdownGoroutines: the periodic readers' goroutines stop with
// Shutdown.
func TestSetupShutdownGoroutines(t *testing.T) {
	clearEnv(t)
	t.Setenv("OTEL_METRICS_EXPORTER", "console,otlp,prometheus")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	before := runtime.NumGoroutine()
	p, err := export.Setup(context.Background(), export.WithoutGlobal(), export.WithConsoleWriter(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.NumGoroutine() <= before {
		t.Fatalf("no goroutine started by two periodic readers (%d before, %d after)", before, runtime.NumGoroutine())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	p.Shutdown(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after Shutdown, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
	if err := p.Shutdown(ctx); err != nil && !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Logf("second Shutdown: %v", err)
	}
}

// TestHandlerAfterShutdown: the handler outlives the provider harmlessly.
func TestHandlerAfterShutdown(t *testing.T) {
	clearEnv(t)
	p, err := export.Setup(context.Background(), export.WithoutGlobal())
	if err != nil {
		t.Fatal(err)
	}
	if _, body := scrape(t, p.Handler()); !strings.Contains(body, "go_goroutine_count") {
		t.Fatal("nothing served before Shutdown")
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code, body := scrape(t, p.Handler()); code != 200 || strings.Contains(body, "go_") {
		t.Errorf("after Shutdown: %d, %d bytes", code, len(body))
	}
}

// TestSetupConsoleWriterNil: a nil writer means the default, standard
// output, rather than a panic at the first export (in the reader's
// goroutine, where it would crash the program).
func TestSetupConsoleWriterNil(t *testing.T) {
	clearEnv(t)
	t.Setenv("OTEL_METRICS_EXPORTER", "console")
	p, err := export.Setup(context.Background(), export.WithoutGlobal(), export.WithConsoleWriter(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestSetupOTLPEndpointWithoutScheme: a metrics endpoint written without
// its scheme (host:port) parses as a URL with the host for scheme and no
// host, which the exporters take and then fail every push with. It names
// no collector: the general endpoint is used instead, with a warning that
// names the variable, for both protocols.
func TestSetupOTLPEndpointWithoutScheme(t *testing.T) {
	t.Run("http/protobuf", func(t *testing.T) {
		clearEnv(t)
		paths := make(chan string, 10)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			paths <- r.URL.Path
		}))
		defer srv.Close()
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
		t.Setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "otel-collector.monitoring:4318")
		w := captureWarnings(t)
		p, err := export.Setup(context.Background(), export.WithoutGlobal())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		select {
		case got := <-paths:
			if got != "/v1/metrics" {
				t.Errorf("pushed to %s, want /v1/metrics", got)
			}
		default:
			t.Errorf("nothing pushed to %s; summary %q", srv.URL, p.String())
		}
		if got := w.joined(); !strings.Contains(got, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") {
			t.Errorf("warnings %q do not name the variable", got)
		}
	})
	t.Run("grpc", func(t *testing.T) {
		clearEnv(t)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		accepted := make(chan struct{}, 10)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
				accepted <- struct{}{}
			}
		}()
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+l.Addr().String())
		t.Setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "collector:4317")
		w := captureWarnings(t)
		p, err := export.Setup(context.Background(), export.WithoutGlobal())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		p.Shutdown(ctx) // fails: the listener speaks no gRPC
		select {
		case <-accepted:
		case <-time.After(10 * time.Second):
			t.Errorf("no connection to %s; summary %q", l.Addr(), p.String())
		}
		if got := w.joined(); !strings.Contains(got, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") {
			t.Errorf("warnings %q do not name the variable", got)
		}
	})
}

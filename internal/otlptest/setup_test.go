package otlptest_test

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/snug-go/snug/internal/otlptest"
	"github.com/snug-go/snug/telemetry"
	"github.com/snug-go/snug/telemetry/export"
)

// env sets the variables Setup reads, and unsets the others.
func env(t *testing.T, kv map[string]string) {
	for _, k := range []string{
		"OTEL_SDK_DISABLED", "OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
		"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS",
		"OTEL_METRIC_EXPORT_INTERVAL", "OTEL_METRIC_EXPORT_TIMEOUT", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
		"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
		"K8S_POD_NAME", "K8S_POD_UID", "K8S_NAMESPACE_NAME", "K8S_NODE_NAME", "K8S_CONTAINER_NAME",
	} {
		t.Setenv(k, kv[k])
	}
}

// metric is one metric of a received batch with its resource.
type metric struct {
	m        pmetric.Metric
	resource pcommon.Map
}

// latest returns the metrics of the last batch received, by name.
func latest(r *otlptest.Receiver) map[string]metric {
	all := r.Sink.AllMetrics()
	if len(all) == 0 {
		return nil
	}
	out := map[string]metric{}
	md := all[len(all)-1]
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		for j := 0; j < rm.ScopeMetrics().Len(); j++ {
			sm := rm.ScopeMetrics().At(j)
			for k := 0; k < sm.Metrics().Len(); k++ {
				out[sm.Metrics().At(k).Name()] = metric{sm.Metrics().At(k), rm.Resource().Attributes()}
			}
		}
	}
	return out
}

// checkExport checks what one batch holds: every kind of metric snug
// reports, with the semantic conventions' types and units, and the resource
// built from the environment.
func checkExport(t *testing.T, r *otlptest.Receiver, service string) {
	t.Helper()
	got := latest(r)
	if got == nil {
		t.Fatal("nothing received")
	}
	want := map[string]struct {
		typ  pmetric.MetricType
		unit string
	}{
		"go.memory.used":              {pmetric.MetricTypeSum, "By"},
		"go.memory.allocated":         {pmetric.MetricTypeSum, "By"},
		"go.goroutine.count":          {pmetric.MetricTypeSum, "{goroutine}"},
		"go.processor.limit":          {pmetric.MetricTypeSum, "{thread}"},
		"go.cpu.time":                 {pmetric.MetricTypeSum, "s"},
		"go.schedule.duration":        {pmetric.MetricTypeHistogram, "s"},
		"go.memory.gc.pause.duration": {pmetric.MetricTypeHistogram, "s"},
		"snug.health.status":          {pmetric.MetricTypeGauge, "{status}"},
	}
	if _, err := os.Stat("/proc/self/cgroup"); err == nil {
		want["container.memory.usage"] = struct {
			typ  pmetric.MetricType
			unit string
		}{pmetric.MetricTypeSum, "By"}
		want["container.cpu.time"] = struct {
			typ  pmetric.MetricType
			unit string
		}{pmetric.MetricTypeSum, "s"}
	}
	for name, w := range want {
		m, ok := got[name]
		if !ok {
			t.Errorf("no %s received", name)
			continue
		}
		if m.m.Type() != w.typ || m.m.Unit() != w.unit {
			t.Errorf("%s: %v in %q, want %v in %q", name, m.m.Type(), m.m.Unit(), w.typ, w.unit)
		}
	}
	if m, ok := got["go.memory.used"]; ok {
		dps := m.m.Sum().DataPoints()
		types := map[string]int64{}
		for i := 0; i < dps.Len(); i++ {
			v, _ := dps.At(i).Attributes().Get("go.memory.type")
			types[v.Str()] = dps.At(i).IntValue()
		}
		if types["stack"] <= 0 || types["other"] <= 1<<20 || m.m.Sum().IsMonotonic() {
			t.Errorf("go.memory.used: %v, monotonic %v", types, m.m.Sum().IsMonotonic())
		}
	}
	if m, ok := got["go.memory.allocated"]; ok && (!m.m.Sum().IsMonotonic() || m.m.Sum().AggregationTemporality() != pmetric.AggregationTemporalityCumulative) {
		t.Errorf("go.memory.allocated: monotonic %v, %v", m.m.Sum().IsMonotonic(), m.m.Sum().AggregationTemporality())
	}
	if m, ok := got["go.memory.gc.pause.duration"]; ok {
		dp := m.m.Histogram().DataPoints().At(0)
		if dp.ExplicitBounds().Len() < 100 || dp.BucketCounts().Len() != dp.ExplicitBounds().Len()+1 || dp.Count() < 2 {
			t.Errorf("pause histogram: %d bounds, %d counts, count %d", dp.ExplicitBounds().Len(), dp.BucketCounts().Len(), dp.Count())
		}
		if dp.StartTimestamp() == 0 || dp.Timestamp() <= dp.StartTimestamp() {
			t.Errorf("pause histogram times: start %v, time %v", dp.StartTimestamp(), dp.Timestamp())
		}
	}
	if m, ok := got["snug.health.status"]; ok {
		dp := m.m.Gauge().DataPoints().At(0)
		name, _ := dp.Attributes().Get("snug.health.check")
		if name.Str() != "db" || dp.IntValue() != 1 {
			t.Errorf("health: %s = %d", name.Str(), dp.IntValue())
		}
	}
	res := got["go.memory.used"].resource
	for k, v := range map[string]string{
		"service.name":                service,
		"k8s.pod.name":                "shop-7d9f-abcde",
		"k8s.namespace.name":          "shop",
		"deployment.environment.name": "test",
	} {
		if got, ok := res.Get(k); !ok || got.Str() != v {
			t.Errorf("resource %s = %q, want %q", k, got.Str(), v)
		}
	}
}

func setup(t *testing.T) *export.Provider {
	t.Helper()
	runtime.GC() // so that the pause histogram has samples
	p, err := export.Setup(context.Background(), export.WithoutGlobal(),
		export.WithTelemetry(telemetry.WithChecks(func(dst []telemetry.CheckResult) []telemetry.CheckResult {
			return append(dst, telemetry.CheckResult{Name: "db", Kind: "readiness", Passing: true, Duration: time.Millisecond})
		})))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOTLPHTTP: Setup pushes over OTLP/HTTP at the interval the
// environment sets, with the headers it sets.
func TestOTLPHTTP(t *testing.T) {
	r := otlptest.Start(t)
	env(t, map[string]string{
		"OTEL_METRICS_EXPORTER":       "otlp",
		"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
		"OTEL_EXPORTER_OTLP_ENDPOINT": r.HTTPEndpoint,
		"OTEL_EXPORTER_OTLP_HEADERS":  "x-snug-test=http",
		"OTEL_METRIC_EXPORT_INTERVAL": "200",
		"OTEL_SERVICE_NAME":           "otlp-http",
		"OTEL_RESOURCE_ATTRIBUTES":    "deployment.environment.name=test",
		"K8S_POD_NAME":                "shop-7d9f-abcde",
		"K8S_NAMESPACE_NAME":          "shop",
	})
	p := setup(t)
	defer p.Shutdown(context.Background())

	// Three exports at 200 ms: periodic, not just the final flush.
	deadline := time.Now().Add(20 * time.Second)
	for len(r.Sink.AllMetrics()) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d exports received in 20 s at a 200 ms interval", len(r.Sink.AllMetrics()))
		}
		time.Sleep(50 * time.Millisecond)
	}
	checkExport(t, r, "otlp-http")
	ctxs := r.Sink.Contexts()
	if h := client.FromContext(ctxs[len(ctxs)-1]).Metadata.Get("x-snug-test"); len(h) != 1 || h[0] != "http" {
		t.Errorf("header x-snug-test = %q", h)
	}
}

// TestOTLPGRPCFlushOnShutdown: over OTLP/gRPC with the default 60 s
// interval, nothing arrives until Shutdown, which exports once more.
func TestOTLPGRPCFlushOnShutdown(t *testing.T) {
	r := otlptest.Start(t)
	env(t, map[string]string{
		"OTEL_METRICS_EXPORTER":       "otlp",
		"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
		"OTEL_EXPORTER_OTLP_ENDPOINT": r.GRPCEndpoint,
		"OTEL_EXPORTER_OTLP_HEADERS":  "x-snug-test=grpc",
		"OTEL_SERVICE_NAME":           "otlp-grpc",
		"OTEL_RESOURCE_ATTRIBUTES":    "deployment.environment.name=test",
		"K8S_POD_NAME":                "shop-7d9f-abcde",
		"K8S_NAMESPACE_NAME":          "shop",
	})
	p := setup(t)
	time.Sleep(500 * time.Millisecond)
	if n := len(r.Sink.AllMetrics()); n != 0 {
		t.Fatalf("%d exports before the first 60 s interval", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := len(r.Sink.AllMetrics()); n != 1 {
		t.Fatalf("%d exports after Shutdown, want the one final flush", n)
	}
	checkExport(t, r, "otlp-grpc")
	if h := client.FromContext(r.Sink.Contexts()[0]).Metadata.Get("x-snug-test"); len(h) != 1 || h[0] != "grpc" {
		t.Errorf("metadata x-snug-test = %q", h)
	}
}

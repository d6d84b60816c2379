package telemetry_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"runtime"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/snug-go/snug/health"
	"github.com/snug-go/snug/probe"
	"github.com/snug-go/snug/telemetry"
	"github.com/snug-go/snug/tune"
)

// Register snug's instruments on a MeterProvider whose reader carries the
// runtime histograms, and collect once.
func ExampleRegister() {
	reader := sdkmetric.NewManualReader(sdkmetric.WithProducer(telemetry.NewProducer()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	reg, err := telemetry.Register(telemetry.WithMeterProvider(mp))
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Unregister()

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if g, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "go.processor.limit" {
				fmt.Println(g.DataPoints[0].Value == int64(runtime.GOMAXPROCS(0)))
			}
		}
	}
	// Output: true
}

// NewProducer goes on every reader that should export the runtime's GC
// pause and scheduling latency histograms.
func ExampleNewProducer() {
	reader := sdkmetric.NewManualReader(sdkmetric.WithProducer(telemetry.NewProducer()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	runtime.GC()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			h := m.Data.(metricdata.Histogram[float64])
			fmt.Println(m.Name, len(h.DataPoints[0].Bounds) > 100, h.DataPoints[0].Count > 0)
		}
	}
	// Output:
	// go.schedule.duration true true
	// go.memory.gc.pause.duration true true
}

// Report the health checks' latest results. In a service the function
// reads them from package health; here they are fixed.
func ExampleWithChecks() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	reg, err := telemetry.Register(telemetry.WithMeterProvider(mp), telemetry.WithCgroup(nil),
		telemetry.WithChecks(func(dst []telemetry.CheckResult) []telemetry.CheckResult {
			return append(dst, telemetry.CheckResult{Name: "db", Kind: "readiness", Passing: false})
		}))
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Unregister()

	var rm metricdata.ResourceMetrics
	reader.Collect(context.Background(), &rm)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == "snug.health.status" {
				p := m.Data.(metricdata.Gauge[int64]).DataPoints[0]
				name, _ := p.Attributes.Value("snug.health.check")
				fmt.Println(name.AsString(), p.Value)
			}
		}
	}
	// Output: db 0
}

// Report the tuner's decisions next to the runtime's own settings.
func ExampleWithDecisions() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	telemetry.Register(telemetry.WithMeterProvider(mp), telemetry.WithCgroup(nil),
		telemetry.WithDecisions(func(dst []telemetry.Decision) []telemetry.Decision {
			return append(dst, telemetry.Decision{Setting: telemetry.GOMEMLIMIT, Value: 460 << 20, Owner: "snug"})
		}),
		telemetry.WithEvents(func(dst []telemetry.Event) []telemetry.Event {
			return append(dst, telemetry.Event{Source: "watchdog", Name: "gc", Count: 2})
		}))

	var rm metricdata.ResourceMetrics
	reader.Collect(context.Background(), &rm)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch m.Name {
			case "snug.tune.gomemlimit", "snug.events":
				if s, ok := m.Data.(metricdata.Sum[int64]); ok {
					fmt.Println(m.Name, s.DataPoints[0].Value)
				}
			}
		}
	}
	// Unordered output:
	// snug.tune.gomemlimit 482344960
	// snug.events 2
}

// Report a health.Handler's checks: each check's latest result, once the
// kubelet's probes (or background mode) have run it.
func ExampleWithHealth() {
	h := health.New(health.Config{})
	h.Add(probe.Func("db", probe.Readiness, func(context.Context) error { return nil }))

	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	telemetry.Register(telemetry.WithMeterProvider(mp), telemetry.WithCgroup(nil), telemetry.WithHealth(h))

	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/readyz", nil)) // a probe
	var rm metricdata.ResourceMetrics
	reader.Collect(context.Background(), &rm)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == "snug.health.status" {
				p := m.Data.(metricdata.Gauge[int64]).DataPoints[0]
				kind, _ := p.Attributes.Value("snug.health.kind")
				fmt.Println(kind.AsString(), p.Value)
			}
		}
	}
	// Output: readiness 1
}

// Report what the Tuner started by the blank import of snug decided:
//
//	import "github.com/snug-go/snug"
//
//	telemetry.Register(telemetry.WithTuner(snug.Tuner()))
//
// Here a Tuner is started directly.
func ExampleWithTuner() {
	t, err := tune.Start(context.Background(), tune.Quiet())
	if err != nil {
		log.Fatal(err)
	}
	defer t.Stop()
	reg, err := telemetry.Register(telemetry.WithTuner(t))
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Unregister()
	// Output:
}

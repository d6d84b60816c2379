package telemetry_test

import (
	"context"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/snug-go/snug/cgroup"
	"github.com/snug-go/snug/telemetry"
)

// benchOptions are every instrument's options: the container (the test
// process's real cgroup when there is one), and the tuner, event and health
// functions with a few entries each, as the example service has.
func benchOptions(g *cgroup.Group) []telemetry.Option {
	decisions := []telemetry.Decision{{Setting: telemetry.GOMAXPROCS, Value: 2, Owner: "runtime"}, {Setting: telemetry.GOMEMLIMIT, Value: 1 << 30, Owner: "snug"}}
	events := []telemetry.Event{{Source: "watchdog", Name: "gc", Count: 4}, {Source: "watchdog", Name: "limit_lowered", Count: 1}}
	checks := []telemetry.CheckResult{{Name: "goroutines", Kind: "liveness", Passing: true, Duration: time.Microsecond},
		{Name: "memory-headroom", Kind: "readiness", Passing: true, Duration: 3 * time.Microsecond}}
	return []telemetry.Option{
		telemetry.WithCgroup(g),
		telemetry.WithDecisions(func(dst []telemetry.Decision) []telemetry.Decision { return append(dst, decisions...) }),
		telemetry.WithEvents(func(dst []telemetry.Event) []telemetry.Event { return append(dst, events...) }),
		telemetry.WithChecks(func(dst []telemetry.CheckResult) []telemetry.CheckResult { return append(dst, checks...) }),
	}
}

// benchReader registers every instrument (the runtime's and benchOptions')
// on an SDK MeterProvider with a manual reader that has the histograms.
func benchReader(b testing.TB, g *cgroup.Group) *sdkmetric.ManualReader {
	return setup(b, benchOptions(g)...)
}

func benchCollect(b *testing.B, r sdkmetric.Reader) {
	ctx := context.Background()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(ctx, &rm); err != nil { // warm the reused buffers
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := r.Collect(ctx, &rm); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N), "µs/collection")
}

// BenchmarkCollect measures one full collection (ManualReader.Collect) of
// every instrument snug registers, the runtime histograms included. The goal
// is under 100 µs with a bounded number of allocations.
func BenchmarkCollect(b *testing.B) {
	b.Run("all", func(b *testing.B) {
		g, err := cgroup.Open()
		if err != nil {
			b.Skipf("no cgroup: %v", err)
		}
		defer g.Close()
		benchCollect(b, benchReader(b, g))
	})
	// The parts, to see where the time goes.
	b.Run("runtime", func(b *testing.B) {
		benchCollect(b, setup(b, telemetry.WithCgroup(nil)))
	})
	b.Run("histograms", func(b *testing.B) {
		reader := sdkmetric.NewManualReader(sdkmetric.WithProducer(telemetry.NewProducer()))
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		defer mp.Shutdown(context.Background())
		benchCollect(b, reader)
	})
	// snug's callbacks alone (the runtime's included), run with an observer
	// that keeps nothing: everything of "all" but the SDK's aggregation and
	// the histograms.
	b.Run("callbacks", func(b *testing.B) {
		g, err := cgroup.Open()
		if err != nil {
			b.Skipf("no cgroup: %v", err)
		}
		defer g.Close()
		run, _, _ := captureCallbacks(b, benchOptions(g)...)
		b.ReportAllocs()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			run()
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N), "µs/collection")
	})
	b.Run("cgroup-read", func(b *testing.B) {
		g, err := cgroup.Open()
		if err != nil {
			b.Skipf("no cgroup: %v", err)
		}
		defer g.Close()
		b.ReportAllocs()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			g.Limits()
			g.Stats()
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N), "µs/collection")
	})
}

// maxCollectAllocs bounds the allocations of one full collection through
// the SDK. Nearly all of them are the SDK's own: its aggregation of
// observable instruments allocates four to five times per data point and
// collection (measured with otel/sdk/metric v1.46), and there are about 45
// points. snug's callbacks allocate nothing (TestCallbackAllocs) and the
// producer about ten times. An allocation per histogram bucket would add
// 320 and fail.
const maxCollectAllocs = 300

// TestCollectAllocs holds the allocation count of one collection to a fixed
// bound.
func TestCollectAllocs(t *testing.T) {
	var g *cgroup.Group
	if gg, err := cgroup.Open(); err == nil {
		g = gg
		defer g.Close()
	}
	r := benchReader(t, g)
	var rm metricdata.ResourceMetrics
	ctx := context.Background()
	allocs := testing.AllocsPerRun(50, func() {
		if err := r.Collect(ctx, &rm); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("%.0f allocations per collection, SDK included", allocs)
	if allocs > maxCollectAllocs {
		t.Errorf("%.0f allocations per collection, bound %d", allocs, maxCollectAllocs)
	}

	p := telemetry.NewProducer()
	pa := testing.AllocsPerRun(50, func() { p.Produce(ctx) })
	t.Logf("%.0f allocations per Produce", pa)
	if pa > 12 {
		t.Errorf("%.0f allocations per Produce, want at most 12 (the two points and their bucket counts)", pa)
	}
}

// capturingProvider is a MeterProvider whose meter keeps the callbacks
// registered on it, so that a test can run them with its own Observer.
type capturingProvider struct {
	noop.MeterProvider
	callbacks []metric.Callback
}

func (p *capturingProvider) Meter(string, ...metric.MeterOption) metric.Meter {
	return &capturingMeter{p: p}
}

type capturingMeter struct {
	noop.Meter
	p *capturingProvider
}

func (m *capturingMeter) RegisterCallback(f metric.Callback, _ ...metric.Observable) (metric.Registration, error) {
	m.p.callbacks = append(m.p.callbacks, f)
	return noop.Registration{}, nil
}

// countingObserver counts observations and keeps nothing.
type countingObserver struct {
	metric.Observer // nil: only the two methods below are called
	n               int
}

func (o *countingObserver) ObserveFloat64(metric.Float64Observable, float64, ...metric.ObserveOption) {
	o.n++
}
func (o *countingObserver) ObserveInt64(metric.Int64Observable, int64, ...metric.ObserveOption) {
	o.n++
}

// captureCallbacks registers snug's instruments with opts on a provider
// that keeps the callbacks, and returns a function that runs them all once
// with an observer that only counts, that observer, and how many callbacks
// there are.
func captureCallbacks(tb testing.TB, opts ...telemetry.Option) (run func(), o *countingObserver, callbacks int) {
	tb.Helper()
	cp := &capturingProvider{}
	reg, err := telemetry.Register(append(opts, telemetry.WithMeterProvider(cp))...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { reg.Unregister() })
	ctx := context.Background()
	o = &countingObserver{}
	run = func() {
		for _, cb := range cp.callbacks {
			if err := cb(ctx, o); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return run, o, len(cp.callbacks)
}

// TestCallbackAllocs runs snug's callbacks outside the SDK: reading the
// runtime, the cgroup and the tuner, event and health functions allocates
// nothing once warm.
func TestCallbackAllocs(t *testing.T) {
	var g *cgroup.Group
	if gg, err := cgroup.Open(); err == nil {
		g = gg
		defer g.Close()
	}
	decisions := []telemetry.Decision{{Setting: telemetry.GOMAXPROCS, Value: 2, Owner: "snug"}}
	events := []telemetry.Event{{Source: "watchdog", Name: "gc", Count: 4}}
	checks := []telemetry.CheckResult{{Name: "goroutines", Kind: "liveness", Passing: true}}
	run, o, callbacks := captureCallbacks(t, telemetry.WithCgroup(g),
		telemetry.WithDecisions(func(dst []telemetry.Decision) []telemetry.Decision { return append(dst, decisions...) }),
		telemetry.WithEvents(func(dst []telemetry.Event) []telemetry.Event { return append(dst, events...) }),
		telemetry.WithChecks(func(dst []telemetry.CheckResult) []telemetry.CheckResult { return append(dst, checks...) }))
	if callbacks < 4 {
		t.Fatalf("%d callbacks registered", callbacks)
	}
	run()
	// Without a cgroup (macOS, Windows, bare metal) there are no
	// container metrics: 17 observations, against 40 or so with one.
	want := 10
	if g != nil {
		want = 20
	}
	if o.n < want {
		t.Fatalf("only %d observations", o.n)
	}
	if a := testing.AllocsPerRun(100, run); a != 0 {
		t.Errorf("%.1f allocations per run of the callbacks, want 0", a)
	}
}

// TestCollectNoStopTheWorld proves that collecting adds no stop-the-world
// pause: the runtime counts every pause that is not a GC's in
// /sched/pauses/total/other:seconds (runtime.ReadMemStats, GOMAXPROCS
// changes, goroutine profiles...), and that count does not move across
// many collections of every instrument.
func TestCollectNoStopTheWorld(t *testing.T) {
	var g *cgroup.Group
	if gg, err := cgroup.Open(); err == nil {
		g = gg
		defer g.Close()
	}
	r := benchReader(t, g)
	ctx := context.Background()
	var rm metricdata.ResourceMetrics

	s := []metrics.Sample{{Name: "/sched/pauses/total/other:seconds"}}
	count := func() uint64 {
		metrics.Read(s)
		var n uint64
		for _, c := range s[0].Value.Float64Histogram().Counts {
			n += c
		}
		return n
	}

	// The check can fail: a ReadMemStats is counted.
	before := count()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if count() == before {
		t.Fatal("ReadMemStats did not show in /sched/pauses/total/other:seconds: the check would prove nothing")
	}

	before = count()
	for i := 0; i < 500; i++ {
		if err := r.Collect(ctx, &rm); err != nil {
			t.Fatal(err)
		}
	}
	if after := count(); after != before {
		t.Errorf("%d stop-the-world pauses during 500 collections", after-before)
	}
}

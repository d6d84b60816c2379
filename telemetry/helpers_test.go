package telemetry_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/snug-go/snug/cgroup"
	"github.com/snug-go/snug/telemetry"
)

// setup makes a MeterProvider with a manual reader that has the runtime
// histograms, and registers snug's instruments on it.
func setup(t testing.TB, opts ...telemetry.Option) *sdkmetric.ManualReader {
	t.Helper()
	reader := sdkmetric.NewManualReader(sdkmetric.WithProducer(telemetry.NewProducer()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	reg, err := telemetry.Register(append([]telemetry.Option{telemetry.WithMeterProvider(mp)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := reg.Unregister(); err != nil {
			t.Error(err)
		}
	})
	return reader
}

// point is one data point of a collection, flattened.
type point struct {
	value float64
	hist  *metricdata.HistogramDataPoint[float64]
	unit  string
	kind  string // "sum", "updown", "gauge", "histogram"
}

// snapshot maps `name{k=v,...}` to each point of one collection.
type snapshot map[string]point

func collect(t testing.TB, r sdkmetric.Reader) snapshot {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	return flatten(rm)
}

func flatten(rm metricdata.ResourceMetrics) snapshot {
	s := snapshot{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				kind := "updown"
				if d.IsMonotonic {
					kind = "sum"
				}
				for _, p := range d.DataPoints {
					s[key(m.Name, p.Attributes)] = point{value: float64(p.Value), unit: m.Unit, kind: kind}
				}
			case metricdata.Sum[float64]:
				kind := "updown"
				if d.IsMonotonic {
					kind = "sum"
				}
				for _, p := range d.DataPoints {
					s[key(m.Name, p.Attributes)] = point{value: p.Value, unit: m.Unit, kind: kind}
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					s[key(m.Name, p.Attributes)] = point{value: float64(p.Value), unit: m.Unit, kind: "gauge"}
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					s[key(m.Name, p.Attributes)] = point{value: p.Value, unit: m.Unit, kind: "gauge"}
				}
			case metricdata.Histogram[float64]:
				for i := range d.DataPoints {
					p := &d.DataPoints[i]
					s[key(m.Name, p.Attributes)] = point{value: float64(p.Count), hist: p, unit: m.Unit, kind: "histogram"}
				}
			default:
				panic(fmt.Sprintf("unexpected data %T for %s", m.Data, m.Name))
			}
		}
	}
	return s
}

func key(name string, set attribute.Set) string {
	if set.Len() == 0 {
		return name
	}
	var kv []string
	for _, a := range set.ToSlice() {
		kv = append(kv, string(a.Key)+"="+a.Value.Emit())
	}
	sort.Strings(kv)
	return name + "{" + strings.Join(kv, ",") + "}"
}

// must returns the point named k, failing the test if it is missing.
func (s snapshot) must(t testing.TB, k string) point {
	t.Helper()
	p, ok := s[k]
	if !ok {
		var names []string
		for n := range s {
			names = append(names, n)
		}
		sort.Strings(names)
		t.Fatalf("no point %s; have:\n%s", k, strings.Join(names, "\n"))
	}
	return p
}

// openCgroup opens the test process's cgroup or skips.
func openCgroup(t testing.TB) *cgroup.Group {
	t.Helper()
	g, err := cgroup.Open()
	if err != nil {
		t.Skipf("no cgroup: %v", err)
	}
	t.Cleanup(g.Close)
	return g
}

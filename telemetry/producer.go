package telemetry

import (
	"context"
	"errors"
	"math"
	"runtime/metrics"
	"sync"
	"time"

	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// processStart stands for the start of the process: the runtime's
// histograms count from there, and a cumulative point needs a start time.
// Package initialisation is within milliseconds of it.
var processStart = time.Now()

// The histograms the producer reports, in the order of its samples.
var histograms = [...]struct {
	sample, name, desc string
}{
	{"/sched/latencies:seconds", "go.schedule.duration",
		"The time goroutines have spent in the scheduler in a runnable state before actually running (/sched/latencies:seconds)."},
	{"/sched/pauses/total/gc:seconds", "go.memory.gc.pause.duration",
		"Distribution of individual GC-related stop-the-world pause latencies, from deciding to stop the world until it is started again (/sched/pauses/total/gc:seconds)."},
}

// NewProducer returns a metric.Producer of the Go runtime's two latency
// histograms, go.schedule.duration and go.memory.gc.pause.duration, with the
// runtime's own bucket boundaries (four per power of two, from 0 to about
// 39 hours: 161 boundaries, so 162 buckets with Go 1.26), read fresh from
// runtime/metrics at each collection.
//
// Add it to every reader that should export them, when the reader is made:
//
//	reader := sdkmetric.NewManualReader(sdkmetric.WithProducer(telemetry.NewProducer()))
//	exporter, err := prometheus.New(prometheus.WithProducer(telemetry.NewProducer()))
//
// A producer is used rather than instruments because the OpenTelemetry API
// has no asynchronous histogram, and recording each runtime sample into a
// synchronous one would cost as much as the samples are many. The points
// are cumulative from the start of the process whatever the exporter's
// temporality preference. The runtime keeps no sum of the samples; the Sum
// of each point is estimated from the bucket midpoints. From 256 ns up each
// bucket spans a quarter of its lower bound, so a sample's share is within
// 12.5% of the truth; below, the runtime's buckets are 64 ns wide, so a
// sample's share can be off by up to 32 ns (50% at 64 ns). Most scheduling
// latencies are that short: the mean of go.schedule.duration (Sum/Count)
// can read high by tens of percent. Min and Max are left unset.
//
// The producer is safe for concurrent use and may be shared by readers.
func NewProducer() sdkmetric.Producer {
	p := &producer{}
	for i, h := range histograms {
		p.samples[i].Name = h.sample
	}
	return p
}

type producer struct {
	mu      sync.Mutex
	samples [len(histograms)]metrics.Sample
}

var errNoHistogram = errors.New("telemetry: runtime/metrics has no such histogram in this Go version")

// Produce implements metric.Producer.
func (p *producer) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	now := time.Now()
	out := make([]metricdata.Metrics, 0, len(histograms))
	var err error

	p.mu.Lock()
	metrics.Read(p.samples[:])
	for i, h := range histograms {
		if p.samples[i].Value.Kind() != metrics.KindFloat64Histogram {
			err = errNoHistogram
			continue
		}
		dp, ok := convertHistogram(p.samples[i].Value.Float64Histogram(), now)
		if !ok {
			continue
		}
		out = append(out, metricdata.Metrics{
			Name:        h.name,
			Description: h.desc,
			Unit:        "s",
			Data: metricdata.Histogram[float64]{
				Temporality: metricdata.CumulativeTemporality,
				DataPoints:  []metricdata.HistogramDataPoint[float64]{dp},
			},
		})
	}
	p.mu.Unlock()

	if len(out) == 0 {
		return nil, err
	}
	return []metricdata.ScopeMetrics{{
		Scope:   instrumentation.Scope{Name: ScopeName},
		Metrics: out,
	}}, err
}

// convertHistogram turns a runtime histogram into an OpenTelemetry point.
//
// The runtime's Buckets are N+1 boundaries of N buckets, Counts[i] counting
// samples in [Buckets[i], Buckets[i+1]), the first boundary -Inf and usually
// the last +Inf. OpenTelemetry's Bounds are the inner boundaries only, with
// len(Bounds)+1 buckets, bucket i counting (Bounds[i-1], Bounds[i]]. So the
// inner boundaries map one to one, and Counts can be copied as they are;
// only whether a sample exactly on a boundary counts below or above it
// differs, which the runtime's own resolution makes moot.
func convertHistogram(h *metrics.Float64Histogram, now time.Time) (metricdata.HistogramDataPoint[float64], bool) {
	b := h.Buckets
	if len(b) < 2 || len(h.Counts) != len(b)-1 {
		return metricdata.HistogramDataPoint[float64]{}, false
	}
	counts := make([]uint64, len(h.Counts), len(h.Counts)+1)
	copy(counts, h.Counts)
	// The boundary slice is the runtime's, shared and never modified, and
	// exporters only read Bounds: no copy needed.
	bounds := b[1 : len(b)-1]
	if !math.IsInf(b[len(b)-1], 1) {
		// A finite top: the implicit +Inf bucket is empty.
		bounds = b[1:]
		counts = append(counts, 0)
	}

	var total uint64
	var sum float64
	for i, c := range h.Counts {
		if c == 0 {
			continue
		}
		total += c
		lo, hi := b[i], b[i+1]
		switch {
		case math.IsInf(lo, -1) && math.IsInf(hi, 1):
			// A single unbounded bucket says nothing about the values.
		case math.IsInf(lo, -1):
			sum += hi * float64(c)
		case math.IsInf(hi, 1):
			sum += lo * float64(c)
		default:
			sum += (lo + hi) / 2 * float64(c)
		}
	}
	return metricdata.HistogramDataPoint[float64]{
		StartTime:    processStart,
		Time:         now,
		Count:        total,
		Sum:          sum,
		Bounds:       bounds,
		BucketCounts: counts,
	}, true
}

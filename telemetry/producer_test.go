package telemetry_test

import (
	"context"
	"math"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/snug-go/snug/telemetry"
)

func pauses() *metrics.Float64Histogram {
	s := []metrics.Sample{{Name: "/sched/pauses/total/gc:seconds"}}
	metrics.Read(s)
	return s[0].Value.Float64Histogram()
}

func total(h *metrics.Float64Histogram) (n uint64) {
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// TestProducerHistograms checks the two runtime histograms: the runtime's
// own boundaries, counts that match runtime/metrics read around the
// collection, and GC pauses that appear when the program collects garbage.
func TestProducerHistograms(t *testing.T) {
	p := telemetry.NewProducer()
	reader := sdkmetric.NewManualReader(sdkmetric.WithProducer(p))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	lo := total(pauses())
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	s := collect(t, reader)
	hi := total(pauses())

	pause := s.must(t, "go.memory.gc.pause.duration").hist
	// Each GC cycle stops the world twice (sweep termination, mark
	// termination): three forced cycles add at least six pauses.
	if pause.Count < lo+6 || pause.Count > hi {
		t.Errorf("pause count %d, runtime/metrics read %d before three GCs and %d after the collection", pause.Count, lo, hi)
	}
	rt := pauses()
	if len(pause.Bounds) != len(rt.Buckets)-2 || len(pause.BucketCounts) != len(rt.Counts) {
		t.Errorf("%d bounds and %d counts, runtime has %d boundaries and %d counts",
			len(pause.Bounds), len(pause.BucketCounts), len(rt.Buckets), len(rt.Counts))
	}
	for i := range pause.Bounds {
		if pause.Bounds[i] != rt.Buckets[i+1] {
			t.Fatalf("bound %d = %v, runtime boundary %v", i, pause.Bounds[i], rt.Buckets[i+1])
		}
		if i > 0 && pause.Bounds[i] <= pause.Bounds[i-1] {
			t.Fatalf("bounds not increasing at %d", i)
		}
	}
	var sum uint64
	for _, c := range pause.BucketCounts {
		sum += c
	}
	if sum != pause.Count {
		t.Errorf("bucket counts add to %d, Count is %d", sum, pause.Count)
	}
	// A GC pause is microseconds to milliseconds: the estimated mean must be
	// in that range, not off by orders of magnitude.
	if mean := pause.Sum / float64(pause.Count); mean < 100e-9 || mean > 0.5 {
		t.Errorf("mean pause %v s from Sum %v and Count %d", mean, pause.Sum, pause.Count)
	}
	if !pause.StartTime.Before(pause.Time) {
		t.Errorf("StartTime %v not before Time %v", pause.StartTime, pause.Time)
	}

	sched := s.must(t, "go.schedule.duration").hist
	if sched.Count == 0 || len(sched.Bounds) < 100 {
		t.Errorf("go.schedule.duration: count %d, %d bounds", sched.Count, len(sched.Bounds))
	}

	// Two collections in a row never go backwards (cumulative points).
	s2 := collect(t, reader)
	p2 := s2.must(t, "go.memory.gc.pause.duration").hist
	for i := range p2.BucketCounts {
		if p2.BucketCounts[i] < pause.BucketCounts[i] {
			t.Fatalf("bucket %d went from %d to %d", i, pause.BucketCounts[i], p2.BucketCounts[i])
		}
	}
}

// TestProducerConcurrent runs collections from several goroutines, for the
// race detector, and checks each result is whole.
func TestProducerConcurrent(t *testing.T) {
	reader := setup(t, telemetry.WithCgroup(nil))
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				s := collect(t, reader)
				if h := s.must(t, "go.schedule.duration").hist; h == nil || len(h.BucketCounts) != len(h.Bounds)+1 {
					t.Error("malformed histogram")
					return
				}
				runtime.Gosched()
			}
		}()
	}
	wg.Wait()
}

func TestProducerSumIsFinite(t *testing.T) {
	reader := setup(t, telemetry.WithCgroup(nil))
	s := collect(t, reader)
	for _, k := range []string{"go.schedule.duration", "go.memory.gc.pause.duration"} {
		h := s.must(t, k).hist
		if math.IsNaN(h.Sum) || math.IsInf(h.Sum, 0) || h.Sum < 0 {
			t.Errorf("%s Sum = %v", k, h.Sum)
		}
	}
}

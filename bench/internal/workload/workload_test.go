package main

import (
	"math"
	"runtime"
	"testing"
	"time"
)

func TestBucketQuantile(t *testing.T) {
	buckets := []float64{0, 1, 2, 4, math.Inf(1)}
	counts := []uint64{0, 90, 9, 1}
	for _, c := range []struct {
		q    float64
		want float64
	}{
		{0.5, 2}, {0.9, 2}, {0.91, 4}, {0.99, 4}, {1, 4},
	} {
		if got, n := bucketQuantile(counts, buckets, c.q); got != c.want || n != 100 {
			t.Errorf("q%v = %v (n %d), want %v", c.q, got, n, c.want)
		}
	}
	// A sample in the unbounded bucket is reported at its lower edge.
	if got, _ := bucketQuantile([]uint64{0, 0, 0, 1}, buckets, 1); got != 4 {
		t.Errorf("overflow bucket: %v, want 4", got)
	}
	if got, n := bucketQuantile([]uint64{0, 0, 0, 0}, buckets, 0.5); got != 0 || n != 0 {
		t.Errorf("empty: %v, %d", got, n)
	}
}

func TestHistDeltaSeesNewPauses(t *testing.T) {
	before := readSnapshot()
	runtime.GC()
	runtime.GC()
	after := readSnapshot()
	d := histDelta(after.pauses, before.pauses)
	_, n := bucketQuantile(d, after.pauses.Buckets, 1)
	if n < 4 { // two pauses per cycle
		t.Errorf("%d pauses recorded over two forced GCs, want at least 4", n)
	}
	if after.gcCycles-before.gcCycles < 2 {
		t.Errorf("gc cycles %d → %d", before.gcCycles, after.gcCycles)
	}
}

func TestOpenLoopCountsFromDueTime(t *testing.T) {
	svc := newService(1<<20, 1<<10, 1, 0)
	start := time.Now()
	l := newOpenLoop(svc, 1000, start, 100*time.Millisecond)
	// Stall the generator as a stop-the-world would: every request due
	// during the stall must carry it in its latency.
	time.Sleep(50 * time.Millisecond)
	l.run(0)
	if u := l.drain(time.Second); u != 0 {
		t.Fatalf("%d unfinished", u)
	}
	q, maxNs := l.quantiles(0.01, 0.5)
	if maxNs < int64(45*time.Millisecond) {
		t.Errorf("max latency %v after a 50ms stall of the sender", time.Duration(maxNs))
	}
	if q[0] > q[1] || q[1] > maxNs {
		t.Errorf("quantiles out of order: %v %v %v", q[0], q[1], maxNs)
	}
	if l.n != 100 {
		t.Errorf("%d requests scheduled, want 100", l.n)
	}
}

func TestVmHWM(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("VmHWM is in Linux's /proc")
	}
	if v := vmHWM(); v < 1<<20 {
		t.Errorf("VmHWM = %d", v)
	}
}

// The sampler's goroutine stops when it is closed.
func TestMemorySamplerStops(t *testing.T) {
	before := runtime.NumGoroutine()
	m := startMemorySampler(time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	if peak := m.close(); peak <= 0 {
		t.Errorf("peak %d", peak)
	}
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after close, %d before", n, before)
	}
}

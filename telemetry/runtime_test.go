package telemetry_test

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"testing"

	"github.com/snug-go/snug/telemetry"
)

var sink [][]byte

// TestRuntimeMetrics checks each Go runtime metric against what the program
// did between two collections and against the runtime's own accessors.
func TestRuntimeMetrics(t *testing.T) {
	reader := setup(t, telemetry.WithCgroup(nil))

	before := collect(t, reader)

	// Allocate a known amount, start goroutines that stay, collect garbage.
	const n, size = 1000, 10 << 10
	for i := 0; i < n; i++ {
		sink = append(sink, make([]byte, size))
	}
	sink = nil
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); <-stop }()
	}
	defer func() { close(stop); wg.Wait() }()
	runtime.GC()

	after := collect(t, reader)

	for _, name := range []string{
		"go.memory.used{go.memory.type=stack}", "go.memory.used{go.memory.type=other}",
		"go.memory.allocated", "go.memory.allocations", "go.memory.gc.goal", "go.memory.gc.cycles",
		"go.goroutine.count", "go.processor.limit", "go.config.gogc",
		"go.cpu.time{go.cpu.state=gc}", "go.cpu.time{go.cpu.state=idle}",
		"go.cpu.time{go.cpu.state=scavenge}", "go.cpu.time{go.cpu.state=user}",
		"go.schedule.duration", "go.memory.gc.pause.duration",
	} {
		after.must(t, name)
	}

	if d := after.must(t, "go.memory.allocated").value - before.must(t, "go.memory.allocated").value; d < n*size {
		t.Errorf("go.memory.allocated grew by %.0f bytes, want at least %d", d, n*size)
	}
	if d := after.must(t, "go.memory.allocations").value - before.must(t, "go.memory.allocations").value; d < n {
		t.Errorf("go.memory.allocations grew by %.0f, want at least %d", d, n)
	}
	if d := after.must(t, "go.memory.gc.cycles").value - before.must(t, "go.memory.gc.cycles").value; d < 1 {
		t.Errorf("go.memory.gc.cycles grew by %.0f after runtime.GC, want at least 1", d)
	}
	if g := after.must(t, "go.goroutine.count").value; g < 50 || g > float64(runtime.NumGoroutine()+10) {
		t.Errorf("go.goroutine.count = %.0f with %d goroutines", g, runtime.NumGoroutine())
	}
	if p := after.must(t, "go.processor.limit").value; p != float64(runtime.GOMAXPROCS(0)) {
		t.Errorf("go.processor.limit = %.0f, GOMAXPROCS is %d", p, runtime.GOMAXPROCS(0))
	}
	stack := after.must(t, "go.memory.used{go.memory.type=stack}").value
	other := after.must(t, "go.memory.used{go.memory.type=other}").value
	if stack < 50*2048 || other < 1<<20 {
		t.Errorf("go.memory.used stack=%.0f other=%.0f: implausibly small", stack, other)
	}
	// The total matches runtime/metrics' own classes within what the
	// program allocated between the two reads.
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	want := float64(s[0].Value.Uint64() - s[1].Value.Uint64())
	if got := stack + other; math.Abs(got-want) > 8<<20 {
		t.Errorf("go.memory.used total = %.0f, runtime/metrics says %.0f", got, want)
	}
	for _, k := range []string{"go.memory.allocated", "go.memory.allocations", "go.memory.gc.cycles", "go.cpu.time{go.cpu.state=user}"} {
		if after.must(t, k).kind != "sum" {
			t.Errorf("%s is a %s, want a monotonic sum", k, after.must(t, k).kind)
		}
	}
	for _, k := range []string{"go.memory.used{go.memory.type=stack}", "go.goroutine.count", "go.processor.limit", "go.memory.gc.goal"} {
		if after.must(t, k).kind != "updown" {
			t.Errorf("%s is a %s, want a non-monotonic sum (UpDownCounter)", k, after.must(t, k).kind)
		}
	}
	units := map[string]string{
		"go.memory.allocated": "By", "go.memory.allocations": "{allocation}", "go.memory.gc.cycles": "{gc_cycle}",
		"go.goroutine.count": "{goroutine}", "go.processor.limit": "{thread}", "go.config.gogc": "%",
		"go.cpu.time{go.cpu.state=gc}": "s", "go.schedule.duration": "s", "go.memory.gc.pause.duration": "s",
	}
	for k, u := range units {
		if got := after.must(t, k).unit; got != u {
			t.Errorf("%s unit %q, want %q", k, got, u)
		}
	}
	if after.must(t, "go.cpu.time{go.cpu.state=gc}").value <= 0 {
		t.Error("go.cpu.time{gc} is 0 after a GC")
	}
}

// TestRuntimeSettings changes GOGC, GOMEMLIMIT and GOMAXPROCS and sees each
// change in the next collection: values are read at collection, not cached.
func TestRuntimeSettings(t *testing.T) {
	reader := setup(t, telemetry.WithCgroup(nil))

	oldGC := debug.SetGCPercent(150)
	defer debug.SetGCPercent(oldGC)
	oldLimit := debug.SetMemoryLimit(3 << 30)
	defer debug.SetMemoryLimit(oldLimit)
	oldProcs := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(oldProcs)

	s := collect(t, reader)
	if v := s.must(t, "go.config.gogc").value; v != 150 {
		t.Errorf("go.config.gogc = %v after SetGCPercent(150)", v)
	}
	if v := s.must(t, "go.memory.limit").value; v != 3<<30 {
		t.Errorf("go.memory.limit = %v after SetMemoryLimit(3 GiB)", v)
	}
	if v := s.must(t, "go.processor.limit").value; v != 1 {
		t.Errorf("go.processor.limit = %v after GOMAXPROCS(1)", v)
	}

	// GOGC=off and no memory limit: no percentage and no limit to report.
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(math.MaxInt64)
	s = collect(t, reader)
	if p, ok := s["go.config.gogc"]; ok {
		t.Errorf("go.config.gogc = %v with the GC off, want no point", p.value)
	}
	if p, ok := s["go.memory.limit"]; ok {
		t.Errorf("go.memory.limit = %v with no limit, want no point", p.value)
	}
}

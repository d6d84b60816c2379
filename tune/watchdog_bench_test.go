package tune

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/snug-go/snug/cgroup"
)

// BenchmarkWatchdogSample is one sampling pass of the GC watchdog on the
// process's own cgroup: runtime/metrics and cgroup.Stats, then the
// decisions on it when nothing is near a threshold. Targets: under 50 µs,
// 0 allocations.
func BenchmarkWatchdogSample(b *testing.B) {
	g, err := cgroup.Open()
	if err != nil {
		b.Skip(err)
	}
	l, _ := g.Limits()
	w := newWatchdog(defaultWatchdogConfig(), g, time.Second)
	now := time.Now()
	w.sample(now)
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Second)
		w.sample(now)
		w.decide(now, l, true)
		w.pending = w.pending[:0]
	}
}

func BenchmarkWatchdogParts(b *testing.B) {
	g, err := cgroup.Open()
	if err != nil {
		b.Skip(err)
	}
	s := newSampler(g, DefaultLongPause)
	var rt runtimeStats
	var p pauseWindow
	b.Run("runtime-metrics", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.readRuntime(&rt, &p)
		}
	})
	b.Run("cgroup-stats", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			g.Stats()
		}
	})
}

// BenchmarkWatchdogIdleCPU measures the CPU an idle process uses, as a
// percentage of one CPU, with no Tuner, with a Tuner without its watchdog
// and with one with the watchdog at its defaults, at the default interval;
// then both at a 10 ms interval, where the watchdog's share of each
// wake-up is large enough to measure. The watchdog's cost is the
// difference between "tuner" and "watchdog". Target: under 0.1% of one
// CPU at the default interval.
func BenchmarkWatchdogIdleCPU(b *testing.B) {
	if testing.Short() {
		b.Skip("measures over seconds")
	}
	if _, ok := cpuTime(); !ok {
		b.Skip("no getrusage here")
	}
	const window = 5 * time.Second
	measure := func(b *testing.B, opts ...Option) {
		for b.Loop() {
			var tu *Tuner
			if opts != nil {
				var err error
				if tu, err = Start(context.Background(), append([]Option{Quiet(), withEnv(nil)}, opts...)...); err != nil {
					b.Fatal(err)
				}
			}
			runtime.GC()
			time.Sleep(50 * time.Millisecond)
			c0, _ := cpuTime()
			t0 := time.Now()
			time.Sleep(window)
			c1, _ := cpuTime()
			used, wall := c1-c0, time.Since(t0)
			st := tu.Status()
			tu.Stop()
			b.ReportMetric(100*used.Seconds()/wall.Seconds(), "%cpu")
			b.ReportMetric(float64(st.Watchdog.Samples), "samples")
			b.ReportMetric(float64(st.Watchdog.NearChecks), "checks")
		}
		b.ReportMetric(0, "ns/op")
	}
	b.Run("none", func(b *testing.B) { measure(b) })
	for _, iv := range []time.Duration{DefaultInterval, 10 * time.Millisecond} {
		b.Run("tuner/interval="+iv.String(), func(b *testing.B) { measure(b, WithInterval(iv), WithoutWatchdog()) })
		b.Run("watchdog/interval="+iv.String(), func(b *testing.B) { measure(b, WithInterval(iv)) })
	}
	// Near the memory limit the watchdog checks the usage every 50 ms
	// between its samples: on a fixture cgroup (files on a temporary
	// directory, not the kernel's) with the working set at 60% of the
	// limit, then at 78%, below the FreeOSMemory threshold, so the cost is
	// the checks' own (samples report the checks: about 19 a second); and
	// with the usage at 98% of which 78% inactive page cache, which the
	// kernel drops first: no checks.
	for _, c := range []struct {
		name         string
		usage, cache int64
	}{{"far", 154 * mib, 0}, {"near", 200 * mib, 0}, {"cache", 250 * mib, 200 * mib}} {
		b.Run("watchdog/fixture-"+c.name, func(b *testing.B) {
			f := newFixture(b)
			f.set("pod/ctr", "memory.max", fmt.Sprint(256*mib))
			f.memoryStat(c.usage, c.usage-c.cache-10*mib, c.cache, c.cache, 0, 0)
			measure(b, withGroup(f.group()), WithInterval(DefaultInterval))
		})
	}
}

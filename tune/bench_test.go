package tune

import (
	"context"
	"math"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"testing"
	"time"
)

// Benchmarks for the costs the Tuner adds to a process. Run them side by
// side, several times, on a quiet machine:
//
//	go test -run '^$' -bench . -count 5 ./tune
//
// Targets (from the issue): one re-evaluation under 30 µs; the idle loop
// under 0.05% of one CPU at the default interval; the blank import's init
// under 1 ms; no stop-the-world pause while the limits hold still.

// otherPauses reads the runtime's histogram of non-GC stop-the-world
// pauses: how many, and their total length estimated from the bucket
// midpoints (buckets are 4 per power of two: up to 25% off per pause).
func otherPauses() (n uint64, total time.Duration) {
	s := []metrics.Sample{{Name: "/sched/pauses/total/other:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0, 0
	}
	h := s[0].Value.Float64Histogram()
	var sec float64
	for i, c := range h.Counts {
		if c == 0 {
			continue
		}
		lo, hi := h.Buckets[i], h.Buckets[i+1]
		if math.IsInf(lo, -1) {
			lo = 0
		}
		if math.IsInf(hi, 1) {
			hi = lo
		}
		n += c
		sec += float64(c) * (lo + hi) / 2
	}
	return n, time.Duration(sec * 1e9)
}

// BenchmarkEvaluate is one re-evaluation, what the Tuner does each
// interval: read the limits, decide both knobs, compare with the runtime.
// Target: under 30 µs. stw/op must be 0 while the limits hold still.
// On cgroup v1 most of the time is the kernel generating memory.stat
// (about 20 µs here), which package cgroup reads for
// hierarchical_memory_limit.
func BenchmarkEvaluate(b *testing.B) {
	b.Run("own-cgroup", func(b *testing.B) {
		tu, err := Start(context.Background(), Quiet(), WithInterval(time.Hour), withEnv(nil))
		if err != nil {
			b.Fatal(err)
		}
		defer tu.Stop()
		benchEvaluate(b, tu, time.Now)
	})
	b.Run("ancestor-quota", func(b *testing.B) {
		// The longest path: the effective quota is the pod's, so the
		// runtime's view of the leaf is read too, and snug owns the value.
		f := newFixture(b)
		f.set("pod", "cpu.max", "50000 100000")
		f.set("pod", "memory.max", "268435456")
		tu, err := Start(context.Background(), withGroup(f.group()), Quiet(), WithInterval(time.Hour), withEnv(nil))
		if err != nil {
			b.Fatal(err)
		}
		defer tu.Stop()
		if !tu.Status().MaxProcs.Owned && runtime.NumCPU() > 1 {
			b.Fatalf("fixture not in effect: %+v", tu.Status().MaxProcs)
		}
		benchEvaluate(b, tu, time.Now)
	})
	b.Run("ancestor-quota-adaptive-no-watchdog", func(b *testing.B) {
		// The adaptive policy with the watchdog off reads the CPU
		// counters itself, once per evaluation at the default interval:
		// the clock advances by 1 s per evaluation so that every one
		// reads them.
		f := newFixture(b)
		f.set("pod", "cpu.max", "50000 100000")
		f.set("pod", "memory.max", "268435456")
		f.set("pod/ctr", "cpu.stat", "usage_usec 1000\nnr_periods 10\nnr_throttled 0\nthrottled_usec 0")
		tu, err := Start(context.Background(), withGroup(f.group()), Quiet(), WithInterval(time.Hour), WithoutWatchdog(), withEnv(nil))
		if err != nil {
			b.Fatal(err)
		}
		defer tu.Stop()
		now := time.Now()
		benchEvaluate(b, tu, func() time.Time { now = now.Add(time.Second); return now })
		if !tu.procs.load.primed {
			b.Fatal("the adaptive policy read no CPU counters")
		}
	})
}

func benchEvaluate(b *testing.B, tu *Tuner, clock func() time.Time) {
	// The tuner's own count: the runtime's pause histogram would also see
	// the testing package's ReadMemStats calls (TestSteadyStateNoPauses
	// checks the histogram without them).
	stw := tu.Status().StopTheWorlds
	b.ReportAllocs()
	for b.Loop() {
		tu.evaluate(clock())
	}
	st := tu.Status()
	b.ReportMetric(float64(st.StopTheWorlds-stw)/float64(b.N), "stw/op")
	if st.Err != nil {
		b.Fatalf("limits: %v", st.Err)
	}
}

// BenchmarkStart is Start and Stop with the defaults on the process's own
// cgroup: the work the blank import of snug does at init (Stop is cheap:
// the limits here leave nothing to restore on this machine, or little).
func BenchmarkStart(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		tu, err := Start(context.Background(), Quiet(), withEnv(nil))
		if err != nil {
			b.Fatal(err)
		}
		tu.Stop()
	}
}

var initTraceLine = regexp.MustCompile(`init github\.com/snug-go/snug\S* @\S+ ms, ([0-9.]+) ms clock`)

// BenchmarkBlankImportInit runs testdata/blank, which only blank-imports
// snug, with GODEBUG=inittrace=1, and reports the clock time of snug's
// package inits as the runtime measures it (median over the runs), in a
// fresh process each time: cold caches, first file opens included.
// Target: under 1 ms.
func BenchmarkBlankImportInit(b *testing.B) {
	if testing.Short() {
		b.Skip("builds and runs a program")
	}
	bin := buildProgram(b, "testdata/blank")
	var ms []float64
	for b.Loop() {
		cmd := exec.Command(bin)
		cmd.Env = cleanEnv("GODEBUG=inittrace=1", "SNUG_LOG=quiet")
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		sum := 0.0
		for _, m := range initTraceLine.FindAllSubmatch(out, -1) {
			v, _ := strconv.ParseFloat(string(m[1]), 64)
			sum += v
		}
		if sum == 0 {
			b.Fatalf("no init trace for snug in:\n%s", out)
		}
		ms = append(ms, sum)
	}
	slices.Sort(ms)
	b.ReportMetric(ms[len(ms)/2]*1000, "init-µs")
	b.ReportMetric(0, "ns/op") // the process start dominates ns/op; init-µs is the figure
}

// BenchmarkIdleCPU measures the CPU the process uses while it does nothing
// for a few seconds, without a Tuner and with one at the default interval
// and at 10 ms, as a percentage of one CPU. The Tuner's cost is the
// difference from "none"; the 10 ms case shows the cost of one wake-up
// (evaluation, timer, and the sysmon wake-ups it causes) large enough to
// measure. Target: under 0.05% at the default interval.
func BenchmarkIdleCPU(b *testing.B) {
	if testing.Short() {
		b.Skip("measures over seconds")
	}
	if _, ok := cpuTime(); !ok {
		b.Skip("no getrusage here")
	}
	const window = 5 * time.Second
	measure := func(b *testing.B, start func() *Tuner) {
		for b.Loop() {
			tu := start()
			runtime.GC()
			time.Sleep(50 * time.Millisecond)
			c0, _ := cpuTime()
			t0 := time.Now()
			time.Sleep(window)
			c1, _ := cpuTime()
			used, wall := c1-c0, time.Since(t0)
			tu.Stop()
			b.ReportMetric(100*used.Seconds()/wall.Seconds(), "%cpu")
			if tu != nil {
				b.ReportMetric(float64(tu.Status().Evaluations), "evaluations")
			}
		}
		b.ReportMetric(0, "ns/op")
	}
	b.Run("none", func(b *testing.B) { measure(b, func() *Tuner { return nil }) })
	for _, iv := range []time.Duration{DefaultInterval, 10 * time.Millisecond} {
		b.Run("interval="+iv.String(), func(b *testing.B) {
			measure(b, func() *Tuner {
				tu, err := Start(context.Background(), Quiet(), WithInterval(iv), withEnv(nil))
				if err != nil {
					b.Fatal(err)
				}
				return tu
			})
		})
	}
}

// BenchmarkGOMAXPROCSChange is the price of one change the Tuner makes: a
// runtime.GOMAXPROCS call that stops the world, as the runtime's own
// histogram measures the pause. It is why changes are confirmed and spaced.
func BenchmarkGOMAXPROCSChange(b *testing.B) {
	if runtime.NumCPU() < 2 {
		b.Skip("needs 2 CPUs")
	}
	defer runtime.SetDefaultGOMAXPROCS()
	n0, d0 := otherPauses()
	i := 0
	for b.Loop() {
		runtime.GOMAXPROCS(1 + i%2)
		i++
	}
	n1, d1 := otherPauses()
	if n1 > n0 {
		b.ReportMetric(float64((d1-d0).Microseconds())/float64(n1-n0), "pause-µs")
	}
}

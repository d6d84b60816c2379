package bench

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/snug-go/snug/internal/cgtest"
	"github.com/snug-go/snug/tune"
)

// A peer is one way of fitting Go to a container, as the workload applies it
// with -peer, and what GOMAXPROCS it must end up with, so that a run with a
// mis-wired peer fails instead of producing a plausible table.
type peer struct {
	name string
	// procs is the GOMAXPROCS the peer must choose for a CFS quota of quota
	// CPUs (0: none) on a machine with ncpu usable CPUs.
	procs func(quota float64, ncpu int) int
	// alt, when set, is a second value the peer may end up with: snug's
	// adaptive policy takes either floor's or the runtime's rounding,
	// from what the cgroup's counters show during the run.
	alt func(quota float64, ncpu int) int
}

// allows reports whether the peer may end a run with GOMAXPROCS n.
func (p peer) allows(n int, quota float64, ncpu int) bool {
	return n == p.procs(quota, ncpu) || (p.alt != nil && n == p.alt(quota, ncpu))
}

// The rounding rules of the anchors, from their sources (see
// /work/shared/NOTES.md): the runtime rounds the quota up with a floor of 2,
// automaxprocs rounds it down with a floor of 1; neither goes past the CPUs
// the process may run on, and without a quota both use them all.
func ceilMin2(q float64, ncpu int) int {
	if q <= 0 {
		return ncpu
	}
	return min(ncpu, max(2, int(math.Ceil(q))))
}

func floorMin1(q float64, ncpu int) int {
	if q <= 0 {
		return ncpu
	}
	return min(ncpu, max(1, int(math.Floor(q))))
}

func ceilMin1(q float64, ncpu int) int {
	if q <= 0 {
		return ncpu
	}
	return min(ncpu, max(1, int(math.Ceil(q))))
}

var (
	numcpuPeer       = peer{"numcpu", func(_ float64, ncpu int) int { return ncpu }, nil}
	runtimePeer      = peer{"runtime", ceilMin2, nil}
	automaxprocsPeer = peer{"automaxprocs", floorMin1, nil}
	automemlimitPeer = peer{"automemlimit", ceilMin2, nil}
)

// cpuPeers and memoryPeers are the peers of each family of cases; snug's
// are appended by snugPeers.
func cpuPeers() []peer {
	return append([]peer{numcpuPeer, runtimePeer, automaxprocsPeer}, snugPeers()...)
}

func memoryPeers() []peer {
	return append([]peer{runtimePeer, automemlimitPeer}, snugDefaultPeer()...)
}

// quotas are the CPU quotas of BenchmarkCPU: 0.5, 1 and 1.5 CPUs, half the
// machine on machines of 4 CPUs or more, and none (0). Quotas above the
// machine's CPUs are left out: they cannot bind. -short keeps 0.5 only
// (and "none", where real cgroups are unavailable).
func quotas(ncpu int, short bool) []float64 {
	qs := []float64{0, 0.5, 1, 1.5}
	if half := float64(ncpu) / 2; ncpu >= 4 && !slices.Contains(qs, half) {
		qs = append(qs, half)
	}
	if short {
		qs = []float64{0, 0.5}
	}
	var out []float64
	for _, q := range qs {
		if q <= float64(ncpu) {
			out = append(out, q)
		}
	}
	return out
}

func quotaName(q float64) string {
	if q <= 0 {
		return "none"
	}
	return strconv.FormatFloat(q, 'g', -1, 64)
}

// canUseCgroups reports whether real cgroups can be made, logging the
// reason once when they cannot (and failing under SNUG_REQUIRE_CGROUP=1).
func canUseCgroups(b *testing.B) bool {
	if cgroupWhy == "" {
		return true
	}
	if os.Getenv("SNUG_REQUIRE_CGROUP") == "1" {
		cgtest.Require(b) // fails with the reason
	}
	cgroupLogOnce.Do(func() {
		b.Logf("real cgroups unavailable (%s): running only the unconstrained cases", cgroupWhy)
	})
	return false
}

// BenchmarkCPU runs the steady workload under each CPU quota with each
// peer: quota=<CPUs>/policy=<peer>. One iteration is one run of the
// workload (a warm-up, then a measured window): run it with -benchtime=1x
// and repeat with -count (see doc.go).
func BenchmarkCPU(b *testing.B) {
	bin := workload(b)
	cost, err := requestCost()
	if err != nil {
		b.Fatal(err)
	}
	load, win, err := benchEnv(testing.Short())
	if err != nil {
		b.Fatal(err)
	}
	useCgroups := canUseCgroups(b)
	ncpu := runtime.NumCPU()
	short := testing.Short()
	for _, q := range quotas(ncpu, short) {
		if q > 0 && !useCgroups {
			continue
		}
		if q == 0 && useCgroups && short {
			continue // the short suite keeps the constrained case
		}
		cpus := q
		if q == 0 {
			cpus = float64(ncpu)
		}
		for _, p := range cpuPeers() {
			b.Run(fmt.Sprintf("quota=%s/policy=%s", quotaName(q), p.name), func(b *testing.B) {
				spec := runSpec{
					peer:     p.name,
					quota:    q,
					scenario: "steady",
					rate:     load * cpus * 1e9 / float64(cost),
					warmup:   warmup(short),
					window:   win,
					cgroup:   useCgroups,
				}
				runCase(b, bin, spec, func(o outcome) {
					checkRan(b, o)
					if o.oomKills > 0 {
						b.Fatalf("OOM kill without a memory limit\n%s", o.stderr)
					}
					if !p.allows(o.res.GOMAXPROCS, q, ncpu) {
						want := fmt.Sprint(p.procs(q, ncpu))
						if p.alt != nil {
							want += " or " + fmt.Sprint(p.alt(q, ncpu))
						}
						b.Fatalf("peer %s under quota %s: GOMAXPROCS %d, want %s (%s)", p.name, quotaName(q), o.res.GOMAXPROCS, want, o.res.PeerDetail)
					}
				})
			})
		}
	}
}

// The memory cases: a 256 MiB limit and a 1-CPU quota, a service with the
// usual live heap, and
//   - burst: a block of burstMiB more live heap held for 40% of the window
//     (4 s) under steady requests. Without a memory limit the collector lets the
//     heap grow to twice the live data, past the cgroup's limit.
//   - quiet: the same burst, released as traffic stops; then outsideMiB of
//     memory the Go runtime does not manage (anonymous mmap, touched page
//     by page) grows while nothing allocates on the heap, so no collection
//     returns the freed heap to the kernel by itself. GOMEMLIMIT alone does
//     not count that memory.
const (
	memLimitMiB = 256
	memQuota    = 1.0
	burstMiB    = 130
	outsideMiB  = 110
)

// BenchmarkMemory runs the memory scenarios with each memory peer:
// scenario=<name>/quota=1/mem=256/policy=<peer>. An OOM kill is a result
// (oom-kills 1, peak-rss-bytes from the cgroup), not a failure.
func BenchmarkMemory(b *testing.B) {
	bin := workload(b)
	cost, err := requestCost()
	if err != nil {
		b.Fatal(err)
	}
	load, win, err := benchEnv(testing.Short())
	if err != nil {
		b.Fatal(err)
	}
	if !canUseCgroups(b) {
		b.Skip("the memory cases need real cgroups")
	}
	short := testing.Short()
	if runtime.NumCPU() < 1 {
		b.Skip("no CPU")
	}
	for _, scenario := range []string{"burst", "quiet"} {
		for _, p := range memoryPeers() {
			name := fmt.Sprintf("scenario=%s/quota=%s/mem=%d/policy=%s", scenario, quotaName(memQuota), memLimitMiB, p.name)
			b.Run(name, func(b *testing.B) {
				spec := runSpec{
					peer:     p.name,
					quota:    memQuota,
					memMiB:   memLimitMiB,
					scenario: scenario,
					rate:     load * memQuota * 1e9 / float64(cost),
					warmup:   warmup(short),
					// Twice the CPU cases' window: the memory outside
					// the heap grows over 40% of it (4 s), slowly
					// enough for a watchdog that samples every second.
					window:   win * 2,
					burstMiB: burstMiB,
					cgroup:   true,
				}
				if scenario == "quiet" {
					spec.outsideMiB = outsideMiB
				}
				runCase(b, bin, spec, func(o outcome) {
					if o.oomKills > 0 {
						return // the result this case exists to count
					}
					checkRan(b, o)
					if p.name == automemlimitPeer.name {
						// automemlimit's documented default: 90% of the limit.
						limit := float64(int64(memLimitMiB) << 20)
						want := int64(0.9 * limit)
						if d := o.res.GOMEMLIMIT - want; d < -1<<20 || d > 1<<20 {
							b.Fatalf("automemlimit set GOMEMLIMIT %d, want about %d", o.res.GOMEMLIMIT, want)
						}
					}
					if p.name == "snug" {
						// tune's documented limit, or lower (its watchdog
						// may lower it for memory outside the Go heap).
						max := snugMemoryLimit(int64(memLimitMiB) << 20)
						if o.res.GOMEMLIMIT > max || o.res.GOMEMLIMIT < tune.MinMemoryLimit {
							b.Fatalf("snug set GOMEMLIMIT %d, want at most %d (%s)", o.res.GOMEMLIMIT, max, o.res.PeerDetail)
						}
					}
					if scenario == "quiet" && o.res.Outside != int64(outsideMiB)<<20 {
						b.Fatalf("quiet scenario touched %d bytes outside the heap, want %d", o.res.Outside, int64(outsideMiB)<<20)
					}
				})
			})
		}
	}
}

// benchEnv returns the load and the window SNUG_BENCH_LOAD and
// SNUG_BENCH_WINDOW ask for.
func benchEnv(short bool) (load float64, win time.Duration, err error) {
	if load, err = loadFraction(); err != nil {
		return 0, 0, err
	}
	if win, err = window(short); err != nil {
		return 0, 0, err
	}
	return load, win, nil
}

// checkRan fails b unless the run served requests and saw the collector
// stop the world: a run without either measured nothing.
func checkRan(b *testing.B, o outcome) {
	b.Helper()
	if !o.hasRes {
		b.Fatalf("no result\n%s", o.stderr)
	}
	r := o.res
	if r.Requests == 0 || r.ReqP50 <= 0 {
		b.Fatalf("no requests measured (rate %.0f/s)", r.Rate)
	}
	if r.Pauses == 0 || r.STWP50 <= 0 {
		b.Fatalf("no GC pauses in the window (%d cycles): the workload did not exercise the collector", r.GCCycles)
	}
	if r.Unfinished > 0 {
		b.Logf("%d of %d requests unfinished 2s after the window (counted at their latency then)", r.Unfinished, r.Requests)
	}
}

// runCase runs spec b.N times, checks each outcome, and reports the median
// of each metric over the runs (with -benchtime=1x, the one run's values).
func runCase(b *testing.B, bin string, spec runSpec, check func(outcome)) {
	var runs []map[string]float64
	for range b.N {
		o := runWorkload(b, bin, spec)
		check(o)
		runs = append(runs, metricsOf(o, spec.cgroup))
		if o.hasRes {
			b.Logf("GOMAXPROCS %d, GOMEMLIMIT %s, %.0f req/s, %d requests (sent late by %v at p50, %v at p99), %d pauses in %d GC cycles; %s",
				o.res.GOMAXPROCS, mib(o.res.GOMEMLIMIT), o.res.Rate, o.res.Requests,
				time.Duration(o.res.SendLateP50), time.Duration(o.res.SendLateP99),
				o.res.Pauses, o.res.GCCycles, o.res.PeerDetail)
		} else {
			b.Logf("OOM-killed in phase %q; cgroup peak %s", o.phase, mib(o.cgroupPeak))
		}
	}
	for _, name := range metricNames {
		var vals []float64
		for _, r := range runs {
			if v, ok := r[name]; ok {
				vals = append(vals, v)
			}
		}
		if len(vals) > 0 {
			b.ReportMetric(median(vals), name)
		}
	}
	// One iteration is one fixed-length run: its wall time says nothing.
	b.ReportMetric(0, "ns/op")
}

// metricNames are the metrics each case reports, in this order.
var metricNames = []string{
	"stw-p50-ns", "stw-p99-ns", "stw-max-ns", "stopping-p99-ns",
	"req-p50-ns", "req-p99-ns", "req-p999-ns",
	"throttled-periods", "throttled-ms", "gc-cpu-pct", "oom-kills", "peak-rss-bytes",
	"gomaxprocs", // at the end of the window
}

// metricsOf turns an outcome into the reported metrics. A run killed before
// it could report has only the cgroup's view: OOM kills, throttling and
// peak memory.
func metricsOf(o outcome, cgroup bool) map[string]float64 {
	m := map[string]float64{}
	if o.hasRes {
		r := o.res
		m["stw-p50-ns"] = float64(r.STWP50)
		m["stw-p99-ns"] = float64(r.STWP99)
		m["stw-max-ns"] = float64(r.STWMax)
		m["stopping-p99-ns"] = float64(r.StoppingP99)
		m["req-p50-ns"] = float64(r.ReqP50)
		m["req-p99-ns"] = float64(r.ReqP99)
		m["req-p999-ns"] = float64(r.ReqP999)
		m["gc-cpu-pct"] = r.GCCPUPercent
		m["peak-rss-bytes"] = float64(r.PeakRSS)
		m["gomaxprocs"] = float64(r.GOMAXPROCS)
	} else if o.cgroupPeak > 0 {
		m["peak-rss-bytes"] = float64(o.cgroupPeak)
	}
	if cgroup {
		m["throttled-periods"] = float64(o.throttledPeriods)
		m["throttled-ms"] = float64(o.throttledTime) / float64(time.Millisecond)
		m["oom-kills"] = float64(o.oomKills)
	}
	return m
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func mib(n int64) string {
	if n <= 0 || n == math.MaxInt64 {
		return "none"
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

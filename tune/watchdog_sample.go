package tune

import (
	"math"
	"runtime/metrics"
	"time"

	"github.com/snug-go/snug/cgroup"
)

// The runtime/metrics the watchdog reads at each sample, by index into
// sampler.samples. Never runtime.ReadMemStats: it stops the world.
const (
	mPausesTotal    = iota // histogram: every GC stop-the-world pause, stopping included
	mPausesStopping        // histogram: the part of each spent stopping goroutines
	mCPUGC                 // cumulative CPU seconds of the GC (mark, assists, pauses)
	mCPUGCIdleMark         // the part of it done on otherwise idle Ps
	mCPUTotal              // GOMAXPROCS × wall time
	mCPUIdle               // P time spent idle
	mCycles                // GC cycles completed; from here to mMemReleased: what readMemory reads
	mHeapLive              // bytes marked live by the last GC
	mHeapGoal              // the heap size at which the next GC ends
	mHeapFree              // free heap pages not yet returned to the OS
	mHeapObjects           // bytes in objects, live or not yet swept
	mMemTotal              // everything the runtime has mapped
	mMemReleased           // mapped but returned to the OS
	mGOMEMLIMIT            // the memory limit in force
	mGOGC                  // GOGC in percent, -1 when off
	mLimiterLast           // the last GC cycle in which the CPU limiter engaged
	mGoroutines            // live goroutines
	mGOMAXPROCS            // current GOMAXPROCS
	numMetrics
)

var metricNames = [numMetrics]string{
	mPausesTotal:    "/sched/pauses/total/gc:seconds",
	mPausesStopping: "/sched/pauses/stopping/gc:seconds",
	mCPUGC:          "/cpu/classes/gc/total:cpu-seconds",
	mCPUGCIdleMark:  "/cpu/classes/gc/mark/idle:cpu-seconds",
	mCPUTotal:       "/cpu/classes/total:cpu-seconds",
	mCPUIdle:        "/cpu/classes/idle:cpu-seconds",
	mCycles:         "/gc/cycles/total:gc-cycles",
	mHeapLive:       "/gc/heap/live:bytes",
	mHeapGoal:       "/gc/heap/goal:bytes",
	mHeapFree:       "/memory/classes/heap/free:bytes",
	mHeapObjects:    "/memory/classes/heap/objects:bytes",
	mMemTotal:       "/memory/classes/total:bytes",
	mMemReleased:    "/memory/classes/heap/released:bytes",
	mGOMEMLIMIT:     "/gc/gomemlimit:bytes",
	mGOGC:           "/gc/gogc:percent",
	mLimiterLast:    "/gc/limiter/last-enabled:gc-cycle",
	mGoroutines:     "/sched/goroutines:goroutines",
	mGOMAXPROCS:     "/sched/gomaxprocs:threads",
}

// runtimeStats are the runtime's numbers at one sample.
type runtimeStats struct {
	// Cumulative CPU seconds, as the runtime estimates them. The runtime
	// updates these only at the end of each GC cycle, so that a delta over
	// a short window is lumpy; sums over many windows are right.
	gcCPU, gcIdleMarkCPU, totalCPU, idleCPU float64

	heapLive, heapGoal, heapFree, heapObjects uint64
	memTotal, memReleased                     uint64
	memLimit                                  int64 // math.MaxInt64: none
	gogc                                      int64 // -1: off
	limiterLast, cycles                       uint64
	goroutines, gomaxprocs                    uint64
}

// held is what the runtime has mapped and not returned to the OS: the
// part of the container's anonymous memory that is Go's.
func (r *runtimeStats) held() int64 {
	return int64(r.memTotal) - int64(r.memReleased)
}

// pauseWindow summarizes the GC pauses between two samples, from the
// runtime's histograms (4 buckets per power of two: a pause is known to
// within 25%).
type pauseWindow struct {
	count    uint64        // GC pauses in the window
	long     uint64        // of which in a bucket at or above the threshold
	max      time.Duration // lower bound of the longest pause's bucket
	maxHi    time.Duration // its upper bound
	stopping time.Duration // lower bound of the longest stopping phase
}

// sample is one look at the runtime and the cgroup.
type sample struct {
	at      time.Time
	rt      runtimeStats
	pauses  pauseWindow
	stats   cgroup.Stats
	statsOK bool // stats was read (possibly in part; see statsErr)
}

// sampler reads the watchdog's inputs without allocating once warm: the
// metrics.Sample slice, the histograms the runtime fills in, and the copies
// of the previous histogram counts are all reused.
type sampler struct {
	group     *cgroup.Group
	threshold float64 // long-pause threshold in seconds; 0: none

	samples      [numMetrics]metrics.Sample
	prevTotal    []uint64
	prevStopping []uint64
	primed       bool // prevTotal and prevStopping hold a previous read

	statsErr error // the error of the last Stats read, nil when it succeeded
}

func newSampler(g *cgroup.Group, longPause time.Duration) *sampler {
	s := &sampler{group: g, threshold: longPause.Seconds()}
	for i := range s.samples {
		s.samples[i].Name = metricNames[i]
	}
	return s
}

// read takes one sample into out: the runtime's metrics (a few
// microseconds) and the cgroup's counters (most of the cost: on cgroup v1
// the kernel generates memory.stat).
func (s *sampler) read(now time.Time, out *sample) {
	s.readRuntime(&out.rt, &out.pauses)
	out.at = now
	if s.group != nil {
		out.stats, s.statsErr = s.group.Stats()
		out.statsOK = true
	}
}

// readMemory takes the part of a sample the FreeOSMemory decision needs,
// between two samples near the limit: the runtime's heap and GC cycle
// count, and the cgroup's counters. It leaves the pause histograms to
// readRuntime, whose deltas must span the whole interval.
func (s *sampler) readMemory(now time.Time, out *sample) {
	metrics.Read(s.samples[mCycles : mMemReleased+1])
	out.rt = runtimeStats{cycles: s.uint(mCycles), heapLive: s.uint(mHeapLive), heapGoal: s.uint(mHeapGoal),
		heapFree: s.uint(mHeapFree), heapObjects: s.uint(mHeapObjects),
		memTotal: s.uint(mMemTotal), memReleased: s.uint(mMemReleased)}
	out.pauses = pauseWindow{}
	out.at = now
	if s.group != nil {
		out.stats, s.statsErr = s.group.Stats()
		out.statsOK = true
	}
}

// readRuntime reads the runtime's metrics into rt and the pause histograms'
// deltas since the previous call into p (zero on the first call).
func (s *sampler) readRuntime(rt *runtimeStats, p *pauseWindow) {
	metrics.Read(s.samples[:])
	rt.gcCPU = s.float(mCPUGC)
	rt.gcIdleMarkCPU = s.float(mCPUGCIdleMark)
	rt.totalCPU = s.float(mCPUTotal)
	rt.idleCPU = s.float(mCPUIdle)
	rt.heapLive = s.uint(mHeapLive)
	rt.heapGoal = s.uint(mHeapGoal)
	rt.heapFree = s.uint(mHeapFree)
	rt.heapObjects = s.uint(mHeapObjects)
	rt.memTotal = s.uint(mMemTotal)
	rt.memReleased = s.uint(mMemReleased)
	rt.memLimit = math.MaxInt64
	if v := s.uint(mGOMEMLIMIT); v > 0 && v < math.MaxInt64 {
		rt.memLimit = int64(v)
	}
	rt.gogc = -1
	if v := s.uint(mGOGC); v > 0 && v < math.MaxInt32 {
		rt.gogc = int64(v)
	}
	rt.limiterLast = s.uint(mLimiterLast)
	rt.cycles = s.uint(mCycles)
	rt.goroutines = s.uint(mGoroutines)
	rt.gomaxprocs = s.uint(mGOMAXPROCS)

	*p = pauseWindow{}
	total, stopping := s.hist(mPausesTotal), s.hist(mPausesStopping)
	if total == nil || stopping == nil {
		return
	}
	if s.primed && len(s.prevTotal) == len(total.Counts) && len(s.prevStopping) == len(stopping.Counts) {
		var lo, hi float64
		p.count, p.long, lo, hi = histDelta(total, s.prevTotal, s.threshold)
		p.max, p.maxHi = seconds(lo), seconds(hi)
		_, _, lo, _ = histDelta(stopping, s.prevStopping, 0)
		p.stopping = seconds(lo)
	}
	s.prevTotal = append(s.prevTotal[:0], total.Counts...)
	s.prevStopping = append(s.prevStopping[:0], stopping.Counts...)
	s.primed = true
}

// readHeld reads only what the runtime holds, after a FreeOSMemory call.
func (s *sampler) readHeld() int64 {
	metrics.Read(s.samples[mMemTotal : mMemReleased+1])
	return int64(s.uint(mMemTotal)) - int64(s.uint(mMemReleased))
}

func (s *sampler) float(i int) float64 {
	if s.samples[i].Value.Kind() != metrics.KindFloat64 {
		return 0
	}
	return s.samples[i].Value.Float64()
}

func (s *sampler) uint(i int) uint64 {
	if s.samples[i].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s.samples[i].Value.Uint64()
}

func (s *sampler) hist(i int) *metrics.Float64Histogram {
	if s.samples[i].Value.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	return s.samples[i].Value.Float64Histogram()
}

// histDelta compares a cumulative histogram with an earlier copy of its
// counts: how many samples arrived since, how many of them in buckets whose
// lower bound is at or above threshold (none when threshold is 0), and the
// bounds of the highest bucket that received one.
func histDelta(h *metrics.Float64Histogram, prev []uint64, threshold float64) (count, over uint64, lo, hi float64) {
	for i, c := range h.Counts {
		d := c - prev[i]
		if d == 0 {
			continue
		}
		count += d
		lo, hi = h.Buckets[i], h.Buckets[i+1]
		if threshold > 0 && lo >= threshold {
			over += d
		}
	}
	if math.IsInf(lo, -1) {
		lo = 0
	}
	if math.IsInf(hi, 1) {
		hi = lo
	}
	return count, over, lo, hi
}

func seconds(s float64) time.Duration {
	if !(s > 0) {
		return 0
	}
	return time.Duration(s * float64(time.Second))
}

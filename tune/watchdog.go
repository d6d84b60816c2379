package tune

import (
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"time"

	"github.com/snug-go/snug/cgroup"
)

// The GC watchdog lives in the Tuner's goroutine: at each interval, before
// the Tuner re-decides its knobs, it samples the runtime (runtime/metrics)
// and the cgroup (cgroup.Stats); the Tuner's GOMEMLIMIT decision then asks
// it how much memory the container uses outside Go (lowerMemoryLimit);
// then it decides: FreeOSMemory near the limit, long pauses, death spiral,
// and delivers its events. While the memory usage is near the FreeOSMemory
// threshold, the Tuner also wakes every nearCheckEvery between samples for
// the watchdog's check, which reads one file until the usage reaches the
// threshold. One goroutine, one timer, no allocation while nothing
// happens.

// Bounds of the memory-outside-Go adjustment.
const (
	// outsideFloorShare: GOMEMLIMIT is never lowered below this share of
	// the limit the cgroup alone calls for (nor below MinMemoryLimit).
	// Past it, the container is mostly not a Go program's, and a smaller
	// Go heap would only make the GC run without end.
	outsideFloorShare = 0.25
	// outsideMinStep is the least step, in bytes, by which the deduction
	// moves; the step is also at least 1/64 of the memory limit. The
	// deduction is the memory outside Go rounded down to a step, and moves
	// only when the measure leaves its step by a whole step, so that
	// GOMEMLIMIT does not change, nor log, at each small wobble.
	outsideMinStep = 4 << 20
)

// Bounds of the FreeOSMemory part.
const (
	// freeMinGain is the least memory, in bytes, that FreeOSMemory must be
	// expected to return to be worth its full GC; it is also at least 1/32
	// of the memory limit. A call that frees less than half of it counts
	// as one that could not help.
	freeMinGain = 8 << 20

	// nearCheckEvery is how often the watchdog looks at the memory usage
	// between samples while the usage is within nearBand of the limit
	// below the FreeOSMemory threshold. Memory can grow by a hundred MiB
	// in a second (a burst of requests, a C library filling a cache): at
	// one sample a second the watchdog saw the threshold crossed only after
	// the OOM kill (the quiet scenario of package bench, run over 3 s).
	// Each look is one small file read (cgroup.Group.MemoryLimitCurrent);
	// only a usage at the threshold costs a full read and the decision.
	nearCheckEvery = 50 * time.Millisecond
	// nearBand: the usage is near from this share of the limit below the
	// threshold (from 67% of the limit at the default 92%).
	nearBand = 0.25
)

// Bounds of the death-spiral detector.
const (
	// spiralLiveShare: the heap is at its limit when the live heap is at
	// least this share of GOMEMLIMIT (or the GC CPU limiter engaged).
	spiralLiveShare = 0.8
	// spiralExitShare: a spiral ends when the GC's share over the window
	// falls under this fraction of the threshold, or the heap leaves its
	// limit.
	spiralExitShare = 0.8
	// spiralMinBusy: a window in which the program used less than this
	// share of one CPU (all classes but idle) is not a spiral: an idle
	// program's rare GCs are a large share of almost nothing.
	spiralMinBusy = 0.05
	// spiralMaxPoints bounds the death-spiral ring. A point per sample
	// would take window/interval points: some 700 MB for a 24 h window at
	// a 10 ms interval, a fatal out-of-memory for a longer window given in
	// code. Past it, consecutive samples share a point.
	spiralMaxPoints = 1024
)

// WatchdogStatus is the GC watchdog's part of a Status.
type WatchdogStatus struct {
	// Running is true while the watchdog samples at each interval. It
	// is false when it is off (WithoutWatchdog, SNUG_WATCHDOG=off,
	// SNUG=off), without a cgroup, and after Stop.
	Running bool
	// Samples counts the samples taken since Start, and NearChecks the
	// looks at the memory usage in between, every 50 ms while the working
	// set is near the FreeOSMemory threshold (within 25% of the limit
	// below it).
	Samples    uint64
	NearChecks uint64

	// From the last sample: the working set held against the effective
	// memory limit (that of the cgroup the limit is set on: under a
	// pod-level or other ancestor's limit, the siblings' included) and
	// that limit (0: none), the memory the Go runtime holds (mapped and
	// not returned to the OS), and the container's unreclaimable memory
	// outside the Go runtime (anonymous memory, shared memory and kernel
	// memory, less what Go holds).
	WorkingSet  int64
	MemoryLimit int64
	GoHeld      int64
	OutsideGo   int64
	// OutsideDeducted is how much GOMEMLIMIT is lowered by, for OutsideGo:
	// less than OutsideGo at the floor, and 0 while GOMEMLIMIT is not the
	// Tuner's.
	OutsideDeducted int64

	// GCCPU is the GC's share of the CPU the program used (idle time and
	// GC work on idle Ps left out), over the death-spiral window or since
	// Start if shorter.
	GCCPU float64
	// LastPause is the longest GC pause of the last sample's window (the
	// lower bound of its histogram bucket), and LongPauses the count of
	// pauses at or over the threshold since Start.
	LastPause  time.Duration
	LongPauses uint64

	// FreeOSMemory calls since Start, the bytes they returned and the time
	// they took in all.
	FreeOSMemoryCalls uint64
	FreedBytes        int64
	FreeOSMemoryTime  time.Duration

	// Spiraling and SpiralReason are what DeathSpiral returns.
	Spiraling    bool
	SpiralReason string

	// Events counts the events delivered since Start by kind, and
	// Suppressed those dropped because one of the same kind came shortly
	// before. Both are copies.
	Events     map[EventKind]uint64
	Suppressed map[EventKind]uint64

	// Snapshots counts the snapshot files written; LastSnapshot is the
	// path of the last one.
	Snapshots    uint64
	LastSnapshot string

	// Err is the error of the last cgroup counters read, nil when it
	// succeeded; while it fails, the parts that need them wait.
	Err error
}

// DeathSpiral reports whether the GC watchdog sees a GC death spiral: the
// GC has taken at least the spiral share of the CPU (DefaultSpiralShare)
// for the whole spiral window (DefaultSpiralWindow) with the live heap at
// its limit. The reason says so in one line, with the numbers, for a
// probe's output; it is "" when there is no spiral.
//
// It implements the SpiralDetector of package
// github.com/snug-go/snug/probe, whose GCDeathSpiral check fails liveness
// while it reports true, so that Kubernetes restarts a process that only
// collects garbage instead of letting it thrash for hours:
//
//	h.Add(probe.GCDeathSpiral(tuner))
//
// It is cheap (a read under a lock). A nil or stopped Tuner, or one
// without a watchdog, reports false.
func (t *Tuner) DeathSpiral() (spiraling bool, reason string) {
	if t == nil {
		return false, ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status.Watchdog.Spiraling, t.status.Watchdog.SpiralReason
}

// watchdog is a Tuner's GC watchdog. Only the Tuner's goroutine (or Start
// and Stop, when that goroutine is not running) calls its methods.
type watchdog struct {
	cfg      watchdogConfig
	interval time.Duration
	sampler  *sampler
	snaps    *snapshotter
	v2Memory bool // memory.stat's anon excludes shmem (v2); on v1 it includes it

	cur, prev sample
	sampled   bool      // cur holds a sample
	lastGC    time.Time // when the GC cycle count last moved
	longTotal uint64

	// Memory outside Go.
	outside, deducted int64
	atFloor           bool
	why               string // the Decision's words for deducted, kept to not rebuild them

	// Near the limit: the last look found the working set within nearBand
	// of the threshold, and the Tuner looks every nearCheckEvery in between
	// samples (check), whose full reads go to quick, not to cur and prev:
	// the pause and spiral parts compare those over whole intervals.
	// cache is the usage less the working set at the last full read, the
	// inactive page cache the kernel drops first: a check's one read
	// shows the usage alone, and takes that off. cacheOf is the limit's
	// cgroup at that read: an evaluation without a sample can move the
	// limit to another one, whose usage another cgroup's cache must not
	// be taken off.
	near       bool
	cache      int64
	cacheOf    string
	quick      sample
	nearChecks uint64
	seenCycles uint64 // the GC cycle count at the last look, for lastGC

	// FreeOSMemory.
	freeCalls   []time.Time // the last calls, oldest first, at most cfg.freeMaxCalls
	ineffective bool        // the last call freed little; wait for the runtime to hold more
	ineffHeld   int64       // what the runtime held after that call
	freeN       uint64
	freed       int64
	freeTook    time.Duration

	// Death spiral.
	ring         []spiralPoint
	head, n      int
	spiralStep   time.Duration // the least span of a point when samples share them (0: they do not)
	spiraling    bool
	spiralSince  time.Time
	spiralReason string
	gcShare      float64

	gate       eventGate
	gateDirty  bool
	pending    []Event
	snapN      uint64
	lastSnap   string
	lastErr    string
	lastOOMs   uint64
	primedOOMs bool
}

// spiralPoint is one sample's window for the death-spiral detector.
type spiralPoint struct {
	from, at time.Time
	gc, used float64 // CPU seconds
	near     bool    // the heap was at its limit
	limiter  bool    // the GC CPU limiter engaged
}

func newWatchdog(c watchdogConfig, g *cgroup.Group, interval time.Duration) *watchdog {
	w := &watchdog{cfg: c, interval: interval, sampler: newSampler(g, c.longPause),
		snaps: newSnapshotter(c, interval), gate: newEventGate(c.eventCooldown)}
	if g != nil {
		w.v2Memory = g.Mode() == cgroup.ModeV2
	}
	if c.spiralShare > 0 {
		// Samples are at least 0.9 interval apart (see sample): this many
		// cover the window, with two to spare.
		n := math.Ceil(c.spiralWindow.Seconds()/(0.9*interval.Seconds())) + 2
		if n > spiralMaxPoints {
			// Points of at least spiralStep each: the newest (partial)
			// one and spiralMaxPoints-3 full ones cover the window, with
			// one to spare.
			n = spiralMaxPoints
			w.spiralStep = c.spiralWindow / (spiralMaxPoints - 3)
		}
		w.ring = make([]spiralPoint, int(n))
	}
	w.freeCalls = make([]time.Time, 0, max(c.freeMaxCalls, 1))
	w.pending = make([]Event, 0, 8)
	return w
}

// sample takes a sample unless the last one is less than 0.9 interval old
// (the Tuner evaluates sooner when it confirms a GOMAXPROCS change), and
// reports whether it did.
func (w *watchdog) sample(now time.Time) (ok bool) {
	if w == nil {
		return false
	}
	defer func() {
		// A bug here must not take the program down; watchdogStep logs
		// its own.
		if recover() != nil {
			ok = false
		}
	}()
	if w.sampled && now.Sub(w.cur.at) < w.interval*9/10 {
		return false
	}
	w.prev = w.cur
	w.sampler.read(now, &w.cur)
	w.sawCycles(now, w.cur.rt.cycles)
	w.sampled = true
	return true
}

// sawCycles records when the GC cycle count was last seen to move.
func (w *watchdog) sawCycles(now time.Time, cycles uint64) {
	if !w.sampled || cycles != w.seenCycles {
		w.lastGC, w.seenCycles = now, cycles
	}
}

// checkingNear reports whether the Tuner should wake for a check within
// nearCheckEvery rather than wait for the next sample.
func (w *watchdog) checkingNear() bool { return w != nil && w.near }

// nearFrom tells whether a working set is near enough to the FreeOSMemory
// threshold to check between samples. Without FreeOSMemory there is nothing
// to do in time; at an interval as short as the checks' the samples are the
// checks.
func (w *watchdog) nearFrom(ws, limit int64) bool {
	if w.cfg.freeAt <= 0 || limit <= 0 || w.interval <= nearCheckEvery {
		return false
	}
	return float64(ws) >= (w.cfg.freeAt-nearBand)*float64(limit)
}

// check is a look between samples near the limit: one read of the usage,
// and when that, less the inactive page cache of the last full read, has
// reached the threshold (or does not concern the limit's cgroup) a full
// read into quick and the FreeOSMemory decision on it.
//
// Not the usage alone: the kernel fills a cgroup with page cache up to its
// limit (a service that writes logs to its filesystem, reads a file once),
// and a usage near the limit for that reason would have the Tuner wake
// and read everything 20 times a second for as long as the cache stays.
// The price: cache the kernel drops to make room for memory that grows
// fast goes unseen until the next sample, which measures it.
func (w *watchdog) check(now time.Time, l cgroup.Limits) {
	w.nearChecks++
	limit, src := l.MemoryLimit()
	if w.sampler.group == nil || limit <= 0 {
		w.near = false
		return
	}
	if usage, cg, err := w.sampler.group.MemoryLimitCurrent(); err == nil && cg == src.Cgroup {
		cache := w.cache
		if w.cacheOf != src.Cgroup {
			cache = 0 // the usage alone, never less than the working set
		}
		ws := max(usage-cache, 0)
		w.near = w.nearFrom(ws, limit)
		if float64(ws) < w.cfg.freeAt*float64(limit) {
			return
		}
	}
	w.sampler.readMemory(now, &w.quick)
	w.sawCycles(now, w.quick.rt.cycles)
	w.decideFree(now, &w.quick, l)
}

// stop stops what runs beside the Tuner's goroutine (the flight recorder).
func (w *watchdog) stop() {
	if w != nil {
		w.snaps.stop()
	}
}

// watchdogStep runs the watchdog's decisions on the sample just taken,
// publishes its state and delivers its events.
func (t *Tuner) watchdogStep(now time.Time) {
	w := t.watch
	defer func() {
		// A bug here must not take the program down.
		if r := recover(); r != nil {
			if log := t.logger(); log != nil {
				log.Error("snug: watchdog step panicked", "panic", fmt.Sprint(r))
			}
		}
	}()
	t.mu.Lock()
	l, limitsErr := t.status.Limits, t.status.Err
	t.mu.Unlock()
	w.decide(now, l, limitsErr == nil)

	if err := w.sampler.statsErr; err != nil {
		if msg := err.Error(); msg != w.lastErr {
			w.lastErr = msg
			if log := t.logger(); log != nil {
				log.Warn("snug: watchdog cannot read the cgroup's counters; the parts that need them wait", "error", msg)
			}
		}
	} else {
		w.lastErr = ""
	}

	t.mu.Lock()
	w.publish(&t.status.Watchdog, l, t.mem.loweredBy)
	t.mu.Unlock()
	if len(w.pending) > 0 {
		t.deliver(w.pending)
		clear(w.pending)
		w.pending = w.pending[:0]
	}
}

// nearCheck runs the watchdog's check between samples near the memory
// limit, with the limits of the last evaluation, and delivers its events.
func (t *Tuner) nearCheck(now time.Time) {
	w := t.watch
	defer func() {
		// A bug here must not take the program down.
		if r := recover(); r != nil {
			w.near = false
			if log := t.logger(); log != nil {
				log.Error("snug: watchdog check panicked", "panic", fmt.Sprint(r))
			}
		}
	}()
	t.mu.Lock()
	l, limitsErr := t.status.Limits, t.status.Err
	t.mu.Unlock()
	if limitsErr != nil {
		w.near = false // the next evaluation will tell
		return
	}
	w.check(now, l)
	t.mu.Lock()
	w.publishChecks(&t.status.Watchdog)
	t.mu.Unlock()
	if len(w.pending) > 0 {
		t.deliver(w.pending)
		clear(w.pending)
		w.pending = w.pending[:0]
	}
}

// publish copies the watchdog's state into s, with what GOMEMLIMIT is
// lowered by in force (lowered); the caller holds the Tuner's lock.
func (w *watchdog) publish(s *WatchdogStatus, l cgroup.Limits, lowered int64) {
	s.Running = true
	s.Samples++
	s.WorkingSet, s.MemoryLimit = limitWorkingSet(w.cur.stats, l), 0
	if lim, _ := l.MemoryLimit(); lim > 0 {
		s.MemoryLimit = lim
	}
	s.GoHeld = w.cur.rt.held()
	// The deduction itself is not what is in force: the floor caps it,
	// and it is not applied while GOMEMLIMIT is not the Tuner's.
	s.OutsideGo, s.OutsideDeducted = w.outside, lowered
	s.GCCPU = w.gcShare
	s.LastPause, s.LongPauses = w.cur.pauses.max, w.longTotal
	s.Spiraling, s.SpiralReason = w.spiraling, w.spiralReason
	w.publishChecks(s)
}

// publishChecks copies what a check near the limit can change: the
// FreeOSMemory counters, the events and snapshots, the last read's error.
func (w *watchdog) publishChecks(s *WatchdogStatus) {
	s.NearChecks = w.nearChecks
	s.FreeOSMemoryCalls, s.FreedBytes, s.FreeOSMemoryTime = w.freeN, w.freed, w.freeTook
	s.Snapshots, s.LastSnapshot = w.snapN, w.lastSnap
	s.Err = w.sampler.statsErr
	if w.gateDirty || s.Events == nil {
		s.Events, s.Suppressed = cloneCounts(w.gate.delivered), cloneCounts(w.gate.suppressed)
		w.gateDirty = false
	}
}

// emit queues an event if its kind's cooldown allows.
func (w *watchdog) emit(e Event) bool {
	w.gateDirty = true
	if !w.gate.allow(e.Kind, e.Time) {
		return false
	}
	w.pending = append(w.pending, e)
	return true
}

// snapshot writes the snapshots of the given kinds and returns the fields
// naming them.
func (w *watchdog) snapshot(now time.Time, kinds ...Snapshot) []slog.Attr {
	var attrs []slog.Attr
	for _, k := range kinds {
		path, err := w.snaps.take(k, now)
		switch {
		case path != "":
			w.snapN++
			w.lastSnap = path
			attrs = append(attrs, slog.String("snapshot", path))
		case err != nil:
			attrs = append(attrs, slog.String("snapshot_skipped", err.Error()))
		}
	}
	return attrs
}

// decide runs each part on the current sample.
func (w *watchdog) decide(now time.Time, l cgroup.Limits, limitsOK bool) {
	s := &w.cur
	// A process in the container was OOM-killed (not this one).
	if s.statsOK && w.sampler.statsErr == nil {
		ooms := s.stats.MemoryEvents.OOMKill
		if w.primedOOMs && ooms > w.lastOOMs {
			lim, _ := l.MemoryLimit()
			ws := limitWorkingSet(s.stats, l)
			w.emit(Event{Kind: EventOOMKill, Time: now,
				Message: fmt.Sprintf("the kernel OOM-killed %d process(es) in this container (working set %s of %s)",
					ooms-w.lastOOMs, formatBytes(ws), formatBytes(lim)),
				Fields: []slog.Attr{slog.Uint64("oom_kills", ooms-w.lastOOMs),
					slog.Int64("working_set", ws), slog.Int64("limit", lim)}})
		}
		w.lastOOMs, w.primedOOMs = ooms, true
	}
	// The memory outside Go, for Status, at every sample: lowerMemoryLimit
	// measures it only while GOMEMLIMIT is the Tuner's to lower.
	if s.statsOK && w.sampler.statsErr == nil && s.stats.MemoryCurrent > 0 && s.stats.Anon > 0 {
		w.outside, _, _, _ = w.outsideGo(s)
	}
	if limitsOK {
		w.decideFree(now, s, l)
	} else {
		w.near = false
	}
	w.decidePause(now, l)
	w.decideSpiral(now)
}

// lowerMemoryLimit is the memoryLowerer the Tuner's GOMEMLIMIT decision
// calls: the limit the cgroup calls for (target), less the unreclaimable
// memory the container uses outside the Go runtime.
//
// Outside Go is anonymous memory (on cgroup v2 plus shared memory, which
// v2 counts as file pages but which cannot be dropped; on v1 the anon LRU
// lists hold it already) and kernel memory, all of which the kernel charges
// to the cgroup and cannot reclaim without swap, less what the Go runtime
// holds (/memory/classes/total less what it released). Go's held memory
// includes pages mapped but never touched, so the measure errs low: it
// never shrinks the heap for memory that is not there. Page cache, active
// or not, and on v2 reclaimable slab (dentry and inode caches; v1 has no
// such split) are left out: the kernel reclaims them under pressure, and a
// service that reads files must not see its heap shrink for them. Only the
// process's own cgroup is measured: under an ancestor's limit the siblings'
// memory is other programs', and comes and goes with them.
func (w *watchdog) lowerMemoryLimit(target int64, l cgroup.Limits) (int64, string) {
	if w == nil || !w.cfg.outside || !w.sampled {
		return target, ""
	}
	s := &w.cur
	limit, _ := l.MemoryLimit()
	if s.statsOK && w.sampler.statsErr == nil && s.stats.MemoryCurrent > 0 && s.stats.Anon > 0 && limit > 0 {
		// A failed read keeps the previous deduction: a file that cannot
		// be read now is not memory that went away. (No anonymous memory at
		// all, not even this process's heap, is such a read.)
		outside, anon, shmem, kernel := w.outsideGo(s)
		w.outside = outside
		step := max(int64(outsideMinStep), limit/64)
		deducted := w.deducted
		switch q := outside / step * step; {
		case q > deducted: // more outside: lower at once
			deducted = q
		case outside < deducted-step: // clearly less: raise back
			deducted = q
		}
		floor := max(MinMemoryLimit, int64(float64(target)*outsideFloorShare))
		atFloor := target-deducted < floor
		if deducted != w.deducted || atFloor != w.atFloor {
			w.deducted, w.atFloor = deducted, atFloor
			w.why = ""
			if deducted > 0 {
				w.why = formatBytes(deducted) + " used outside the Go runtime"
				if atFloor {
					w.why += fmt.Sprintf(" (stopped at the floor, %s of %s)", percent(outsideFloorShare), formatBytes(target))
				}
			}
			fields := []slog.Attr{slog.Int64("outside_go", outside), slog.Int64("deducted", deducted),
				slog.Int64("anon", anon), slog.Int64("shmem", shmem), slog.Int64("kernel", kernel),
				slog.Int64("go_held", s.rt.held())}
			if atFloor {
				fields = append(fields, slog.Int64("floor", floor))
			}
			msg := "GOMEMLIMIT no longer lowered: memory outside the Go runtime is down to " + formatBytes(outside)
			if deducted > 0 {
				msg = "GOMEMLIMIT lowered by " + w.why
			}
			w.emit(Event{Kind: EventMemoryOutsideGo, Time: s.at, Message: msg, Fields: fields})
		}
	}
	if w.deducted == 0 {
		return target, ""
	}
	floor := max(MinMemoryLimit, int64(float64(target)*outsideFloorShare))
	return max(target-w.deducted, floor), w.why
}

// outsideGo measures the container's unreclaimable memory outside the Go
// runtime (see lowerMemoryLimit), and its parts.
func (w *watchdog) outsideGo(s *sample) (outside, anon, shmem, kernel int64) {
	// Reclaimable slab (dentry and inode caches, which a service that
	// walks many files grows large) goes under pressure like page cache.
	anon, shmem, kernel = s.stats.Anon, s.stats.Shmem, max(s.stats.Kernel-s.stats.SlabReclaimable, 0)
	total := anon + kernel
	if w.v2Memory {
		total += shmem
	}
	return max(total-s.rt.held(), 0), anon, shmem, kernel
}

// decideFree calls debug.FreeOSMemory when the working set in sample s is
// over the threshold and the runtime holds memory it can give back, within
// the rate limits; when it cannot help, it reports EventNearLimit instead.
// It also decides whether the Tuner checks between samples (near).
func (w *watchdog) decideFree(now time.Time, s *sample, l cgroup.Limits) {
	checking := w.near
	w.near = false
	limit, src := l.MemoryLimit()
	if limit <= 0 || !s.statsOK || w.sampler.statsErr != nil {
		return
	}
	// The usage and working set held against the limit (see
	// limitWorkingSet). No usage at all is a read that found no file. (The
	// process's own cgroup may have none while the limit's has one: a leaf
	// whose parent did not enable the memory controller, charged to that
	// parent.)
	current, ws, _ := s.stats.UsageAgainst(src)
	if current == 0 {
		return
	}
	at := w.cfg.freeAt
	if at == 0 {
		at = DefaultFreeOSMemoryAt // still report, never call
	}
	w.cache, w.cacheOf = max(current-ws, 0), src.Cgroup
	w.near = w.nearFrom(ws, limit)
	threshold := int64(at * float64(limit))
	minGain := max(int64(freeMinGain), limit/32)
	if ws < threshold {
		if ws < threshold-minGain {
			w.ineffective = false // well below again: the next time is new
		}
		return
	}

	held := s.rt.held()
	// What a GC and a scavenge could return: free pages not yet released,
	// and the objects the last GC did not find live (garbage, or allocated
	// since). When no GC has run in the last two looks (samples, or checks
	// near the limit), the last GC's live count is stale (the program may
	// have dropped everything since), and only a GC can tell: count every
	// object.
	reclaimable := int64(s.rt.heapFree) + max(int64(s.rt.heapObjects)-int64(s.rt.heapLive), 0)
	span := w.interval
	if checking {
		span = nearCheckEvery
	}
	if now.Sub(w.lastGC) >= 2*span {
		reclaimable = int64(s.rt.heapFree) + int64(s.rt.heapObjects)
	}
	canHelp := reclaimable >= minGain && !(w.ineffective && held < w.ineffHeld+minGain)
	if !canHelp || w.cfg.freeAt == 0 {
		outside, _, _, _ := w.outsideGo(s)
		pageCache := max(s.stats.File-s.stats.InactiveFile, 0)
		why := "the Go runtime holds little it could give back"
		if w.ineffective {
			why = "FreeOSMemory freed little the last time"
		}
		if w.cfg.freeAt == 0 {
			why = "FreeOSMemory is off"
		}
		if w.gate.wouldAllow(EventNearLimit, now) {
			msg := fmt.Sprintf("near the memory limit: working set %s is %s of %s; %s: Go holds %s, outside Go %s, active page cache %s",
				formatBytes(ws), percent(float64(ws)/float64(limit)), formatBytes(limit), why,
				formatBytes(held), formatBytes(outside), formatBytes(pageCache))
			fields := []slog.Attr{slog.Int64("working_set", ws), slog.Int64("limit", limit),
				slog.Int64("go_held", held), slog.Int64("reclaimable", reclaimable),
				slog.Int64("outside_go", outside), slog.Int64("page_cache", pageCache)}
			if p := s.stats.MemoryPressure; p.Valid {
				fields = append(fields, slog.Float64("memory_pressure", p.Some.Avg10/100))
			}
			fields = append(fields, w.snapshot(now, SnapshotHeap)...)
			w.emit(Event{Kind: EventNearLimit, Time: now, Message: msg, Fields: fields})
		} else {
			w.emit(Event{Kind: EventNearLimit, Time: now}) // counted as suppressed
		}
		return
	}

	// Rate limits: a cooldown, and a most per window.
	n := 0
	for _, c := range w.freeCalls {
		if now.Sub(c) < w.cfg.freeWindow {
			n++
		}
	}
	if n >= w.cfg.freeMaxCalls {
		return
	}
	if k := len(w.freeCalls); k > 0 && now.Sub(w.freeCalls[k-1]) < w.cfg.freeCooldown {
		return
	}

	t0 := time.Now()
	debug.FreeOSMemory()
	took := time.Since(t0)
	after := w.sampler.readHeld()
	freed := max(held-after, 0)
	wsAfter := ws
	if st, err := w.sampler.group.Stats(); err == nil {
		wsAfter = limitWorkingSet(st, l)
	}
	if len(w.freeCalls) == cap(w.freeCalls) {
		copy(w.freeCalls, w.freeCalls[1:])
		w.freeCalls = w.freeCalls[:len(w.freeCalls)-1]
	}
	w.freeCalls = append(w.freeCalls, now)
	w.freeN++
	w.freed += freed
	w.freeTook += took
	w.ineffective = freed < minGain/2
	w.ineffHeld = after
	w.emit(Event{Kind: EventFreeOSMemory, Time: now,
		Message: fmt.Sprintf("working set %s was %s of the %s limit: debug.FreeOSMemory returned %s in %v (working set now %s)",
			formatBytes(ws), percent(float64(ws)/float64(limit)), formatBytes(limit), formatBytes(freed),
			took.Round(10*time.Microsecond), formatBytes(wsAfter)),
		Fields: []slog.Attr{slog.Int64("freed", freed), slog.Duration("took", took),
			slog.Int64("working_set_before", ws), slog.Int64("working_set_after", wsAfter),
			slog.Int64("limit", limit)}})
}

// limitWorkingSet is the working set the kernel holds against the memory
// limit: that of the cgroup the limit is set on, which under a pod-level or
// other ancestor's limit counts the siblings' memory too, so that freeing
// this process's memory is what keeps the pod from the OOM killer. Where
// that is not known (a v1 ancestor the mount hides), or the sample is from
// before a resize moved the limit to another level (the Tuner samples
// before it re-reads the limits), it is the process's own cgroup's (see
// cgroup.Stats.UsageAgainst).
func limitWorkingSet(s cgroup.Stats, l cgroup.Limits) int64 {
	_, src := l.MemoryLimit()
	_, ws, _ := s.UsageAgainst(src)
	return ws
}

// decidePause reports the long pauses of the window, with a likely cause.
func (w *watchdog) decidePause(now time.Time, l cgroup.Limits) {
	p := &w.cur.pauses
	if w.cfg.longPause <= 0 || p.long == 0 {
		return
	}
	w.longTotal += p.long
	if !w.gate.wouldAllow(EventLongPause, now) {
		w.emit(Event{Kind: EventLongPause, Time: now})
		return
	}
	s, prev := &w.cur, &w.prev
	var throttled, periods uint64
	// Only two reads of the same cgroup's counters compare: a read without
	// them (cpu.stat missing or unreadable) has zeros, and the counters
	// move to another cgroup when the tightest quota does (see
	// cgroup.Stats); either would pass a whole history for this window.
	if s.statsOK && prev.statsOK && s.stats.HasCFS && prev.stats.HasCFS && s.stats.CFSCgroup == prev.stats.CFSCgroup {
		throttled = s.stats.ThrottledPeriods - min(prev.stats.ThrottledPeriods, s.stats.ThrottledPeriods)
		periods = s.stats.Periods - min(prev.stats.Periods, s.stats.Periods)
	}
	cause := pauseCause(p, int(s.rt.gomaxprocs), l.CPU, throttled, periods, s.stats.CPUPressure, s.rt.heapLive, s.rt.goroutines)
	msg := fmt.Sprintf("GC pause of %v or more: %s", p.max.Round(time.Microsecond), cause)
	if p.long > 1 {
		msg = fmt.Sprintf("%d GC pauses of %v or more, the longest up to %v: %s", p.long,
			w.cfg.longPause, p.maxHi.Round(time.Microsecond), cause)
	}
	fields := []slog.Attr{slog.Duration("pause", p.max), slog.Duration("pause_max", p.maxHi),
		slog.Duration("stopping", p.stopping), slog.Uint64("long_pauses", p.long),
		slog.Uint64("gomaxprocs", s.rt.gomaxprocs), slog.Float64("cpu_quota", l.CPU),
		slog.Uint64("throttled_periods", throttled), slog.Uint64("periods", periods),
		slog.Uint64("heap_live", s.rt.heapLive), slog.Uint64("goroutines", s.rt.goroutines),
		slog.String("cause", cause)}
	fields = append(fields, w.snapshot(now, SnapshotTrace)...)
	w.emit(Event{Kind: EventLongPause, Time: now, Message: msg, Fields: fields})
}

// pauseCause says in one line what most likely made a GC pause long.
func pauseCause(p *pauseWindow, gomaxprocs int, quota float64, throttled, periods uint64,
	cpuPressure cgroup.Pressure, heapLive, goroutines uint64) string {
	q := strconvFloat(quota)
	switch {
	case throttled > 0 && quota > 0 && float64(gomaxprocs) > quota:
		return fmt.Sprintf("pause overlapped CPU throttling: GOMAXPROCS %d > quota %s (%d of %d periods throttled)",
			gomaxprocs, q, throttled, periods)
	case throttled > 0:
		return fmt.Sprintf("pause overlapped CPU throttling: the %s-CPU quota ran out in %d of %d periods",
			q, throttled, periods)
	case p.stopping > 0 && p.stopping*2 >= p.max:
		why := "a thread was descheduled (CPU contention on the node) or a goroutine was slow to reach a preemption point"
		if cpuPressure.Valid && cpuPressure.Some.Avg10 >= 10 {
			why = fmt.Sprintf("the CPU was contended (cpu.pressure some %.0f%%)", cpuPressure.Some.Avg10)
		}
		return fmt.Sprintf("most of it (%v or more) was spent stopping goroutines: %s", p.stopping.Round(time.Microsecond), why)
	case cpuPressure.Valid && cpuPressure.Some.Avg10 >= 10:
		return fmt.Sprintf("the CPU was contended (cpu.pressure some %.0f%%)", cpuPressure.Some.Avg10)
	}
	return fmt.Sprintf("no throttling or contention seen: stop-the-world work with a %s live heap and %d goroutines",
		formatBytes(int64(heapLive)), goroutines)
}

func strconvFloat(f float64) string {
	return fmt.Sprint(math.Round(f*100) / 100)
}

// decideSpiral adds the sample's window to the ring and decides whether
// the GC is in a death spiral.
func (w *watchdog) decideSpiral(now time.Time) {
	if len(w.ring) == 0 || w.prev.at.IsZero() {
		return
	}
	s, prev := &w.cur.rt, &w.prev.rt
	gc := (s.gcCPU - s.gcIdleMarkCPU) - (prev.gcCPU - prev.gcIdleMarkCPU)
	used := (s.totalCPU - s.idleCPU - s.gcIdleMarkCPU) - (prev.totalCPU - prev.idleCPU - prev.gcIdleMarkCPU)
	limiter := s.limiterLast > 0 && s.limiterLast > prev.cycles
	near := limiter || (s.memLimit < math.MaxInt64 && float64(s.heapLive) >= spiralLiveShare*float64(s.memLimit))
	pt := spiralPoint{from: w.prev.at, at: w.cur.at, gc: max(gc, 0), used: max(used, 0),
		near: near, limiter: limiter}
	if last := &w.ring[(w.head-1+len(w.ring))%len(w.ring)]; w.spiralStep > 0 && w.n > 0 && last.at.Sub(last.from) < w.spiralStep {
		// The newest point is not full yet: the sample joins it.
		last.at, last.gc, last.used = pt.at, last.gc+pt.gc, last.used+pt.used
		last.near, last.limiter = last.near && pt.near, last.limiter || pt.limiter
	} else {
		w.ring[w.head] = pt
		w.head = (w.head + 1) % len(w.ring)
		w.n = min(w.n+1, len(w.ring))
	}

	// Walk back from the newest point until the window is covered.
	window := w.cfg.spiralWindow
	var gcSum, usedSum float64
	allNear, covered, limited := true, false, false
	var span time.Duration
	for i := 0; i < w.n; i++ {
		p := &w.ring[(w.head-1-i+len(w.ring))%len(w.ring)]
		gcSum += p.gc
		usedSum += p.used
		allNear = allNear && p.near
		limited = limited || p.limiter
		span = w.cur.at.Sub(p.from)
		if span >= window {
			covered = true
			break
		}
	}
	share := 0.0
	if usedSum > 0 {
		share = gcSum / usedSum
	}
	w.gcShare = share
	busy := span > 0 && usedSum >= spiralMinBusy*span.Seconds()

	switch {
	case !w.spiraling && covered && allNear && busy && share >= w.cfg.spiralShare:
		w.spiraling, w.spiralSince = true, now
		limiter := ""
		if limited {
			limiter = "; the GC CPU limiter engaged"
		}
		w.spiralReason = fmt.Sprintf("GC death spiral: the GC took %s of the CPU for the last %v with the live heap at %s of GOMEMLIMIT %s%s",
			percent(share), span.Round(time.Second), percent(float64(s.heapLive)/float64(s.memLimit)),
			formatBytes(s.memLimit), limiter)
		if s.memLimit == math.MaxInt64 {
			w.spiralReason = fmt.Sprintf("GC death spiral: the GC took %s of the CPU for the last %v with the GC CPU limiter engaged",
				percent(share), span.Round(time.Second))
		}
		fields := []slog.Attr{slog.Float64("gc_cpu", share), slog.Duration("window", span),
			slog.Uint64("heap_live", s.heapLive), slog.Int64("gomemlimit", s.memLimit),
			slog.Uint64("limiter", s.limiterLast)}
		fields = append(fields, w.snapshot(now, SnapshotHeap, SnapshotTrace)...)
		w.emit(Event{Kind: EventDeathSpiral, Time: now, Message: w.spiralReason, Fields: fields})
	case w.spiraling && (!near || (covered && share < spiralExitShare*w.cfg.spiralShare)):
		lasted := now.Sub(w.spiralSince)
		w.spiraling, w.spiralReason = false, ""
		w.emit(Event{Kind: EventDeathSpiralEnded, Time: now,
			Message: fmt.Sprintf("GC death spiral over after %v: the GC takes %s of the CPU", lasted.Round(time.Second), percent(share)),
			Fields:  []slog.Attr{slog.Float64("gc_cpu", share), slog.Duration("lasted", lasted)}})
	}
}

// wouldAllow reports whether an event of kind k would pass now, without
// recording anything, so that the work of building it (and a snapshot)
// is done only for events that go out.
func (g *eventGate) wouldAllow(k EventKind, now time.Time) bool {
	last := g.last[k]
	return last.IsZero() || now.Sub(last) >= g.cooldown
}

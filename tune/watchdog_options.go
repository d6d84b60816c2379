package tune

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Defaults of the GC watchdog. Each is the value Start uses when neither an
// option nor an environment variable says otherwise; the package
// documentation tells the experiments behind them.
const (
	// DefaultFreeOSMemoryAt is the share of the container's memory limit
	// that its working set must reach before the watchdog returns the
	// Go runtime's free memory to the kernel with debug.FreeOSMemory.
	//
	// It sits above what a healthy Go program at its GOMEMLIMIT reaches
	// (measured here, BenchmarkHostWatchdogAtLimit: at most 0.80 to 0.88 of
	// a 256 MiB limit with 100 to 180 MiB live, 0.87 to 0.90 of 1 GiB with
	// 600 MiB live), so that a busy heap at its limit does not pay a full
	// GC for nothing, and below the limit by more than the memory a
	// program typically grows by in the 50 ms between two looks near the
	// threshold (the watchdog checks the usage that often from 25% of the
	// limit below it), so that there is time to act.
	DefaultFreeOSMemoryAt = 0.92

	// DefaultLongPause is the GC stop-the-world pause from which the
	// watchdog reports a long pause. GC pauses are normally tens to hundreds
	// of microseconds (measured here: p99 under 1 ms without a CPU quota,
	// about 1.5 ms with GOMAXPROCS 2 on a 0.5-CPU quota); a pause of 10 ms
	// is a latency spike a service's own p99 shows, and a pause that
	// overlaps a CFS throttling period easily lasts 50 to 90 ms.
	DefaultLongPause = 10 * time.Millisecond

	// DefaultSpiralShare is the share of the CPU the program uses that the
	// GC must take, sustained over DefaultSpiralWindow with the live heap at
	// its limit, for the watchdog to call it a death spiral. Measured here
	// (256 MiB limit, 100 MiB/s of small pointerful garbage,
	// BenchmarkHostWatchdogAtLimit and TestHostWatchdogDeathSpiral): a
	// leak took the GC from 27% to 62-71% as its live heap passed 80% of
	// GOMEMLIMIT, until the OOM kill; programs holding steady at 45% and
	// 67% of GOMEMLIMIT took 21-31% and 38-47%. One holding steady at 80%
	// took 51-61% and counts as a spiral too: it spends most of its CPU
	// collecting, and needs more memory or less garbage; a restart shows it
	// where a slow thrash would not.
	DefaultSpiralShare = 0.5

	// DefaultSpiralWindow is how long the GC must stay above
	// DefaultSpiralShare, with the heap at its limit, before DeathSpiral
	// reports true. Short enough that a liveness probe (typically 3
	// failures 10 s apart) restarts a spiraling pod within two minutes,
	// long enough that a burst of work near the limit, which ends by
	// itself, is not one.
	DefaultSpiralWindow = time.Minute
)

// Fixed limits of the watchdog's actions (tests shorten some of them
// through watchdogConfig).
const (
	// debug.FreeOSMemory is a full GC plus returning every free page: at
	// most one call per freeCooldown, and freeMaxCalls per freeWindow.
	freeCooldown = 30 * time.Second
	freeMaxCalls = 4
	freeWindow   = 10 * time.Minute

	// eventCooldown is the least time between two events of the same kind
	// that report a condition (a long pause, memory the runtime cannot give
	// back, an OOM kill); the ones in between are counted, not delivered.
	eventCooldown = time.Minute

	// Snapshots: at most one per kind per snapshotCooldown, snapshotMax
	// files and snapshotBudget bytes per process.
	snapshotCooldown = 5 * time.Minute
	snapshotMax      = 8
	snapshotBudget   = 64 << 20
)

// A Snapshot is a kind of file the watchdog can write when it reports an
// event; its value is its name in SNUG_WATCHDOG_SNAPSHOTS.
type Snapshot string

const (
	// SnapshotTrace runs a runtime/trace flight recorder (Go 1.25+) for as
	// long as the Tuner runs, and writes its last seconds of execution
	// trace on a long pause or a death spiral: what every goroutine and
	// the GC were doing just before. Read it with go tool trace. The
	// recorder costs a few percent of CPU in a busy program, which is why
	// it is off unless asked for.
	SnapshotTrace Snapshot = "trace"
	// SnapshotHeap writes a heap profile (runtime/pprof, the sampled
	// allocations of live objects) when the memory is near the limit and
	// the runtime cannot give any back, and on a death spiral: what holds
	// the memory. Read it with go tool pprof.
	SnapshotHeap Snapshot = "heap"
)

type watchdogConfig struct {
	off bool // no watchdog at all

	freeAt       float64       // 0: never call debug.FreeOSMemory
	outside      bool          // lower GOMEMLIMIT for memory outside Go
	longPause    time.Duration // 0: no long-pause events
	spiralShare  float64       // 0: no death-spiral detection
	spiralWindow time.Duration

	snapshotDir   string
	snapshotTrace bool
	snapshotHeap  bool

	onEvent []func(Event)

	// Limits that tests shorten.
	freeCooldown     time.Duration
	freeMaxCalls     int
	freeWindow       time.Duration
	eventCooldown    time.Duration
	snapshotCooldown time.Duration
	snapshotMax      int
	snapshotBudget   int64
}

func defaultWatchdogConfig() watchdogConfig {
	return watchdogConfig{
		freeAt:           DefaultFreeOSMemoryAt,
		outside:          true,
		longPause:        DefaultLongPause,
		spiralShare:      DefaultSpiralShare,
		spiralWindow:     DefaultSpiralWindow,
		freeCooldown:     freeCooldown,
		freeMaxCalls:     freeMaxCalls,
		freeWindow:       freeWindow,
		eventCooldown:    eventCooldown,
		snapshotCooldown: snapshotCooldown,
		snapshotMax:      snapshotMax,
		snapshotBudget:   snapshotBudget,
	}
}

// enabled reports whether any part of the watchdog has work to do.
func (w *watchdogConfig) enabled() bool {
	return !w.off && (w.freeAt > 0 || w.outside || w.longPause > 0 || w.spiralShare > 0)
}

// WithoutWatchdog turns the GC watchdog off: no sampling, no
// debug.FreeOSMemory, no lowering of GOMEMLIMIT for memory outside Go, no
// events, and DeathSpiral always reports false. SNUG_WATCHDOG=off does the
// same.
func WithoutWatchdog() Option { return func(c *config) { c.watch.off = true } }

// WithFreeOSMemoryAt sets the share of the container's memory limit, in
// (0, 1], that its working set must reach before the watchdog calls
// debug.FreeOSMemory (default DefaultFreeOSMemoryAt).
// SNUG_WATCHDOG_FREE overrides it.
func WithFreeOSMemoryAt(share float64) Option {
	return func(c *config) {
		if !(share > 0 && share <= 1) {
			c.fail("WithFreeOSMemoryAt(%v): want a share greater than 0 and at most 1", share)
			return
		}
		c.watch.freeAt = share
	}
}

// WithoutFreeOSMemory keeps the watchdog from ever calling
// debug.FreeOSMemory; it still reports when the memory is near the limit.
// SNUG_WATCHDOG_FREE=off does the same.
func WithoutFreeOSMemory() Option { return func(c *config) { c.watch.freeAt = 0 } }

// WithoutMemoryOutsideGo keeps GOMEMLIMIT from being lowered for the memory
// the container uses outside the Go runtime (see the package
// documentation). SNUG_WATCHDOG_OUTSIDE=off does the same.
func WithoutMemoryOutsideGo() Option { return func(c *config) { c.watch.outside = false } }

// WithLongPause sets the GC pause from which the watchdog reports a long
// pause (default DefaultLongPause); d must be positive.
// SNUG_WATCHDOG_PAUSE overrides it.
func WithLongPause(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.fail("WithLongPause(%v): want a positive duration", d)
			return
		}
		c.watch.longPause = d
	}
}

// WithoutLongPauses turns off long-pause events (and the trace snapshots
// they take). SNUG_WATCHDOG_PAUSE=off does the same.
func WithoutLongPauses() Option { return func(c *config) { c.watch.longPause = 0 } }

// WithDeathSpiral sets when the watchdog reports a GC death spiral: the GC
// takes at least share of the CPU (in (0, 1)) for window, with the live
// heap at its limit all along (defaults DefaultSpiralShare and
// DefaultSpiralWindow). The window must be at least a second.
// SNUG_WATCHDOG_SPIRAL and SNUG_WATCHDOG_SPIRAL_WINDOW override them.
func WithDeathSpiral(share float64, window time.Duration) Option {
	return func(c *config) {
		if !(share > 0 && share < 1) || window < time.Second {
			c.fail("WithDeathSpiral(%v, %v): want a share between 0 and 1 and a window of at least 1s", share, window)
			return
		}
		c.watch.spiralShare, c.watch.spiralWindow = share, window
	}
}

// WithoutDeathSpiral turns off death-spiral detection: DeathSpiral always
// reports false. SNUG_WATCHDOG_SPIRAL=off does the same.
func WithoutDeathSpiral() Option { return func(c *config) { c.watch.spiralShare = 0 } }

// WithSnapshots makes the watchdog write the given kinds of snapshot into
// dir when it reports an event: an execution trace from a flight recorder
// (SnapshotTrace) on a long pause or a death spiral, a heap profile
// (SnapshotHeap) when memory is near the limit and cannot be given back,
// or on a death spiral. Files are created with mode 0600; at most one per
// kind every 5 minutes, 8 files and 64 MiB per process are written, and
// none when the file system would be left with less than a tenth of its
// space or 256 MiB free. dir must exist when an event comes. With no kinds,
// both are written. SNUG_WATCHDOG_SNAPSHOTS and
// SNUG_WATCHDOG_SNAPSHOT_DIR override it.
func WithSnapshots(dir string, kinds ...Snapshot) Option {
	return func(c *config) {
		if strings.TrimSpace(dir) == "" {
			c.fail("WithSnapshots(%q): want a directory", dir)
			return
		}
		trace, heap, err := parseSnapshotKinds(kinds)
		if err != nil {
			c.fail("WithSnapshots: %v", err)
			return
		}
		c.watch.snapshotDir, c.watch.snapshotTrace, c.watch.snapshotHeap = dir, trace, heap
	}
}

// OnEvent calls f with each event the watchdog delivers (see EventKind),
// after the events of the same kind that came too soon after the previous
// one have been dropped and counted. f runs on the Tuner's goroutine: it
// must return quickly, and a panic in it is recovered and logged. It may
// call Status, DeathSpiral and Stop.
func OnEvent(f func(Event)) Option {
	return func(c *config) {
		if f != nil {
			c.watch.onEvent = append(c.watch.onEvent, f)
		}
	}
}

func parseSnapshotKinds(kinds []Snapshot) (trace, heap bool, err error) {
	if len(kinds) == 0 {
		return true, true, nil
	}
	for _, k := range kinds {
		switch Snapshot(strings.ToLower(strings.TrimSpace(string(k)))) {
		case SnapshotTrace:
			trace = true
		case SnapshotHeap:
			heap = true
		default:
			return false, false, fmt.Errorf("unknown snapshot kind %q (want trace or heap)", string(k))
		}
	}
	return trace, heap, nil
}

// applyWatchdogEnv reads the SNUG_WATCHDOG_* variables into c, in the
// manner of applyEnv: a variable that is set overrides the option, and one
// whose value makes no sense is ignored with a warning.
func (c *config) applyWatchdogEnv(lookup func(string) (string, bool), warn func(name, value, want string)) {
	off := func(v string) bool {
		switch strings.ToLower(v) {
		case "off", "0", "false", "no":
			return true
		}
		return false
	}
	on := func(v string) bool {
		switch strings.ToLower(v) {
		case "on", "1", "true", "yes":
			return true
		}
		return false
	}
	w := &c.watch
	if v, ok := lookup("SNUG_WATCHDOG"); ok {
		switch {
		case off(v):
			w.off = true
		case on(v):
			w.off = false
		default:
			warn("SNUG_WATCHDOG", v, "on or off")
		}
	}
	if v, ok := lookup("SNUG_WATCHDOG_FREE"); ok {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 && f <= 1 {
			w.freeAt = f
		} else if off(v) {
			w.freeAt = 0
		} else {
			warn("SNUG_WATCHDOG_FREE", v, "a share of the memory limit greater than 0 and at most 1, like 0.92, or off")
		}
	}
	if v, ok := lookup("SNUG_WATCHDOG_OUTSIDE"); ok {
		switch {
		case off(v):
			w.outside = false
		case on(v):
			w.outside = true
		default:
			warn("SNUG_WATCHDOG_OUTSIDE", v, "on or off")
		}
	}
	if v, ok := lookup("SNUG_WATCHDOG_PAUSE"); ok {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			w.longPause = d
		} else if off(v) {
			w.longPause = 0
		} else {
			warn("SNUG_WATCHDOG_PAUSE", v, "a positive duration, like 10ms, or off")
		}
	}
	if v, ok := lookup("SNUG_WATCHDOG_SPIRAL"); ok {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 && f < 1 {
			w.spiralShare = f
		} else if off(v) {
			w.spiralShare = 0
		} else {
			warn("SNUG_WATCHDOG_SPIRAL", v, "a share of CPU between 0 and 1, like 0.5, or off")
		}
	}
	if v, ok := lookup("SNUG_WATCHDOG_SPIRAL_WINDOW"); ok {
		if d, err := time.ParseDuration(v); err == nil && d >= time.Second && d <= 24*time.Hour {
			w.spiralWindow = d
		} else {
			warn("SNUG_WATCHDOG_SPIRAL_WINDOW", v, "a duration from 1s to 24h, like 60s")
		}
	}
	if v, ok := lookup("SNUG_WATCHDOG_SNAPSHOTS"); ok {
		if off(v) {
			w.snapshotTrace, w.snapshotHeap = false, false
		} else {
			var kinds []Snapshot
			for k := range strings.SplitSeq(v, ",") {
				kinds = append(kinds, Snapshot(k))
			}
			if trace, heap, err := parseSnapshotKinds(kinds); err == nil {
				w.snapshotTrace, w.snapshotHeap = trace, heap
			} else {
				warn("SNUG_WATCHDOG_SNAPSHOTS", v, "trace, heap, trace,heap or off")
			}
		}
	}
	if v, ok := lookup("SNUG_WATCHDOG_SNAPSHOT_DIR"); ok {
		w.snapshotDir = v
	}
	if (w.snapshotTrace || w.snapshotHeap) && w.snapshotDir == "" {
		if v, set := lookup("SNUG_WATCHDOG_SNAPSHOTS"); set {
			warn("SNUG_WATCHDOG_SNAPSHOTS", v, "SNUG_WATCHDOG_SNAPSHOT_DIR set as well (no snapshots are written)")
		}
		w.snapshotTrace, w.snapshotHeap = false, false
	}
}

// percent formats a share as a whole percentage, "92%".
func percent(share float64) string {
	if math.IsNaN(share) || math.IsInf(share, 0) {
		return "?%"
	}
	return strconv.FormatFloat(math.Round(share*100), 'f', -1, 64) + "%"
}

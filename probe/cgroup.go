package probe

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/snug-go/snug/cgroup"
)

// CgroupReader reads the limits and usage of the process's cgroup.
// *cgroup.Group (from cgroup.Open) implements it; tests can pass a fake.
type CgroupReader interface {
	Limits() (cgroup.Limits, error)
	Stats() (cgroup.Stats, error)
}

// DefaultMemoryHeadroom is the share of the memory limit that the check
// built by [Standard] keeps free: it fails when the working set passes 95%
// of the limit.
//
// Why 95%: with GOMEMLIMIT at 90% of the container's limit (what snug's
// tuning and automemlimit set), the Go runtime holds its memory under about
// 90%, and the rest of the working set (active page cache, non-Go memory)
// seldom adds 5 more points. Past 95%, the kernel is reclaiming hard and an
// OOM kill is close: better to stop taking new requests than to lose the
// ones in flight. A lower threshold would take replicas out of service
// while they are merely using the memory they were given.
const DefaultMemoryHeadroom = 0.05

// MemoryHeadroom returns a readiness check named "memory-headroom" that
// fails when less than minFree (a fraction of the limit, such as 0.05) of
// the cgroup's effective memory limit is left above its working set.
//
// Use it on /readyz, to shed load before the kernel OOM-kills the
// container: while it fails, the Service stops sending new requests to the
// replica, and the ones in flight can finish and release their memory. Do
// not use it for liveness: a restart loses the requests in flight, which
// is what the check is there to avoid.
//
// The limit is the lower of memory.max and memory.high (v2) or the
// hierarchical memory limit (v1), over the cgroup and its ancestors, and the
// working set is usage less inactive page cache: the figures the kubelet
// uses for eviction. The working set is that of the cgroup the limit is
// set on (Stats.MemoryLimitWorkingSet), as the kernel counts it: under an
// ancestor's limit, such as a pod-level limit, the sibling containers'
// memory counts too. The check passes when the process has no cgroup or the
// cgroup has no memory limit (nothing to protect against), and fails, with
// the error, when the memory files it uses cannot be read (an unreadable
// file of another controller does not fail it). A minFree outside (0, 1)
// makes it fail with an error that says so, and so does a nil r, such as
// the nil *cgroup.Group that cgroup.Open returns with its error: pass the
// Group only when Open succeeded (Standard leaves the check out for a nil
// r).
func MemoryHeadroom(r CgroupReader, minFree float64) Check {
	return Check{
		Name: "memory-headroom",
		Kind: Readiness,
		Func: func(context.Context) error {
			if !(minFree > 0 && minFree < 1) {
				return fmt.Errorf("minimum free memory %v: must be a fraction between 0 and 1", minFree)
			}
			if isNil(r) {
				return errNilReader
			}
			// Limits and Stats return what they could read with an error
			// naming each file they could not: only the memory files
			// this check uses can fail it. An unreadable cpuset or
			// cpu.pressure would otherwise keep the replica out of
			// service for as long as the file stays unreadable.
			limits, err := r.Limits()
			if noCgroup(err) {
				return nil
			}
			if cgroup.FailedFile(err, "memory.max", "memory.high", "memory.limit_in_bytes", "memory.stat") {
				return fmt.Errorf("reading cgroup limits: %w", err)
			}
			limit, source := limits.MemoryLimit()
			if limit <= 0 {
				return nil
			}
			stats, err := r.Stats()
			if noCgroup(err) {
				return nil
			}
			if cgroup.FailedFile(err, "memory.current", "memory.usage_in_bytes", "memory.stat") {
				return fmt.Errorf("reading cgroup usage: %w", err)
			}
			// The kernel holds the limit's cgroup's usage against it:
			// under an ancestor's limit (a pod-level limit, a systemd
			// slice) the siblings' memory counts too. (Only that
			// cgroup's: a resize between the two reads can move it.)
			_, ws, atLimit := stats.UsageAgainst(source)
			whose := ""
			if atLimit && source.Ancestor {
				whose = " of " + source.Cgroup + " (siblings included)"
			}
			free := limit - ws
			if float64(free) >= minFree*float64(limit) {
				return nil
			}
			return fmt.Errorf("working set%s %s is %.1f%% of the memory limit %s (%s); less than %.3g%% free",
				whose, formatBytes(ws), 100*float64(ws)/float64(limit),
				formatBytes(limit), source, 100*minFree)
		},
	}
}

// minThrottlePeriods is the fewest CFS periods (100 ms each by default) over
// which CPUThrottling computes a ratio: fewer make the ratio noise.
// maxThrottleWait is how long it waits for them: the kernel counts only
// periods in which the cgroup ran, so a cgroup that is idle (for instance
// because it is unready and gets no traffic) accumulates none, and without
// this bound would repeat its last verdict for ever.
const (
	minThrottlePeriods = 10
	maxThrottleWait    = 2 * time.Second
)

// CPUThrottling returns a readiness check named "cpu-throttling" that fails
// when, since its previous verdict, the cgroup was throttled in more than
// maxThrottled (a fraction, such as 0.5) of its CFS enforcement periods.
// The cgroup is the one whose CPU quota is the tightest, the process's own
// or an ancestor's (a pod-level limit, a systemd slice): the kernel counts
// throttling there (see cgroup.Stats.CFSCgroup).
//
// The ratio is taken over the time between runs of the check (with the
// kubelet's default periodSeconds, 10 s), and over at least 10 periods: a
// run that comes sooner repeats the previous verdict. The kernel counts
// only periods in which the cgroup ran, so a window that has gathered
// fewer than 10 periods in 2 s means the cgroup was mostly idle, and
// passes. The first run passes, having nothing to compare with. The check
// passes when the process has no cgroup or no CPU quota, and fails, with the
// error, when cpu.stat cannot be read (an unreadable file of another
// controller does not fail it).
//
// It is off by default (not in [Standard]) because throttling is usually
// not a reason to take a replica out of service: a bursty service with a
// tight quota is throttled in most periods while serving well, and when
// every replica shares the cause (the quota is too low for the load, or
// GOMAXPROCS is above the quota so the GC's parallel phases burn the quota
// early in each period) they all go unready together and the Service has
// no endpoint left. The cure for throttling is a right-sized quota and
// GOMAXPROCS, which snug's tuning sets. Use this check on /readyz only when
// other replicas have spare CPU and your latency goals matter more than
// throughput. Never on /livez.
//
// A maxThrottled outside (0, 1], or a nil r, makes the check fail with an
// error that says so.
func CPUThrottling(r CgroupReader, maxThrottled float64) Check {
	t := &throttleWindow{}
	return Check{
		Name: "cpu-throttling",
		Kind: Readiness,
		Func: func(context.Context) error {
			if !(maxThrottled > 0 && maxThrottled <= 1) {
				return fmt.Errorf("maximum throttled share %v: must be a fraction in (0, 1]", maxThrottled)
			}
			if isNil(r) {
				return errNilReader
			}
			// The counters are read under the window's lock: a run that
			// read older counters than another but reached the window
			// after it would take them for a reset and pass.
			t.mu.Lock()
			defer t.mu.Unlock()
			// Stats reads the counters where the tightest quota is (the
			// pod's, a systemd slice's): the kernel counts throttling
			// there, not in the process's own cgroup.
			stats, err := r.Stats()
			if noCgroup(err) {
				return nil
			}
			// Only cpu.stat holds the counters: an unreadable memory or
			// PSI file is not this check's failure.
			if cgroup.FailedFile(err, "cpu.stat") {
				return fmt.Errorf("reading cgroup usage: %w", err)
			}
			return t.observe(time.Now(), stats.CFSCgroup, stats.Periods, stats.ThrottledPeriods, maxThrottled)
		},
	}
}

// throttleWindow remembers the counters at the previous verdict. Its mutex,
// held from the reading of the counters to the verdict, makes the check
// safe to run from several goroutines at once, which happens when the same
// Check is registered with two handlers.
type throttleWindow struct {
	mu                sync.Mutex // held by the caller of observe
	started           bool
	at                time.Time // of the counters below
	from              string    // the cgroup they were read from
	periods, throttle uint64
	verdict           error
}

func (t *throttleWindow) observe(now time.Time, from string, periods, throttled uint64, max float64) error {
	if !t.started || from != t.from || periods < t.periods || throttled < t.throttle {
		// First run, the counters are another cgroup's (the tightest
		// quota moved to another level: its counters have nothing to do
		// with the previous ones), or they went back (the cgroup was
		// recreated): start a new window.
		t.started, t.at, t.from, t.periods, t.throttle, t.verdict = true, now, from, periods, throttled, nil
		return nil
	}
	dp, dt := periods-t.periods, throttled-t.throttle
	switch {
	case dp >= minThrottlePeriods:
		share := float64(dt) / float64(dp)
		if share > max {
			t.verdict = fmt.Errorf("throttled in %d of the last %d CPU periods (%.1f%%, over %.3g%%)",
				dt, dp, 100*share, 100*max)
		} else {
			t.verdict = nil
		}
	case now.Sub(t.at) >= maxThrottleWait:
		// Mostly idle: whatever throttling there was, it is not holding
		// the replica back now.
		t.verdict = nil
	default:
		return t.verdict // too soon to tell: keep the previous verdict
	}
	t.at, t.periods, t.throttle = now, periods, throttled
	return t.verdict
}

var errNilReader = errors.New("no cgroup reader configured")

// noCgroup reports whether err means that there is no cgroup to read, a
// normal state (bare metal, a sandbox, another OS) in which the cgroup
// checks have nothing to protect against.
func noCgroup(err error) bool {
	return errors.Is(err, cgroup.ErrNoCgroup) || errors.Is(err, cgroup.ErrUnsupported)
}

// formatBytes formats n in the largest binary unit that keeps it at least 1:
// "243.2 MiB".
func formatBytes(n int64) string {
	const units = "KMGTPE"
	v := float64(n)
	if math.Abs(v) < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	i := -1
	for math.Abs(v) >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, units[i])
}

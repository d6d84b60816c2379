package tune

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Policy is how a CPU limit becomes a GOMAXPROCS value. The limit is the
// cgroup's CFS bandwidth (quota divided by period, the Kubernetes "CPU
// limit") less any reserve; without a quota it is the number of CPUs the
// process may run on. Whatever the policy, the result is at least 1 and at
// most the number of CPUs the process may run on.
//
// A Policy's value is its name, so the names below are also what the
// SNUG_GOMAXPROCS_POLICY environment variable takes.
type Policy string

const (
	// PolicyRuntime rounds up with a minimum of 2: what the Go runtime
	// itself does since Go 1.25, but applied to the effective limit
	// (ancestors included) instead of the process's own cgroup only. A
	// fractional quota gets one P more than it can keep busy, so Go code
	// runs in parallel bursts that the CFS then throttles; in exchange a
	// goroutine is never stuck behind another for lack of a P.
	PolicyRuntime Policy = "runtime"

	// PolicyFloor rounds down with a minimum of 1, as
	// go.uber.org/automaxprocs does: never more Ps than whole CPUs of
	// quota, so the process cannot burn its quota early in a period and
	// sit throttled for the rest of it, and a GC stop-the-world has fewer
	// Ps to stop (on a 0.5-CPU quota the GC pause p99 dropped from about
	// 1.5 ms with 2 Ps to about 30 µs with 1 on a 2-core machine).
	PolicyFloor Policy = "floor"

	// PolicyCeil rounds up with a minimum of 1: whole quotas as they are,
	// a fraction above 1 gets its partial CPU as one more P (1.5 → 2),
	// and a quota under one CPU gets a single P (0.5 → 1).
	PolicyCeil Policy = "ceil"

	// PolicyAdaptive chooses between floor and runtime from what the
	// cgroup's CPU counters show, when the two differ (a fractional
	// quota, or a reserve). It starts at floor, which cannot be throttled
	// for parallel bursts, and takes the runtime's extra P once the
	// process has used at most 85% of its limit, with fewer than 30% of
	// CFS periods throttled, for two consecutive evaluations. It drops
	// back to floor as soon as an evaluation finds at least half of the
	// periods (and at least three) throttled. A drop within a minute of a
	// rise doubles the calm needed before the next rise (up to 64
	// evaluations, about a minute at the default interval), so a
	// load on the edge settles at floor instead of costing a
	// stop-the-world every few seconds. Status names the rounding in force
	// and why. The counters come from the watchdog's sample when the
	// watchdog runs, otherwise from one extra read of cpu.stat per
	// interval.
	PolicyAdaptive Policy = "adaptive"
)

// DefaultPolicy is the policy Start uses when neither WithPolicy nor
// SNUG_GOMAXPROCS_POLICY says otherwise. It is a single constant so that
// the benchmark suite's verdict (see the bench directory) changes it in one
// place.
//
// Adaptive is the default because the suite shows that neither fixed
// rounding is best for a fractional quota across loads. On 2-CPU machines
// with a 0.5-CPU quota, at half the quota two Ps were never throttled and
// gave a request p99 of about 7 ms against 11 to 17 ms with one P (the
// second P runs requests while the collector marks); at 0.8 of the quota
// two Ps were throttled in nearly every CFS period and the GC pause p99
// went from tens of microseconds with one P to tens of milliseconds.
// Adaptive takes one P in the second case and two in the first. For
// quotas of two or more whole CPUs all policies agree.
const DefaultPolicy = PolicyAdaptive

// ParsePolicy returns the policy named s ("adaptive", "runtime", "floor" or
// "ceil"; case and surrounding space do not matter), or an error that lists
// the valid names.
func ParsePolicy(s string) (Policy, error) {
	p := Policy(strings.ToLower(strings.TrimSpace(s)))
	if p.valid() {
		return p, nil
	}
	return "", fmt.Errorf("tune: unknown GOMAXPROCS policy %q (want adaptive, runtime, floor or ceil)", s)
}

// String returns the policy's name.
func (p Policy) String() string { return string(p) }

func (p Policy) valid() bool {
	switch p {
	case PolicyAdaptive, PolicyRuntime, PolicyFloor, PolicyCeil:
		return true
	}
	return false
}

// minProcs is the least GOMAXPROCS the policy's rounding gives.
func (p Policy) minProcs() int {
	if p == PolicyRuntime {
		return 2
	}
	return 1
}

// round turns a CPU amount into Ps. The epsilon keeps a quota that is a
// whole number in decimal (2.0) from being taken as 1.9999999 or
// 2.0000001 after a division or a subtraction.
func (p Policy) round(cpu float64) int {
	const eps = 1e-9
	var r float64
	if p == PolicyFloor {
		r = math.Floor(cpu + eps)
	} else {
		r = math.Ceil(cpu - eps)
	}
	if r > math.MaxInt32 {
		return math.MaxInt32
	}
	if r < 0 {
		return 0
	}
	return int(r)
}

// procsConfig is the GOMAXPROCS part of the configuration.
type procsConfig struct {
	policy   Policy
	min, max int     // 0: not set
	reserve  float64 // CPUs left for others
}

// procsFor returns the GOMAXPROCS the configuration picks for a CPU limit
// (0: no quota) and a count of usable CPUs, and the steps that shaped it
// beyond the policy's rounding, for the Decision's Source.
func (c procsConfig) procsFor(cpuLimit float64, cpus int) (n int, steps string) {
	if cpus < 1 {
		cpus = 1
	}
	var b strings.Builder
	avail := cpuLimit
	if avail <= 0 {
		avail = float64(cpus)
	}
	if c.reserve > 0 {
		avail -= c.reserve
		fmt.Fprintf(&b, ", reserve %s CPU", formatCPU(c.reserve))
	}
	p := c.policy
	if p == PolicyAdaptive {
		p = PolicyFloor // where it starts; maxProcs passes the rounding in force
	}
	n = p.round(avail)
	if m := p.minProcs(); n < m {
		n = m
	}
	if c.min > 0 && n < c.min {
		n = c.min
		fmt.Fprintf(&b, ", min %d", c.min)
	}
	if c.max > 0 && n > c.max {
		n = c.max
		fmt.Fprintf(&b, ", max %d", c.max)
	}
	if n > cpus {
		n = cpus
		fmt.Fprintf(&b, ", clamped to %d CPUs", cpus)
	}
	if n < 1 {
		n = 1
	}
	return n, b.String()
}

// formatCPU prints a CPU amount without trailing zeros: 0.5, 2, 1.25.
func formatCPU(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

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
)

// DefaultPolicy is the policy Start uses when neither WithPolicy nor
// SNUG_GOMAXPROCS_POLICY says otherwise. It is a single constant so that
// the benchmark suite's verdict (see the bench directory) changes it in one
// place.
//
// Floor is the default because the measurements so far favour fewer Ps
// under a fractional quota: with 1 P instead of 2 on a 0.5-CPU quota, GC
// stop-the-world pauses were about 50 times shorter at p99, at the price of
// a request p99.9 about 25% higher (41 against 33 ms) in a GC-heavy
// open-loop test. For whole-CPU quotas all policies agree.
const DefaultPolicy = PolicyFloor

// ParsePolicy returns the policy named s ("runtime", "floor" or "ceil";
// case and surrounding space do not matter), or an error that lists the
// valid names.
func ParsePolicy(s string) (Policy, error) {
	p := Policy(strings.ToLower(strings.TrimSpace(s)))
	if p.valid() {
		return p, nil
	}
	return "", fmt.Errorf("tune: unknown GOMAXPROCS policy %q (want runtime, floor or ceil)", s)
}

// String returns the policy's name.
func (p Policy) String() string { return string(p) }

func (p Policy) valid() bool {
	switch p {
	case PolicyRuntime, PolicyFloor, PolicyCeil:
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
	n = c.policy.round(avail)
	if m := c.policy.minProcs(); n < m {
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

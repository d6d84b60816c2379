package tune

import (
	"fmt"
	"time"

	"github.com/snug-go/snug/cgroup"
)

// The adaptive policy's thresholds (see PolicyAdaptive). Utilization is CPU
// time used over the interval divided by the CPU limit less any reserve;
// the throttled share is throttled CFS periods over elapsed ones.
const (
	adaptRiseUtil      = 0.85 // rise to the extra P at or below this utilization…
	adaptRiseThrottled = 0.30 // …with a smaller share of periods throttled
	adaptDropThrottled = 0.50 // drop to floor at or above this share…
	adaptDropMinCount  = 3    // …and at least this many throttled periods
	adaptRiseSamples   = 2    // calm evaluations needed to rise, at first
	adaptMaxSamples    = 64   // at most this many after repeated drops
	adaptMinSpan       = 500 * time.Millisecond
)

// Why these values, from the workload of the bench directory under a
// 0.5-CPU quota on 2 CPUs (evaluations of 1 s): with one P, at half the
// quota the cgroup used 63–79% of its limit with 0–1 of 10 periods
// throttled, and at 0.8 of the quota 99–101% with 8–10 of 10 throttled.
// With two Ps at half the quota it used 78–95% (the collector's idle mark
// workers take the spare P's time, so utilization is not the drop signal)
// with 0–2 of 10 periods throttled, and a drop threshold of 30% dropped in
// some runs; at 0.8 of the quota nearly every period was throttled.

// cpuReading is the part of the cgroup's counters the adaptive policy uses.
type cpuReading struct {
	at        time.Time
	usage     time.Duration // CPU time of the cgroup
	periods   uint64        // CFS periods elapsed
	throttled uint64        // of which throttled
	cfsFrom   string        // the cgroup they were counted in (the tightest quota's)
}

// readingFrom takes a cpuReading from Stats' result, or reports false when
// the files it comes from could not be read.
func readingFrom(at time.Time, st cgroup.Stats, err error) (cpuReading, bool) {
	if cgroup.FailedFile(err, "cpu.stat", "cpuacct.usage") || st.CPUUsage <= 0 {
		return cpuReading{}, false
	}
	return cpuReading{at: at, usage: st.CPUUsage, periods: st.Periods, throttled: st.ThrottledPeriods, cfsFrom: st.CFSCgroup}, true
}

// loadTracker is the adaptive policy's state: which rounding is in force,
// and the evidence for changing it.
type loadTracker struct {
	high     bool // the runtime's rounding (the extra P); false: floor
	choosing bool // floor and runtime differ for the current limits
	dropping bool // a drop to floor not yet applied
	prev     cpuReading
	primed   bool
	calm     int // consecutive evaluations that favour rising
	need     int // calm evaluations needed to rise
	rose     time.Time
	why      string // the evidence behind the last change, for Source
}

// rounding is the policy in force.
func (a *loadTracker) rounding() Policy {
	if a.high {
		return PolicyRuntime
	}
	return PolicyFloor
}

// observe takes a reading with limit the CPU limit less any reserve (in
// CPUs) and reports whether the rounding changed.
func (a *loadTracker) observe(r cpuReading, limit float64) bool {
	if a.need == 0 {
		a.need = adaptRiseSamples
	}
	prev, primed := a.prev, a.primed
	span := r.at.Sub(prev.at)
	if primed && span < adaptMinSpan {
		return false // too short to say anything; keep the older baseline
	}
	a.prev, a.primed = r, true
	if !primed || span <= 0 || limit <= 0 || r.usage < prev.usage || r.periods < prev.periods || r.throttled < prev.throttled ||
		r.cfsFrom != prev.cfsFrom {
		// A first reading, counters that went back (the cgroup was
		// replaced), or throttling now counted in another cgroup (a
		// resize moved the tightest quota): no difference to take.
		a.calm = 0
		return false
	}
	util := (r.usage - prev.usage).Seconds() / span.Seconds() / limit
	periods, throttled := r.periods-prev.periods, r.throttled-prev.throttled
	share := 0.0
	if periods > 0 {
		share = float64(throttled) / float64(periods)
	}
	if a.high {
		if throttled >= adaptDropMinCount && share >= adaptDropThrottled {
			if r.at.Sub(a.rose) < calmPeriod {
				a.need = min(2*a.need, adaptMaxSamples)
			} else {
				a.need = adaptRiseSamples
			}
			a.high, a.calm, a.dropping = false, 0, true
			a.why = fmt.Sprintf("%d of %d CFS periods throttled", throttled, periods)
			return true
		}
		return false
	}
	if util <= adaptRiseUtil && share < adaptRiseThrottled {
		a.calm++
	} else {
		a.calm = 0
	}
	if a.calm < a.need {
		return false
	}
	a.high, a.calm, a.rose, a.dropping = true, 0, r.at, false
	a.why = fmt.Sprintf("%.0f%% of the CPU limit used, %d of %d CFS periods throttled", 100*util, throttled, periods)
	return true
}

package tune

import (
	"strings"
	"testing"
	"time"

	"github.com/snug-go/snug/cgroup"
)

// loadFeed drives a loadTracker with one evaluation a second: each step
// adds used CPU-seconds and periods, of which throttled were throttled.
type loadFeed struct {
	a     loadTracker
	r     cpuReading
	limit float64
}

func newLoadFeed(limit float64) *loadFeed {
	f := &loadFeed{limit: limit, r: cpuReading{at: time.Unix(1000, 0), usage: time.Hour}}
	f.a.observe(f.r, limit) // the baseline
	return f
}

func (f *loadFeed) step(used float64, periods, throttled uint64) bool {
	f.r.at = f.r.at.Add(time.Second)
	f.r.usage += time.Duration(used * float64(time.Second))
	f.r.periods += periods
	f.r.throttled += throttled
	return f.a.observe(f.r, f.limit)
}

func TestLoadTrackerRisesWhenCalmDropsWhenThrottled(t *testing.T) {
	f := newLoadFeed(0.5)
	if f.a.rounding() != PolicyFloor {
		t.Fatalf("starts at %s, want floor", f.a.rounding())
	}
	// 0.45 CPU of 0.5 is 90%: no rise, however long; nor at 70% with
	// 3 of 10 periods throttled.
	for i := 0; i < 10; i++ {
		if f.step(0.45, 10, 0) || f.step(0.35, 10, 3) {
			t.Fatalf("rose at 90%% utilization or with 30%% throttled (step %d)", i)
		}
	}
	// 0.35 CPU is 70%: rises on the second calm evaluation.
	if f.step(0.35, 10, 2) || !f.step(0.35, 10, 0) || f.a.rounding() != PolicyRuntime {
		t.Fatalf("did not rise after two calm evaluations: %+v", f.a)
	}
	if !strings.Contains(f.a.why, "70% of the CPU limit used") {
		t.Errorf("why = %q", f.a.why)
	}
	// Four throttled periods in ten are not enough to drop, nor is full
	// utilization without throttling, nor 2 of 2.
	if f.step(0.45, 10, 4) || f.step(0.5, 10, 0) || f.step(0.5, 2, 2) {
		t.Fatal("dropped without half of the periods throttled")
	}
	if !f.step(0.5, 10, 5) || f.a.rounding() != PolicyFloor || !strings.Contains(f.a.why, "5 of 10 CFS periods throttled") {
		t.Fatalf("did not drop with 5 of 10 periods throttled: %+v", f.a)
	}
	// The drop came within a minute of the rise: the next rise needs
	// twice the calm.
	for i := 0; i < 3; i++ {
		if f.step(0.1, 10, 0) {
			t.Fatalf("rose after %d calm evaluations, want 4 after a flap", i+1)
		}
	}
	if !f.step(0.1, 10, 0) {
		t.Fatal("did not rise after 4 calm evaluations")
	}
	// A throttled evaluation at floor resets the calm count.
	f.step(0.5, 10, 6)
	if f.step(0.1, 10, 5) || f.step(0.1, 10, 0) {
		t.Fatal("rose with throttling in the calm run")
	}
}

func TestLoadTrackerBacksOffAndResets(t *testing.T) {
	f := newLoadFeed(0.5)
	need := []int{2, 4, 8, 16, 32, 64, 64}
	for flap, n := range need {
		for i := 1; i < n; i++ {
			if f.step(0, 10, 0) {
				t.Fatalf("flap %d: rose after %d calm evaluations, want %d", flap, i, n)
			}
		}
		if !f.step(0, 10, 0) {
			t.Fatalf("flap %d: did not rise after %d", flap, n)
		}
		if !f.step(0.5, 10, 9) {
			t.Fatalf("flap %d: did not drop", flap)
		}
	}
	// A drop more than a minute after the rise is not a flap: the calm
	// needed goes back to 2.
	for f.a.rounding() == PolicyFloor {
		f.step(0, 10, 0)
	}
	for i := 0; i < 61; i++ {
		f.step(0.2, 10, 0)
	}
	if !f.step(0.5, 10, 9) || f.a.need != adaptRiseSamples {
		t.Fatalf("after a long calm: need %d, want %d", f.a.need, adaptRiseSamples)
	}
}

func TestLoadTrackerIgnoresBadSpans(t *testing.T) {
	f := newLoadFeed(0.5)
	f.step(0, 10, 0) // one calm evaluation
	// A reading too soon after the last keeps the baseline and says nothing.
	soon := f.r
	soon.at = soon.at.Add(100 * time.Millisecond)
	if f.a.observe(soon, 0.5) || f.a.calm != 1 {
		t.Fatalf("a 100 ms span counted: %+v", f.a)
	}
	// Counters that go back (a replaced cgroup) restart the evidence.
	back := f.r
	back.at = back.at.Add(time.Second)
	back.usage -= time.Minute
	if f.a.observe(back, 0.5) || f.a.calm != 0 {
		t.Fatalf("counters that went back counted: %+v", f.a)
	}
	f.r = back
	// At high, throttling counted in another cgroup from now on (a resize
	// moved the tightest quota to the pod): its counters are not a
	// difference from the old ones, however many periods they hold.
	f.step(0, 10, 0)
	if !f.step(0, 10, 0) || f.a.rounding() != PolicyRuntime {
		t.Fatalf("did not rise: %+v", f.a)
	}
	moved := f.r
	moved.at = moved.at.Add(time.Second)
	moved.periods, moved.throttled, moved.cfsFrom = f.r.periods+5000, f.r.throttled+4000, "/kubepods/pod1"
	if f.a.observe(moved, 0.5) || f.a.rounding() != PolicyRuntime {
		t.Fatalf("dropped on counters from another cgroup: %+v", f.a)
	}
	f.r = moved
	if !f.step(0.5, 10, 6) || f.a.rounding() != PolicyFloor {
		t.Fatalf("did not drop on the new cgroup's throttling: %+v", f.a)
	}
	// No limit to measure against: nothing is decided.
	f.limit = 0
	for i := 0; i < 5; i++ {
		if f.step(0, 10, 0) {
			t.Fatal("rose without a limit to measure against")
		}
	}
}

func TestAdaptingOnlyWhereRoundingsDiffer(t *testing.T) {
	for _, c := range []struct {
		policy    Policy
		owner     Owner
		cpu       float64
		cpus      int
		reserve   float64
		want      bool
		wantLimit float64
	}{
		{PolicyAdaptive, OwnerSnug, 0.5, 2, 0, true, 0.5},
		{PolicyAdaptive, OwnerRuntime, 1.5, 4, 0, true, 1.5},
		{PolicyAdaptive, OwnerSnug, 2, 4, 0, false, 0},    // floor and runtime both 2
		{PolicyAdaptive, OwnerSnug, 0.5, 1, 0, false, 0},  // one CPU: both 1
		{PolicyAdaptive, OwnerSnug, 0, 8, 0.5, true, 7.5}, // no quota, a reserve: 7 or 8
		{PolicyAdaptive, OwnerSnug, 0, 8, 0, false, 0},
		{PolicyAdaptive, OwnerApplication, 0.5, 2, 0, false, 0}, // not snug's knob now
		{PolicyFloor, OwnerSnug, 0.5, 2, 0, false, 0},
	} {
		k := maxProcs{cfg: procsConfig{policy: c.policy, reserve: c.reserve}, owner: c.owner}
		got, limit := k.adapting(cgroup.Limits{CPU: c.cpu, CPUs: c.cpus})
		if got != c.want || limit != c.wantLimit {
			t.Errorf("%s, owner %s, quota %v on %d CPUs, reserve %v: adapting %v against %v, want %v against %v",
				c.policy, c.owner, c.cpu, c.cpus, c.reserve, got, limit, c.want, c.wantLimit)
		}
	}
}

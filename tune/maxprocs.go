package tune

import (
	"fmt"
	"runtime"
	"time"

	"github.com/snug-go/snug/cgroup"
)

// Hysteresis for GOMAXPROCS. Each change stops the world, so a limit that
// wobbles must not cost a pause per evaluation. The rule:
//
//  1. Confirm: a new value is applied only when two reads agree, the second
//     confirmDelay after the first. This also skips the half-written state
//     of a v1 resize, where cpu.cfs_period_us and cpu.cfs_quota_us are two
//     separate writes.
//  2. Space: after a change, the next one waits at least minChangeGap. A
//     change that returns to the value before the previous change within
//     calmPeriod is a flap and doubles the gap, up to maxChangeGap; a
//     calmPeriod without changes resets it.
//
// A single resize is followed within one interval plus confirmDelay (1.2 s
// with the defaults); a limit flapping every second costs at most one
// stop-the-world a minute once the gap has grown.
const (
	confirmDelay = 200 * time.Millisecond
	minChangeGap = 5 * time.Second
	maxChangeGap = time.Minute
	calmPeriod   = time.Minute
)

// maxProcs owns GOMAXPROCS for a Tuner. Only the Tuner's goroutine (or
// Start and Stop, when that goroutine is not running) calls its methods.
type maxProcs struct {
	cfg   procsConfig
	model runtimeModel

	owner Owner
	d     Decision

	lastSet     int // the value snug set, while owner is OwnerSnug
	lastSeen    int // runtime.GOMAXPROCS(0) after the last evaluation
	prevDefault int // the runtime's default at the last evaluation

	// disagrees is set when handing back to the runtime produced another
	// value than the model predicted (a GODEBUG setting or a cgroup layout
	// the model does not know): from then on snug keeps the value itself.
	disagrees bool

	// Restore on Stop: the value at Start, and whether the runtime's
	// default was in charge then (no GOMAXPROCS variable, no earlier call).
	startValue   int
	startRuntime bool
	envPinned    bool // a GOMAXPROCS variable set the value at start (forced over)

	// Hysteresis state.
	pendingValue int
	pendingOwner Owner
	lagged       int
	lastChange   time.Time
	beforeChange int
	gap          time.Duration

	// The adaptive policy's state; unused for the other policies.
	load loadTracker

	// The inputs behind d.Source, to rebuild it only when they change.
	memo procsInputs
}

type procsInputs struct {
	cpu       float64
	cpus      int
	cpuSrc    cgroup.Source
	cpusSrc   cgroup.Source
	rtDefault int
	value     int
	owner     Owner
	disagrees bool
	high      bool // the adaptive policy's rounding…
	choosing  bool // …and whether it has a choice
}

// procsEvent is what an evaluation did.
type procsEvent struct {
	changed bool          // d's value or owner changed
	stw     uint64        // stop-the-world runtime calls made
	next    time.Duration // evaluate again within this (0: the interval)
}

// start decides GOMAXPROCS at Start: the owner when the knob is not snug's
// to manage (why says so), otherwise the first decision, applied at once.
func (k *maxProcs) start(now time.Time, l cgroup.Limits, fixed Owner, why string) procsEvent {
	cur := runtime.GOMAXPROCS(0)
	rt := k.model.defaultProcs(l)
	k.startValue, k.lastSeen, k.prevDefault = cur, cur, rt
	k.gap = minChangeGap
	if fixed != "" {
		k.owner = fixed
		k.d = Decision{Knob: GOMAXPROCS, Value: int64(cur), Previous: int64(cur), Owner: fixed,
			Reason: why, Source: fmt.Sprintf("GOMAXPROCS %d: %s", cur, why), Time: now}
		return procsEvent{changed: true}
	}
	// The runtime's default is in charge unless a runtime.GOMAXPROCS call
	// (another package's init, the program before Start) set another
	// value; that call is replaced like any value snug disagrees with.
	k.startRuntime = cur == rt && !k.envPinned
	k.owner = OwnerRuntime
	if !k.startRuntime {
		k.owner = OwnerNone
	}
	k.d = Decision{Knob: GOMAXPROCS, Value: int64(cur), Owner: k.owner}
	k.followLoad(l, nil)
	ev := k.evaluate(now, l, true)
	ev.changed = true
	return ev
}

// evaluate re-decides GOMAXPROCS for the limits l.
func (k *maxProcs) evaluate(now time.Time, l cgroup.Limits, initial bool) procsEvent {
	var ev procsEvent
	if k.owner != OwnerSnug && k.owner != OwnerRuntime && !initial {
		return ev
	}
	cur := runtime.GOMAXPROCS(0)
	rt := k.model.defaultProcs(l)

	// Did the application change it? While snug owns the value nobody else
	// should; while the runtime does, only to its own default (now or at
	// the last look, since it may have read the limit at another moment).
	if !initial && ((k.owner == OwnerSnug && cur != k.lastSet) ||
		(k.owner == OwnerRuntime && cur != k.lastSeen && cur != rt && cur != k.prevDefault)) {
		was := k.lastSeen
		k.owner = OwnerApplication
		k.setDecision(now, cur, OwnerApplication, "application set it",
			fmt.Sprintf("GOMAXPROCS %d: set by the application after Start (was %d); snug steps back", cur, was))
		ev.changed = true
		return ev
	}

	cfg := k.cfg
	if cfg.policy == PolicyAdaptive {
		cfg.policy = k.load.rounding()
	}
	want, steps := cfg.procsFor(l.CPU, l.CPUs)
	wantOwner := OwnerRuntime
	if want != rt || k.disagrees {
		wantOwner = OwnerSnug
	}

	steady := wantOwner == k.owner && (k.owner == OwnerRuntime || want == k.lastSet)
	if steady {
		k.pendingValue = 0
		k.load.dropping = false // nothing to drop from
		if k.owner == OwnerRuntime && cur != want {
			// The runtime has not caught up yet. It re-checks about once a
			// second, so give it an evaluation unless it does not update
			// by itself (GODEBUG=updatemaxprocs=0), or something pinned
			// the value with a runtime.GOMAXPROCS call that did not change
			// it (which cannot be seen), then nudge it.
			k.lagged++
			need := 2
			if !k.model.updateMaxProcs {
				need = 1
			}
			if k.lagged >= need && k.gapPassed(now) {
				ev.stw += k.handBack(cur, want, false)
				k.lagged = 0
				if after := runtime.GOMAXPROCS(0); after != cur {
					k.noteChange(now, cur, after)
				}
			}
		} else {
			k.lagged = 0
		}
	} else {
		k.lagged = 0
		if !initial && want != cur {
			if k.pendingValue != want || k.pendingOwner != wantOwner {
				k.pendingValue, k.pendingOwner = want, wantOwner
				ev.next = confirmDelay
				return ev
			}
			// The gap spaces changes, except the adaptive policy's drop:
			// until it is applied the process is being throttled, and the
			// policy spaces its own rises (and so its drops).
			if !k.gapPassed(now) && !k.load.dropping {
				ev.next = k.lastChange.Add(k.gap).Sub(now)
				return ev
			}
		}
		k.pendingValue = 0
		k.load.dropping = false
		if wantOwner == OwnerSnug {
			runtime.GOMAXPROCS(want)
			if want != cur {
				ev.stw++
			}
			k.lastSet = want
			k.owner = OwnerSnug
		} else {
			ev.stw += k.handBack(cur, want, k.owner != OwnerRuntime)
		}
		if after := runtime.GOMAXPROCS(0); after != cur && !initial {
			k.noteChange(now, cur, after)
		}
	}

	after := runtime.GOMAXPROCS(0)
	k.lastSeen, k.prevDefault = after, rt
	in := procsInputs{cpu: l.CPU, cpus: l.CPUs, cpuSrc: l.CPUSource, cpusSrc: l.CPUsSource,
		rtDefault: rt, value: after, owner: k.owner, disagrees: k.disagrees, high: k.load.high, choosing: k.load.choosing}
	if in != k.memo || initial {
		k.memo = in
		ev.changed = int64(after) != k.d.Value || k.owner != k.d.Owner
		k.setDecision(now, after, k.owner, k.reason(), k.source(after, l, rt, steps))
	}
	return ev
}

// handBack gives GOMAXPROCS to the runtime's default with
// runtime.SetDefaultGOMAXPROCS and checks that the runtime chose what the
// model predicted; if not, snug sets want itself from now on. custom says
// whether a runtime.GOMAXPROCS call is in force, in which case the hand-back
// stops the world even when the value stays. It returns the number of
// stop-the-world calls made.
func (k *maxProcs) handBack(cur, want int, custom bool) (stw uint64) {
	runtime.SetDefaultGOMAXPROCS()
	got := runtime.GOMAXPROCS(0)
	if got != cur || custom {
		stw++
	}
	k.owner = OwnerRuntime
	if got != want {
		k.disagrees = true
		runtime.GOMAXPROCS(want)
		stw++
		k.lastSet, k.owner = want, OwnerSnug
	}
	return stw
}

func (k *maxProcs) gapPassed(now time.Time) bool {
	return k.lastChange.IsZero() || now.Sub(k.lastChange) >= k.gap
}

// noteChange records a change from before to after, growing the gap on a
// flap.
func (k *maxProcs) noteChange(now time.Time, before, after int) {
	switch {
	case k.lastChange.IsZero() || now.Sub(k.lastChange) >= calmPeriod:
		k.gap = minChangeGap
	case after == k.beforeChange:
		k.gap = min(2*k.gap, maxChangeGap)
	}
	k.lastChange, k.beforeChange = now, before
}

// appChanged reports whether GOMAXPROCS was set by the application since
// the last evaluation, as the next evaluation would judge it: while snug
// owns it, any other value (the runtime does not update a value set by a
// call); while the runtime does, a value that is not its default.
func (k *maxProcs) appChanged() bool {
	cur := runtime.GOMAXPROCS(0)
	return (k.owner == OwnerSnug && cur != k.lastSet) ||
		(k.owner == OwnerRuntime && cur != k.lastSeen && cur != k.prevDefault)
}

// stop restores GOMAXPROCS as it was at Start, if snug changed it and the
// application has not set it since the last evaluation: such a value is
// the application's, as at the next evaluation, and stays. It reports
// whether the Tuner managed the value until now (released), and what it
// did with it (why, for Status).
func (k *maxProcs) stop(restore bool) (stw uint64, released bool, why string) {
	cur := runtime.GOMAXPROCS(0)
	appSet := k.appChanged()
	released = k.owner == OwnerSnug || (k.owner == OwnerRuntime && !k.startRuntime && restore)
	if restore && !appSet {
		switch {
		case k.owner == OwnerSnug && k.startRuntime:
			runtime.SetDefaultGOMAXPROCS()
			stw++
		case k.owner == OwnerSnug || (k.owner == OwnerRuntime && !k.startRuntime):
			runtime.GOMAXPROCS(k.startValue)
			if k.startValue != cur {
				stw++
			}
		}
	}
	return stw, released, stoppedWhy(restore, appSet)
}

func (k *maxProcs) reason() string {
	switch {
	case k.owner == OwnerRuntime:
		return "runtime default"
	case k.disagrees:
		return "policy " + k.policyLabel() + ", runtime default differs"
	}
	return "policy " + k.policyLabel()
}

// policyLabel names the policy, and for the adaptive one the rounding in
// force and the evidence for it.
func (k *maxProcs) policyLabel() string {
	if k.cfg.policy != PolicyAdaptive {
		return k.cfg.policy.String()
	}
	if !k.load.choosing {
		return "adaptive" // floor and runtime agree here
	}
	if k.load.why == "" {
		return "adaptive (" + k.load.rounding().String() + ")"
	}
	return "adaptive (" + k.load.rounding().String() + ": " + k.load.why + ")"
}

// followLoad feeds the adaptive policy before an evaluation: whether it has
// a choice for the limits l, and if so a reading of the CPU counters from
// read (nil: none, as at Start), which it calls only then.
func (k *maxProcs) followLoad(l cgroup.Limits, read func() (cpuReading, bool)) {
	choosing, limit := k.adapting(l)
	k.load.choosing = choosing
	if !choosing {
		k.load.primed = false // a baseline from another limit says nothing
		return
	}
	if read == nil {
		return
	}
	if r, ok := read(); ok {
		k.load.observe(r, limit) // evaluate applies a change
	}
}

// adapting reports whether the adaptive policy has a choice to make for
// the limits l (floor and runtime rounding differ), and the CPU amount its
// utilization is measured against: the limit less any reserve, or the
// usable CPUs when there is no limit.
func (k *maxProcs) adapting(l cgroup.Limits) (bool, float64) {
	if k.cfg.policy != PolicyAdaptive || (k.owner != OwnerSnug && k.owner != OwnerRuntime) {
		return false, 0
	}
	lo, hi := k.cfg, k.cfg
	lo.policy, hi.policy = PolicyFloor, PolicyRuntime
	nlo, _ := lo.procsFor(l.CPU, l.CPUs)
	nhi, _ := hi.procsFor(l.CPU, l.CPUs)
	if nlo == nhi {
		return false, 0
	}
	limit := l.CPU
	if limit <= 0 {
		limit = float64(max(l.CPUs, 1))
	}
	return true, max(limit-k.cfg.reserve, 0)
}

func (k *maxProcs) source(value int, l cgroup.Limits, rt int, steps string) string {
	limit := "no CPU limit"
	if l.CPU > 0 {
		limit = l.CPUSource.String()
	}
	s := fmt.Sprintf("GOMAXPROCS %d: %s, %d CPUs (%s), policy %s%s", value, limit, l.CPUs, l.CPUsSource, k.policyLabel(), steps)
	switch {
	case k.owner == OwnerRuntime:
		s += "; the runtime's own default, left to the runtime"
	case k.disagrees:
		s += fmt.Sprintf("; handing back to the runtime did not give %d", value)
	default:
		s += fmt.Sprintf("; the runtime alone would use %d", rt)
	}
	return s
}

func (k *maxProcs) setDecision(now time.Time, value int, owner Owner, reason, source string) {
	prev := k.d.Value
	if prev == 0 {
		prev = int64(value)
	}
	k.d = Decision{Knob: GOMAXPROCS, Value: int64(value), Previous: prev, Owned: owner == OwnerSnug,
		Owner: owner, Reason: reason, Source: source, Time: now}
}

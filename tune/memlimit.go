package tune

import (
	"fmt"
	"runtime/debug"
	"time"

	"github.com/snug-go/snug/cgroup"
)

// memoryLowerer can lower the GOMEMLIMIT the cgroup limit calls for, for
// memory the Go runtime does not see. It is the one way into the memory
// limit besides the cgroup: the GC watchdog (watchdog.go) measures the
// unreclaimable memory charged to the cgroup outside the Go runtime (C
// allocations, mmap, shared memory, kernel memory, other processes in the
// container; not page cache) and lowers the limit through here, so that
// GOMEMLIMIT keeps a single owner that knows who asked for what and
// restores it on Stop.
//
// lowerMemoryLimit is called on the Tuner's goroutine at each evaluation
// with the limit the configuration derived from the cgroup (target) and the
// limits read; it returns the limit it wants and a few words of why for the
// Decision's Source. A result at or above target changes nothing; one under
// MinMemoryLimit is raised to it.
type memoryLowerer interface {
	lowerMemoryLimit(target int64, l cgroup.Limits) (limit int64, why string)
}

// memoryLimit owns GOMEMLIMIT for a Tuner. Only the Tuner's goroutine (or
// Start and Stop, when that goroutine is not running) calls its methods.
type memoryLimit struct {
	cfg   memoryConfig
	lower memoryLowerer // the watchdog, unless it or its outside-Go part is off

	owner Owner
	d     Decision

	lastSet    int64 // what snug set, while owner is OwnerSnug
	loweredBy  int64 // how much lower reduced lastSet, while owner is OwnerSnug
	lastSeen   int64 // the limit in force after the last evaluation
	startValue int64 // the limit at Start, restored on Stop

	memo memoryInputs
}

type memoryInputs struct {
	limit   int64
	src     cgroup.Source
	swap    int64
	noSwap  bool
	target  int64
	lowered string
	value   int64
	owner   Owner
}

// start decides GOMEMLIMIT at Start: the owner when the knob is not snug's
// to manage (why says so), otherwise the first decision, applied at once.
func (k *memoryLimit) start(now time.Time, l cgroup.Limits, fixed Owner, why string) (changed bool) {
	cur := debug.SetMemoryLimit(-1)
	k.startValue, k.lastSeen = cur, cur
	if fixed != "" {
		k.owner = fixed
		k.d = Decision{Knob: GOMEMLIMIT, Value: cur, Previous: cur, Owner: fixed, Reason: why,
			Source: fmt.Sprintf("GOMEMLIMIT %s: %s", formatBytes(cur), why), Time: now}
		return true
	}
	k.owner = OwnerNone
	k.d = Decision{Knob: GOMEMLIMIT, Value: cur, Owner: OwnerNone}
	k.evaluate(now, l, true)
	return true
}

// evaluate re-decides GOMEMLIMIT for the limits l. It reports whether the
// value or the owner changed.
func (k *memoryLimit) evaluate(now time.Time, l cgroup.Limits, initial bool) (changed bool) {
	if k.owner != OwnerSnug && k.owner != OwnerNone {
		return false
	}
	cur := debug.SetMemoryLimit(-1)
	if !initial && cur != k.lastSeen {
		// Someone called debug.SetMemoryLimit after Start: the program
		// knows better (or thinks so). Step back for good.
		was := k.lastSeen
		k.owner = OwnerApplication
		k.lastSeen, k.loweredBy = cur, 0
		k.setDecision(now, cur, "application set it", fmt.Sprintf(
			"GOMEMLIMIT %s: set by the application after Start (was %s); snug steps back",
			formatBytes(cur), formatBytes(was)))
		return true
	}

	limit, src := l.MemoryLimit()
	target, how := int64(0), "no memory limit found"
	if limit > 0 {
		target, how = k.cfg.limitFor(limit)
	}
	lowered, loweredBy := "", int64(0)
	if target > 0 && k.lower != nil {
		if v, why := k.lower.lowerMemoryLimit(target, l); v < target {
			v = max(v, MinMemoryLimit)
			target, lowered, loweredBy = v, why, target-v
		}
	}

	if target == 0 {
		// Nothing to base a limit on: give back the one found at Start if
		// snug had replaced it, and otherwise leave the current one alone.
		if k.owner == OwnerSnug {
			debug.SetMemoryLimit(k.startValue)
			cur = k.startValue
		}
		k.owner = OwnerNone
	} else {
		if k.owner != OwnerSnug || cur != target {
			debug.SetMemoryLimit(target)
		}
		k.owner, k.lastSet, cur = OwnerSnug, target, target
	}
	k.lastSeen, k.loweredBy = cur, loweredBy

	in := memoryInputs{limit: limit, src: src, swap: l.SwapMax, noSwap: l.NoSwap, target: target,
		lowered: lowered, value: cur, owner: k.owner}
	if in == k.memo && !initial {
		return false
	}
	k.memo = in
	changed = cur != k.d.Value || k.owner != k.d.Owner
	var source string
	reason := "cgroup memory limit"
	if k.owner == OwnerNone {
		reason = "no memory limit"
		if limit > 0 {
			reason = "memory limit too small"
		}
		source = fmt.Sprintf("GOMEMLIMIT %s: %s; left as found", formatBytes(cur), how)
	} else {
		source = fmt.Sprintf("GOMEMLIMIT %s: %s, %s", formatBytes(cur), src, how)
		if lowered != "" {
			source += ", lowered: " + lowered
		}
	}
	switch {
	case l.NoSwap:
		source += ", no swap"
	case l.SwapMax > 0:
		source += fmt.Sprintf(", swap up to %s not counted", formatBytes(l.SwapMax))
	}
	k.setDecision(now, cur, reason, source)
	return changed
}

// stop restores the limit found at Start, if snug replaced it and the
// application did not call debug.SetMemoryLimit since the last evaluation
// (which the next evaluation would have found and stepped back from). It
// reports whether the Tuner managed the limit until now (released), and
// what it did with it (why, for Status).
func (k *memoryLimit) stop(restore bool) (released bool, why string) {
	appSet := debug.SetMemoryLimit(-1) != k.lastSet
	released = k.owner == OwnerSnug
	if restore && released && !appSet {
		debug.SetMemoryLimit(k.startValue)
	}
	return released, stoppedWhy(restore, appSet)
}

func (k *memoryLimit) setDecision(now time.Time, value int64, reason, source string) {
	prev := k.d.Value
	k.d = Decision{Knob: GOMEMLIMIT, Value: value, Previous: prev, Owned: k.owner == OwnerSnug,
		Owner: k.owner, Reason: reason, Source: source, Time: now}
}

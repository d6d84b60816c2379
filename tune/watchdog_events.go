package tune

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"time"
)

// EventKind names what a watchdog Event reports. Its value is short and
// stable, fit for a metric attribute or a log key.
type EventKind string

const (
	// EventFreeOSMemory: the working set crossed the FreeOSMemory threshold
	// with memory the Go runtime could give back, and the watchdog called
	// debug.FreeOSMemory. Fields: freed (bytes the runtime returned),
	// took, working_set_before, working_set_after, limit.
	EventFreeOSMemory EventKind = "free-os-memory"

	// EventNearLimit: the working set is over the FreeOSMemory threshold
	// but the Go runtime holds little it could give back (or its last
	// FreeOSMemory freed little): the memory is page cache, or used outside
	// the Go runtime. The watchdog does not call FreeOSMemory again until
	// that changes; it reports this instead, at most once a minute.
	// Fields: working_set, limit, go_held, reclaimable, outside_go,
	// page_cache, memory_pressure.
	EventNearLimit EventKind = "near-limit"

	// EventMemoryOutsideGo: GOMEMLIMIT was lowered (or raised back) for
	// the memory the container uses outside the Go runtime. The Tuner's
	// own log line for the new GOMEMLIMIT says it; the event carries the
	// numbers. Fields: outside_go, deducted, anon, shmem, kernel, go_held,
	// and floor when the lowering stopped at the floor.
	EventMemoryOutsideGo EventKind = "memory-outside-go"

	// EventLongPause: a GC stop-the-world pause at or over the long-pause
	// threshold, with its likely cause. Fields: pause (the lower bound of
	// the runtime histogram's bucket), pause_max (its upper bound),
	// stopping, long_pauses (in the window), gomaxprocs, cpu_quota,
	// throttled_periods, periods, heap_live, goroutines, cause, and
	// snapshot when a trace was written.
	EventLongPause EventKind = "long-pause"

	// EventDeathSpiral: the GC took at least the spiral share of the CPU
	// for the whole spiral window with the heap at its limit. DeathSpiral
	// reports true from then on, until EventDeathSpiralEnded. Fields:
	// gc_cpu, window, heap_live, gomemlimit, limiter, and snapshot.
	EventDeathSpiral EventKind = "death-spiral"

	// EventDeathSpiralEnded: the GC's share fell back (or the heap left its
	// limit) after a death spiral. Fields: gc_cpu, lasted.
	EventDeathSpiralEnded EventKind = "death-spiral-ended"

	// EventOOMKill: the kernel OOM-killed a process in this container (this
	// one being alive, another one: a child, a sidecar in the same cgroup).
	// Fields: oom_kills (new since the last sample), working_set, limit.
	EventOOMKill EventKind = "oom-kill"
)

// eventKinds lists every kind, in the order of their documentation.
var eventKinds = [...]EventKind{EventFreeOSMemory, EventNearLimit, EventMemoryOutsideGo,
	EventLongPause, EventDeathSpiral, EventDeathSpiralEnded, EventOOMKill}

// An Event is something the GC watchdog saw or did. Events are delivered
// to OnEvent functions and logged (except EventMemoryOutsideGo, which the
// GOMEMLIMIT change line already logs), and counted by kind in
// Status.Watchdog.Events.
type Event struct {
	Kind EventKind
	Time time.Time

	// Message is one line for a person: what happened and, when the
	// watchdog can tell, why, such as "GC pause of 52ms or more: pause
	// overlapped CPU throttling: GOMAXPROCS 2 > quota 0.2".
	Message string

	// Fields are the numbers behind Message, as log attributes: byte
	// counts as int64, durations as time.Duration, shares as float64 in
	// [0, 1]. The documentation of each EventKind lists its fields.
	Fields []slog.Attr
}

// Field returns the value of the field named key, and whether there is
// one.
func (e Event) Field(key string) (slog.Value, bool) {
	for _, a := range e.Fields {
		if a.Key == key {
			return a.Value, true
		}
	}
	return slog.Value{}, false
}

// String formats the event as its kind, message and fields on one line.
func (e Event) String() string {
	s := string(e.Kind) + ": " + e.Message
	for _, a := range e.Fields {
		s += " " + a.String()
	}
	return s
}

// eventLevel is the log level of each kind.
func eventLevel(k EventKind) slog.Level {
	switch k {
	case EventFreeOSMemory, EventDeathSpiralEnded, EventMemoryOutsideGo:
		return slog.LevelInfo
	case EventDeathSpiral:
		return slog.LevelError
	}
	return slog.LevelWarn
}

// eventGate drops events of a kind that come sooner than the cooldown after
// the last one delivered, and counts both.
type eventGate struct {
	cooldown   time.Duration
	last       map[EventKind]time.Time
	delivered  map[EventKind]uint64
	suppressed map[EventKind]uint64
}

func newEventGate(cooldown time.Duration) eventGate {
	g := eventGate{cooldown: cooldown, last: map[EventKind]time.Time{},
		delivered: map[EventKind]uint64{}, suppressed: map[EventKind]uint64{}}
	for _, k := range eventKinds { // no map growth on the steady path
		g.last[k], g.delivered[k], g.suppressed[k] = time.Time{}, 0, 0
	}
	return g
}

// allow reports whether an event of kind k may be delivered at now, and
// records the answer. Kinds that report an action or a change of state
// (FreeOSMemory calls, GOMEMLIMIT changes, the start and end of a spiral)
// are rate-limited where they happen and always pass.
func (g *eventGate) allow(k EventKind, now time.Time) bool {
	switch k {
	case EventFreeOSMemory, EventMemoryOutsideGo, EventDeathSpiral, EventDeathSpiralEnded:
	default:
		if last := g.last[k]; !last.IsZero() && now.Sub(last) < g.cooldown {
			g.suppressed[k]++
			return false
		}
	}
	g.last[k] = now
	g.delivered[k]++
	return true
}

// deliver logs the events and calls the OnEvent functions, recovering a
// panic in each.
func (t *Tuner) deliver(events []Event) {
	if len(events) == 0 {
		return
	}
	if log := t.logger(); log != nil {
		for _, e := range events {
			if e.Kind == EventMemoryOutsideGo {
				continue // the GOMEMLIMIT change line says it
			}
			attrs := make([]slog.Attr, 0, len(e.Fields)+1)
			attrs = append(attrs, slog.String("event", string(e.Kind)))
			attrs = append(attrs, e.Fields...)
			log.LogAttrs(context.Background(), eventLevel(e.Kind), "snug: "+e.Message, attrs...)
		}
	}
	fs := t.cfg.watch.onEvent
	if len(fs) == 0 {
		return
	}
	t.notifying.Store(goroutineID())
	defer t.notifying.Store(0)
	for _, e := range events {
		for _, f := range fs {
			func() {
				defer func() {
					if r := recover(); r != nil {
						if log := t.logger(); log != nil {
							log.Error("snug: OnEvent function panicked", "panic", fmt.Sprint(r))
						}
					}
				}()
				f(e)
			}()
		}
	}
}

// cloneCounts copies a count map for a Status snapshot, leaving out the
// zero counts.
func cloneCounts(m map[EventKind]uint64) map[EventKind]uint64 {
	out := make(map[EventKind]uint64, len(m))
	for k, v := range maps.All(m) {
		if v > 0 {
			out[k] = v
		}
	}
	return out
}

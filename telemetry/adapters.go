package telemetry

import (
	"github.com/snug-go/snug/health"
	"github.com/snug-go/snug/tune"
)

// WithTuner reports what the Tuner t decided, read from t.Status() at each
// collection: GOMAXPROCS and GOMEMLIMIT in effect with their owner
// (snug.tune.gomaxprocs, snug.tune.gomemlimit, by snug.tune.owner), and its
// running counts as snug.events with snug.event.source "tune":
// "evaluations" (re-reads of the limits), "changes" (values it changed) and
// "stop_the_world" (runtime calls of its that stopped the world, each also
// counted in /sched/pauses/total/other:seconds); and the GC watchdog's
// events by kind (Status.Watchdog.Events) with snug.event.source
// "watchdog". A nil t reports nothing.
//
// The blank import of package snug starts a Tuner; snug.Tuner() returns
// it.
func WithTuner(t *tune.Tuner) Option {
	if t == nil {
		return func(*config) {}
	}
	return func(c *config) {
		// Status is a copy under a lock, no I/O: calling it from both
		// callbacks costs less than sharing one between them would.
		WithDecisions(func(dst []Decision) []Decision {
			s := t.Status()
			for _, d := range [...]tune.Decision{s.MaxProcs, s.MemoryLimit} {
				var s Setting
				switch d.Knob {
				case tune.GOMAXPROCS:
					s = GOMAXPROCS
				case tune.GOMEMLIMIT:
					s = GOMEMLIMIT
				default:
					continue // a knob this version does not know; or a zero Decision
				}
				dst = append(dst, Decision{Setting: s, Value: float64(d.Value), Owner: string(d.Owner)})
			}
			return dst
		})(c)
		WithEvents(func(dst []Event) []Event {
			s := t.Status()
			dst = append(dst,
				Event{Source: "tune", Name: "evaluations", Count: s.Evaluations},
				Event{Source: "tune", Name: "changes", Count: s.Changes},
				Event{Source: "tune", Name: "stop_the_world", Count: s.StopTheWorlds},
			)
			for kind, n := range s.Watchdog.Events {
				dst = append(dst, Event{Source: "watchdog", Name: string(kind), Count: n})
			}
			return dst
		})(c)
	}
}

// WithHealth reports the latest result of each check of h
// (h.Results()): snug.health.status, 1 when it passed and 0 when it failed
// or timed out, and snug.health.duration, by snug.health.check and
// snug.health.kind ("liveness", "readiness", "liveness+readiness",
// "startup"). A check that has not run yet is not reported. A nil h
// reports nothing.
func WithHealth(h *health.Handler) Option {
	if h == nil {
		return func(*config) {}
	}
	return WithChecks(func(dst []CheckResult) []CheckResult {
		for _, r := range h.Results() {
			dst = append(dst, CheckResult{Name: r.Name, Kind: r.Kind.String(), Passing: r.OK(), Duration: r.Duration})
		}
		return dst
	})
}

package telemetry

import (
	"context"
	"math"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// The tuner's decisions, the watchdog's events and the health checks'
// results reach telemetry through functions the program passes to
// Register, rather than through the packages that produce them: telemetry
// reports whatever the function returns at each collection, and the
// functions can be adapters over any version of those packages.
//
// Each function appends to the slice it is given and returns it, so that a
// collection reuses one buffer instead of allocating. It is called once per
// collection, possibly from two readers at once, and should be quick: it
// runs while the exporter waits.

// Setting names a Go runtime setting the tuner manages.
type Setting string

// The settings the tuner can decide.
const (
	GOMAXPROCS Setting = "GOMAXPROCS"
	GOMEMLIMIT Setting = "GOMEMLIMIT"
	GOGC       Setting = "GOGC"
)

// Decision is the tuner's current choice for one runtime setting.
type Decision struct {
	Setting Setting
	// Value is the setting in effect as the tuner sees it: threads for
	// GOMAXPROCS, bytes for GOMEMLIMIT, percent for GOGC. It is reported as
	// snug.tune.gomaxprocs, snug.tune.gomemlimit or snug.tune.gogc, next to
	// the runtime's own go.processor.limit, go.memory.limit and
	// go.config.gogc: the two differ when something else changed the
	// setting after the tuner looked. A GOMEMLIMIT of math.MaxInt64 (no
	// limit) is left out, as go.memory.limit does.
	Value float64
	// Owner says who is in charge of the value ("snug", "runtime", "env",
	// ...), as the snug.tune.owner attribute: when it changes, so does the
	// series.
	Owner string
}

// WithDecisions reports the tuner's decisions: fn appends one Decision per
// setting. Counts (changes, evaluations) go through WithEvents. WithTuner
// does both for a *tune.Tuner.
func WithDecisions(fn func([]Decision) []Decision) Option {
	return func(c *config) { c.decisions = append(c.decisions, fn) }
}

// Event is a running count of one kind of event or action of one of
// snug's components, such as the memory watchdog's forced collections.
type Event struct {
	// Source names the component ("watchdog") and Name the kind of event
	// ("gc", "limit_lowered"); they become the attributes snug.event.source
	// and snug.event. Keep the set of names small and fixed: each pair is
	// one time series.
	Source, Name string
	// Count is the number of such events since the process started.
	Count uint64
}

// WithEvents reports event counts as the counter snug.events: fn appends
// one Event per kind of event, with its running count. It may be given more
// than once (the tuner's counts and the watchdog's, say); each function is
// called in turn.
func WithEvents(fn func([]Event) []Event) Option {
	return func(c *config) { c.events = append(c.events, fn) }
}

// CheckResult is the latest outcome of one health check.
type CheckResult struct {
	// Name and Kind ("liveness", "readiness", "startup") become the
	// attributes snug.health.check and snug.health.kind.
	Name, Kind string
	// Passing is whether the latest run succeeded (snug.health.status: 1
	// or 0).
	Passing bool
	// Duration is how long the latest run took (snug.health.duration).
	Duration time.Duration
}

// WithChecks reports the health checks' latest results: fn appends one
// CheckResult per check. WithHealth does it for a *health.Handler.
func WithChecks(fn func([]CheckResult) []CheckResult) Option {
	return func(c *config) { c.checks = append(c.checks, fn) }
}

// attrCache keeps the attribute sets of the names the functions report, so
// that a steady set of names costs no allocation per collection. It stops
// growing past maxCachedSets; names beyond that still get reported, just
// without the cache.
type attrCache struct {
	sets map[[2]string][]metric.ObserveOption
}

const maxCachedSets = 256

func (a *attrCache) get(k1, v1, k2, v2 string) []metric.ObserveOption {
	// Each callback has its own cache and always the same keys k1, k2.
	key := [2]string{v1, v2}
	if opts, ok := a.sets[key]; ok {
		return opts
	}
	kvs := []attribute.KeyValue{attribute.String(k1, v1)}
	if k2 != "" {
		kvs = append(kvs, attribute.String(k2, v2))
	}
	opts := attrOpt(kvs...)
	if a.sets == nil {
		a.sets = map[[2]string][]metric.ObserveOption{}
	}
	if len(a.sets) < maxCachedSets {
		a.sets[key] = opts
	}
	return opts
}

func registerDecisions(m metric.Meter, fns []func([]Decision) []Decision) (metric.Registration, error) {
	procs, err := m.Int64ObservableUpDownCounter("snug.tune.gomaxprocs", metric.WithUnit("{thread}"),
		metric.WithDescription("GOMAXPROCS as the tuner sees it in effect, by snug.tune.owner."))
	if err != nil {
		return nil, err
	}
	limit, err := m.Int64ObservableUpDownCounter("snug.tune.gomemlimit", metric.WithUnit("By"),
		metric.WithDescription("GOMEMLIMIT as the tuner sees it in effect, by snug.tune.owner; absent when there is none."))
	if err != nil {
		return nil, err
	}
	gogc, err := m.Int64ObservableUpDownCounter("snug.tune.gogc", metric.WithUnit("%"),
		metric.WithDescription("GOGC as the tuner sees it in effect, by snug.tune.owner."))
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var buf []Decision
	var attrs attrCache
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		mu.Lock()
		defer mu.Unlock()
		buf = buf[:0]
		for _, fn := range fns {
			buf = fn(buf)
		}
		for _, d := range buf {
			var inst metric.Int64Observable
			switch d.Setting {
			case GOMAXPROCS:
				inst = procs
			case GOMEMLIMIT:
				inst = limit
				if d.Value >= math.MaxInt64 {
					continue // no limit
				}
			case GOGC:
				inst = gogc
			default:
				continue // not a setting we know the unit of
			}
			var opts []metric.ObserveOption
			if d.Owner != "" {
				opts = attrs.get("snug.tune.owner", d.Owner, "", "")
			}
			o.ObserveInt64(inst, int64(d.Value), opts...)
		}
		return nil
	}, procs, limit, gogc)
}

func registerEvents(m metric.Meter, fns []func([]Event) []Event) (metric.Registration, error) {
	events, err := m.Int64ObservableCounter("snug.events", metric.WithUnit("{event}"),
		metric.WithDescription("Events and actions of snug's components, by snug.event.source and snug.event."))
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var buf []Event
	var attrs attrCache
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		mu.Lock()
		defer mu.Unlock()
		buf = buf[:0]
		for _, fn := range fns {
			buf = fn(buf)
		}
		for _, e := range buf {
			o.ObserveInt64(events, clampU(e.Count), attrs.get("snug.event.source", e.Source, "snug.event", e.Name)...)
		}
		return nil
	}, events)
}

func registerChecks(m metric.Meter, fns []func([]CheckResult) []CheckResult) (metric.Registration, error) {
	status, err := m.Int64ObservableGauge("snug.health.status", metric.WithUnit("{status}"),
		metric.WithDescription("1 when the health check's latest run passed, 0 when it failed, by snug.health.check and snug.health.kind."))
	if err != nil {
		return nil, err
	}
	duration, err := m.Float64ObservableGauge("snug.health.duration", metric.WithUnit("s"),
		metric.WithDescription("How long the health check's latest run took, by snug.health.check and snug.health.kind."))
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var buf []CheckResult
	var attrs attrCache
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		mu.Lock()
		defer mu.Unlock()
		buf = buf[:0]
		for _, fn := range fns {
			buf = fn(buf)
		}
		for _, r := range buf {
			opts := attrs.get("snug.health.check", r.Name, "snug.health.kind", r.Kind)
			var v int64
			if r.Passing {
				v = 1
			}
			o.ObserveInt64(status, v, opts...)
			o.ObserveFloat64(duration, r.Duration.Seconds(), opts...)
		}
		return nil
	}, status, duration)
}

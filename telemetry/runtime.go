package telemetry

import (
	"context"
	"math"
	"runtime/metrics"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// The runtime/metrics samples behind the scalar Go metrics. Their order is
// the order of the samples slice: the indexes below name positions in it.
var runtimeSampleNames = [...]string{
	rmTotal:        "/memory/classes/total:bytes",
	rmReleased:     "/memory/classes/heap/released:bytes",
	rmStacks:       "/memory/classes/heap/stacks:bytes",
	rmMemLimit:     "/gc/gomemlimit:bytes",
	rmAllocBytes:   "/gc/heap/allocs:bytes",
	rmAllocObjects: "/gc/heap/allocs:objects",
	rmGoal:         "/gc/heap/goal:bytes",
	rmCycles:       "/gc/cycles/total:gc-cycles",
	rmGoroutines:   "/sched/goroutines:goroutines",
	rmGOMAXPROCS:   "/sched/gomaxprocs:threads",
	rmGOGC:         "/gc/gogc:percent",
	rmCPUGC:        "/cpu/classes/gc/total:cpu-seconds",
	rmCPUIdle:      "/cpu/classes/idle:cpu-seconds",
	rmCPUScavenge:  "/cpu/classes/scavenge/total:cpu-seconds",
	rmCPUUser:      "/cpu/classes/user:cpu-seconds",
}

const (
	rmTotal = iota
	rmReleased
	rmStacks
	rmMemLimit
	rmAllocBytes
	rmAllocObjects
	rmGoal
	rmCycles
	rmGoroutines
	rmGOMAXPROCS
	rmGOGC
	rmCPUGC
	rmCPUIdle
	rmCPUScavenge
	rmCPUUser
	rmCount
)

// runtimeObserver reads runtime/metrics once per collection and observes
// the scalar Go runtime instruments of the semantic conventions.
type runtimeObserver struct {
	mu      sync.Mutex // callbacks of two readers may run at once
	samples [rmCount]metrics.Sample

	memUsed, memLimit, allocated, allocations, goal, cycles,
	goroutines, procs, gogc metric.Int64Observable
	cpuTime metric.Float64Observable

	// Attribute sets built once: a collection allocates nothing for them.
	stack, other                     []metric.ObserveOption
	cpuGC, cpuIdle, cpuScav, cpuUser []metric.ObserveOption
}

func attrOpt(kvs ...attribute.KeyValue) []metric.ObserveOption {
	return []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(kvs...))}
}

func registerRuntime(m metric.Meter) (metric.Registration, error) {
	r := &runtimeObserver{
		stack:   attrOpt(attribute.String("go.memory.type", "stack")),
		other:   attrOpt(attribute.String("go.memory.type", "other")),
		cpuGC:   attrOpt(attribute.String("go.cpu.state", "gc")),
		cpuIdle: attrOpt(attribute.String("go.cpu.state", "idle")),
		cpuScav: attrOpt(attribute.String("go.cpu.state", "scavenge")),
		cpuUser: attrOpt(attribute.String("go.cpu.state", "user")),
	}
	for i, name := range runtimeSampleNames {
		r.samples[i].Name = name
	}
	var err error
	i64UpDown := func(name, unit, desc string) metric.Int64Observable {
		if err != nil {
			return nil
		}
		var inst metric.Int64ObservableUpDownCounter
		inst, err = m.Int64ObservableUpDownCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		return inst
	}
	i64Counter := func(name, unit, desc string) metric.Int64Observable {
		if err != nil {
			return nil
		}
		var inst metric.Int64ObservableCounter
		inst, err = m.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		return inst
	}
	r.memUsed = i64UpDown("go.memory.used", "By",
		"Memory used by the Go runtime: mapped and not returned to the system (/memory/classes/total:bytes less /memory/classes/heap/released:bytes).")
	r.memLimit = i64UpDown("go.memory.limit", "By",
		"Go runtime memory limit (GOMEMLIMIT, /gc/gomemlimit:bytes); absent when there is none.")
	r.allocated = i64Counter("go.memory.allocated", "By",
		"Memory allocated to the heap by the application (/gc/heap/allocs:bytes).")
	r.allocations = i64Counter("go.memory.allocations", "{allocation}",
		"Count of allocations to the heap by the application (/gc/heap/allocs:objects).")
	r.goal = i64UpDown("go.memory.gc.goal", "By",
		"Heap size target for the end of the GC cycle (/gc/heap/goal:bytes).")
	r.cycles = i64Counter("go.memory.gc.cycles", "{gc_cycle}",
		"Number of completed GC cycles (/gc/cycles/total:gc-cycles).")
	r.goroutines = i64UpDown("go.goroutine.count", "{goroutine}",
		"Count of live goroutines (/sched/goroutines:goroutines).")
	r.procs = i64UpDown("go.processor.limit", "{thread}",
		"The number of OS threads that can execute user-level Go code simultaneously: GOMAXPROCS (/sched/gomaxprocs:threads).")
	r.gogc = i64UpDown("go.config.gogc", "%",
		"Heap size target percentage: GOGC (/gc/gogc:percent); absent when the GC is off.")
	if err != nil {
		return nil, err
	}
	cpu, err := m.Float64ObservableCounter("go.cpu.time", metric.WithUnit("s"),
		metric.WithDescription("Estimated CPU time spent by the Go runtime, by go.cpu.state (/cpu/classes/...); an overestimate, compare only with itself."))
	if err != nil {
		return nil, err
	}
	r.cpuTime = cpu
	return m.RegisterCallback(r.observe,
		r.memUsed, r.memLimit, r.allocated, r.allocations, r.goal, r.cycles,
		r.goroutines, r.procs, r.gogc, r.cpuTime)
}

func (r *runtimeObserver) observe(_ context.Context, o metric.Observer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	metrics.Read(r.samples[:])
	s := &r.samples

	// A metric this Go version does not have reads as KindBad: leave it out
	// rather than report a zero.
	if total, released, stacks, ok := u3(s, rmTotal, rmReleased, rmStacks); ok {
		o.ObserveInt64(r.memUsed, stacks, r.stack...)
		o.ObserveInt64(r.memUsed, max(total-released-stacks, 0), r.other...)
	}
	// No limit reads as math.MaxInt64; the conventions leave it out.
	if v, ok := u(s, rmMemLimit); ok && v != math.MaxInt64 {
		o.ObserveInt64(r.memLimit, v)
	}
	if v, ok := u(s, rmAllocBytes); ok {
		o.ObserveInt64(r.allocated, v)
	}
	if v, ok := u(s, rmAllocObjects); ok {
		o.ObserveInt64(r.allocations, v)
	}
	if v, ok := u(s, rmGoal); ok {
		o.ObserveInt64(r.goal, v)
	}
	if v, ok := u(s, rmCycles); ok {
		o.ObserveInt64(r.cycles, v)
	}
	if v, ok := u(s, rmGoroutines); ok {
		o.ObserveInt64(r.goroutines, v)
	}
	if v, ok := u(s, rmGOMAXPROCS); ok {
		o.ObserveInt64(r.procs, v)
	}
	// GOGC=off is stored as -1 and reads as a huge uint64 (clamped to
	// MaxInt64 by u): there is no percentage to report.
	if v, ok := u(s, rmGOGC); ok && v <= math.MaxInt32 {
		o.ObserveInt64(r.gogc, v)
	}
	for _, c := range [...]struct {
		i    int
		opts []metric.ObserveOption
	}{{rmCPUGC, r.cpuGC}, {rmCPUIdle, r.cpuIdle}, {rmCPUScavenge, r.cpuScav}, {rmCPUUser, r.cpuUser}} {
		if s[c.i].Value.Kind() == metrics.KindFloat64 {
			o.ObserveFloat64(r.cpuTime, s[c.i].Value.Float64(), c.opts...)
		}
	}
	return nil
}

// u returns sample i as an int64, clamped, and whether it is a uint64.
func u(s *[rmCount]metrics.Sample, i int) (int64, bool) {
	if s[i].Value.Kind() != metrics.KindUint64 {
		return 0, false
	}
	v := s[i].Value.Uint64()
	if v > math.MaxInt64 {
		return math.MaxInt64, true
	}
	return int64(v), true
}

func u3(s *[rmCount]metrics.Sample, i, j, k int) (a, b, c int64, ok bool) {
	a, ok1 := u(s, i)
	b, ok2 := u(s, j)
	c, ok3 := u(s, k)
	return a, b, c, ok1 && ok2 && ok3
}

package telemetry

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/snug-go/snug/cgroup"
)

// containerObserver reads the cgroup's limits and usage once per collection.
type containerObserver struct {
	mu sync.Mutex
	g  *cgroup.Group

	// Which controllers the process's cgroup has, from Open: a limit
	// whose controller is missing is left out rather than read as none.
	// (Usage metrics go by the Stats' Has* flags.)
	hasCPU, hasMemory bool
	// v2Memory: memory on the unified hierarchy, whose memory.events has
	// all five counters (v1 has only the equivalents of max and oom_kill).
	v2Memory bool

	cpuTime, throttledTime, stalled      metric.Float64Observable
	cpuLimit                             metric.Float64Observable
	cpuCount, memLimit, memHigh          metric.Int64Observable
	memUsage, workingSet, rss, available metric.Int64Observable
	periods, throttled, events           metric.Int64Observable

	eventOpts [5][]metric.ObserveOption // low, high, max, oom, oom_kill
	psiOpts   [3][2][]metric.ObserveOption
}

func registerContainer(m metric.Meter, g *cgroup.Group) (metric.Registration, error) {
	paths := g.Paths()
	c := &containerObserver{
		g:         g,
		hasCPU:    paths["cpu"] != "",
		hasMemory: paths["memory"] != "",
		v2Memory:  paths["memory"] != "" && paths["memory"] == paths["unified"],
	}
	for i, e := range [...]string{"low", "high", "max", "oom", "oom_kill"} {
		c.eventOpts[i] = attrOpt(attribute.String("snug.memory.event", e))
	}
	for i, res := range [...]string{"cpu", "memory", "io"} {
		for j, scope := range [...]string{"some", "full"} {
			c.psiOpts[i][j] = attrOpt(attribute.String("snug.pressure.resource", res), attribute.String("snug.pressure.scope", scope))
		}
	}

	var err error
	f64 := func(counter bool, name, unit, desc string) metric.Float64Observable {
		if err != nil {
			return nil
		}
		if counter {
			var inst metric.Float64ObservableCounter
			inst, err = m.Float64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
			return inst
		}
		var inst metric.Float64ObservableUpDownCounter
		inst, err = m.Float64ObservableUpDownCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		return inst
	}
	i64 := func(counter bool, name, unit, desc string) metric.Int64Observable {
		if err != nil {
			return nil
		}
		if counter {
			var inst metric.Int64ObservableCounter
			inst, err = m.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
			return inst
		}
		var inst metric.Int64ObservableUpDownCounter
		inst, err = m.Int64ObservableUpDownCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		return inst
	}
	const counter, upDown = true, false

	c.cpuTime = f64(counter, "container.cpu.time", "s",
		"CPU time consumed by the container's cgroup on all CPUs (cpu.stat usage_usec, or cpuacct.usage on cgroup v1).")
	c.cpuLimit = f64(upDown, "snug.container.cpu.limit", "{cpu}",
		"CPU bandwidth limit in CPUs, quota divided by period (cpu.max, or cpu.cfs_quota_us and cpu.cfs_period_us), tightest over the cgroup and its ancestors; absent when there is none.")
	c.cpuCount = i64(upDown, "snug.container.cpu.count", "{cpu}",
		"CPUs the process may run on: the smaller of the cpuset (cpuset.cpus.effective) and the scheduler affinity mask.")
	c.periods = i64(counter, "snug.container.cpu.cfs.periods", "{period}",
		"CFS bandwidth enforcement periods that have elapsed (cpu.stat nr_periods), counted in the cgroup whose CPU quota is the tightest: the container's, or the ancestor's whose quota binds it.")
	c.throttled = i64(counter, "snug.container.cpu.cfs.throttled_periods", "{period}",
		"CFS enforcement periods in which the cgroup with the tightest CPU quota used all of it and was throttled (cpu.stat nr_throttled).")
	c.throttledTime = f64(counter, "snug.container.cpu.cfs.throttled_time", "s",
		"Total time spent throttled by the tightest CPU quota (cpu.stat throttled_usec, or throttled_time on cgroup v1, of that quota's cgroup).")
	c.memUsage = i64(upDown, "container.memory.usage", "By",
		"Memory charged to the cgroup, page cache included (memory.current, or memory.usage_in_bytes on cgroup v1).")
	c.workingSet = i64(upDown, "container.memory.working_set", "By",
		"Memory usage less inactive file pages: what the kubelet compares with the limit (memory.current less memory.stat inactive_file).")
	c.rss = i64(upDown, "container.memory.rss", "By",
		"Anonymous memory of the cgroup: heap, stacks, anonymous mappings (memory.stat anon, or total_active_anon plus total_inactive_anon on cgroup v1).")
	c.available = i64(upDown, "container.memory.available", "By",
		"Hard memory limit less the working set of the cgroup it is set on (under a pod-level or other ancestor's limit, siblings included), floored at 0; absent when there is no limit.")
	c.memLimit = i64(upDown, "snug.container.memory.limit", "By",
		"Hard memory limit, past which the kernel OOM-kills (memory.max, or memory.limit_in_bytes on cgroup v1), tightest over the cgroup and its ancestors; absent when there is none.")
	c.memHigh = i64(upDown, "snug.container.memory.high", "By",
		"Memory throttling limit (memory.high, cgroup v2 only), tightest over the cgroup and its ancestors; absent when there is none.")
	c.events = i64(counter, "snug.container.memory.events", "{event}",
		"Memory events by snug.memory.event (memory.events low, high, max, oom, oom_kill; on cgroup v1 only max, from memory.failcnt, and oom_kill, from memory.oom_control).")
	c.stalled = f64(counter, "snug.container.pressure.stalled", "s",
		"Pressure stall time (PSI) by snug.pressure.resource (cpu, memory, io) and snug.pressure.scope (some: at least one task stalled; full: all non-idle tasks stalled), from the cgroup's *.pressure files.")
	if err != nil {
		return nil, err
	}
	return m.RegisterCallback(c.observe,
		c.cpuTime, c.cpuLimit, c.cpuCount, c.periods, c.throttled, c.throttledTime,
		c.memUsage, c.workingSet, c.rss, c.available, c.memLimit, c.memHigh, c.events, c.stalled)
}

func (c *containerObserver) observe(_ context.Context, o metric.Observer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	lim, limErr := c.g.Limits()
	st, _ := c.g.Stats() // a file not read has its Has* flag false

	// Limits and Stats return what they could read along with an error that
	// names each file they could not. A field whose file failed, or that
	// the cgroup does not have (on v2 the files of a controller the parent
	// did not enable), reads as 0, which for a counter would look like a
	// reset and for a limit like "unlimited": leave out exactly the
	// metrics those files feed, and report the rest.
	cpuLimOK := c.hasCPU && !cgroup.FailedFile(limErr, "cpu.max", "cpu.cfs_quota_us", "cpu.cfs_period_us")
	cpusOK := !cgroup.FailedFile(limErr, "cpuset.cpus.effective", "cpuset.effective_cpus", "cpuset.cpus", "sched_getaffinity")
	memLimOK := c.hasMemory && !cgroup.FailedFile(limErr, "memory.max", "memory.limit_in_bytes", "memory.stat")
	highOK := c.hasMemory && !cgroup.FailedFile(limErr, "memory.high")
	cpuOK, cfsOK, usageOK, eventsOK := st.HasCPUUsage, st.HasCFS, st.HasMemoryCurrent, st.HasMemoryEvents
	memStatOK := usageOK && st.HasMemoryStat // working set needs both

	if cpuOK {
		o.ObserveFloat64(c.cpuTime, st.CPUUsage.Seconds())
	}
	if cpuLimOK && lim.CPU > 0 {
		o.ObserveFloat64(c.cpuLimit, lim.CPU)
	}
	if cpusOK && lim.CPUs > 0 {
		o.ObserveInt64(c.cpuCount, int64(lim.CPUs))
	}
	if cfsOK {
		o.ObserveInt64(c.periods, clampU(st.Periods))
		o.ObserveInt64(c.throttled, clampU(st.ThrottledPeriods))
		o.ObserveFloat64(c.throttledTime, st.ThrottledTime.Seconds())
	}
	if usageOK {
		o.ObserveInt64(c.memUsage, st.MemoryCurrent)
	}
	if memStatOK {
		o.ObserveInt64(c.workingSet, st.WorkingSet)
		o.ObserveInt64(c.rss, st.Anon)
	}
	if memLimOK && lim.MemoryMax > 0 {
		o.ObserveInt64(c.memLimit, lim.MemoryMax)
		// The kernel holds the usage of memory.max's own cgroup against
		// it: a pod's, siblings included, under a pod-level limit; also
		// when the process's own cgroup has no memory files (a leaf whose
		// parent did not enable the controller is charged to the parent).
		if _, ws, ok := st.UsageAgainst(lim.MemoryMaxSource); ok || memStatOK {
			o.ObserveInt64(c.available, max(lim.MemoryMax-ws, 0))
		}
	}
	if highOK && lim.MemoryHigh > 0 {
		o.ObserveInt64(c.memHigh, lim.MemoryHigh)
	}
	if eventsOK {
		ev := st.MemoryEvents
		if c.v2Memory {
			o.ObserveInt64(c.events, clampU(ev.Low), c.eventOpts[0]...)
			o.ObserveInt64(c.events, clampU(ev.High), c.eventOpts[1]...)
			o.ObserveInt64(c.events, clampU(ev.OOM), c.eventOpts[3]...)
		}
		o.ObserveInt64(c.events, clampU(ev.Max), c.eventOpts[2]...)
		o.ObserveInt64(c.events, clampU(ev.OOMKill), c.eventOpts[4]...)
	}
	for i, p := range [...]*cgroup.Pressure{&st.CPUPressure, &st.MemoryPressure, &st.IOPressure} {
		if !p.Valid {
			continue
		}
		o.ObserveFloat64(c.stalled, p.Some.Total.Seconds(), c.psiOpts[i][0]...)
		// The kernel reports a "full" line for cpu.pressure too (always 0
		// at the cgroup level before 5.13); report it as read.
		o.ObserveFloat64(c.stalled, p.Full.Total.Seconds(), c.psiOpts[i][1]...)
	}
	return nil
}

func clampU(v uint64) int64 {
	if v > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(v)
}

// Package telemetry reports, as OpenTelemetry metrics, what the Go runtime
// is doing inside its container's limits: GC pauses, heap against the
// limit, GOMAXPROCS against the CPU quota, throttling, memory pressure, and
// what snug's tuner and health checks decided.
//
// Register creates the instruments on a MeterProvider (the global one by
// default); NewProducer supplies the two runtime histograms, which a reader
// must carry. Every value is read when the exporter collects, never cached:
// a scrape shows the runtime and the cgroup as they are at that instant.
// Nothing runs between collections.
//
//	reader := sdkmetric.NewPeriodicReader(exporter, sdkmetric.WithProducer(telemetry.NewProducer()))
//	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
//	reg, err := telemetry.Register(telemetry.WithMeterProvider(mp))
//
// Package telemetry/export does all of this from the standard OTEL_*
// environment variables, and package telemetry/prom serves the metrics at
// /metrics on the service's own mux. This package links neither: besides
// snug's own packages it needs only the OpenTelemetry API and metric SDK,
// so a service that brings its own exporter pays for no other.
//
// # Go runtime
//
// These follow the OpenTelemetry semantic conventions for Go (namespace
// go, status "development"), read from runtime/metrics in one call per
// collection. runtime.ReadMemStats, which stops the world, is never
// called; a test proves that collection adds no stop-the-world pause.
//
//	metric                       kind           unit          source (runtime/metrics)
//	go.memory.used               UpDownCounter  By            /memory/classes/total:bytes - /memory/classes/heap/released:bytes,
//	                                                          split by go.memory.type: stack (/memory/classes/heap/stacks:bytes) and other
//	go.memory.limit              UpDownCounter  By            /gc/gomemlimit:bytes; absent when there is no limit
//	go.memory.allocated          Counter        By            /gc/heap/allocs:bytes
//	go.memory.allocations        Counter        {allocation}  /gc/heap/allocs:objects
//	go.memory.gc.goal            UpDownCounter  By            /gc/heap/goal:bytes
//	go.memory.gc.cycles          Counter        {gc_cycle}    /gc/cycles/total:gc-cycles
//	go.memory.gc.pause.duration  Histogram      s             /sched/pauses/total/gc:seconds (NewProducer)
//	go.goroutine.count           UpDownCounter  {goroutine}   /sched/goroutines:goroutines
//	go.processor.limit           UpDownCounter  {thread}      /sched/gomaxprocs:threads
//	go.config.gogc               UpDownCounter  %             /gc/gogc:percent; absent when GOGC=off
//	go.schedule.duration         Histogram      s             /sched/latencies:seconds (NewProducer)
//	go.cpu.time                  Counter        s             /cpu/classes/{gc/total,idle,scavenge/total,user}:cpu-seconds,
//	                                                          by go.cpu.state: gc, idle, scavenge, user
//
// go.cpu.time is the runtime's estimate, which it updates at the end of
// each GC cycle only: it is zero until the first cycle and flat between
// cycles. For the CPU the container was billed, use container.cpu.time.
//
// # Container
//
// These come from package cgroup: the process's own cgroup, opened once by
// Register, its limit and counter files read at each collection (cgroup v1,
// v2 and hybrid). Names of the semantic conventions where they have one;
// snug.* otherwise. Limits are the effective ones: the tightest over the
// cgroup and its ancestors.
//
//	metric                                    kind           unit      source
//	container.cpu.time                        Counter        s         cpu.stat usage_usec (v2), cpuacct.usage (v1)
//	container.memory.usage                    UpDownCounter  By        memory.current (v2), memory.usage_in_bytes (v1)
//	container.memory.working_set              UpDownCounter  By        usage less memory.stat inactive_file, as the kubelet computes it
//	container.memory.rss                      UpDownCounter  By        memory.stat anon (v2), total_active_anon + total_inactive_anon (v1)
//	container.memory.available                UpDownCounter  By        memory limit less its cgroup's working set; absent without a limit
//	snug.container.cpu.limit                  UpDownCounter  {cpu}     cpu.max (v2), cpu.cfs_quota_us / cpu.cfs_period_us (v1); absent without a quota
//	snug.container.cpu.count                  UpDownCounter  {cpu}     cpuset.cpus.effective and the affinity mask
//	snug.container.cpu.cfs.periods            Counter        {period}  cpu.stat nr_periods
//	snug.container.cpu.cfs.throttled_periods  Counter        {period}  cpu.stat nr_throttled
//	snug.container.cpu.cfs.throttled_time     Counter        s         cpu.stat throttled_usec (v2), throttled_time (v1)
//	snug.container.memory.limit               UpDownCounter  By        memory.max (v2), memory.limit_in_bytes (v1); absent without a limit
//	snug.container.memory.high                UpDownCounter  By        memory.high (v2 only); absent when unset
//	snug.container.memory.events              Counter        {event}   memory.events, by snug.memory.event: low, high, max, oom, oom_kill;
//	                                                                   on v1 only max (memory.failcnt) and oom_kill (memory.oom_control)
//	snug.container.pressure.stalled           Counter        s         cpu.pressure, memory.pressure, io.pressure "total",
//	                                                                   by snug.pressure.resource (cpu, memory, io) and snug.pressure.scope (some, full)
//
// The semantic conventions make container.memory.usage a Counter; it is an
// UpDownCounter here, because memory usage goes down, and a Prometheus
// counter that goes down reads as a restart. container.cpu.time carries no
// cpu.mode attribute: the cgroup's user and system split (cpuacct.stat on
// v1) is in clock ticks and does not add up to the total.
//
// A metric whose file cannot be read at a collection is left out of that
// collection, not reported as zero: a zero would read as a counter reset,
// an empty cgroup or no limit. So is one whose file the cgroup does not
// have: on cgroup v2, the files of a controller its parent did not enable
// (no memory.current without memory accounting), and the root cgroup's.
// The others are reported as usual. Without a cgroup (bare metal, macOS)
// there are no container metrics at all.
//
// # Tuner, events, health
//
// What snug's other components decide reaches telemetry through functions
// given to Register, called once per collection. WithTuner and WithHealth
// supply them for a *tune.Tuner and a *health.Handler; WithDecisions,
// WithEvents and WithChecks take any function, for adapters and tests.
//
//	metric                 kind           unit      option                 attributes
//	snug.tune.gomaxprocs   UpDownCounter  {thread}  WithTuner, WithDecisions  snug.tune.owner (snug, runtime, env, ...)
//	snug.tune.gomemlimit   UpDownCounter  By        WithTuner, WithDecisions  snug.tune.owner; absent without a limit
//	snug.tune.gogc         UpDownCounter  %         WithDecisions             snug.tune.owner
//	snug.events            Counter        {event}   WithTuner, WithEvents     snug.event.source, snug.event: for the tuner
//	                                                                          "tune": evaluations, changes, stop_the_world;
//	                                                                          "watchdog": its event kinds (free-os-memory, ...)
//	snug.health.status     Gauge          {status}  WithHealth, WithChecks    snug.health.check, snug.health.kind (1 passing, 0 failing)
//	snug.health.duration   Gauge          s         WithHealth, WithChecks    snug.health.check, snug.health.kind
//
// # Cost
//
// One collection of every instrument above, through the SDK's
// ManualReader, takes about 90 µs on an idle 2-core shared VM (more when
// the machine is loaded), of which reading the cgroup files is about 40 µs
// and the SDK's aggregation most of the rest. snug's callbacks allocate
// nothing; the SDK allocates four to five times per data point
// (BenchmarkCollect, TestCollectAllocs). A collection never stops the world
// (TestCollectNoStopTheWorld).
package telemetry

// Package probe defines health checks for a Go service running in a
// Kubernetes container, and the built-in checks that snug recommends.
//
// A check is a name and a function:
//
//	probe.Check{
//		Name: "db",
//		Kind: probe.Readiness,
//		Func: func(ctx context.Context) error { return db.PingContext(ctx) },
//	}
//
// The function returns nil when the check passes and an error that says
// what is wrong when it fails. It must return soon after ctx is done: the
// kubelet gives a probe one second by default, and package health fails a
// check at its deadline whether or not the function has returned.
//
// # Liveness, readiness, startup
//
// The three kubelet probes ask different questions, and a check belongs to
// the probe whose question it answers:
//
//   - Liveness: "is this process broken in a way only a restart can fix?"
//     A failing liveness probe makes the kubelet kill the container. Put
//     here only what a restart cures: a deadlock, a goroutine leak, a GC
//     death spiral. Never a dependency: if the database is down, restarting
//     every replica makes things worse, not better.
//   - Readiness: "should this replica receive traffic now?" A failing
//     readiness probe takes the pod out of its Services' endpoints; nothing
//     is restarted. Put here what makes this replica unable to serve well
//     for a while: it is warming up, shutting down, or close to its memory
//     limit. Dependencies belong here only when this replica cannot serve
//     without them AND other replicas could (a per-pod sidecar, a local
//     cache). A dependency shared by all replicas makes them all unready at
//     once, and the Service then answers every client with connection
//     errors instead of this service's own, more useful, error.
//   - Startup: "has the process finished starting?" Checks of kind Startup
//     keep readiness failing until each has passed once; after that they are
//     not run again.
//
// # Built-in checks
//
// Each built-in returns a Check with a name and kind already set; change
// either before registering it if you need to.
//
//	Check            Name             Kind       Use it to
//	Goroutines       goroutines       Liveness   restart a process that leaks goroutines
//	MemoryHeadroom   memory-headroom  Readiness  shed load before the cgroup OOM-kills
//	GCDeathSpiral    gc-death-spiral  Liveness   restart a process that only collects garbage
//	CPUThrottling    cpu-throttling   Readiness  shed load while the CPU quota is exhausted
//	TCPDial          (yours)          Readiness  see that a TCP endpoint accepts connections
//	HTTPGet          (yours)          Readiness  see that an HTTP endpoint answers 2xx or 3xx
//	SQLPing          (yours)          Readiness  see that a database answers PingContext
//	DNSResolve       (yours)          Readiness  see that a host name resolves
//	Func             (yours)          (yours)    anything else
//
// [Standard] returns the built-ins that suit any service. CPU throttling is
// not among them (it is off by default): see [CPUThrottling] for why.
package probe

// Package bench measures what fitting a Go program to its container is
// worth: how long the garbage collector stops the world and how long
// requests wait, under real CPU quotas and memory limits, for every way of
// choosing GOMAXPROCS and GOMEMLIMIT side by side. It holds no library code;
// its benchmarks are the evidence behind the defaults of package tune.
//
// # What runs
//
// Each benchmark case builds nothing itself: it starts the workload program
// (bench/internal/workload) as a child process inside a child cgroup that
// the harness creates under its own, with a real CFS quota and, for the
// memory cases, a real memory limit (internal/cgtest; v1 or v2, whichever
// the host has), and removes the cgroup afterwards. The workload is one
// binary for every peer, selected with -peer, so that two cases differ only
// in the peer:
//
//	numcpu        GOMAXPROCS = every CPU (GODEBUG=containermaxprocs=0), Go before 1.25
//	runtime       Go's own default: the quota rounded up, at least 2
//	automaxprocs  go.uber.org/automaxprocs: the quota rounded down, at least 1
//	automemlimit  github.com/KimMachineGun/automemlimit: GOMEMLIMIT = 90% of the limit
//	snug          package tune with its default policy (tune.DefaultPolicy, adaptive)
//	snug-<p>      package tune with each other policy p (floor, ceil, runtime)
//
// The workload keeps a live heap of pointerful documents (20 MiB) and
// serves an open-loop stream of requests at a fixed rate, half the quota's
// worth of CPU by default: each request builds 32 KiB of request-scoped
// objects, encodes them into a growing buffer and hashes it (about 110 KiB
// allocated in all), and now and then replaces a document, so the collector
// runs about nine times a second at the 0.5-CPU quota. Latency counts from each request's scheduled send time, so a
// stop-the-world pause or a CFS throttle shows in every request it delays.
// The rate comes from a calibration run (the CPU one request costs, GC
// included), the same for every peer of a run.
//
// BenchmarkCPU has quotas of 0.5, 1 and 1.5 CPUs, half the machine on
// machines of 4 CPUs or more, and none. BenchmarkMemory has a 256 MiB limit
// and a 1-CPU quota, and a window twice as long (10 s), with two scenarios:
// "burst" (130 MiB more live heap held for 4 s under load, near the limit)
// and "quiet" (the burst is released as traffic stops, then 110 MiB of
// anonymous memory outside the Go heap is touched page by page over 4 s;
// freed heap the runtime still holds and the new memory add up against the
// limit, and nothing allocates, so no GC returns it by itself).
//
// # Metrics
//
// Each case reports, through testing.B.ReportMetric:
//
//	stw-p50-ns, stw-p99-ns, stw-max-ns  GC stop-the-world pauses (/sched/pauses/total/gc:seconds)
//	stopping-p99-ns                      time to stop the world (/sched/pauses/stopping/gc:seconds)
//	req-p50-ns, req-p99-ns, req-p999-ns  request latency from the scheduled send time
//	throttled-periods, throttled-ms      CFS throttling in the window (the cgroup's cpu.stat)
//	gc-cpu-pct                           GC share of the CPU time the Ps were busy
//	oom-kills                            OOM kills (memory.oom_control or memory.events)
//	peak-rss-bytes                       VmHWM; the cgroup's peak usage if the process was killed
//	gomaxprocs                           GOMAXPROCS at the end of the window
//
// Pause quantiles come from the runtime's histogram buckets and are the
// upper edge of the bucket (up to 25% above the true value). The built-in
// ns/op is suppressed: one iteration is one fixed-length run.
//
// Every run must serve requests and see the collector stop the world, and
// every peer must end up with the GOMAXPROCS (and, in the memory cases, the
// GOMEMLIMIT) its rules give for the quota, or the case fails; snug's
// adaptive policy may end with either of its two roundings. Each run warms
// up for 4 s before its window (300 ms with -short), the same for every
// peer: the adaptive policy takes its first decision about 3.2 s after
// start, and the window measures the settled process, as a service that
// runs for hours is. An OOM kill
// in a memory case is a result, not a failure.
//
// # Running
//
// One iteration is one run of 9 to 14 seconds, so run each case once per
// pass and repeat the pass; interleaved passes spread the machine's noise
// over every case:
//
//	for i in 1 2 3 4 5 6; do
//		go test -run '^$' -bench . -benchtime 1x -count 1 -timeout 30m ./bench/
//	done > results.txt
//	go run golang.org/x/perf/cmd/benchstat@latest -col /policy results.txt
//	go run ./bench/cmd/report -in results.txt -out bench/results -readme README.md
//
// A pass takes about 5.5 minutes on 2 CPUs. With -short each run measures
// for 1 second (2 in the memory cases) and only the 0.5-CPU quota and the
// memory cases run (about 30 seconds in all), the variant CI runs so that
// the suite never rots:
//
//	SNUG_REQUIRE_CGROUP=1 go test -short -run '^$' -bench . -benchtime 1x ./bench/...
//
// Without root or a writable cgroup filesystem the suite logs why once and
// runs only the unconstrained cases (SNUG_REQUIRE_CGROUP=1 makes that a
// failure instead). On a machine shared with other work, the harness gives
// each workload cgroup ten times the CPU weight of an ordinary process, as
// a Kubernetes node backs a pod's CPU request, so that the neighbours'
// load disturbs the measurement less; the quota still binds.
//
// Environment: SNUG_BENCH_WINDOW (measured window per run, default 5s),
// SNUG_BENCH_LOAD (share of the quota the arrival rate uses, default 0.5),
// SNUG_BENCH_COST (pin the calibrated CPU cost of a request, such as 180us,
// to compare runs across machines or days), SNUG_BENCH_SCHED (other, the
// default, or batch: run the workload under SCHED_BATCH, see below). A
// value that cannot be used fails the benchmarks rather than running them
// at the default.
//
// # The GC pause with two Ps
//
// With GOMAXPROCS 2 and no throttling the runtime's reported GC pause has a
// tail of about a millisecond here, mostly a runtime thread woken at the end
// of sweep termination preempting the one that ends the pause. A woken
// SCHED_BATCH thread never preempts the running one, so
// SNUG_BENCH_SCHED=batch shows how much of the tail that is; the
// measurements are in results/sched-batch-2026-12-03.
package bench

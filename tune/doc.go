// Package tune keeps GOMAXPROCS and GOMEMLIMIT fitted to the limits of the
// container a Go process runs in, and follows them when they change.
//
// Most programs get it with one line, the blank import of the root
// package, which calls Start with the defaults at init:
//
//	import _ "github.com/snug-go/snug"
//
// A program that wants other options calls Start itself instead:
//
//	t, err := tune.Start(ctx, tune.WithPolicy(tune.PolicyCeil), tune.WithReserveCPUs(0.5))
//	...
//	defer t.Stop()
//
// # What it decides
//
// GOMAXPROCS comes from the effective CPU quota of package cgroup: the
// tightest quota over the process's cgroup and every ancestor, where the
// Go runtime (1.25 and later) reads only the process's own cgroup. A
// Policy turns the quota, less any reserve, into a whole number of Ps,
// within the minimum and maximum given, and never more than the CPUs the
// process may run on. When that number is what the runtime would choose by
// itself (min(CPUs, max(2, ceil(own quota))) since Go 1.25), the Tuner
// makes no call and leaves the runtime in charge, so its own updates keep
// working; otherwise it sets the value with runtime.GOMAXPROCS and keeps it
// up to date, handing back with runtime.SetDefaultGOMAXPROCS when the two
// agree again. The default policy, PolicyAdaptive, also reads how busy the
// cgroup is: where rounding down and the runtime's rounding differ, it
// starts with fewer Ps and takes the runtime's extra one while the process
// stays well under its quota and unthrottled, since a quota that binds
// turns that P into throttling stalls.
//
// GOMEMLIMIT comes from the effective memory limit, the lower of memory.max
// and memory.high over the process's cgroup and its ancestors:
//
//	GOMEMLIMIT = min(ratio × limit, limit − min(headroom, limit/2))
//
// with a ratio of 0.9 and a headroom of 32 MiB by default; when that is
// under 16 MiB (MinMemoryLimit), no limit is set at all. The headroom is for what the cgroup
// charges and the Go runtime does not count: the binary's pages, page
// cache, socket buffers, thread stacks, C allocations. Swap is not added
// to the limit: a Go heap that spills into swap makes every GC cycle fault
// it back in; the Source says when the cgroup allows swap. Without a
// memory limit, GOMEMLIMIT is left as found.
//
// # Who decides
//
// Each knob has an Owner. The environment comes first: SNUG=off and
// SNUG_GOMAXPROCS=off / SNUG_GOMEMLIMIT=off leave knobs alone, and a
// GOMAXPROCS or GOMEMLIMIT environment variable is the operator's decision,
// kept unless SNUG_GOMAXPROCS=force / SNUG_GOMEMLIMIT=force. The other
// SNUG_* variables override the options given to Start. The full table of
// variables is in the documentation of package
// [github.com/snug-go/snug]. Then the program: a runtime.GOMAXPROCS or
// debug.SetMemoryLimit call after Start is noticed at the next evaluation,
// logged once, and the Tuner steps back from that knob for good. A value
// set before Start by other code (another package's init, for example) is
// replaced, and restored by Stop.
//
// # Following changes
//
// While it has a knob to follow, the Tuner re-reads the limits every
// second (WithInterval, SNUG_INTERVAL), whether the process is busy or
// idle, and applies a new memory limit at once: a resize is followed
// within about a second. A GOMAXPROCS change stops the world, so it is
// applied only when a second read 200 ms after the first confirms it, and
// at least 5 s after the previous change; a change that undoes the previous
// one within a minute doubles that gap, up to a minute. A quota that flaps
// every second thus costs at most one pause a minute, while a single
// resize is followed within about 1.2 s. While the runtime owns GOMAXPROCS
// it follows the quota itself (the Tuner's timer keeps its once-a-second
// check awake); if it has not caught up by the next evaluation, or at once
// when it does not update by itself (GODEBUG=updatemaxprocs=0, the default
// for a main module whose go.mod says go 1.24 or older), the Tuner calls
// runtime.SetDefaultGOMAXPROCS.
//
// # Logging and status
//
// The Tuner logs through log/slog (slog.Default unless WithLogger): one
// line at Start with both decisions, one per change, one per bad
// environment variable, and nothing per evaluation. Quiet and SNUG_LOG=quiet
// silence it. Status returns the current Decision for each knob (value,
// owner, reason and source), the limits read last and counters of
// evaluations, changes and stop-the-world pauses; it is a plain struct,
// cheap enough to read at every metrics scrape. OnChange delivers each new
// Decision as it is made.
//
// # The GC watchdog
//
// GOMEMLIMIT knows only the Go runtime's own memory, and the GC knows only
// its own heap; the kernel OOM-kills on the cgroup's usage, which also
// holds memory mapped outside Go and pages the heap freed but the runtime
// kept. The watchdog, on by default, watches both sides at each interval,
// from runtime/metrics (never runtime.ReadMemStats, which stops the world)
// and the cgroup's counters, in the Tuner's goroutine. Each part can be
// switched off by an option and by its SNUG_WATCHDOG_* variable;
// WithoutWatchdog and SNUG_WATCHDOG=off stop it all. It needs a cgroup.
//
// Memory outside Go. GOMEMLIMIT is lowered by the unreclaimable memory the
// container uses outside the Go runtime: anonymous memory (C allocations,
// mmap, other processes in the container), shared memory and kernel
// memory, less what the runtime holds (/memory/classes/total:bytes less
// /memory/classes/heap/released:bytes). Page cache is not counted: the
// kernel reclaims it under pressure, and a service that reads files must
// not see its heap shrink for it. The deduction moves in steps of 4 MiB or
// 1/64 of the limit, whichever is larger, so that GOMEMLIMIT does not
// change at every small wobble, and never takes GOMEMLIMIT below a quarter
// of what the limit alone gives (nor below MinMemoryLimit). The Tuner
// stays the single owner of GOMEMLIMIT: the lowered value is its Decision,
// named in the Source ("lowered: 120 MiB used outside the Go runtime"),
// restored by Stop, and left alone when GOMEMLIMIT is not the Tuner's
// (the environment variable, the application, SNUG_GOMEMLIMIT=off).
//
// Near the limit. When the working set reaches 92% of the limit
// (DefaultFreeOSMemoryAt, WithFreeOSMemoryAt) and the runtime holds memory
// a GC and a scavenge could return (free pages not yet released, objects
// the last GC did not find live, or, when no GC has run in the last two
// looks, the whole heap, which only a GC can judge), the watchdog calls
// debug.FreeOSMemory: a full GC that blocks the Tuner's goroutine and
// returns every free page. It records what that freed and took
// (EventFreeOSMemory). At most one call per 30 s and 4 per 10 minutes; a
// call that frees less than half of 8 MiB (or of 1/32 of the limit, if
// larger) is taken as a sign that the memory is live, and none follows
// until the runtime holds that much more. When it cannot help, because
// the working set is page cache or memory outside Go, it reports
// EventNearLimit, at most once a minute, with the breakdown. This is what
// saves a service that bursts, drops its heap and goes quiet (no GC runs,
// the runtime keeps the pages) while its memory outside Go grows: with
// GOMEMLIMIT alone it is OOM-killed (see TestHostWatchdogFreesBeforeOOM).
//
// Memory can grow faster than one sample a second can follow: by some
// 90 MiB a second in the quiet scenario of package bench, from 85% of a
// 256 MiB limit, where a watchdog that looked once a second was OOM-killed
// in every run. So while the working set is within 25% of the limit below
// the threshold (from 67% of the limit at 92%), the watchdog also looks
// every 50 ms between samples (Status.Watchdog.NearChecks): a read of
// memory.current alone (cgroup.Group.MemoryLimitCurrent, about 1 µs), less
// the inactive page cache the last full read found, and the full read and
// the decision above only once that has reached the threshold
// (every time under a v1 ancestor's limit the mount hides, whose usage
// that one file does not show: about 40 µs). Waking an idle process that
// often costs more than the reads: about 0.5% of a CPU on the test VM,
// nothing measurable in a busy one (see the README). WithoutFreeOSMemory
// and SNUG_WATCHDOG_FREE=off stop the checks with the calls. Memory that
// grows from below that band to the limit within one interval can still
// outrun it, and so can memory that grows while the kernel drops page
// cache to make room (the usage stays put), or cache that was inactive at
// the last full read and is read again: the next sample sees them. A
// cgroup full of page cache, whose working set is low, is not checked:
// the kernel fills any cgroup that writes or reads files up to its limit,
// and it would otherwise wake 20 times a second for as long as it lasts.
//
// The 92% is above what a healthy heap at its GOMEMLIMIT reaches, so that
// such a program does not pay full GCs for nothing, with the room a
// program typically grows by in 50 ms below it. Measured here
// (BenchmarkHostWatchdogAtLimit: small pointerful objects, 100 MiB/s of
// garbage): the working set peaked at 0.80 to 0.88 of a 256 MiB limit
// with 100 to 180 MiB live, and at 0.87 to 0.90 of 1 GiB with 600 MiB
// live.
//
// Long pauses. A GC stop-the-world pause of 10 ms or more
// (DefaultLongPause, WithLongPause), as the runtime's pause histograms
// show (/sched/pauses/total/gc:seconds and its stopping part, 25%
// resolution), is reported as EventLongPause with its likely cause:
// CPU throttling in the same window ("pause overlapped CPU throttling:
// GOMAXPROCS 2 > quota 0.2"), a slow stop (a descheduled thread, CPU
// pressure), or neither; with GOMAXPROCS, the quota, the throttled
// periods, the live heap and the goroutine count. One a minute; the rest
// are counted. With WithSnapshots(dir, SnapshotTrace) a flight recorder
// (runtime/trace, Go 1.25+) runs all along and its last seconds are
// written to dir with the event.
//
// Death spiral. A heap that leaks under GOMEMLIMIT does not get the
// process killed: the GC runs back to back, its CPU limiter holds it near
// half the CPU, and the program answers slowly for hours. When the GC has
// taken half or more of the CPU the program used (DefaultSpiralShare,
// idle time and GC work on idle Ps left out; /cpu/classes) for a whole
// minute (DefaultSpiralWindow, WithDeathSpiral) with the live heap at 80%
// of GOMEMLIMIT or more or the GC CPU limiter engaged, the watchdog
// reports EventDeathSpiral and DeathSpiral returns true, which the
// GCDeathSpiral check of package github.com/snug-go/snug/probe turns into
// a failing liveness probe, so that Kubernetes restarts the pod. Measured
// here, a leak took the GC from 27% to 62-71% of the CPU as its live heap
// passed 80% of GOMEMLIMIT; programs holding steady at 45% and 67% took
// 21-31% and 38-47%. One holding steady at 80% took 51-61%: it counts as
// a spiral, rightly, since it spends most of its CPU collecting; give it
// more memory, or WithoutDeathSpiral.
//
// Events. Each Event has a kind, a time, a one-line message and its
// numbers as log attributes. They are logged (except EventMemoryOutsideGo,
// which the GOMEMLIMIT change line says), delivered to OnEvent functions
// and counted by kind in Status.Watchdog, which also holds the last
// sample's numbers for telemetry.
//
// # Cost
//
// Measured on a 2-core shared VM (cgroup v1, Go 1.26); run the benchmarks
// for your own figures:
//
//   - One evaluation: about 15 µs, most of it the kernel generating v1's
//     memory.stat; one 32-byte allocation, and no pause while the limits
//     hold still.
//   - Idle: about 0.015% of one CPU at the default interval.
//   - The blank import's init: about 0.5 ms in a fresh process, mostly
//     package cgroup opening the process's cgroups.
//   - A GOMAXPROCS change: one stop-the-world pause, about 2 µs in an idle
//     process and longer when running goroutines must be stopped; counted
//     in Status.StopTheWorlds and in the runtime's
//     /sched/pauses/total/other:seconds.
//   - Binary size: about 0.9 MiB on a stripped net/http server, of which
//     240 KiB is runtime/pprof, for the watchdog's heap snapshots.
//   - The watchdog: one sample (runtime/metrics in about 2 µs, then
//     cgroup.Stats, about 30 µs on v1, most of it the kernel generating
//     memory.stat) and its decisions, 31 to 40 µs with no allocation while
//     nothing happens; about 0.01% of one CPU at the default interval, on
//     top of the Tuner's own.
package tune

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
// agree again.
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
//   - Binary size: under 0.5 MiB on a stripped net/http server.
package tune

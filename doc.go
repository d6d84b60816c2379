// Package snug makes a Go service fit its container. Import it for its side
// effect:
//
//	import _ "github.com/snug-go/snug"
//
// At init it starts a [tune.Tuner] with the defaults, which sets
// GOMAXPROCS from the container's CPU quota and GOMEMLIMIT from its memory
// limit, and keeps both fitted while the limits change (a Kubernetes
// in-place resize, a limit on the pod's cgroup that the Go runtime cannot
// see). It logs one line with its decisions through log/slog, and one line
// per change. [Tuner] returns the running Tuner, whose Status says what it
// decided and why, for example:
//
//	GOMAXPROCS 1: cpu.max 50000 100000 at /kubepods/burstable/pod1 (ancestor), 2 CPUs (…), policy adaptive (floor); the runtime alone would use 2
//	GOMEMLIMIT 224 MiB: memory.max 268435456 at /kubepods/burstable/pod1/ctr, limit 256 MiB minus headroom 32 MiB, no swap
//
// Importing snug never stops or slows the program's start: without
// cgroups or limits it changes nothing, a malformed variable is ignored
// with one warning, and the init work takes well under a millisecond (see
// the tune package's benchmarks). To choose the options in code instead,
// do not import this package: call [tune.Start] in main.
//
// # Who decides
//
// For each knob, the first of these that applies wins:
//
//  1. SNUG=off, SNUG_GOMAXPROCS=off, SNUG_GOMEMLIMIT=off: snug leaves it alone.
//  2. The Go runtime's own variable, GOMAXPROCS or GOMEMLIMIT, when set:
//     it is the operator's decision, and snug keeps it, unless
//     SNUG_GOMAXPROCS=force or SNUG_GOMEMLIMIT=force.
//  3. A call the program makes after the Tuner started (runtime.GOMAXPROCS,
//     debug.SetMemoryLimit): snug notices at its next look, logs it once,
//     and steps back from that knob for good.
//  4. snug's policy, from the effective cgroup limits (the tightest over the
//     process's cgroup and its ancestors). When the policy's GOMAXPROCS is
//     what the Go runtime would choose by itself, snug makes no call and
//     leaves the runtime in charge of its own updates. Without a memory
//     limit, GOMEMLIMIT is left as it is.
//
// # Environment variables
//
// Every variable is optional. A value that makes no sense is ignored: the
// default stands and one warning names the variable, its value and what it
// accepts. Nothing panics.
//
//	Variable                     Values (default first)           Effect
//	SNUG                         on | off                         off: snug changes nothing at all
//	SNUG_LOG                     info | quiet                     quiet: no log lines
//	SNUG_GOMAXPROCS              auto | off | force               off: leave GOMAXPROCS alone; force: manage it even when GOMAXPROCS is set
//	SNUG_GOMAXPROCS_POLICY       adaptive | floor | runtime | ceil how a CPU quota becomes GOMAXPROCS (tune.Policy)
//	SNUG_GOMAXPROCS_MIN          integer ≥ 1 (none)               least GOMAXPROCS (still at most the usable CPUs)
//	SNUG_GOMAXPROCS_MAX          integer ≥ 1 (none)               most GOMAXPROCS; a MIN above MAX ignores both
//	SNUG_GOMAXPROCS_RESERVE      CPUs ≥ 0, like 0.5 (0)           CPUs kept for sidecars or child processes, taken off the quota
//	SNUG_GOMEMLIMIT              auto | off | force               off: leave GOMEMLIMIT alone; force: manage it even when GOMEMLIMIT is set
//	SNUG_GOMEMLIMIT_RATIO        0 < r ≤ 1 (0.9)                  share of the memory limit for the Go runtime
//	SNUG_GOMEMLIMIT_HEADROOM     bytes, like 64MiB (32MiB)        least memory kept outside GOMEMLIMIT (at most half the limit)
//	SNUG_INTERVAL                duration ≥ 10ms (1s)             how often the limits are re-read
//	SNUG_WATCHDOG                on | off                         off: no GC watchdog (no FreeOSMemory, no GOMEMLIMIT lowering for memory outside Go, no events)
//	SNUG_WATCHDOG_FREE           0 < s ≤ 1 | off (0.92)           working set share of the memory limit from which debug.FreeOSMemory may be called
//	SNUG_WATCHDOG_OUTSIDE        on | off                         off: GOMEMLIMIT is not lowered for memory the container uses outside the Go runtime
//	SNUG_WATCHDOG_PAUSE          duration | off (10ms)            GC pause from which a long-pause event is reported
//	SNUG_WATCHDOG_SPIRAL         0 < s < 1 | off (0.5)            GC share of the CPU that, sustained with the heap at its limit, is a death spiral
//	SNUG_WATCHDOG_SPIRAL_WINDOW  1s to 24h (60s)                  how long that share must last before tune.Tuner.DeathSpiral reports true
//	SNUG_WATCHDOG_SNAPSHOTS      off | trace | heap | trace,heap  snapshots written on events: a flight-recorder trace, a heap profile
//	SNUG_WATCHDOG_SNAPSHOT_DIR   directory (none)                 where snapshots go (mode 0600; 8 files, 64 MiB per process at most)
//	GOMAXPROCS                   integer ≥ 1                      the Go runtime's; when set, snug keeps it (see SNUG_GOMAXPROCS)
//	GOMEMLIMIT                   bytes or off                     the Go runtime's; when set, snug keeps it (see SNUG_GOMEMLIMIT)
//
// Values are case-insensitive; SNUG also takes 0/1, false/true, no/yes.
// A GOMAXPROCS that is not a positive integer is ignored by the Go runtime,
// and so by snug (with a warning). GOMEMLIMIT takes the runtime's syntax
// (bytes with an optional B, KiB, MiB, GiB or TiB suffix, or off);
// SNUG_GOMEMLIMIT_HEADROOM takes the same byte syntax.
//
// # GOMAXPROCS
//
// The policy turns the effective CPU quota (less the reserve) into a count
// of Ps: floor rounds down with a minimum of 1 (as go.uber.org/automaxprocs
// does), runtime rounds up with a minimum of 2 (as the Go runtime does, but
// seeing ancestors' quotas), ceil rounds up with a minimum of 1. The
// default, adaptive, chooses between floor and runtime where they differ
// (a fractional quota such as 0.5 or 1.5): it starts at floor, takes the
// runtime's extra P once the cgroup's counters show the process calm (at
// most 85% of its limit used, under 30% of CFS periods throttled, two
// evaluations in a row), and drops back as soon as half of the periods
// are throttled. The extra P shortens the request tail of a service well under
// its quota; when the quota binds, it only buys throttling stalls, GC
// stop-the-world included (the bench directory has the numbers). The
// result is always between 1 and the CPUs the process may run on. The
// limits are re-read every second, idle or not; a change is applied once a
// second read confirms it, and changes are spaced at least 5 s apart
// (longer when the limit or the load flaps back and forth), because each
// one stops the world.
//
// # GOMEMLIMIT
//
// From the effective memory limit L, the lower of memory.max and
// memory.high over the process's cgroup and its ancestors:
//
//	GOMEMLIMIT = min(ratio × L, L − min(headroom, L/2))
//
// which gives 224 MiB for 256 MiB, 96 MiB for 128 MiB and 0.9 × L above
// 320 MiB. When that is under 16 MiB (a memory limit under 32 MiB), no
// GOMEMLIMIT is set. Swap is not added: a Go heap that
// spills into swap makes every GC cycle page it back in, so the limit keeps
// the heap in memory; the Decision's Source says when swap is allowed. A
// resize is followed within about a second. Without a limit, an existing
// GOMEMLIMIT is left as it is.
package snug

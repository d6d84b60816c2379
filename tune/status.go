package tune

import (
	"time"

	"github.com/snug-go/snug/cgroup"
)

// Knob names a runtime setting the Tuner manages. Its value is the name of
// the environment variable that sets the same thing, so a Knob can be
// printed, logged or used as a metric attribute as it is.
type Knob string

const (
	// GOMAXPROCS is the number of Ps: how many goroutines may run Go code at
	// the same instant (runtime.GOMAXPROCS).
	GOMAXPROCS Knob = "GOMAXPROCS"
	// GOMEMLIMIT is the Go runtime's soft memory limit in bytes
	// (debug.SetMemoryLimit).
	GOMEMLIMIT Knob = "GOMEMLIMIT"
)

// Owner says who is in charge of a knob's value.
type Owner string

const (
	// OwnerSnug: the Tuner set the value and keeps it up to date.
	OwnerSnug Owner = "snug"
	// OwnerRuntime: the Go runtime's own default is what the Tuner's policy
	// asks for, so the Tuner left (or handed back) the knob to the runtime,
	// which updates it by itself. Only GOMAXPROCS has such a default.
	OwnerRuntime Owner = "runtime"
	// OwnerEnv: the GOMAXPROCS or GOMEMLIMIT environment variable set the
	// value, and the Tuner respects it.
	OwnerEnv Owner = "env"
	// OwnerApplication: the program changed the value itself after Start
	// (runtime.GOMAXPROCS, debug.SetMemoryLimit); the Tuner stepped back for
	// that knob and will not touch it again.
	OwnerApplication Owner = "application"
	// OwnerOff: the Tuner was told to leave the knob alone (SNUG=off,
	// SNUG_GOMAXPROCS=off, SNUG_GOMEMLIMIT=off, WithoutMaxProcs,
	// WithoutMemoryLimit), or is stopped.
	OwnerOff Owner = "off"
	// OwnerNone: nothing to base a decision on (no cgroup, no memory limit,
	// a limit too small for a useful GOMEMLIMIT); the value is left as it
	// was found.
	OwnerNone Owner = "none"
)

// Decision is the state of one knob: the value in effect, who set it and
// why. The Tuner makes a new Decision whenever the value or the owner
// changes, and refreshes Reason and Source when the limit behind an
// unchanged value changes.
type Decision struct {
	Knob Knob

	// Value is the setting in effect: the GOMAXPROCS value, or GOMEMLIMIT
	// in bytes, where math.MaxInt64 means no limit.
	Value int64
	// Previous is the value before this Decision (equal to Value when only
	// the owner or the reason changed).
	Previous int64

	// Owned is true when the Tuner set Value itself (Owner is OwnerSnug).
	Owned bool
	Owner Owner

	// Reason says why in a few words, such as "policy floor",
	// "runtime default", "GOMAXPROCS environment variable",
	// "application set it", "no memory limit".
	Reason string
	// Source is one line a person can check against the cgroup files, such
	// as "GOMAXPROCS 1: cpu.max 50000 100000 at /kubepods/pod1 (ancestor),
	// policy floor".
	Source string

	// Time is when the Decision was made.
	Time time.Time
}

// Status is a snapshot of a Tuner, for logs, debug pages and telemetry. It
// is a plain value: Status copies it under a lock and does no I/O.
type Status struct {
	// Running is true while the Tuner's goroutine follows the limits for a
	// knob. It is false after Stop, and for a Tuner that found nothing to
	// follow (no cgroup, or both knobs off); the goroutine may still run
	// for the watchdog (Watchdog.Running).
	Running bool

	MaxProcs    Decision // GOMAXPROCS
	MemoryLimit Decision // GOMEMLIMIT

	// Limits are the effective cgroup limits read last, and Err the error
	// of that read (nil when it succeeded). While reads fail, the Tuner
	// keeps its previous decisions.
	Limits cgroup.Limits
	Err    error

	// Evaluations counts re-evaluations of the limits since Start.
	Evaluations uint64
	// Changes counts the times the Tuner changed a knob's value.
	Changes uint64
	// StopTheWorlds counts the runtime calls the Tuner made that stop the
	// world (a GOMAXPROCS change, or handing GOMAXPROCS back to the
	// runtime). The runtime records each one in the runtime/metrics
	// histogram /sched/pauses/total/other:seconds.
	StopTheWorlds uint64

	// Watchdog is the GC watchdog's state and counters.
	Watchdog WatchdogStatus

	// Started is when Start ran.
	Started time.Time
}

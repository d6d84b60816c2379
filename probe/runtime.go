package probe

import (
	"context"
	"errors"
	"fmt"
	"runtime"
)

// DefaultGoroutineLimit is the goroutine count over which the check built by
// [Standard] fails. Busy servers hold a few thousand goroutines, and even a
// server with one goroutine per open connection rarely passes tens of
// thousands; past 100,000, the stacks alone hold at least 200 MiB (2 KiB
// each at the least) and the count is almost always a leak that only grows.
const DefaultGoroutineLimit = 100_000

// Goroutines returns a liveness check named "goroutines" that fails when the
// process runs more than limit goroutines.
//
// Use it on /livez to restart a process that leaks goroutines (a missing
// context cancellation, a channel nobody reads) before the leak eats the
// memory limit and the kernel OOM-kills the container in the middle of a
// request. Choose limit well above the highest count the service reaches
// under load: a liveness failure restarts the container.
//
// A limit of zero or less makes the check fail with an error that says so.
func Goroutines(limit int) Check {
	return Check{
		Name: "goroutines",
		Kind: Liveness,
		Func: func(context.Context) error {
			if limit <= 0 {
				return fmt.Errorf("goroutine limit %d: must be positive", limit)
			}
			if n := runtime.NumGoroutine(); n > limit {
				return fmt.Errorf("%d goroutines, over the limit of %d: a goroutine leak?", n, limit)
			}
			return nil
		},
	}
}

// SpiralDetector reports whether the garbage collector is in a death
// spiral: the heap stays at its memory limit, so the GC runs back to back
// and the program does little else. The second result says why, for the
// probe output. The GC watchdog of package tune implements it.
type SpiralDetector interface {
	DeathSpiral() (spiraling bool, reason string)
}

// SpiralFunc adapts a function to a SpiralDetector.
type SpiralFunc func() (spiraling bool, reason string)

// DeathSpiral calls f.
func (f SpiralFunc) DeathSpiral() (bool, string) { return f() }

// GCDeathSpiral returns a liveness check named "gc-death-spiral" that fails
// while d reports a GC death spiral.
//
// Use it on /livez. With GOMEMLIMIT set close to the container's limit, a
// heap that keeps growing does not get the process OOM-killed: the GC runs
// ever more often to stay under the limit and takes up to half the CPU
// (its limiter's cap), so the process answers slowly for ever instead of
// dying and being restarted. The detector decides when that has lasted too
// long; this check turns its verdict into a restart.
//
// A nil d never fails: without a detector there is no spiral to see, and a
// failing liveness check would only restart the process, again and again,
// for a detector the restart does not bring. (snug.Tuner() is nil when the
// blank import could not start.)
func GCDeathSpiral(d SpiralDetector) Check {
	return Check{
		Name: "gc-death-spiral",
		Kind: Liveness,
		Func: func(context.Context) error {
			if isNil(d) {
				return nil
			}
			spiraling, reason := d.DeathSpiral()
			if !spiraling {
				return nil
			}
			if reason == "" {
				reason = "the GC is in a death spiral"
			}
			return errors.New(reason)
		},
	}
}

// Standard returns the built-in checks that suit any service:
// Goroutines(DefaultGoroutineLimit); MemoryHeadroom(r,
// DefaultMemoryHeadroom) when r is not nil; GCDeathSpiral(d) when d is not
// nil. Pass the process's cgroup (cgroup.Open) as r and the GC watchdog of
// package tune as d.
//
// CPUThrottling is left out on purpose (it is off by default): see its
// documentation.
func Standard(r CgroupReader, d SpiralDetector) []Check {
	checks := []Check{Goroutines(DefaultGoroutineLimit)}
	if !isNil(r) {
		checks = append(checks, MemoryHeadroom(r, DefaultMemoryHeadroom))
	}
	if !isNil(d) {
		checks = append(checks, GCDeathSpiral(d))
	}
	return checks
}

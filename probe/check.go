package probe

import (
	"context"
	"reflect"
	"strconv"
	"time"
)

// Kind says which probe, or probes, a check answers. Liveness and Readiness
// may be combined (Both); Startup stands alone.
type Kind uint8

const (
	// Liveness checks are served on /livez: when one fails, the kubelet
	// restarts the container.
	Liveness Kind = 1 << iota
	// Readiness checks are served on /readyz: when one fails, the pod is
	// removed from its Services' endpoints until it passes again.
	Readiness
	// Startup checks are served on /readyz until each has passed once, then
	// they are considered passed for the life of the process. Use them for
	// one-time work such as loading a cache or running migrations.
	Startup

	// Both serves a check on /livez and /readyz. Rarely right: a failure
	// restarts the container, so it must be a failure that a restart cures.
	Both = Liveness | Readiness
)

// String returns "liveness", "readiness", "liveness+readiness" or
// "startup".
func (k Kind) String() string {
	switch k {
	case Liveness:
		return "liveness"
	case Readiness:
		return "readiness"
	case Both:
		return "liveness+readiness"
	case Startup:
		return "startup"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Valid reports whether k is one of Liveness, Readiness, Both or Startup.
func (k Kind) Valid() bool {
	return k == Liveness || k == Readiness || k == Both || k == Startup
}

// Check is a named health check.
type Check struct {
	// Name identifies the check in probe output and in the per-check path
	// (/readyz/<Name>). Package health accepts 1 to 63 characters among
	// ASCII letters, digits, '-', '_' and '.'.
	Name string

	// Kind says which probes run the check.
	Kind Kind

	// Func returns nil when the check passes, or an error saying what is
	// wrong. It should return promptly once ctx is done; if it does not,
	// package health fails the check at its deadline anyway and does not
	// start it again until the stuck call has returned.
	Func func(ctx context.Context) error

	// Timeout bounds one run of the check. Zero means the time a probe
	// request gives its checks (see health.Config.Timeout). A Timeout
	// longer than that only helps in background mode, where checks do not
	// run inside a request.
	Timeout time.Duration
}

// Func returns a check of the given kind that calls fn. It is the plain
// function check: use it for anything the built-ins do not cover.
func Func(name string, kind Kind, fn func(ctx context.Context) error) Check {
	return Check{Name: name, Kind: kind, Func: fn}
}

// Result is the outcome of one run of a check.
type Result struct {
	Name string
	Kind Kind
	// Err is nil when the check passed.
	Err error
	// Start is when the run began.
	Start time.Time
	// Duration is how long the run took, or, for a run that was failed at
	// its deadline, how long it had been running by then.
	Duration time.Duration
}

// OK reports whether the check passed.
func (r Result) OK() bool { return r.Err == nil }

// isNil reports whether v is nil or holds a nil pointer, map, func, chan,
// slice or interface: a *sql.DB left nil and passed as a Pinger is not == nil,
// but calling it would panic.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Chan, reflect.Slice, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

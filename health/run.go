package health

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/snug-go/snug/probe"
)

// checkState is one registered check: its single run in flight, if any, and
// its latest result.
//
// Single flight: at most one run of a check exists at a time. A request that
// needs the check while a run is in flight waits for that run (up to its own
// deadline) instead of starting another, so a thousand probes against a
// dependency that hangs cost one goroutine, not a thousand.
type checkState struct {
	check probe.Check

	// passed latches for Startup checks: set once the check has passed (or
	// the application called MarkReady), after which it is not run again.
	passed atomic.Bool

	// waiting counts requests waiting for the run in flight (tests read it
	// to know that all requests have joined one run).
	waiting atomic.Int64

	mu      sync.Mutex
	flight  *flight      // the run in progress, or nil
	last    probe.Result // the latest result, or a timeout seen by a request
	hasLast bool
}

// flight is one run of a check. res is written before done is closed and
// read only after.
type flight struct {
	start    time.Time
	deadline time.Time // start + the check's timeout
	done     chan struct{}
	res      probe.Result
}

// join returns the check's run in flight, starting one if there is none.
// The run's context derives from parent (not from any request, since several
// requests share it) and ends at now+timeout. wg, if not nil, counts the
// run's goroutine.
func (s *checkState) join(parent context.Context, now time.Time, timeout time.Duration, wg *sync.WaitGroup) *flight {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flight != nil {
		return s.flight
	}
	f := &flight{start: now, deadline: now.Add(timeout), done: make(chan struct{})}
	s.flight = f
	if wg != nil {
		wg.Add(1)
	}
	go s.run(parent, f, timeout, wg)
	return f
}

// run calls the check's function and completes f. The completion is
// deferred so that it happens even if the function calls runtime.Goexit
// (t.FailNow in a test does): a flight that never completed would fail the
// check for ever.
func (s *checkState) run(parent context.Context, f *flight, timeout time.Duration, wg *sync.WaitGroup) {
	activeRuns.Add(1)
	defer activeRuns.Add(-1)
	if wg != nil {
		defer wg.Done()
	}
	ctx, cancel := context.WithDeadline(parent, f.deadline)
	err := errGoexit
	defer func() {
		cancel()
		d := time.Since(f.start)
		switch {
		case err == nil && d > timeout:
			// Finished late: a result that came after the deadline is a
			// failure even if the function says it passed, so that a check
			// is never reported green by a run nobody could wait for.
			err = &timeoutError{limit: timeout, ran: d, finished: true}
		case err != nil && ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded):
			err = &timeoutError{limit: timeout, ran: d, finished: true, cause: err}
		}
		f.res = probe.Result{Name: s.check.Name, Kind: s.check.Kind, Err: err, Start: f.start, Duration: d}
		if err == nil && s.check.Kind == probe.Startup {
			s.passed.Store(true)
		}
		s.mu.Lock()
		s.flight = nil
		s.last, s.hasLast = f.res, true
		s.mu.Unlock()
		close(f.done)
	}()
	err = call(ctx, s.check.Func)
}

// timedOut records, for Results, that a request stopped waiting for f at
// now. A later completion of f overwrites it.
func (s *checkState) timedOut(f *flight, now time.Time, limit time.Duration) probe.Result {
	res := probe.Result{
		Name: s.check.Name, Kind: s.check.Kind,
		Err:   &timeoutError{limit: limit, ran: now.Sub(f.start)},
		Start: f.start, Duration: now.Sub(f.start),
	}
	s.mu.Lock()
	if s.flight == f {
		s.last, s.hasLast = res, true
	}
	s.mu.Unlock()
	return res
}

// latest returns the check's latest result as of now: a run in flight past
// its deadline counts as a timeout, whatever older result exists.
func (s *checkState) latest(now time.Time) (probe.Result, bool) {
	s.mu.Lock()
	f, last, ok := s.flight, s.last, s.hasLast
	s.mu.Unlock()
	if f != nil && now.After(f.deadline) {
		return probe.Result{
			Name: s.check.Name, Kind: s.check.Kind,
			Err:   &timeoutError{limit: f.deadline.Sub(f.start), ran: now.Sub(f.start)},
			Start: f.start, Duration: now.Sub(f.start),
		}, true
	}
	return last, ok
}

// activeRuns counts the goroutines running checks, in all handlers: tests
// and the load benchmark check that it stays bounded by the number of
// checks, whatever the number of requests.
var activeRuns atomic.Int64

var (
	errGoexit = errors.New("check called runtime.Goexit")
	errNoFunc = errors.New("check has no function")
)

// call runs fn, turning a panic into an error and a typed nil error (a nil
// pointer in a non-nil interface, a classic Go bug) into a clear one.
func call(ctx context.Context, fn func(context.Context) error) (err error) {
	if fn == nil {
		return errNoFunc
	}
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{value: v}
		}
	}()
	err = fn(ctx)
	if err != nil {
		if v := reflect.ValueOf(err); v.Kind() == reflect.Pointer && v.IsNil() {
			err = fmt.Errorf("check returned a nil %T as its error", err)
		}
	}
	return err
}

// timeoutError is a check that did not finish within its deadline. It
// matches context.DeadlineExceeded with errors.Is.
type timeoutError struct {
	limit    time.Duration // the deadline, from the start of the run
	ran      time.Duration // how long the run had taken when seen
	finished bool          // the run returned (late), rather than still running
	cause    error         // the check's own error, if it returned one
}

func (e *timeoutError) Error() string {
	switch {
	case e.cause != nil:
		return fmt.Sprintf("timed out after %v: %v", roundDuration(e.ran), errorText(e.cause))
	case e.finished:
		return fmt.Sprintf("finished after %v, past its deadline of %v", roundDuration(e.ran), roundDuration(e.limit))
	}
	return fmt.Sprintf("timed out: still running after %v (deadline %v)", roundDuration(e.ran), roundDuration(e.limit))
}

func (e *timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }
func (e *timeoutError) Unwrap() error        { return e.cause }

// panicError is a check that panicked.
type panicError struct{ value any }

func (e *panicError) Error() string { return "check panicked: " + safeSprint(e.value) }

// safeSprint formats v, surviving a String or Error method that panics.
func safeSprint(v any) (s string) {
	defer func() {
		if recover() != nil {
			s = fmt.Sprintf("(a %T whose formatting panicked)", v)
		}
	}()
	return fmt.Sprint(v)
}

// errorText returns err.Error(), surviving an Error method that panics.
func errorText(err error) (s string) {
	defer func() {
		if recover() != nil {
			s = fmt.Sprintf("(a %T whose Error method panicked)", err)
		}
	}()
	return err.Error()
}

// roundDuration keeps durations in messages short: 1.234567ms → 1.235ms.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(time.Microsecond)
	}
	return d
}

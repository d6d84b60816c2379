package health

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/snug-go/snug/probe"
)

// DefaultInterval is the background interval when StartBackground is given
// zero: the kubelet's default periodSeconds, so that each probe sees a
// result at most about one period old.
const DefaultInterval = 10 * time.Second

// StartBackground switches the handler to background mode: every check
// runs at once and then every interval, each under its own timeout, and
// probe requests answer from the latest results without waiting. A result
// older than maxAge is reported as a failure, and so is a run still going
// past its timeout, so a stuck check or a stopped loop cannot leave a stale
// green result in place. A check that has no result yet (just added) is run
// within the request, as without background mode.
//
// Use background mode when a check is too slow or too costly to run on
// every probe (several probes, several endpoints, every few seconds), or
// when its timeout must exceed the probe's deadline. Its price is that a
// probe reports the state as of the last run, up to interval old.
//
// interval zero means DefaultInterval; maxAge zero means three intervals
// plus the handler's timeout, which tolerates one missed run. stop ends
// background mode and returns when the loop and every check run it started
// have returned (their contexts are cancelled: a check that ignores its
// context delays stop until it returns); checks then run per request
// again. stop may be called more than once. Calling StartBackground again
// stops the previous loop first.
func (h *Handler) StartBackground(interval, maxAge time.Duration) (stop func()) {
	if interval <= 0 {
		interval = DefaultInterval
	}
	if maxAge <= 0 {
		maxAge = 3*interval + h.timeout
	}
	h.bgMu.Lock()
	defer h.bgMu.Unlock()
	if prev := h.bg.Load(); prev != nil {
		prev.stopLocked()
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &bgLoop{h: h, interval: interval, maxAge: maxAge, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	h.bg.Store(b)
	go b.loop()
	return func() {
		h.bgMu.Lock()
		defer h.bgMu.Unlock()
		b.stopLocked()
	}
}

// bgLoop is one background mode session.
type bgLoop struct {
	h                *Handler
	interval, maxAge time.Duration
	ctx              context.Context
	cancel           context.CancelFunc
	done             chan struct{} // closed when loop returns
	runs             sync.WaitGroup
	stopped          bool // guarded by h.bgMu
}

// stopLocked ends the session; h.bgMu is held.
func (b *bgLoop) stopLocked() {
	if b.stopped {
		return
	}
	b.stopped = true
	b.h.bg.CompareAndSwap(b, nil)
	b.cancel()
	<-b.done
	b.runs.Wait()
}

func (b *bgLoop) loop() {
	defer close(b.done)
	t := time.NewTicker(b.interval)
	defer t.Stop()
	for {
		b.runAll()
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// runAll starts a run of every check that is not already running. It does
// not wait: each run records its own result.
func (b *bgLoop) runAll() {
	now := time.Now()
	b.h.mu.RLock()
	states := b.h.checks
	b.h.mu.RUnlock()
	for _, s := range states {
		if s.check.Kind == probe.Startup && s.passed.Load() {
			continue
		}
		s.join(b.ctx, now, b.h.checkTimeout(s), &b.runs)
	}
}

// cached returns the result a probe at now reports for s, or false when s
// has no result yet.
func (b *bgLoop) cached(s *checkState, now time.Time) (probe.Result, bool) {
	res, ok := s.latest(now)
	if !ok {
		return res, false
	}
	if age := now.Sub(res.Start.Add(res.Duration)); age > b.maxAge {
		res.Err = &staleError{age: age, maxAge: b.maxAge, last: res.Err}
	}
	return res, true
}

// staleError is a background result older than the maximum age.
type staleError struct {
	age, maxAge time.Duration
	last        error
}

func (e *staleError) Error() string {
	last := "passed"
	if e.last != nil {
		last = "failed: " + errorText(e.last)
	}
	return fmt.Sprintf("latest result is %v old, over the maximum age of %v (it %s)",
		roundDuration(e.age), roundDuration(e.maxAge), last)
}

func (e *staleError) Unwrap() error { return e.last }

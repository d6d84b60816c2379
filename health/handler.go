package health

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/snug-go/snug/probe"
)

// DefaultTimeout is the deadline of a probe request when Config.Timeout is
// zero. The kubelet waits 1 s by default (timeoutSeconds: 1) and counts a
// probe it has to abandon as failed with no explanation. 500 ms leaves the
// other half for what a probe cannot control: a CFS quota that has run out
// for the rest of its 100 ms period (a few times in a row under load), a
// GC pause, the node's own scheduling. Then a slow check is reported by
// name, in a 503 that arrives, instead of as a kubelet timeout.
const DefaultTimeout = 500 * time.Millisecond

// Config configures a Handler. The zero Config is ready to use: checks run
// on each request with a 500 ms deadline, readiness does not wait for
// MarkReady, and liveness has no grace period.
type Config struct {
	// Timeout is the deadline of one probe request: its response is
	// written by then. Its checks run in parallel within it, less a reserve
	// of a fifth (at most 100 ms) for writing the response, so that when
	// many requests stop waiting for a hung check at the same instant, or
	// the process is descheduled for a moment, they are all answered in
	// time; a check still running then fails. That budget (400 ms by
	// default) is also the timeout of a check whose own
	// Timeout is zero. Keep Timeout below the probe's timeoutSeconds. Zero
	// means DefaultTimeout.
	Timeout time.Duration

	// WaitForReady adds a readiness check named "startup" that fails until
	// the application calls MarkReady or all of its checks of kind Startup
	// have passed, whichever comes first. Use it when the application has
	// start-up work that no check can observe.
	WaitForReady bool

	// LivenessGrace is how long after New liveness checks are not run on
	// /livez (they report ok, with a note under ?verbose). It ends early
	// once the application is ready (MarkReady, or all Startup checks
	// passed) if WaitForReady is set or Startup checks exist. Use it when
	// the liveness checks can fail while the process starts, for instance a
	// GC death spiral detector during a large cache load. A startupProbe in
	// the pod spec does the same from the kubelet's side.
	LivenessGrace time.Duration
}

// Mux is where Install registers the handler. *http.ServeMux implements it.
type Mux interface {
	Handle(pattern string, handler http.Handler)
}

// Handler serves /livez, /readyz and /healthz and their per-check paths.
// Create it with New; it is safe for concurrent use.
type Handler struct {
	cfg     Config
	timeout time.Duration // of a request
	budget  time.Duration // of the checks in a request: timeout less a reserve
	created time.Time

	mu     sync.RWMutex
	checks []*checkState
	byName map[string]*checkState

	markedReady  atomic.Bool
	shutdownOnce sync.Once
	shutdown     chan struct{} // closed by MarkShuttingDown

	bgMu sync.Mutex             // serializes StartBackground and stop
	bg   atomic.Pointer[bgLoop] // nil: checks run per request
}

// New returns a Handler with the given configuration and no checks yet.
// The liveness grace period, if any, starts now.
func New(cfg Config) *Handler {
	h := &Handler{
		cfg:      cfg,
		timeout:  cfg.Timeout,
		created:  time.Now(),
		byName:   make(map[string]*checkState),
		shutdown: make(chan struct{}),
	}
	if h.timeout <= 0 {
		h.timeout = DefaultTimeout
	}
	h.budget = h.timeout - min(h.timeout/5, maxResponseReserve)
	return h
}

// maxResponseReserve bounds the part of a request's deadline kept for
// writing the response rather than waiting for checks. It matters when many
// requests stop waiting at the same instant (all those waiting for one hung
// run do): they must all be answered by the deadline, not just start to be.
// 50 ms was too little on a loaded 2-CPU machine: 2 to 5 of 20,000
// responses came up to 105 ms after the check budget in the load test
// (load_test.go).
const maxResponseReserve = 100 * time.Millisecond

// Names of the handler's own readiness checks.
const (
	startupCheck  = "startup"
	shutdownCheck = "shutdown"
)

// Add registers checks. It returns an error, and registers none of them, if
// any has a name that is invalid (1 to 63 of ASCII letters, digits, '-',
// '_', '.'), reserved ("startup", "shutdown") or already registered, no
// function, a kind that is not Liveness, Readiness, Both or Startup, or a
// negative Timeout. Checks may be added while the handler serves.
func (h *Handler) Add(checks ...probe.Check) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := make(map[string]bool, len(checks))
	for _, c := range checks {
		var problem string
		switch {
		case !validName(c.Name):
			problem = "invalid name: want 1 to 63 of ASCII letters, digits, '-', '_', '.'"
		case c.Name == startupCheck || c.Name == shutdownCheck:
			problem = "the name is reserved for the handler's own check"
		case h.byName[c.Name] != nil || seen[c.Name]:
			problem = "a check with this name is already registered"
		case c.Func == nil:
			problem = "no function"
		case !c.Kind.Valid():
			problem = "invalid kind " + c.Kind.String() + ": want Liveness, Readiness, Both or Startup"
		case c.Timeout < 0:
			problem = "negative timeout"
		}
		if problem != "" {
			return fmt.Errorf("health: adding check %q: %s", cleanText(c.Name, 80), problem)
		}
		seen[c.Name] = true
	}
	for _, c := range checks {
		s := &checkState{check: c}
		if c.Kind == probe.Startup && h.markedReady.Load() {
			s.passed.Store(true)
		}
		h.checks = append(h.checks, s)
		h.byName[c.Name] = s
	}
	return nil
}

// Install registers h on mux for /livez, /readyz, /healthz and the paths
// below them. To serve on http.DefaultServeMux, call
// h.Install(http.DefaultServeMux): unlike net/http/pprof, importing the
// package registers nothing. Like http.Handle, Install panics if mux
// already has one of these patterns.
//
// To serve under a prefix, register h yourself: it finds the endpoint in
// the path wherever it is, so mux.Handle("/debug/", h) serves
// /debug/readyz.
func (h *Handler) Install(mux Mux) {
	for _, p := range []string{"/livez", "/livez/", "/readyz", "/readyz/", "/healthz", "/healthz/"} {
		mux.Handle(p, h)
	}
}

// MarkReady tells the handler that the application has started: the
// "startup" check (Config.WaitForReady) passes and checks of kind Startup
// are considered passed, now and if added later. It is safe to call more
// than once.
func (h *Handler) MarkReady() {
	h.markedReady.Store(true)
	h.mu.RLock()
	for _, s := range h.checks {
		if s.check.Kind == probe.Startup {
			s.passed.Store(true)
		}
	}
	h.mu.RUnlock()
}

// MarkShuttingDown makes readiness fail from now on, through a check named
// "shutdown"; liveness is not affected. It does not stop anything: it is
// the first step of a graceful shutdown, which ServeAndDrain performs in
// full (and starts when MarkShuttingDown is called). Safe to call more
// than once.
func (h *Handler) MarkShuttingDown() {
	h.shutdownOnce.Do(func() { close(h.shutdown) })
}

// ShuttingDown reports whether MarkShuttingDown has been called.
func (h *Handler) ShuttingDown() bool {
	select {
	case <-h.shutdown:
		return true
	default:
		return false
	}
}

// Results returns the latest result of each registered check that has run,
// in the order the checks were added: for telemetry. A check whose run is
// past its deadline is reported as timed out, even if an older run passed.
// In background mode, a result older than the maximum age is reported as
// it is; only probe requests treat it as a failure. Startup checks that
// have passed are reported with their last run, if any.
func (h *Handler) Results() []probe.Result {
	now := time.Now()
	h.mu.RLock()
	states := h.checks
	h.mu.RUnlock()
	out := make([]probe.Result, 0, len(states))
	for _, s := range states {
		if r, ok := s.latest(now); ok {
			out = append(out, r)
		}
	}
	return out
}

// ServeHTTP answers a probe. See the package documentation for paths,
// query parameters, formats and status codes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: probes use GET", http.StatusMethodNotAllowed)
		return
	}
	t := parseTarget(r.URL.Path, r.URL.RawQuery, r.Header.Get("Accept"))
	if t.endpoint == 0 {
		http.Error(w, "not found: want /livez, /readyz or /healthz", http.StatusNotFound)
		return
	}
	rep, found := h.evaluate(r.Context(), t)
	if !found {
		http.Error(w, fmt.Sprintf("not found: no %s check named %q", t.endpoint, cleanText(t.check, 80)), http.StatusNotFound)
		return
	}
	var body []byte
	if t.json {
		hdr.Set("Content-Type", "application/json")
		body = renderJSON(rep, t)
	} else {
		hdr.Set("Content-Type", "text/plain; charset=utf-8")
		body = renderText(rep, t)
	}
	w.WriteHeader(statusFor(rep.failed()))
	w.Write(body)
}

// item is a check to report on: a registered one (state != nil) or one of
// the handler's own.
type item struct {
	name  string
	state *checkState
}

// selectItems lists what endpoint e reports on, in order: the registered
// checks of its kind, then "startup" and "shutdown" for readiness.
func (h *Handler) selectItems(e endpoint) []item {
	h.mu.RLock()
	defer h.mu.RUnlock()
	items := make([]item, 0, len(h.checks)+2)
	for _, s := range h.checks {
		k := s.check.Kind
		if e == healthz || e == livez && k&probe.Liveness != 0 || e == readyz && (k&probe.Readiness != 0 || k == probe.Startup) {
			items = append(items, item{name: s.check.Name, state: s})
		}
	}
	if e != livez {
		if h.cfg.WaitForReady {
			items = append(items, item{name: startupCheck})
		}
		items = append(items, item{name: shutdownCheck})
	}
	return items
}

// evaluate runs what t asks for and reports. found is false when t names a
// check that endpoint does not serve.
func (h *Handler) evaluate(ctx context.Context, t target) (rep *report, found bool) {
	start := time.Now()
	deadline := start.Add(h.budget)
	if d, ok := ctx.Deadline(); ok && d.Add(h.budget-h.timeout).Before(deadline) {
		deadline = d.Add(h.budget - h.timeout)
	}
	items := h.selectItems(t.endpoint)
	rep = &report{endpoint: t.endpoint}
	if t.subPath {
		var only []item
		for _, it := range items {
			if it.name == t.check {
				only = append(only, it)
				break
			}
		}
		if only == nil {
			return nil, false
		}
		items = only
		t.exclude = nil // a check's own path ignores exclude
	}
	for _, name := range t.exclude {
		if !hasItem(items, name) {
			rep.unknownExcludes = append(rep.unknownExcludes, name)
		}
	}

	rep.outcomes = make([]outcome, len(items))
	type wait struct {
		i int
		f *flight
	}
	var waits []wait
	grace := h.inLivenessGrace(start)
	bg := h.bg.Load()
	for i, it := range items {
		o := &rep.outcomes[i]
		o.name = it.name
		o.kind = probe.Readiness
		if it.state != nil {
			o.kind = it.state.check.Kind
		}
		switch {
		case contains(t.exclude, it.name):
			o.excluded = true
		case it.state == nil:
			// The handler's own checks, decided below once startup checks
			// have reported.
		case it.state.check.Kind == probe.Startup && it.state.passed.Load():
			o.note = "passed at startup"
		case grace && (t.endpoint == livez && o.kind&probe.Liveness != 0 || t.endpoint == healthz && o.kind == probe.Liveness):
			o.note = "not run: liveness grace period"
		default:
			if bg != nil {
				if res, ok := bg.cached(it.state, start); ok {
					o.err, o.ran, o.result = res.Err, true, res
					continue
				}
			}
			f := it.state.join(context.Background(), start, h.checkTimeout(it.state), nil)
			waits = append(waits, wait{i, f})
		}
	}

	// Wait for the runs, each until the earlier of the request's deadline
	// and its own. One timer serves all waits: they happen one after the
	// other, and all runs proceed in parallel meanwhile.
	var timer *time.Timer
	for _, wt := range waits {
		o := &rep.outcomes[wt.i]
		select {
		case <-wt.f.done:
			o.err, o.ran, o.result = wt.f.res.Err, true, wt.f.res
			continue
		default:
		}
		limit := deadline
		if wt.f.deadline.Before(limit) {
			limit = wt.f.deadline
		}
		timedOut, left := true, false
		if d := time.Until(limit); d > 0 {
			if timer == nil {
				timer = time.NewTimer(d)
				defer timer.Stop()
			} else {
				timer.Reset(d)
			}
			s := items[wt.i].state
			s.waiting.Add(1)
			select {
			case <-wt.f.done:
				timedOut = false
			case <-timer.C:
			case <-ctx.Done():
				left = true
			}
			s.waiting.Add(-1)
		}
		if timedOut {
			// Re-check: the run may have finished as the timer fired.
			select {
			case <-wt.f.done:
				timedOut = false
			default:
			}
		}
		switch {
		case !timedOut:
			o.err, o.ran, o.result = wt.f.res.Err, true, wt.f.res
		case left:
			// The client is gone (or its own deadline passed): answer at
			// once, and record nothing, since the check did not time out.
			o.err = fmt.Errorf("not waited for: the probe request ended: %w", context.Cause(ctx))
		default:
			res := items[wt.i].state.timedOut(wt.f, time.Now(), limit.Sub(wt.f.start))
			o.err, o.ran, o.result = res.Err, true, res
		}
	}

	// The handler's own checks, now that startup checks have reported
	// (a run that passes latches its check, see checkState.run).
	for i, it := range items {
		if o := &rep.outcomes[i]; it.state == nil && !o.excluded {
			switch it.name {
			case startupCheck:
				o.err = h.startupError()
			case shutdownCheck:
				if h.ShuttingDown() {
					o.err = errShuttingDown
				}
			}
		}
	}
	return rep, true
}

func hasItem(items []item, name string) bool {
	for _, it := range items {
		if it.name == name {
			return true
		}
	}
	return false
}

// checkTimeout is the timeout of one run of s.
func (h *Handler) checkTimeout(s *checkState) time.Duration {
	if s.check.Timeout > 0 {
		return s.check.Timeout
	}
	return h.budget
}

var errShuttingDown = errors.New("process is shutting down")

// startupError is the "startup" check: nil once the application is ready.
func (h *Handler) startupError() error {
	if h.started() {
		return nil
	}
	return errors.New("starting: waiting for MarkReady or for the startup checks to pass")
}

// started reports whether the startup gate is open: MarkReady was called,
// or Startup checks exist and have all passed.
func (h *Handler) started() bool {
	if h.markedReady.Load() {
		return true
	}
	h.mu.RLock()
	n, passed := 0, 0
	for _, s := range h.checks {
		if s.check.Kind == probe.Startup {
			n++
			if s.passed.Load() {
				passed++
			}
		}
	}
	h.mu.RUnlock()
	return n > 0 && passed == n
}

// gated reports whether the application has a startup gate at all.
func (h *Handler) gated() bool {
	if h.cfg.WaitForReady {
		return true
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, s := range h.checks {
		if s.check.Kind == probe.Startup {
			return true
		}
	}
	return false
}

// inLivenessGrace reports whether liveness checks are still excused at now.
func (h *Handler) inLivenessGrace(now time.Time) bool {
	if h.cfg.LivenessGrace <= 0 || now.Sub(h.created) >= h.cfg.LivenessGrace {
		return false
	}
	return !(h.gated() && h.started())
}

package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/snug-go/snug/probe"
)

// get serves one request in-process (no network) and returns status and body.
func get(h http.Handler, target string, header ...string) (int, string) {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// waitGoroutines waits up to 5 s for the goroutine count to fall to max.
func waitGoroutines(t testing.TB, max int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= max {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, want at most %d:\n%s", n, max, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gate is a check that passes, fails, or hangs (ignoring its context) on
// command, and counts its calls.
type gate struct {
	calls   atomic.Int64
	mu      sync.Mutex
	hang    chan struct{} // not nil: calls block until it is closed
	err     error
	started chan struct{} // receives a value per call, if not nil
}

func (g *gate) check(context.Context) error {
	g.calls.Add(1)
	if g.started != nil {
		g.started <- struct{}{}
	}
	g.mu.Lock()
	hang, err := g.hang, g.err
	g.mu.Unlock()
	if hang != nil {
		<-hang
	}
	return err
}

func (g *gate) set(hang chan struct{}, err error) {
	g.mu.Lock()
	g.hang, g.err = hang, err
	g.mu.Unlock()
}

func TestHangingCheckFailsAtDeadline(t *testing.T) {
	g := &gate{}
	h := New(Config{Timeout: 100 * time.Millisecond})
	mustAdd(t, h, probe.Func("dep", probe.Readiness, g.check))
	if code, body := get(h, "/readyz"); code != 200 {
		t.Fatalf("passing: %d %q", code, body)
	}
	release := make(chan struct{})
	defer close(release)
	g.set(release, nil)

	start := time.Now()
	code, body := get(h, "/readyz?verbose")
	elapsed := time.Since(start)
	if code != 503 || !strings.Contains(body, "[-]dep failed: timed out: still running after") {
		t.Fatalf("hanging: %d %q (never the old passing result)", code, body)
	}
	// The checks get 80% of the request's 100 ms; the rest is for writing.
	if elapsed < 80*time.Millisecond || elapsed > time.Second {
		t.Errorf("hanging check answered after %v, want 80ms", elapsed)
	}
	// While the run hangs, later requests fail too, at once (the run is
	// past its deadline), and start no new run.
	start = time.Now()
	code, body = get(h, "/readyz/dep")
	if code != 503 || !strings.Contains(body, "timed out") {
		t.Fatalf("still hanging: %d %q", code, body)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a probe against a run past its deadline took %v", d)
	}
	if n := g.calls.Load(); n != 2 {
		t.Errorf("%d calls, want 2: a hanging run must not be started again", n)
	}
}

func TestCheckTimeoutShorterThanRequest(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	h := New(Config{Timeout: 5 * time.Second})
	mustAdd(t, h, probe.Check{Name: "slow", Kind: probe.Readiness, Timeout: 50 * time.Millisecond,
		Func: func(ctx context.Context) error { <-release; return nil }})
	start := time.Now()
	code, body := get(h, "/readyz/slow")
	if code != 503 || !strings.Contains(body, "(deadline 50ms)") {
		t.Fatalf("%d %q", code, body)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v: the check's own 50ms timeout was not applied", d)
	}
}

func TestLateSuccessIsFailure(t *testing.T) {
	h := New(Config{Timeout: 50 * time.Millisecond})
	done := make(chan struct{})
	mustAdd(t, h, probe.Func("late", probe.Readiness, func(ctx context.Context) error {
		defer close(done)
		time.Sleep(150 * time.Millisecond) // ignores ctx, then says "fine"
		return nil
	}))
	if code, _ := get(h, "/readyz"); code != 503 {
		t.Fatalf("status %d", code)
	}
	<-done
	waitFor(t, func() bool {
		r := h.Results()
		return len(r) == 1 && strings.Contains(fmt.Sprint(r[0].Err), "finished after")
	})
	r := h.Results()[0]
	if !errors.Is(r.Err, context.DeadlineExceeded) || !strings.Contains(r.Err.Error(), "past its deadline of 40ms") {
		t.Errorf("late result: %v", r.Err)
	}
}

func TestContextDeadlineIsTimeout(t *testing.T) {
	h := New(Config{Timeout: 30 * time.Millisecond})
	mustAdd(t, h, probe.Func("polite", probe.Readiness, func(ctx context.Context) error {
		<-ctx.Done()
		return fmt.Errorf("query: %w", ctx.Err())
	}))
	code, body := get(h, "/readyz/polite")
	if code != 503 || !strings.Contains(body, "timed out") {
		t.Errorf("%d %q", code, body)
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSingleFlight(t *testing.T) {
	g := &gate{started: make(chan struct{}, 100)}
	release := make(chan struct{})
	g.set(release, nil)
	h := New(Config{Timeout: 10 * time.Second})
	mustAdd(t, h, probe.Func("dep", probe.Both, g.check))
	base := runtime.NumGoroutine()

	const n = 200
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() {
			path := []string{"/livez", "/readyz", "/healthz", "/readyz/dep"}[i%4]
			codes[i], _ = get(h, path)
		})
	}
	<-g.started
	// All requests are waiting on the one run: n request goroutines and
	// one run, nothing more per request.
	waitFor(t, func() bool { return h.byName["dep"].waiting.Load() == n })
	if got := runtime.NumGoroutine(); got > base+n+1 {
		t.Errorf("%d goroutines for %d waiting requests (base %d): want at most one run", got, n, base)
	}
	close(release)
	wg.Wait()
	if c := g.calls.Load(); c != 1 {
		t.Errorf("%d runs for %d concurrent requests, want 1", c, n)
	}
	for i, c := range codes {
		if c != 200 {
			t.Fatalf("request %d: %d", i, c)
		}
	}
	// Sequential requests get fresh runs, never a cached result.
	get(h, "/readyz")
	get(h, "/readyz")
	if c := g.calls.Load(); c != 3 {
		t.Errorf("%d runs after two more requests, want 3", c)
	}
	waitGoroutines(t, base)
}

type nilErr struct{}

func (*nilErr) Error() string { return "nilErr" }

type panicky struct{}

func (panicky) Error() string  { panic("Error panics") }
func (panicky) String() string { panic("String panics") }

func TestBadChecks(t *testing.T) {
	huge := strings.Repeat("line one\n[+]forged ok\n", 100_000) // 2.2 MB
	tests := []struct {
		name string
		fn   func(context.Context) error
		want string // on the check's own path
	}{
		{"panic", func(context.Context) error { panic("boom") }, "[-]panic failed: check panicked: boom\n"},
		{"panic-error", func(context.Context) error { panic(errors.New("bad")) }, "[-]panic-error failed: check panicked: bad\n"},
		{"panic-nil", func(context.Context) error { panic(nil) }, "[-]panic-nil failed: check panicked: panic called with nil argument"},
		{"panic-panicky", func(context.Context) error { panic(panicky{}) }, "[-]panic-panicky failed: check panicked: %!v(PANIC=Error method: Error panics)\n"},
		{"goexit", func(context.Context) error { runtime.Goexit(); return nil }, "[-]goexit failed: check called runtime.Goexit\n"},
		{"typed-nil", func(context.Context) error { var e *nilErr; return e }, "[-]typed-nil failed: check returned a nil *health.nilErr as its error\n"},
		{"error-panics", func(context.Context) error { return panicky{} }, "[-]error-panics failed: (a health.panicky whose Error method panicked)\n"},
		{"empty-error", func(context.Context) error { return errors.New("") }, "[-]empty-error failed: (no error text)\n"},
		{"invalid-utf8", func(context.Context) error { return errors.New("bad \xff\xfe bytes\x00\r\n") }, "[-]invalid-utf8 failed: bad \uFFFD bytes   \n"},
	}
	h := New(Config{})
	for _, tt := range tests {
		mustAdd(t, h, probe.Func(tt.name, probe.Readiness, tt.fn))
	}
	mustAdd(t, h, probe.Func("huge", probe.Readiness, func(context.Context) error { return errors.New(huge) }))
	for _, tt := range tests {
		code, body := get(h, "/readyz/"+tt.name)
		if tt.name == "panic-nil" && strings.HasPrefix(body, tt.want) {
			continue // the wording of *runtime.PanicNilError varies across Go versions
		}
		if code != 503 || body != tt.want {
			t.Errorf("%s:\n got %d %q\nwant 503 %q", tt.name, code, body, tt.want)
		}
	}
	code, body := get(h, "/readyz/huge")
	if code != 503 || len(body) > maxErrSingle+100 || !strings.HasSuffix(body, " [cut: 2200000 bytes in all]\n") || strings.Count(body, "\n") != 1 {
		t.Errorf("huge error: %d, %d bytes, %q...", code, len(body), body[:min(len(body), 100)])
	}
	code, body = get(h, "/readyz?verbose")
	if code != 503 || len(body) > maxBody || strings.Contains(body, "\n[+]forged") || !strings.HasSuffix(body, "readyz check failed\n") {
		t.Errorf("aggregate: %d, %d bytes:\n%s", code, len(body), body)
	}
	// The process survived all of it, and the handler still works.
	if code, _ := get(h, "/livez"); code != 200 {
		t.Errorf("/livez after bad checks: %d", code)
	}
}

// TestBodyLimit: whatever the checks, a body fits what the kubelet reads.
func TestBodyLimit(t *testing.T) {
	h := New(Config{})
	long := errors.New(strings.Repeat("é", 5000))
	for i := range 300 {
		name := fmt.Sprintf("check-%03d-%s", i, strings.Repeat("x", 50))
		mustAdd(t, h, probe.Func(name, probe.Readiness, func(context.Context) error {
			if i%2 == 0 {
				return long
			}
			return nil
		}))
	}
	for _, path := range []string{"/readyz", "/readyz?verbose", "/healthz?verbose&exclude=check-000-" + strings.Repeat("x", 50)} {
		code, body := get(h, path)
		if code != 503 || len(body) > maxBody || !utf8.ValidString(body) ||
			!strings.Contains(body, "more checks not shown") || !strings.HasSuffix(body, "check failed\n") {
			t.Errorf("%s: %d, %d bytes, ends %q", path, code, len(body), body[max(0, len(body)-200):])
		}
		code, body = get(h, path, "Accept", "application/json")
		var rep jsonReport
		if err := json.Unmarshal([]byte(body), &rep); err != nil || code != 503 || len(body) > maxBody || rep.Omitted == 0 || rep.Status != "failed" {
			t.Errorf("%s JSON: %d, %d bytes, omitted %d, %v", path, code, len(body), rep.Omitted, err)
		}
		if len(rep.Checks)+rep.Omitted != 301 {
			t.Errorf("%s JSON: %d checks + %d omitted, want 301", path, len(rep.Checks), rep.Omitted)
		}
	}
	// What the kubelet reads is the whole body, closing line included.
	base, k := serve(t, h), newKubeletProbe()
	for _, path := range []string{"/readyz?verbose", "/healthz", "/readyz/check-000-" + strings.Repeat("x", 50)} {
		r := k.get(t, base+path)
		if r.status != 503 || r.truncated || !strings.HasSuffix(r.body, "\n") {
			t.Errorf("kubelet GET %s: %d, %d bytes, truncated %v", path, r.status, len(r.body), r.truncated)
		}
	}
	// Many unknown excludes: the warning stays short.
	var q strings.Builder
	for i := range 500 {
		fmt.Fprintf(&q, "exclude=%s%d&", strings.Repeat("y", 200), i)
	}
	code, body := get(h, "/readyz?verbose&"+q.String())
	if code != 503 || len(body) > maxBody || !strings.Contains(body, " and 56 more\n") {
		t.Errorf("500 unknown excludes: %d, %d bytes", code, len(body))
	}
}

func TestStartup(t *testing.T) {
	t.Run("MarkReady", func(t *testing.T) {
		h := New(Config{WaitForReady: true})
		mustAdd(t, h, probe.Func("db", probe.Readiness, pass))
		if code, body := get(h, "/readyz"); code != 503 || body != "[+]db ok\n[-]startup failed: reason withheld\n[+]shutdown ok\nreadyz check failed\n" {
			t.Errorf("before MarkReady: %d %q", code, body)
		}
		if code, body := get(h, "/readyz/startup"); code != 503 || !strings.Contains(body, "waiting for MarkReady") {
			t.Errorf("before MarkReady: %d %q", code, body)
		}
		if code, _ := get(h, "/livez"); code != 200 {
			t.Errorf("liveness before MarkReady: %d", code)
		}
		h.MarkReady()
		h.MarkReady()
		if code, body := get(h, "/readyz"); code != 200 {
			t.Errorf("after MarkReady: %d %q", code, body)
		}
	})
	t.Run("startup checks", func(t *testing.T) {
		g := &gate{}
		g.set(nil, errors.New("migrations running"))
		h := New(Config{WaitForReady: true})
		mustAdd(t, h, probe.Func("migrate", probe.Startup, g.check))
		if code, body := get(h, "/readyz?verbose"); code != 503 || body != "[-]migrate failed: migrations running\n[-]startup failed: starting: waiting for MarkReady or for the startup checks to pass\n[+]shutdown ok\nreadyz check failed\n" {
			t.Errorf("before: %d %q", code, body)
		}
		if code, _ := get(h, "/livez"); code != 200 {
			t.Errorf("startup checks are not liveness: %d", code)
		}
		g.set(nil, nil)
		if code, body := get(h, "/readyz?verbose"); code != 200 || body != "[+]migrate ok\n[+]startup ok\n[+]shutdown ok\nreadyz check passed\n" {
			t.Errorf("passed: %d %q", code, body)
		}
		// Latched: not run again, even if it would fail now.
		g.set(nil, errors.New("would fail"))
		calls := g.calls.Load()
		if code, body := get(h, "/readyz?verbose"); code != 200 || body != "[+]migrate ok (passed at startup)\n[+]startup ok\n[+]shutdown ok\nreadyz check passed\n" {
			t.Errorf("latched: %d %q", code, body)
		}
		if g.calls.Load() != calls {
			t.Error("a startup check that passed ran again")
		}
	})
	t.Run("startup checks without WaitForReady", func(t *testing.T) {
		h := New(Config{})
		mustAdd(t, h, probe.Func("warm", probe.Startup, func(context.Context) error { return errors.New("cold") }))
		if code, body := get(h, "/readyz"); code != 503 || body != "[-]warm failed: reason withheld\n[+]shutdown ok\nreadyz check failed\n" {
			t.Errorf("%d %q", code, body)
		}
		h.MarkReady() // latches startup checks
		if code, body := get(h, "/readyz"); code != 200 {
			t.Errorf("after MarkReady: %d %q", code, body)
		}
		// A startup check added after MarkReady counts as passed.
		mustAdd(t, h, probe.Func("late", probe.Startup, func(context.Context) error { return errors.New("cold") }))
		if code, body := get(h, "/readyz"); code != 200 {
			t.Errorf("late startup check: %d %q", code, body)
		}
	})
}

func TestLivenessGrace(t *testing.T) {
	dead := func(context.Context) error { return errors.New("deadlocked") }
	t.Run("ends when ready", func(t *testing.T) {
		g := &gate{}
		g.set(nil, errors.New("spiral"))
		h := New(Config{LivenessGrace: time.Hour, WaitForReady: true})
		mustAdd(t, h, probe.Func("gc", probe.Liveness, g.check), probe.Func("both", probe.Both, dead))
		if code, body := get(h, "/livez?verbose"); code != 200 || body != "[+]gc ok (not run: liveness grace period)\n[+]both ok (not run: liveness grace period)\nlivez check passed\n" {
			t.Errorf("in grace: %d %q", code, body)
		}
		if g.calls.Load() != 0 {
			t.Error("liveness check ran during its grace period")
		}
		// /healthz still runs checks that are also readiness checks.
		if code, body := get(h, "/healthz?verbose"); code != 503 || !strings.Contains(body, "[+]gc ok (not run") || !strings.Contains(body, "[-]both failed: deadlocked") {
			t.Errorf("healthz in grace: %d %q", code, body)
		}
		h.MarkReady()
		if code, body := get(h, "/livez"); code != 503 || body != "[-]gc failed: reason withheld\n[-]both failed: reason withheld\nlivez check failed\n" {
			t.Errorf("after MarkReady: %d %q", code, body)
		}
	})
	t.Run("ends after the period", func(t *testing.T) {
		h := New(Config{LivenessGrace: 30 * time.Millisecond})
		mustAdd(t, h, probe.Func("gc", probe.Liveness, dead))
		time.Sleep(40 * time.Millisecond)
		if code, _ := get(h, "/livez"); code != 503 {
			t.Errorf("after the grace period: %d", code)
		}
	})
	t.Run("not gated: MarkReady does not matter", func(t *testing.T) {
		h := New(Config{LivenessGrace: time.Hour})
		mustAdd(t, h, probe.Func("gc", probe.Liveness, dead))
		if code, _ := get(h, "/livez"); code != 200 {
			t.Errorf("in grace: %d", code)
		}
	})
}

func TestMarkShuttingDown(t *testing.T) {
	h := New(Config{})
	mustAdd(t, h, probe.Func("alive", probe.Liveness, pass), probe.Func("db", probe.Readiness, pass))
	if h.ShuttingDown() {
		t.Fatal("shutting down at start")
	}
	h.MarkShuttingDown()
	h.MarkShuttingDown()
	if !h.ShuttingDown() {
		t.Fatal("not shutting down")
	}
	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/readyz", 503, "[+]db ok\n[-]shutdown failed: reason withheld\nreadyz check failed\n"},
		{"/readyz?verbose", 503, "[+]db ok\n[-]shutdown failed: process is shutting down\nreadyz check failed\n"},
		{"/readyz/shutdown", 503, "[-]shutdown failed: process is shutting down\n"},
		{"/livez", 200, "ok"},
		{"/healthz", 503, "[+]alive ok\n[+]db ok\n[-]shutdown failed: reason withheld\nhealthz check failed\n"},
	}
	for _, tt := range tests {
		if code, body := get(h, tt.path); code != tt.status || body != tt.body {
			t.Errorf("%s: %d %q, want %d %q", tt.path, code, body, tt.status, tt.body)
		}
	}
}

func TestResults(t *testing.T) {
	h := New(Config{Timeout: 50 * time.Millisecond})
	release := make(chan struct{})
	defer close(release)
	mustAdd(t, h,
		probe.Func("ok", probe.Liveness, func(context.Context) error { time.Sleep(time.Millisecond); return nil }),
		probe.Func("bad", probe.Readiness, func(context.Context) error { return errors.New("down") }),
		probe.Func("hung", probe.Readiness, func(context.Context) error { <-release; return nil }),
		probe.Func("never", probe.Readiness, pass),
	)
	if len(h.Results()) != 0 {
		t.Fatal("results before any probe")
	}
	get(h, "/healthz?exclude=never")
	rs := h.Results()
	if len(rs) != 3 {
		t.Fatalf("%d results: %+v", len(rs), rs)
	}
	if r := rs[0]; r.Name != "ok" || r.Kind != probe.Liveness || !r.OK() || r.Duration < time.Millisecond || r.Start.IsZero() {
		t.Errorf("ok: %+v", r)
	}
	if r := rs[1]; r.Name != "bad" || r.Kind != probe.Readiness || r.OK() || r.Err.Error() != "down" {
		t.Errorf("bad: %+v", r)
	}
	if r := rs[2]; r.Name != "hung" || !errors.Is(r.Err, context.DeadlineExceeded) || r.Duration < 40*time.Millisecond {
		t.Errorf("hung: %+v", r)
	}
}

func TestBackground(t *testing.T) {
	base := runtime.NumGoroutine()
	g := &gate{}
	h := New(Config{Timeout: 100 * time.Millisecond})
	mustAdd(t, h, probe.Func("dep", probe.Readiness, g.check))
	const interval = 20 * time.Millisecond
	stop := h.StartBackground(interval, time.Second)
	waitFor(t, func() bool { return g.calls.Load() >= 3 })
	// Probes read the latest result: many probes, no extra runs.
	before, start := g.calls.Load(), time.Now()
	for range 200 {
		if code, _ := get(h, "/readyz"); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	if runs, ticks := g.calls.Load()-before, int64(time.Since(start)/interval); runs > ticks+2 {
		t.Errorf("200 probes in %d intervals caused %d runs in background mode", ticks, runs)
	}
	g.set(nil, errors.New("down"))
	waitFor(t, func() bool { code, _ := get(h, "/readyz"); return code == 503 })
	stop()
	stop() // twice is fine
	waitGoroutines(t, base)
	// Back to per-request runs.
	g.set(nil, nil)
	if code, _ := get(h, "/readyz"); code != 200 {
		t.Errorf("after stop: %d", code)
	}
}

func TestBackgroundStaleAndHung(t *testing.T) {
	base := runtime.NumGoroutine()
	var calls atomic.Int64
	h := New(Config{Timeout: 100 * time.Millisecond})
	// The first run passes; later runs block until cancelled.
	mustAdd(t, h, probe.Check{Name: "dep", Kind: probe.Readiness, Timeout: time.Hour,
		Func: func(ctx context.Context) error {
			if calls.Add(1) == 1 {
				return nil
			}
			<-ctx.Done()
			return ctx.Err()
		}})
	stop := h.StartBackground(10*time.Millisecond, 50*time.Millisecond)
	defer stop()
	waitFor(t, func() bool { return calls.Load() >= 2 })
	// The second run hangs within its one-hour timeout: the passing result
	// ages until it is too old.
	waitFor(t, func() bool {
		code, body := get(h, "/readyz/dep")
		return code == 503 && strings.Contains(body, "latest result is") && strings.Contains(body, "over the maximum age of 50ms (it passed)")
	})
	stop()
	waitGoroutines(t, base)

	// A run past its own timeout is reported as such, before maxAge.
	release := make(chan struct{})
	h2 := New(Config{})
	mustAdd(t, h2, probe.Check{Name: "stuck", Kind: probe.Readiness, Timeout: 20 * time.Millisecond,
		Func: func(context.Context) error { <-release; return nil }})
	stop2 := h2.StartBackground(time.Hour, time.Hour)
	waitFor(t, func() bool {
		code, body := get(h2, "/readyz/stuck")
		return code == 503 && strings.Contains(body, "timed out: still running")
	})
	close(release)
	stop2()
	waitGoroutines(t, base)
}

func TestStartBackgroundTwice(t *testing.T) {
	base := runtime.NumGoroutine()
	h := New(Config{})
	mustAdd(t, h, probe.Func("dep", probe.Readiness, pass))
	stop1 := h.StartBackground(0, 0)
	stop2 := h.StartBackground(5*time.Millisecond, 0)
	stop1() // already stopped by the second call: no effect
	if h.bg.Load() == nil {
		t.Fatal("stopping the replaced loop stopped the new one")
	}
	stop2()
	waitGoroutines(t, base)
}

// TestNoGoroutineLeak: per-request runs leave nothing behind once their
// checks return.
func TestNoGoroutineLeak(t *testing.T) {
	base := runtime.NumGoroutine()
	h := New(Config{Timeout: 20 * time.Millisecond})
	mustAdd(t, h,
		probe.Func("polite-hang", probe.Readiness, func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }),
		probe.Func("fast", probe.Liveness, pass),
		probe.Func("panics", probe.Liveness, func(context.Context) error { panic("x") }),
	)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { get(h, "/healthz") })
	}
	wg.Wait()
	waitGoroutines(t, base)
}

// TestClientGone: a probe whose client leaves stops waiting at once, and
// does not record a timeout the check did not have.
func TestClientGone(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	h := New(Config{Timeout: time.Hour})
	mustAdd(t, h, probe.Func("slow", probe.Readiness, func(context.Context) error { <-release; return nil }))
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest("GET", "/readyz?verbose", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { h.ServeHTTP(rec, req); close(done) }()
	waitFor(t, func() bool { return h.byName["slow"].waiting.Load() == 1 })
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler kept waiting after the client left")
	}
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "[-]slow failed: not waited for: the probe request ended: context canceled") {
		t.Errorf("%d %q", rec.Code, rec.Body)
	}
	if r := h.Results(); len(r) != 0 {
		t.Errorf("results after a cancelled probe: %+v", r)
	}
}

// TestJSONCheckPathEscapedError: JSON escapes '<', '>' and '&' to six bytes
// each, so an error text of HTML (a dependency's error page) can take six
// times its length once encoded. A check's own path must still show the
// check and the start of its error, not an empty list.
func TestJSONCheckPathEscapedError(t *testing.T) {
	h := New(Config{})
	page := errors.New("unexpected status 502: " + strings.Repeat("<td>&nbsp;</td>", 400))
	mustAdd(t, h, probe.Func("dep", probe.Readiness, func(context.Context) error { return page }))
	code, body := get(h, "/readyz/dep", "Accept", "application/json")
	var rep jsonReport
	if err := json.Unmarshal([]byte(body), &rep); err != nil || code != 503 || len(body) > maxBody {
		t.Fatalf("%d, %d bytes, %v: %.300s", code, len(body), err, body)
	}
	if len(rep.Checks) != 1 || rep.Omitted != 0 || rep.Checks[0].Status != "failed" ||
		!strings.HasPrefix(rep.Checks[0].Error, "unexpected status 502: <td>") || !strings.Contains(rep.Checks[0].Error, "bytes in all]") {
		t.Errorf("the check or its error is missing: %.300s", body)
	}
}

// TestJSONBodyLimitWarnings: the warning quotes exclude names from the
// query, whose '\' and '"' double in strconv.Quote and double again in
// JSON. The body must stay under 8 KiB all the same.
func TestJSONBodyLimitWarnings(t *testing.T) {
	h := New(Config{})
	for i := range 100 {
		mustAdd(t, h, probe.Func(fmt.Sprintf("check-%02d-%s", i, strings.Repeat("x", 50)), probe.Readiness, pass))
	}
	var q strings.Builder
	for i := range 9 {
		fmt.Fprintf(&q, "&exclude=%s%d", strings.Repeat("%5C", 70), i)
	}
	code, body := get(h, "/readyz?verbose"+q.String(), "Accept", "application/json")
	var rep jsonReport
	if err := json.Unmarshal([]byte(body), &rep); err != nil || code != 200 || len(rep.Warnings) != 1 {
		t.Fatalf("%d, %v: %.300s", code, err, body)
	}
	if len(body) > maxBody || rep.Omitted == 0 || len(rep.Checks)+rep.Omitted != 101 {
		t.Errorf("%d bytes (max %d), %d checks + %d omitted, want 101", len(body), maxBody, len(rep.Checks), rep.Omitted)
	}
}

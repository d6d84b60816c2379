package health

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/snug-go/snug/probe"
)

func pass(context.Context) error { return nil }

// serve starts a real HTTP server for h on loopback.
func serve(t testing.TB, h *Handler) string {
	t.Helper()
	mux := http.NewServeMux()
	h.Install(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func mustAdd(t testing.TB, h *Handler, checks ...probe.Check) {
	t.Helper()
	if err := h.Add(checks...); err != nil {
		t.Fatal(err)
	}
}

// TestKubeletProbeText probes every path and text variant as the kubelet
// does, and checks status and exact body.
func TestKubeletProbeText(t *testing.T) {
	refused := errors.New("dial tcp 10.0.0.7:5432: connect: connection refused")
	h := New(Config{})
	mustAdd(t, h,
		probe.Func("alive", probe.Liveness, pass),
		probe.Func("cache", probe.Readiness, pass),
		probe.Func("both", probe.Both, pass),
		probe.Func("db", probe.Readiness, func(context.Context) error { return refused }),
	)
	base := serve(t, h)
	k := newKubeletProbe()

	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/livez", 200, "ok"},
		{"/livez?verbose", 200, "[+]alive ok\n[+]both ok\nlivez check passed\n"},
		{"/livez?verbose=1", 200, "[+]alive ok\n[+]both ok\nlivez check passed\n"},
		{"/livez?verbose=false", 200, "ok"},
		{"/livez/", 200, "ok"},
		{"/livez/alive", 200, "ok"},
		{"/livez/alive?verbose", 200, "[+]alive ok\n"},
		{"/livez/db", 404, "not found: no livez check named \"db\"\n"},
		{"/livez/nope", 404, "not found: no livez check named \"nope\"\n"},
		{"/livez/shutdown", 404, "not found: no livez check named \"shutdown\"\n"},

		{"/readyz", 503, "[+]cache ok\n[+]both ok\n[-]db failed: reason withheld\n[+]shutdown ok\nreadyz check failed\n"},
		{"/readyz/", 503, "[+]cache ok\n[+]both ok\n[-]db failed: reason withheld\n[+]shutdown ok\nreadyz check failed\n"},
		{"/readyz?verbose", 503, "[+]cache ok\n[+]both ok\n[-]db failed: dial tcp 10.0.0.7:5432: connect: connection refused\n[+]shutdown ok\nreadyz check failed\n"},
		{"/readyz?verbose=0", 503, "[+]cache ok\n[+]both ok\n[-]db failed: reason withheld\n[+]shutdown ok\nreadyz check failed\n"},
		{"/readyz?exclude=db", 200, "ok"},
		{"/readyz?exclude=db&verbose", 200, "[+]cache ok\n[+]both ok\n[+]db excluded: ok\n[+]shutdown ok\nreadyz check passed\n"},
		{"/readyz?exclude=db&exclude=nope", 200, "ok"},
		{"/readyz?exclude=db&exclude=nope&verbose", 200, "[+]cache ok\n[+]both ok\n[+]db excluded: ok\n[+]shutdown ok\nwarn: some health checks cannot be excluded: no matches for \"nope\"\nreadyz check passed\n"},
		{"/readyz?exclude=nope&exclude=nope2", 503, "[+]cache ok\n[+]both ok\n[-]db failed: reason withheld\n[+]shutdown ok\nwarn: some health checks cannot be excluded: no matches for \"nope\", \"nope2\"\nreadyz check failed\n"},
		{"/readyz?exclude=alive", 503, "[+]cache ok\n[+]both ok\n[-]db failed: reason withheld\n[+]shutdown ok\nwarn: some health checks cannot be excluded: no matches for \"alive\"\nreadyz check failed\n"},
		{"/readyz?exclude=db&exclude=shutdown&exclude=cache&exclude=both", 200, "ok"},
		{"/readyz/db", 503, "[-]db failed: dial tcp 10.0.0.7:5432: connect: connection refused\n"},
		{"/readyz/db?exclude=db", 503, "[-]db failed: dial tcp 10.0.0.7:5432: connect: connection refused\n"},
		{"/readyz/cache", 200, "ok"},
		{"/readyz/shutdown", 200, "ok"},
		{"/readyz/startup", 404, "not found: no readyz check named \"startup\"\n"},
		{"/readyz/alive", 404, "not found: no readyz check named \"alive\"\n"},
		{"/readyz/a/b", 404, "not found: no readyz check named \"a/b\"\n"},

		{"/healthz", 503, "[+]alive ok\n[+]cache ok\n[+]both ok\n[-]db failed: reason withheld\n[+]shutdown ok\nhealthz check failed\n"},
		{"/healthz?exclude=db", 200, "ok"},
		{"/healthz?exclude=db&verbose", 200, "[+]alive ok\n[+]cache ok\n[+]both ok\n[+]db excluded: ok\n[+]shutdown ok\nhealthz check passed\n"},
		{"/healthz/alive", 200, "ok"},
		{"/healthz/db", 503, "[-]db failed: dial tcp 10.0.0.7:5432: connect: connection refused\n"},

		{"/readyz?verbose&%zz&exclude=db", 200, "[+]cache ok\n[+]both ok\n[+]db excluded: ok\n[+]shutdown ok\nreadyz check passed\n"},
	}
	for _, tt := range tests {
		r := k.get(t, base+tt.path)
		if r.status != tt.status || r.body != tt.body {
			t.Errorf("GET %s\n got %d %q\nwant %d %q", tt.path, r.status, r.body, tt.status, tt.body)
		}
		if r.status != 404 {
			if ct := r.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("GET %s: Content-Type %q", tt.path, ct)
			}
			if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("GET %s: headers %v", tt.path, r.header)
			}
		}
	}
}

func TestMethods(t *testing.T) {
	h := New(Config{})
	mustAdd(t, h, probe.Func("db", probe.Readiness, func(context.Context) error { return errors.New("down") }))
	base := serve(t, h)
	k := newKubeletProbe()
	r, err := k.do(http.MethodHead, base+"/readyz")
	if err != nil || r.status != 503 || r.body != "" {
		t.Errorf("HEAD /readyz: %v %d %q", err, r.status, r.body)
	}
	r, err = k.do(http.MethodHead, base+"/livez")
	if err != nil || r.status != 200 {
		t.Errorf("HEAD /livez: %v %d", err, r.status)
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, "BREW"} {
		r, err := k.do(m, base+"/livez")
		if err != nil || r.status != 405 || r.header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s /livez: %v %d %v", m, err, r.status, r.header)
		}
	}
}

// TestKubeletProbeJSON checks the JSON format on aggregates and sub-paths.
func TestKubeletProbeJSON(t *testing.T) {
	h := New(Config{})
	mustAdd(t, h,
		probe.Func("alive", probe.Liveness, pass),
		probe.Func("db", probe.Readiness, func(context.Context) error { return errors.New("connection refused") }),
	)
	base := serve(t, h)
	k := newKubeletProbe()
	k.accept = "text/html;q=0.9, Application/JSON; charset=utf-8"

	ran := func(c jsonCheck) jsonCheck { // durations vary: only their presence is compared
		if c.DurationSeconds != nil {
			z := 0.0
			c.DurationSeconds = &z
		}
		return c
	}
	zero := 0.0
	tests := []struct {
		path   string
		status int
		want   jsonReport
	}{
		{"/livez", 200, jsonReport{Status: "ok", Checks: []jsonCheck{{Name: "alive", Kind: "liveness", Status: "ok", DurationSeconds: &zero}}}},
		{"/readyz", 503, jsonReport{Status: "failed", Checks: []jsonCheck{
			{Name: "db", Kind: "readiness", Status: "failed", DurationSeconds: &zero},
			{Name: "shutdown", Kind: "readiness", Status: "ok"}}}},
		{"/readyz?verbose", 503, jsonReport{Status: "failed", Checks: []jsonCheck{
			{Name: "db", Kind: "readiness", Status: "failed", Error: "connection refused", DurationSeconds: &zero},
			{Name: "shutdown", Kind: "readiness", Status: "ok"}}}},
		{"/readyz?exclude=db&exclude=x", 200, jsonReport{Status: "ok", Checks: []jsonCheck{
			{Name: "db", Kind: "readiness", Status: "excluded"},
			{Name: "shutdown", Kind: "readiness", Status: "ok"}},
			Warnings: []string{`warn: some health checks cannot be excluded: no matches for "x"`}}},
		{"/readyz/db", 503, jsonReport{Status: "failed", Checks: []jsonCheck{
			{Name: "db", Kind: "readiness", Status: "failed", Error: "connection refused", DurationSeconds: &zero}}}},
		{"/livez/alive", 200, jsonReport{Status: "ok", Checks: []jsonCheck{{Name: "alive", Kind: "liveness", Status: "ok", DurationSeconds: &zero}}}},
	}
	for _, tt := range tests {
		r := k.get(t, base+tt.path)
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("GET %s: Content-Type %q", tt.path, ct)
		}
		var got jsonReport
		if err := json.Unmarshal([]byte(r.body), &got); err != nil {
			t.Errorf("GET %s: %v in %q", tt.path, err, r.body)
			continue
		}
		for i := range got.Checks {
			got.Checks[i] = ran(got.Checks[i])
		}
		if r.status != tt.status || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("GET %s\n got %d %s\nwant %d %+v", tt.path, r.status, r.body, tt.status, tt.want)
		}
	}
	// A 404 stays text, whatever was asked.
	if r := k.get(t, base+"/readyz/nope"); r.status != 404 {
		t.Errorf("GET /readyz/nope: %d", r.status)
	}
}

func TestUnderPrefix(t *testing.T) {
	h := New(Config{})
	mustAdd(t, h, probe.Func("db", probe.Readiness, pass))
	mux := http.NewServeMux()
	mux.Handle("/debug/", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	k := newKubeletProbe()
	if r := k.get(t, srv.URL+"/debug/readyz?verbose"); r.status != 200 || r.body != "[+]db ok\n[+]shutdown ok\nreadyz check passed\n" {
		t.Errorf("/debug/readyz: %d %q", r.status, r.body)
	}
	if r := k.get(t, srv.URL+"/debug/readyz/db"); r.status != 200 || r.body != "ok" {
		t.Errorf("/debug/readyz/db: %d %q", r.status, r.body)
	}
	if r := k.get(t, srv.URL+"/debug/other"); r.status != 404 {
		t.Errorf("/debug/other: %d %q", r.status, r.body)
	}
}

// installDefault registers on http.DefaultServeMux once per test binary
// (a second registration panics, as with http.Handle; -count=2 runs tests
// twice).
var installDefault sync.Once

func TestInstallDefaultServeMux(t *testing.T) {
	installDefault.Do(func() { New(Config{}).Install(http.DefaultServeMux) })
	rec := httptest.NewRecorder()
	http.DefaultServeMux.ServeHTTP(rec, httptest.NewRequest("GET", "/livez", nil))
	if rec.Code != 200 || rec.Body.String() != "ok" {
		t.Errorf("DefaultServeMux /livez: %d %q", rec.Code, rec.Body)
	}
}

func TestAddValidation(t *testing.T) {
	h := New(Config{})
	mustAdd(t, h, probe.Func("db", probe.Readiness, pass))
	tests := []struct {
		c    probe.Check
		want string
	}{
		{probe.Func("", probe.Readiness, pass), "invalid name"},
		{probe.Func("a/b", probe.Readiness, pass), "invalid name"},
		{probe.Func("a b", probe.Readiness, pass), "invalid name"},
		{probe.Func("..", probe.Readiness, pass), "invalid name"},
		{probe.Func("ünïcode", probe.Readiness, pass), "invalid name"},
		{probe.Func(strings.Repeat("x", 64), probe.Readiness, pass), "invalid name"},
		{probe.Func("shutdown", probe.Readiness, pass), "reserved"},
		{probe.Func("startup", probe.Readiness, pass), "reserved"},
		{probe.Func("db", probe.Liveness, pass), "already registered"},
		{probe.Func("x", probe.Readiness, nil), "no function"},
		{probe.Func("x", 0, pass), "invalid kind Kind(0)"},
		{probe.Func("x", probe.Startup|probe.Liveness, pass), "invalid kind"},
		{probe.Check{Name: "x", Kind: probe.Readiness, Func: pass, Timeout: -1}, "negative timeout"},
	}
	for _, tt := range tests {
		err := h.Add(tt.c)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "health: adding check ") {
			t.Errorf("Add(%q): %v, want %q", tt.c.Name, err, tt.want)
		}
	}
	// All or nothing: a bad check in a batch adds none of them.
	if err := h.Add(probe.Func("ok1", probe.Readiness, pass), probe.Func("ok1", probe.Readiness, pass)); err == nil {
		t.Error("duplicate within a batch accepted")
	}
	if err := h.Add(probe.Func("ok1", probe.Readiness, pass)); err != nil {
		t.Errorf("after a rejected batch: %v", err)
	}
	if got := len(h.checks); got != 2 {
		t.Errorf("%d checks registered, want 2", got)
	}
	// A long bad name does not make a long error.
	if err := h.Add(probe.Func(strings.Repeat("\n", 10000), probe.Readiness, pass)); err == nil || len(err.Error()) > 300 || strings.Contains(err.Error(), "\n") {
		t.Errorf("error for a huge name: %d bytes", len(err.Error()))
	}
}

package health

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/snug-go/snug/probe"
)

// fuzzHandler has passing and failing checks of every kind, one with a
// long multi-line error.
func fuzzHandler() *Handler {
	h := New(Config{WaitForReady: true})
	h.Add(
		probe.Func("alive", probe.Liveness, pass),
		probe.Func("db", probe.Readiness, func(context.Context) error { return errors.New("refused\n[+]forged ok\n" + strings.Repeat("x", 5000)) }),
		probe.Func("both.v2", probe.Both, pass),
		probe.Func("warm_up", probe.Startup, pass),
	)
	return h
}

// FuzzRequest sends arbitrary paths, query strings and Accept headers
// through the handler: it must answer 200, 503, 404 or 405 with a bounded,
// well-formed body, and never panic.
func FuzzRequest(f *testing.F) {
	for _, seed := range []struct{ path, query, accept string }{
		{"/readyz", "", ""},
		{"/livez", "verbose", "*/*"},
		{"/healthz", "verbose&exclude=db&exclude=db&exclude=nope", "application/json"},
		{"/readyz/db", "exclude=db", "application/json; q=0.1, text/plain"},
		{"/readyz/", "verbose=false", ""},
		{"/debug/livez/alive", "verbose=%zz", ""},
		{"//readyz//db//", "exclude=%00%0a", "APPLICATION/JSON"},
		{"/readyz/../livez", "exclude=" + strings.Repeat("a", 3000), ","},
		{"/livez/\xff", "verbose=\xff&exclude=\xff", "\xff"},
		{"/", ";;&&==", ";"},
	} {
		f.Add(seed.path, seed.query, seed.accept)
	}
	h := fuzzHandler()
	f.Fuzz(func(t *testing.T, path, query, accept string) {
		req := &http.Request{
			Method: http.MethodGet,
			URL:    &url.URL{Path: path, RawQuery: query},
			Header: http.Header{"Accept": {accept}},
		}
		req = req.WithContext(context.Background())
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body := rec.Body.String()
		if !utf8.ValidString(body) {
			t.Fatalf("invalid UTF-8 in body %q", body)
		}
		switch rec.Code {
		case 200, 503:
		case 404:
			if len(body) > 200 {
				t.Fatalf("404 body of %d bytes", len(body))
			}
			return
		default:
			t.Fatalf("status %d", rec.Code)
		}
		if len(body) > maxBody {
			t.Fatalf("body of %d bytes", len(body))
		}
		if rec.Header().Get("Content-Type") == "application/json" {
			var rep jsonReport
			if err := json.Unmarshal([]byte(body), &rep); err != nil {
				t.Fatalf("bad JSON %q: %v", body, err)
			}
			if (rep.Status == "ok") != (rec.Code == 200) {
				t.Fatalf("JSON status %q with HTTP %d", rep.Status, rec.Code)
			}
			return
		}
		if body == "ok" {
			if rec.Code != 200 {
				t.Fatalf("ok with %d", rec.Code)
			}
			return
		}
		// Every line is a check line, a warning or the closing line: no
		// input can forge or break a line.
		lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
		for i, line := range lines {
			last := i == len(lines)-1
			switch {
			case strings.HasPrefix(line, "[+]alive ") || strings.HasPrefix(line, "[+]both.v2 ") ||
				strings.HasPrefix(line, "[+]warm_up ") || strings.HasPrefix(line, "[+]startup ") ||
				strings.HasPrefix(line, "[+]shutdown ") || strings.HasPrefix(line, "[+]db excluded") ||
				strings.HasPrefix(line, "[-]db failed: ") || strings.HasPrefix(line, "[-]startup failed: ") ||
				strings.HasPrefix(line, "warn: some health checks cannot be excluded: no matches for "):
			case last && (strings.HasSuffix(line, "check passed") || strings.HasSuffix(line, "check failed")):
			default:
				t.Fatalf("unexpected line %q in %q", line, body)
			}
		}
	})
}

// FuzzParseQuery checks the query parser alone: bounded, deduplicated
// excludes, and never a panic.
func FuzzParseQuery(f *testing.F) {
	for _, q := range []string{"", "verbose", "verbose=0", "verbose=true&verbose=false", "exclude=a&exclude=a&exclude=b", "exclude=%zz&verbose", ";", "exclude=" + strings.Repeat("&exclude=x", 100)} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		_, exclude := parseQuery(q)
		if len(exclude) > maxExcludes {
			t.Fatalf("%d excludes", len(exclude))
		}
		seen := map[string]bool{}
		for _, e := range exclude {
			if seen[e] {
				t.Fatalf("duplicate exclude %q", e)
			}
			seen[e] = true
		}
	})
}

// FuzzCheckName: Add accepts exactly the valid names, and an accepted check
// is served on its own path.
func FuzzCheckName(f *testing.F) {
	for _, n := range []string{"db", "a.b-c_d", "", ".", "..", "a/b", "shutdown", "startup", "x y", "\x00", "é", strings.Repeat("n", 63), strings.Repeat("n", 64)} {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, name string) {
		h := New(Config{})
		err := h.Add(probe.Func(name, probe.Readiness, pass))
		if (err == nil) != (validName(name) && name != "startup" && name != "shutdown") {
			t.Fatalf("Add(%q) = %v", name, err)
		}
		if err != nil {
			if !utf8.ValidString(err.Error()) || strings.Contains(err.Error(), "\n") || len(err.Error()) > 300 {
				t.Fatalf("error %q", err)
			}
			return
		}
		code, body := get(h, "/readyz/"+name)
		if code != 200 || body != "ok" {
			t.Fatalf("GET /readyz/%s: %d %q", name, code, body)
		}
	})
}

// FuzzCleanText: any error text becomes one line of valid UTF-8 within its
// limit.
func FuzzCleanText(f *testing.F) {
	for _, s := range []string{"", "plain", "two\nlines", "\xff\xfe", strings.Repeat("é", 300), "a\u2028b", "\x85"} {
		f.Add(s, 64)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 48 || max > 1<<16 {
			return
		}
		out := cleanText(s, max)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8: %q", out)
		}
		if strings.ContainsAny(out, "\n\r\x00\u2028\u2029") {
			t.Fatalf("line break in %q", out)
		}
		if len(out) > max {
			t.Fatalf("%d bytes over %d: %q", len(out), max, out)
		}
		if len(s) <= max && utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r >= 0x7f && r < 0xa0 || r == '\u2028' || r == '\u2029' }) && out != s {
			t.Fatalf("clean short text changed: %q → %q", s, out)
		}
	})
}

package health

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/snug-go/snug/probe"
)

// Body limits. The kubelet reads at most 10 KiB of a probe's response and
// the rest is lost, so bodies stay under 8 KiB: every line that fits is
// written, and then a line saying how many checks were left out, before the
// closing line, which is always there.
const (
	maxBody          = 8 << 10
	maxErrAggregate  = 256     // error text per line of an aggregate
	maxErrSingle     = 4 << 10 // error text on a check's own path
	maxWarnNames     = 8       // unknown exclude names quoted in the warning
	maxWarnNameBytes = 64      // of each
)

// outcome is one check's line in a report.
type outcome struct {
	name     string
	kind     probe.Kind
	excluded bool
	err      error  // nil: passed
	note     string // why the check was not run, if it was not
	ran      bool   // result holds a real run (for the duration)
	result   probe.Result
}

// report is the outcome of one request.
type report struct {
	endpoint        endpoint
	outcomes        []outcome
	unknownExcludes []string
}

func (r *report) failed() bool {
	for _, o := range r.outcomes {
		if !o.excluded && o.err != nil {
			return true
		}
	}
	return false
}

// statusFor is the HTTP status of a report: 200, or 503 Service Unavailable
// on failure. The API server answers 500; 503 says better that the failure
// is this replica's state and not a bug in the request, and the kubelet
// treats any status outside 200-399 as a failure.
func statusFor(failed bool) int {
	if failed {
		return http.StatusServiceUnavailable
	}
	return http.StatusOK
}

// renderText writes the API server's text format.
//
// Aggregate, all passing, without ?verbose:
//
//	ok
//
// With ?verbose, or when a check fails (the error text only with ?verbose):
//
//	[+]goroutines ok
//	[+]db excluded: ok
//	[-]memory-headroom failed: reason withheld
//	warn: some health checks cannot be excluded: no matches for "dbb"
//	readyz check failed
//
// A check's own path answers "ok", or the failure with its error text:
//
//	[-]memory-headroom failed: working set 243.2 MiB is 95.0% of ...
func renderText(rep *report, t target) []byte {
	failed := rep.failed()
	if t.subPath {
		o := rep.outcomes[0]
		if o.err == nil {
			if t.verbose {
				return []byte(okLine(o, true))
			}
			return []byte("ok")
		}
		return []byte("[-]" + o.name + " failed: " + errLine(o.err, maxErrSingle) + "\n")
	}
	if !failed && !t.verbose {
		return []byte("ok")
	}

	closing := rep.endpoint.String() + " check passed\n"
	if failed {
		closing = rep.endpoint.String() + " check failed\n"
	}
	warn := warning(rep.unknownExcludes)
	var b bytes.Buffer
	budget := maxBody - len(closing) - len(warn) - 64 // 64: the "not shown" line
	for i, o := range rep.outcomes {
		var line string
		switch {
		case o.excluded:
			line = "[+]" + o.name + " excluded: ok\n"
		case o.err == nil:
			line = okLine(o, t.verbose)
		case t.verbose:
			line = "[-]" + o.name + " failed: " + errLine(o.err, maxErrAggregate) + "\n"
		default:
			line = "[-]" + o.name + " failed: reason withheld\n"
		}
		if b.Len()+len(line) > budget {
			notShown, notShownFailed := 0, 0
			for _, o := range rep.outcomes[i:] {
				notShown++
				if !o.excluded && o.err != nil {
					notShownFailed++
				}
			}
			b.WriteString("[...] " + strconv.Itoa(notShown) + " more checks not shown, " +
				strconv.Itoa(notShownFailed) + " of them failed\n")
			break
		}
		b.WriteString(line)
	}
	b.WriteString(warn)
	b.WriteString(closing)
	return b.Bytes()
}

func okLine(o outcome, verbose bool) string {
	if verbose && o.note != "" {
		return "[+]" + o.name + " ok (" + o.note + ")\n"
	}
	return "[+]" + o.name + " ok\n"
}

// warning is the API server's line for exclude names that match no check,
// or "" when all matched.
func warning(unknown []string) string {
	if len(unknown) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("warn: some health checks cannot be excluded: no matches for ")
	for i, name := range unknown {
		if i == maxWarnNames {
			b.WriteString(" and " + strconv.Itoa(len(unknown)-i) + " more")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(cleanText(name, maxWarnNameBytes)))
	}
	b.WriteByte('\n')
	return b.String()
}

// jsonReport is the body served to a client that accepts application/json.
//
//	{"status":"failed","checks":[
//	  {"name":"goroutines","kind":"liveness","status":"ok","durationSeconds":0.000004},
//	  {"name":"db","kind":"readiness","status":"failed","error":"dial tcp ..."}]}
//
// error is present only with ?verbose or on a check's own path, as in the
// text format. omitted counts checks left out to keep the body under 8 KiB.
type jsonReport struct {
	Status   string      `json:"status"`
	Checks   []jsonCheck `json:"checks"`
	Omitted  int         `json:"omitted,omitempty"`
	Warnings []string    `json:"warnings,omitempty"`
}

type jsonCheck struct {
	Name            string   `json:"name"`
	Kind            string   `json:"kind"`
	Status          string   `json:"status"` // "ok", "failed" or "excluded"
	Error           string   `json:"error,omitempty"`
	Note            string   `json:"note,omitempty"`
	DurationSeconds *float64 `json:"durationSeconds,omitempty"`
}

func renderJSON(rep *report, t target) []byte {
	out := jsonReport{Status: "ok", Checks: []jsonCheck{}}
	if rep.failed() {
		out.Status = "failed"
	}
	if w := warning(rep.unknownExcludes); w != "" {
		out.Warnings = []string{strings.TrimSuffix(w, "\n")}
	}
	maxErr := maxErrAggregate
	if t.subPath {
		maxErr = maxErrSingle
	}
	// The envelope, generously, and the warnings as encoded: they quote
	// names from the query, whose '\' and '"' strconv.Quote and then JSON
	// each double.
	warnings, _ := json.Marshal(out.Warnings)
	size := 256 + len(warnings)
	for i, o := range rep.outcomes {
		c := jsonCheck{Name: o.name, Kind: o.kind.String(), Status: "ok", Note: o.note}
		switch {
		case o.excluded:
			c.Status = "excluded"
		case o.err != nil:
			c.Status = "failed"
			if t.verbose || t.subPath {
				c.Error = errLine(o.err, maxErr)
			}
		}
		if o.ran && !o.excluded {
			s := o.result.Duration.Seconds()
			c.DurationSeconds = &s
		}
		enc, _ := json.Marshal(c)
		// JSON escapes '<', '>' and '&' to six bytes each, so an error text
		// of HTML can encode to six times its length: on a check's own
		// path, cut it further rather than leave out the one check asked
		// for.
		for t.subPath && size+len(enc)+1 > maxBody && maxErr > maxErrAggregate/4 {
			maxErr /= 2
			c.Error = errLine(o.err, maxErr)
			enc, _ = json.Marshal(c)
		}
		if size+len(enc)+1 > maxBody {
			out.Omitted = len(rep.outcomes) - i
			break
		}
		size += len(enc) + 1
		out.Checks = append(out.Checks, c)
	}
	body, err := json.Marshal(out)
	if err != nil { // cannot happen: strings, numbers and slices only
		return []byte(`{"status":"failed","checks":[]}`)
	}
	return append(body, '\n')
}

// errLine is the text of a check's error for one line of output; an empty
// text says so rather than leaving the line to end in a bare colon.
func errLine(err error, max int) string {
	s := errorText(err)
	if s == "" {
		return "(no error text)"
	}
	return cleanText(s, max)
}

// cleanText makes s safe for one line of probe output: valid UTF-8,
// control characters (newlines above all, which would forge [+] lines)
// turned into spaces, and at most max bytes, cut on a character boundary
// with a note of the original length. A long input is cut before anything
// else, so a huge error string costs no more than a short one.
func cleanText(s string, max int) string {
	const suffixLen = 40 // room for " [cut: 1234567890 bytes in all]"
	total := len(s)
	if len(s) > max {
		s = s[:max]
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	if total <= max && len(s) <= max {
		return s
	}
	keep := max - suffixLen
	if keep < 0 {
		keep = 0
	}
	if keep > len(s) {
		keep = len(s)
	}
	for keep > 0 && keep < len(s) && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + " [cut: " + strconv.Itoa(total) + " bytes in all]"
}

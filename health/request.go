package health

import (
	"net/url"
	"strconv"
	"strings"
)

// endpoint is one of the three aggregate paths.
type endpoint uint8

const (
	livez endpoint = iota + 1
	readyz
	healthz
)

func (e endpoint) String() string {
	switch e {
	case livez:
		return "livez"
	case readyz:
		return "readyz"
	case healthz:
		return "healthz"
	}
	return "unknown"
}

// target is what a request asks for, parsed from its path, query and Accept
// header. Parsing never fails: what cannot be understood is ignored or, for
// the path, answered with 404.
type target struct {
	endpoint endpoint // 0: the path names no endpoint (404)
	check    string   // the check of a sub-path, "" for the aggregate
	subPath  bool     // the path has something after the endpoint
	verbose  bool
	json     bool
	exclude  []string // distinct names, in the order given
}

// parseTarget reads a request. The endpoint is the first path segment that
// is livez, readyz or healthz, so the handler works under any prefix
// (/debug/readyz) as well as at the root; what follows it is the check name.
func parseTarget(path, rawQuery, accept string) target {
	var t target
	rest := path
	for rest != "" {
		rest = strings.TrimLeft(rest, "/")
		seg, after, _ := strings.Cut(rest, "/")
		switch seg {
		case "livez":
			t.endpoint = livez
		case "readyz":
			t.endpoint = readyz
		case "healthz":
			t.endpoint = healthz
		}
		if t.endpoint != 0 {
			// "/readyz/" is the aggregate, like "/readyz".
			t.check = strings.TrimSuffix(after, "/")
			t.subPath = t.check != ""
			break
		}
		rest = after
	}
	t.verbose, t.exclude = parseQuery(rawQuery)
	t.json = acceptsJSON(accept)
	return t
}

// maxExcludes bounds how many exclude values a request may give: more than
// any handler has checks, few enough that a hostile query costs nothing.
const maxExcludes = 64

// parseQuery reads ?verbose and ?exclude=name (repeatable). verbose is on
// when present with an empty value or any value strconv.ParseBool accepts as
// true, or does not understand: "?verbose", "?verbose=1", "?verbose=yes"
// (the API server only looks for its presence); "?verbose=false" and
// "?verbose=0" turn it off. Malformed pairs are skipped, as url.Values does.
func parseQuery(rawQuery string) (verbose bool, exclude []string) {
	if rawQuery == "" {
		return false, nil
	}
	q, _ := url.ParseQuery(rawQuery) // keeps the pairs that parse
	if vs, ok := q["verbose"]; ok {
		verbose = true
		if len(vs) > 0 && vs[len(vs)-1] != "" {
			if b, err := strconv.ParseBool(vs[len(vs)-1]); err == nil {
				verbose = b
			}
		}
	}
	for _, name := range q["exclude"] {
		if len(exclude) == maxExcludes {
			break
		}
		if !contains(exclude, name) {
			exclude = append(exclude, name)
		}
	}
	return verbose, exclude
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// acceptsJSON reports whether an Accept header lists application/json (with
// any parameters, in any case). Weights are ignored: a client that names
// JSON at all reads it.
func acceptsJSON(accept string) bool {
	for accept != "" {
		var part string
		part, accept, _ = strings.Cut(accept, ",")
		mediaType, _, _ := strings.Cut(part, ";")
		if strings.EqualFold(strings.TrimSpace(mediaType), "application/json") {
			return true
		}
	}
	return false
}

// maxNameLen is the longest check name Add accepts.
const maxNameLen = 63

// validName reports whether name can be a check's name: 1 to 63 of ASCII
// letters, digits, '-', '_' and '.', so that it fits a URL path segment
// unescaped and a line of probe output unambiguously.
func validName(name string) bool {
	if name == "" || len(name) > maxNameLen || name == "." || name == ".." {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

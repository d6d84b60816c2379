package export

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// settings is what Setup decided from the environment and its options.
type settings struct {
	disabled   bool
	exporters  []string // "otlp", "prometheus", "console", in that order
	protocol   string   // "http/protobuf" or "grpc", for otlp
	interval   time.Duration
	timeout    time.Duration
	warnings   []error
	defaulted  string // why the default exporters apply, as the summary says it; "" when they do not
	otlpTarget string
	// badEndpoints are the OTLP endpoint variables set to what is not a
	// URL with a host, as "KEY=value"; the OTLP exporters must ignore them.
	badEndpoints []string
	// otlpOverride: the exporters would take one of badEndpoints, so Setup
	// must give them otlpTarget (or their default) itself.
	otlpOverride bool
}

const (
	defaultInterval = 60 * time.Second // the specification's default
	defaultTimeout  = 30 * time.Second
	// minInterval keeps a typo (OTEL_METRIC_EXPORT_INTERVAL=60 meant as
	// seconds) from exporting every few milliseconds.
	minInterval = 100 * time.Millisecond
)

// readSettings reads the standard variables. A value it cannot use is
// ignored with a warning and the default applies, as the OpenTelemetry
// specification asks of SDKs ("generate a warning and gracefully ignore").
func readSettings(getenv func(string) string) settings {
	s := &settings{protocol: "http/protobuf", interval: defaultInterval, timeout: defaultTimeout}
	warn := func(format string, args ...any) {
		s.warnings = append(s.warnings, fmt.Errorf("export: "+format, args...))
	}

	switch v := strings.TrimSpace(getenv("OTEL_SDK_DISABLED")); strings.ToLower(v) {
	case "true":
		s.disabled = true
		return *s
	case "", "false":
	default:
		warn("OTEL_SDK_DISABLED=%q is not true or false: SDK left enabled", v)
	}

	s.otlpTarget, s.badEndpoints, s.otlpOverride = otlpEndpoint(getenv)
	if raw, ok := lookup(getenv, "OTEL_METRICS_EXPORTER"); ok {
		seen := map[string]bool{}
		none := false
		for _, name := range strings.Split(raw, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			switch name {
			case "":
			case "none":
				none = true
			case "otlp", "prometheus", "console":
				seen[name] = true
			default:
				warn("OTEL_METRICS_EXPORTER: unknown exporter %q ignored (known: otlp, prometheus, console, none)", name)
			}
		}
		for _, name := range [...]string{"otlp", "prometheus", "console"} {
			if seen[name] {
				s.exporters = append(s.exporters, name)
			}
		}
		if none && len(s.exporters) > 0 {
			warn("OTEL_METRICS_EXPORTER=%q: none is ignored next to other exporters", raw)
		}
		if none || len(s.exporters) > 0 {
			s.finish(getenv, warn)
			return *s
		}
		// Only unknown names: fall through to the default, which pushes
		// nothing unless an OTLP endpoint is configured.
		s.defaulted = "OTEL_METRICS_EXPORTER names no known exporter"
	}

	// Unset. The specification's default is otlp to localhost:4318; snug
	// pushes nothing unless told where to: the Prometheus handler always,
	// OTLP only when an endpoint variable is set.
	if s.defaulted == "" {
		s.defaulted = "OTEL_METRICS_EXPORTER unset"
	}
	if s.otlpTarget != "" {
		s.exporters = append(s.exporters, "otlp")
	} else {
		// An endpoint the exporter would ignore would have it push to its
		// default, localhost: not an endpoint named.
		for _, kv := range s.badEndpoints {
			warn("%s is not a URL (http://host:port): OTLP not enabled", kv)
		}
	}
	s.exporters = append(s.exporters, "prometheus")
	s.finish(getenv, warn)
	return *s
}

// finish reads the variables of the exporters chosen.
func (s *settings) finish(getenv func(string) string, warn func(string, ...any)) {
	if s.has("otlp") {
		for _, kv := range s.badEndpoints {
			warn("%s is not a URL (http://host:port): ignored by the OTLP exporter", kv)
		}
		// The metrics variable wins, but one that names no protocol gives
		// way to the general one, as an endpoint does.
		var bad []string
	protocols:
		for _, k := range [...]string{"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
			v, ok := lookup(getenv, k)
			if !ok {
				continue
			}
			v = strings.TrimSpace(v)
			switch strings.ToLower(v) {
			case "http/protobuf":
				break protocols
			case "grpc":
				s.protocol = "grpc"
				break protocols
			}
			bad = append(bad, fmt.Sprintf("%s=%q", k, v))
		}
		for _, kv := range bad {
			warn("%s not supported (http/protobuf or grpc): using %s", kv, s.protocol)
		}
	}
	if s.has("otlp") || s.has("console") {
		s.interval = millis(getenv, "OTEL_METRIC_EXPORT_INTERVAL", defaultInterval, warn)
		if s.interval < minInterval {
			warn("OTEL_METRIC_EXPORT_INTERVAL=%q is below %v: using %v", getenv("OTEL_METRIC_EXPORT_INTERVAL"), minInterval, minInterval)
			s.interval = minInterval
		}
		s.timeout = millis(getenv, "OTEL_METRIC_EXPORT_TIMEOUT", defaultTimeout, warn)
	}
}

func (s settings) has(name string) bool {
	for _, e := range s.exporters {
		if e == name {
			return true
		}
	}
	return false
}

// millis parses a positive whole number of milliseconds.
func millis(getenv func(string) string, key string, def time.Duration, warn func(string, ...any)) time.Duration {
	raw, ok := lookup(getenv, key)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
	if err != nil || n <= 0 || n > int64(24*time.Hour/time.Millisecond) {
		warn("%s=%q is not a number of milliseconds between 1 and 86400000: using %v", key, raw, def)
		return def
	}
	return time.Duration(n) * time.Millisecond
}

// otlpEndpoint returns the endpoint the OTLP exporters are to push to, ""
// for their default, and the endpoint variables that name no host. The
// exporters take OTEL_EXPORTER_OTLP_METRICS_ENDPOINT over
// OTEL_EXPORTER_OTLP_ENDPOINT. They skip, with only a log line, a value
// that url.Parse rejects, such as "10.0.0.5:4318" without its scheme: then
// the other, or localhost. But they take one it accepts without a host,
// such as "collector:4317" (the scheme "collector", then "4317"), and fail
// every push: override says that they would, and must be told the
// endpoint.
func otlpEndpoint(getenv func(string) string) (target string, bad []string, override bool) {
	taken := false // the exporters have taken a value, good or bad
	for _, k := range [...]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		v, ok := lookup(getenv, k)
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		u, err := url.Parse(v)
		if err != nil || u.Host == "" {
			bad = append(bad, fmt.Sprintf("%s=%q", k, v))
			if err == nil && !taken {
				override, taken = true, true
			}
			continue
		}
		if target == "" {
			target = v
		}
		taken = true
	}
	return target, bad, override
}

func lookup(getenv func(string) string, key string) (string, bool) {
	v := getenv(key)
	return v, strings.TrimSpace(v) != ""
}

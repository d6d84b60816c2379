package export

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestReadSettings(t *testing.T) {
	for _, tc := range []struct {
		name      string
		env       map[string]string
		exporters []string
		protocol  string
		interval  time.Duration
		disabled  bool
		target    string // the OTLP endpoint expected in the summary, if not ""
		warn      string // a substring of the one warning expected, "" for none
	}{
		{name: "unset: prometheus only, nothing pushed",
			exporters: []string{"prometheus"}},
		{name: "unset with an endpoint: otlp too",
			env:       map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
			exporters: []string{"otlp", "prometheus"}},
		{name: "unset with a metrics endpoint: otlp too",
			env:       map[string]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://collector:4318/v1/metrics"},
			exporters: []string{"otlp", "prometheus"}},
		{name: "unset with an endpoint that is not a URL: nothing pushed",
			env:       map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "10.0.0.5:4318"},
			exporters: []string{"prometheus"}, warn: "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{name: "a metrics endpoint that is not a URL gives way to the general one",
			env:       map[string]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "10.0.0.5:4318", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
			exporters: []string{"otlp", "prometheus"}, target: "http://collector:4318", warn: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"},
		{name: "unset with an endpoint without a scheme: nothing pushed",
			env:       map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			exporters: []string{"prometheus"}, warn: "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{name: "unset with a metrics endpoint without a scheme: nothing pushed",
			env:       map[string]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "otel-collector.monitoring:4318"},
			exporters: []string{"prometheus"}, warn: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"},
		{name: "a metrics endpoint without a scheme gives way to the general one",
			env:       map[string]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "collector:4318", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
			exporters: []string{"otlp", "prometheus"}, target: "http://collector:4318", warn: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"},
		{name: "otlp with an endpoint without a scheme: the exporter's default",
			env:       map[string]string{"OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"},
			exporters: []string{"otlp"}, warn: "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{name: "otlp with an endpoint that is not a URL: the exporter's default",
			env:       map[string]string{"OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "10.0.0.5:4318"},
			exporters: []string{"otlp"}, warn: "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{name: "otlp alone",
			env:       map[string]string{"OTEL_METRICS_EXPORTER": "otlp"},
			exporters: []string{"otlp"}},
		{name: "a list, spaces and case",
			env:       map[string]string{"OTEL_METRICS_EXPORTER": " Console , prometheus,otlp,otlp"},
			exporters: []string{"otlp", "prometheus", "console"}},
		{name: "none",
			env:       map[string]string{"OTEL_METRICS_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"},
			exporters: nil},
		{name: "none next to others is ignored",
			env:       map[string]string{"OTEL_METRICS_EXPORTER": "none,otlp"},
			exporters: []string{"otlp"}, warn: "none is ignored"},
		{name: "unknown exporter ignored",
			env:       map[string]string{"OTEL_METRICS_EXPORTER": "prometheus,zipkin"},
			exporters: []string{"prometheus"}, warn: `unknown exporter "zipkin"`},
		{name: "only unknown exporters: the default",
			env:       map[string]string{"OTEL_METRICS_EXPORTER": "jaeger"},
			exporters: []string{"prometheus"}, warn: `unknown exporter "jaeger"`},
		{name: "grpc",
			env:       map[string]string{"OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			exporters: []string{"otlp"}, protocol: "grpc"},
		{name: "metrics protocol wins",
			env:       map[string]string{"OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/protobuf"},
			exporters: []string{"otlp"}, protocol: "http/protobuf"},
		{name: "an unsupported metrics protocol gives way to the general one",
			env:       map[string]string{"OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "bogus"},
			exporters: []string{"otlp"}, protocol: "grpc", warn: "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"},
		{name: "http/json is not supported",
			env:       map[string]string{"OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
			exporters: []string{"otlp"}, protocol: "http/protobuf", warn: `OTEL_EXPORTER_OTLP_PROTOCOL="http/json"`},
		{name: "interval",
			env:       map[string]string{"OTEL_METRICS_EXPORTER": "otlp", "OTEL_METRIC_EXPORT_INTERVAL": "15000"},
			exporters: []string{"otlp"}, interval: 15 * time.Second},
		{name: "interval malformed",
			env:       map[string]string{"OTEL_METRICS_EXPORTER": "console", "OTEL_METRIC_EXPORT_INTERVAL": "15s"},
			exporters: []string{"console"}, interval: defaultInterval, warn: "OTEL_METRIC_EXPORT_INTERVAL"},
		{name: "interval negative",
			env:       map[string]string{"OTEL_METRICS_EXPORTER": "console", "OTEL_METRIC_EXPORT_INTERVAL": "-5"},
			exporters: []string{"console"}, interval: defaultInterval, warn: "OTEL_METRIC_EXPORT_INTERVAL"},
		{name: "interval in seconds by mistake is raised to the floor",
			env:       map[string]string{"OTEL_METRICS_EXPORTER": "otlp", "OTEL_METRIC_EXPORT_INTERVAL": "60"},
			exporters: []string{"otlp"}, interval: minInterval, warn: "below"},
		{name: "disabled",
			env:      map[string]string{"OTEL_SDK_DISABLED": "TRUE", "OTEL_METRICS_EXPORTER": "otlp"},
			disabled: true},
		{name: "disabled malformed",
			env:       map[string]string{"OTEL_SDK_DISABLED": "yes"},
			exporters: []string{"prometheus"}, warn: "OTEL_SDK_DISABLED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := readSettings(func(k string) string { return tc.env[k] })
			if s.disabled != tc.disabled {
				t.Errorf("disabled = %v", s.disabled)
			}
			if !reflect.DeepEqual(s.exporters, tc.exporters) {
				t.Errorf("exporters = %q, want %q", s.exporters, tc.exporters)
			}
			if tc.protocol != "" && s.protocol != tc.protocol {
				t.Errorf("protocol = %q, want %q", s.protocol, tc.protocol)
			}
			if tc.target != "" && s.otlpTarget != tc.target {
				t.Errorf("otlpTarget = %q, want %q", s.otlpTarget, tc.target)
			}
			if tc.interval != 0 && s.interval != tc.interval {
				t.Errorf("interval = %v, want %v", s.interval, tc.interval)
			}
			switch {
			case tc.warn == "" && len(s.warnings) > 0:
				t.Errorf("unexpected warnings %v", s.warnings)
			case tc.warn != "" && (len(s.warnings) != 1 || !strings.Contains(s.warnings[0].Error(), tc.warn)):
				t.Errorf("warnings %v, want one containing %q", s.warnings, tc.warn)
			}
		})
	}
}

// The start-up summary says why the default exporters were taken: the
// variable unset is not the same mistake as a variable naming none we know.
func TestReadSettingsSaysWhyDefault(t *testing.T) {
	for env, want := range map[string]string{
		"":                "OTEL_METRICS_EXPORTER unset",
		"jaeger":          "OTEL_METRICS_EXPORTER names no known exporter",
		"jaeger,zipkin":   "OTEL_METRICS_EXPORTER names no known exporter",
		"otlp":            "",
		"none":            "",
		"prometheus,otlp": "",
	} {
		s := readSettings(func(k string) string {
			if k == "OTEL_METRICS_EXPORTER" {
				return env
			}
			return ""
		})
		if s.defaulted != want {
			t.Errorf("OTEL_METRICS_EXPORTER=%q: defaulted = %q, want %q", env, s.defaulted, want)
		}
	}
}

// FuzzReadSettings: whatever the OTEL_* variables hold, the settings are
// ones Setup can use (known exporters, each once and in order; a supported
// protocol; an interval and timeout in range; an endpoint only if it is a
// URL, as the exporter reads it) and each warning is one line.
func FuzzReadSettings(f *testing.F) {
	f.Add("", "", "", "", "", "", "", "")
	f.Add("false", " Console , prometheus,otlp,otlp", "http://collector:4318", "10.0.0.5:4318", "grpc", "", "15000", "5000")
	f.Add("yes", "none,otlp", "", "", "http/json", "http/protobuf", "60", "-5")
	f.Add("TRUE", "otlp", "http://x:4318", "", "", "", "15s", "86400001")
	f.Add("", "jaeger", "10.0.0.5:4318", "http://collector:4318/v1/metrics", "", "GRPC", " 100 ", "1")
	f.Fuzz(func(t *testing.T, disabled, exporter, endpoint, metricsEndpoint, protocol, metricsProtocol, interval, timeout string) {
		env := map[string]string{
			"OTEL_SDK_DISABLED": disabled, "OTEL_METRICS_EXPORTER": exporter,
			"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": metricsEndpoint,
			"OTEL_EXPORTER_OTLP_PROTOCOL": protocol, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": metricsProtocol,
			"OTEL_METRIC_EXPORT_INTERVAL": interval, "OTEL_METRIC_EXPORT_TIMEOUT": timeout,
		}
		s := readSettings(func(k string) string { return env[k] })
		for _, w := range s.warnings {
			if strings.ContainsAny(w.Error(), "\n\r") {
				t.Fatalf("warning of more than one line: %q", w)
			}
		}
		if s.disabled {
			if len(s.exporters) > 0 {
				t.Fatalf("disabled, yet exporters %q", s.exporters)
			}
			return
		}
		order := map[string]int{"otlp": 1, "prometheus": 2, "console": 3}
		last := 0
		for _, e := range s.exporters {
			if order[e] <= last {
				t.Fatalf("exporters %q: unknown, repeated or out of order", s.exporters)
			}
			last = order[e]
		}
		if s.protocol != "http/protobuf" && s.protocol != "grpc" {
			t.Fatalf("protocol %q", s.protocol)
		}
		if s.interval < minInterval || s.interval > 24*time.Hour || s.timeout <= 0 || s.timeout > 24*time.Hour {
			t.Fatalf("interval %v, timeout %v from %q", s.interval, s.timeout, env)
		}
		if s.otlpTarget != "" {
			if _, err := url.Parse(s.otlpTarget); err != nil ||
				(s.otlpTarget != strings.TrimSpace(metricsEndpoint) && s.otlpTarget != strings.TrimSpace(endpoint)) {
				t.Fatalf("OTLP target %q from %q", s.otlpTarget, env)
			}
		}
		if s.defaulted != "" && s.has("otlp") != (s.otlpTarget != "") {
			t.Fatalf("default exporters %q with OTLP target %q", s.exporters, s.otlpTarget)
		}
	})
}

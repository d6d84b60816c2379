// Package prom serves OpenTelemetry metrics to a Prometheus scraper from
// the application's own HTTP server, at the path it chooses (/metrics by
// convention), without pushing anything anywhere.
//
// An Exporter is two things: an OpenTelemetry metric Reader, which goes into
// the MeterProvider, and an http.Handler, which goes on the application's
// mux. Each scrape collects once, fresh:
//
//	exp, err := prom.New()
//	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
//	telemetry.Register(telemetry.WithMeterProvider(mp))
//	mux.Handle("/metrics", exp)
//
// The exporter has its own Prometheus registry: it serves only the
// OpenTelemetry metrics of its MeterProvider and snug's runtime histograms
// (telemetry.NewProducer is added to it), never what other libraries put in
// client_golang's global registry, and never client_golang's Go collector,
// which snug's go.* metrics replace.
//
// Names follow the OpenTelemetry specification's Prometheus translation
// with suffixes: go.memory.used (unit By) is served as go_memory_used_bytes,
// container.cpu.time (a counter in s) as container_cpu_time_seconds_total.
// The resource is served once, as the target_info series.
//
// This package links the OpenTelemetry SDK and client_golang but no OTLP
// exporter or gRPC: a service that only exposes /metrics stays light.
// Package telemetry/export builds the same exporter from the standard
// OTEL_* environment variables, next to OTLP.
package prom

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/snug-go/snug/telemetry"
)

// Exporter is a metric Reader for a MeterProvider and the http.Handler that
// serves what it reads in the Prometheus text format.
type Exporter struct {
	sdkmetric.Reader
	handler http.Handler
}

// Option configures New.
type Option func(*options)

type options struct {
	withoutHistograms bool
	timeout           time.Duration
}

// WithoutRuntimeHistograms leaves out the runtime histograms that New adds
// by default (go.schedule.duration and go.memory.gc.pause.duration, 162
// buckets each). Use it when the same MeterProvider has another reader that
// already carries telemetry.NewProducer and this one should stay small.
func WithoutRuntimeHistograms() Option {
	return func(o *options) { o.withoutHistograms = true }
}

// WithTimeout bounds how long one scrape may take before the handler gives
// up and answers 503; the default is 10 seconds, Prometheus' default scrape
// timeout. A value of zero or less keeps the default.
func WithTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// maxScrapesInFlight bounds concurrent scrapes: each holds a full
// collection. Prometheus sends one at a time per target; more in flight
// means a misbehaving client, which gets 503 rather than memory.
const maxScrapesInFlight = 4

// New returns an Exporter with its own Prometheus registry.
func New(opts ...Option) (*Exporter, error) {
	o := options{timeout: 10 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	reg := prometheus.NewRegistry()
	eopts := []otelprom.Option{
		otelprom.WithRegisterer(reg),
		// Explicit, so that the names do not change with client_golang's
		// global validation scheme or a future default.
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
	}
	if !o.withoutHistograms {
		eopts = append(eopts, otelprom.WithProducer(telemetry.NewProducer()))
	}
	exp, err := otelprom.New(eopts...)
	if err != nil {
		return nil, fmt.Errorf("prom: %w", err)
	}
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A failed callback loses its own series, not the whole scrape.
		ErrorHandling: promhttp.ContinueOnError,
		// The series that fail (a label value that is not UTF-8, a name
		// collision) are reported only here: without a log they would
		// vanish from the scrape with no trace anywhere.
		ErrorLog:            errorLog{},
		MaxRequestsInFlight: maxScrapesInFlight,
		Timeout:             o.timeout,
	})
	return &Exporter{Reader: exp, handler: h}, nil
}

// errorLog passes what the handler logs (series it could not gather or
// encode) to the OpenTelemetry error handler, where the exporter reports
// its other errors.
type errorLog struct{}

func (errorLog) Println(v ...any) {
	otel.Handle(errors.New("prom: " + strings.TrimSuffix(fmt.Sprintln(v...), "\n")))
}

// ServeHTTP serves one scrape: it collects every metric of the
// MeterProvider the Exporter is a reader of, then writes them in the
// format the scraper asked for (text or protobuf, compressed if accepted).
// A series that cannot be served (a label value that is not UTF-8) is left
// out, and the reason goes to the OpenTelemetry error handler (otel.Handle).
// Before the Exporter is registered with a MeterProvider it serves an
// empty page.
func (e *Exporter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.handler.ServeHTTP(w, r)
}

// Package export sets up OpenTelemetry metrics for a service from the
// standard environment variables, with snug's instruments registered and
// the exporters the environment asks for: OTLP over HTTP or gRPC, a
// Prometheus handler for the service's own mux, the console, or none.
//
//	p, err := export.Setup(ctx)
//	if err != nil { ... }
//	defer p.Shutdown(context.Background()) // flushes OTLP
//	mux.Handle("/metrics", p.Handler())
//
// # Environment
//
//	OTEL_SDK_DISABLED=true          no MeterProvider at all (a no-op one)
//	OTEL_METRICS_EXPORTER           otlp, prometheus, console, none; a comma-separated list
//	OTEL_EXPORTER_OTLP_PROTOCOL     http/protobuf (default) or grpc; _METRICS_PROTOCOL wins unless it is neither
//	OTEL_EXPORTER_OTLP_ENDPOINT     and _HEADERS, _TIMEOUT, _COMPRESSION, _CERTIFICATE,
//	                                _INSECURE, _METRICS_TEMPORALITY_PREFERENCE, with their
//	                                _METRICS_ forms: read by the OTLP exporters themselves
//	OTEL_METRIC_EXPORT_INTERVAL     push interval in ms for otlp and console (default 60000)
//	OTEL_METRIC_EXPORT_TIMEOUT      push timeout in ms (default 30000)
//	OTEL_SERVICE_NAME               service.name
//	OTEL_RESOURCE_ATTRIBUTES        key=value,... added to the resource
//	K8S_POD_NAME, K8S_POD_UID, K8S_NAMESPACE_NAME, K8S_NODE_NAME, K8S_CONTAINER_NAME
//	                                the k8s.* resource attributes (from the downward API)
//
// # Nothing is pushed unless configured
//
// The specification makes otlp the default exporter, to localhost:4318.
// Setup does not: with OTEL_METRICS_EXPORTER unset, it sets up the
// Prometheus handler only, which sends nothing and answers only when
// scraped; and OTLP as well if OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_METRICS_ENDPOINT is set, since naming an endpoint says
// where to push. A value that is not a URL with a host (10.0.0.5:4318 or
// collector:4317, without the scheme; gRPC included, as the specification
// asks http:// or https:// of its endpoint too) names nothing: it does not
// count, with a warning, and the exporters push as if it were unset.
// OTEL_METRICS_EXPORTER=otlp without an endpoint pushes to the exporters'
// default, as the specification says.
//
// A value Setup cannot use (an unknown exporter, a malformed interval) is
// ignored and the default applies, as the specification asks; the reason
// goes to the OpenTelemetry error handler (otel.Handle, which logs to
// standard error unless the program set one). Setup fails only when an
// exporter cannot be built.
//
// # Resource
//
// service.name comes from OTEL_SERVICE_NAME, else OTEL_RESOURCE_ATTRIBUTES,
// else WithServiceName, else "unknown_service:<executable>". container.id
// is found in /proc/self/cgroup (cgroup v1 and v2 without a cgroup
// namespace: Docker, containerd, CRI-O, Podman and ECS paths) or, outside
// Kubernetes, in /proc/self/mountinfo (the per-container directories that
// Docker and Podman bind-mount /etc/hostname from). Under Kubernetes with a
// private cgroup namespace (the cgroup v2 default) the container ID is not
// visible from inside the container and is left out: k8s.pod.uid and
// k8s.container.name identify the container instead.
//
// # Weight
//
// This package links the OTLP exporters (gRPC included) and the Prometheus
// client. A service that only exposes /metrics can use telemetry/prom and
// telemetry.Register instead; one that brings its own MeterProvider needs
// only package telemetry, which links no exporter.
package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/snug-go/snug/telemetry"
	"github.com/snug-go/snug/telemetry/prom"
)

// Option configures Setup.
type Option func(*options)

type options struct {
	serviceName string
	telemetry   []telemetry.Option
	noGlobal    bool
	console     io.Writer
	root        string // file system root for container ID detection (tests)
}

// WithServiceName sets service.name unless OTEL_SERVICE_NAME or
// OTEL_RESOURCE_ATTRIBUTES does: the environment has the last word, so
// that operators can rename a service without rebuilding it.
func WithServiceName(name string) Option {
	return func(o *options) { o.serviceName = name }
}

// WithTelemetry passes options to telemetry.Register, such as
// telemetry.WithHealth to report health checks. A WithMeterProvider among
// them is overridden: the instruments go on the provider Setup builds.
func WithTelemetry(opts ...telemetry.Option) Option {
	return func(o *options) { o.telemetry = append(o.telemetry, opts...) }
}

// WithoutGlobal keeps Setup from making its MeterProvider the global one
// (otel.SetMeterProvider). By default it does, so that the service's own
// instruments, made with otel.Meter, are exported too.
func WithoutGlobal() Option {
	return func(o *options) { o.noGlobal = true }
}

// WithConsoleWriter sets where the console exporter writes (standard output
// by default, and when w is nil).
func WithConsoleWriter(w io.Writer) Option {
	return func(o *options) {
		// A nil writer would panic at the first export, in the reader's
		// goroutine, where nothing can recover it.
		if w != nil {
			o.console = w
		}
	}
}

// Provider is the MeterProvider Setup built, with its exporters.
type Provider struct {
	mp       *sdkmetric.MeterProvider // nil when the SDK is disabled
	prom     *prom.Exporter           // nil when the prometheus exporter is off
	reg      *telemetry.Registration
	res      *resource.Resource
	summary  string
	shutOnce sync.Once
	shutErr  error
}

// Setup builds a MeterProvider from the standard environment variables
// (see the package documentation), registers snug's instruments on it
// (telemetry.Register) with the runtime histograms on each reader, and
// makes it the global MeterProvider unless WithoutGlobal is given.
//
// The periodic OTLP and console readers each run one goroutine, which
// Shutdown stops. ctx bounds the building of exporters and resource
// detection; it is not kept.
func Setup(ctx context.Context, opts ...Option) (*Provider, error) {
	o := options{root: "/", console: os.Stdout}
	for _, opt := range opts {
		opt(&o)
	}
	s := readSettings(os.Getenv)
	for _, w := range s.warnings {
		otel.Handle(w)
	}
	if s.disabled {
		return &Provider{summary: "telemetry: disabled by OTEL_SDK_DISABLED"}, nil
	}

	p := &Provider{res: buildResource(ctx, o.serviceName, o.root, os.Getenv, otel.Handle)}
	var readers []sdkmetric.Option
	var parts []string
	fail := func(err error) (*Provider, error) {
		for _, r := range readers {
			// Readers made so far hold exporters (and connections): shut
			// them down through a provider that owns them.
			sdkmetric.NewMeterProvider(r).Shutdown(ctx)
		}
		return nil, err
	}
	for _, name := range s.exporters {
		switch name {
		case "otlp":
			exp, err := newOTLP(ctx, s)
			if err != nil {
				return fail(fmt.Errorf("export: OTLP %s exporter: %w", s.protocol, err))
			}
			readers = append(readers, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp,
				sdkmetric.WithInterval(s.interval), sdkmetric.WithTimeout(s.timeout),
				sdkmetric.WithProducer(telemetry.NewProducer()))))
			target := s.otlpTarget
			if target == "" {
				target = "the exporter's default endpoint"
			}
			parts = append(parts, fmt.Sprintf("otlp %s to %s every %v", s.protocol, target, s.interval))
		case "prometheus":
			exp, err := prom.New()
			if err != nil {
				return fail(err)
			}
			p.prom = exp
			readers = append(readers, sdkmetric.WithReader(exp))
			parts = append(parts, "prometheus on the handler")
		case "console":
			exp, err := stdoutmetric.New(stdoutmetric.WithWriter(o.console))
			if err != nil {
				return fail(fmt.Errorf("export: console exporter: %w", err))
			}
			readers = append(readers, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp,
				sdkmetric.WithInterval(s.interval), sdkmetric.WithTimeout(s.timeout),
				sdkmetric.WithProducer(telemetry.NewProducer()))))
			parts = append(parts, fmt.Sprintf("console every %v", s.interval))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "no exporter (OTEL_METRICS_EXPORTER=none)")
	}

	p.mp = sdkmetric.NewMeterProvider(append(readers, sdkmetric.WithResource(p.res))...)
	reg, err := telemetry.Register(append(o.telemetry, telemetry.WithMeterProvider(p.mp))...)
	if err != nil {
		p.mp.Shutdown(ctx)
		return nil, fmt.Errorf("export: %w", err)
	}
	p.reg = reg
	if !o.noGlobal {
		otel.SetMeterProvider(p.mp)
	}
	how := ""
	if s.defaulted != "" {
		how = " (" + s.defaulted + ")"
	}
	p.summary = "telemetry: " + strings.Join(parts, ", ") + how + "; " + describeResource(p.res)
	return p, nil
}

func newOTLP(ctx context.Context, s settings) (sdkmetric.Exporter, error) {
	// An endpoint variable that names no host is read by the exporters all
	// the same, and only an option overrides it. The endpoint in its place
	// is the general one (OTEL_EXPORTER_OTLP_ENDPOINT, to which the HTTP
	// exporter adds the signal's path), or the exporters' default, as for
	// a value they skip themselves.
	var target *url.URL
	if s.otlpOverride && s.otlpTarget != "" {
		target, _ = url.Parse(s.otlpTarget) // parsed by otlpEndpoint
	}
	if s.protocol == "grpc" {
		var opts []otlpmetricgrpc.Option
		switch {
		case target != nil:
			opts = append(opts, otlpmetricgrpc.WithEndpointURL(target.String()))
		case s.otlpOverride:
			opts = append(opts, otlpmetricgrpc.WithEndpoint("localhost:4317"))
		}
		return otlpmetricgrpc.New(ctx, opts...)
	}
	var opts []otlpmetrichttp.Option
	switch {
	case target != nil:
		target.Path = path.Join(target.Path, "/v1/metrics")
		opts = append(opts, otlpmetrichttp.WithEndpointURL(target.String()))
	case s.otlpOverride:
		opts = append(opts, otlpmetrichttp.WithEndpoint("localhost:4318"), otlpmetrichttp.WithURLPath("/v1/metrics"))
	}
	return otlpmetrichttp.New(ctx, opts...)
}

// describeResource lists the attributes an operator checks first.
func describeResource(r *resource.Resource) string {
	var b strings.Builder
	for _, k := range [...]string{"service.name", "container.id", "k8s.namespace.name", "k8s.pod.name", "k8s.container.name"} {
		if v, ok := r.Set().Value(attribute.Key(k)); ok {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%s=%s", k, v.Emit())
		}
	}
	return b.String()
}

// MeterProvider returns the provider, or a no-op one when
// OTEL_SDK_DISABLED=true.
func (p *Provider) MeterProvider() metric.MeterProvider {
	if p.mp == nil {
		return noop.NewMeterProvider()
	}
	return p.mp
}

// Resource returns the resource every exported metric carries, or nil when
// the SDK is disabled.
func (p *Provider) Resource() *resource.Resource { return p.res }

// Handler returns the Prometheus handler to mount on the service's mux,
// conventionally at /metrics. When the prometheus exporter is not among
// those the environment selected, it answers 404 with the reason, so that
// a scrape misconfiguration shows in the scraper's target page.
func (p *Provider) Handler() http.Handler {
	if p.prom != nil {
		return p.prom
	}
	reason := "the prometheus exporter is not enabled: OTEL_METRICS_EXPORTER does not list it"
	if p.mp == nil {
		reason = "telemetry is disabled: OTEL_SDK_DISABLED=true"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, reason, http.StatusNotFound)
	})
}

// Shutdown exports what the push exporters have not yet sent, then stops
// their goroutines and closes their connections, and unregisters snug's
// instruments. Give ctx a deadline: an unreachable OTLP endpoint otherwise
// holds Shutdown for the export timeout. Later calls return the first
// call's result. The Prometheus handler serves empty pages afterwards.
func (p *Provider) Shutdown(ctx context.Context) error {
	p.shutOnce.Do(func() {
		var errs []error
		if p.mp != nil {
			// The provider's shutdown collects and exports once more: the
			// instruments must still be registered for that last export.
			errs = append(errs, p.mp.Shutdown(ctx))
		}
		if p.reg != nil {
			errs = append(errs, p.reg.Unregister())
		}
		p.shutErr = errors.Join(errs...)
	})
	return p.shutErr
}

// String summarises the exporters and the resource, for a start-up log
// line.
func (p *Provider) String() string { return p.summary }

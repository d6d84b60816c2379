package telemetry

import (
	"errors"
	"fmt"
	"reflect"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/snug-go/snug/cgroup"
)

// ScopeName is the instrumentation scope of every metric this package
// reports, as an exporter shows it (otel_scope_name in Prometheus).
const ScopeName = "github.com/snug-go/snug/telemetry"

// Option configures Register.
type Option func(*config)

type config struct {
	provider  metric.MeterProvider
	group     *cgroup.Group
	groupSet  bool
	decisions []func([]Decision) []Decision
	events    []func([]Event) []Event
	checks    []func([]CheckResult) []CheckResult
}

// WithMeterProvider registers the instruments on mp instead of the global
// MeterProvider (otel.GetMeterProvider at the time Register is called).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.provider = mp }
}

// WithCgroup makes the container metrics read g instead of a Group that
// Register opens itself. Pass the Group the rest of the program already
// uses, to open the cgroup files once. A nil g turns the container metrics
// off. Register does not close a Group it was given.
func WithCgroup(g *cgroup.Group) Option {
	return func(c *config) { c.group, c.groupSet = g, true }
}

// Registration is the set of callbacks Register installed on a
// MeterProvider.
type Registration struct {
	mu        sync.Mutex
	regs      []metric.Registration
	group     *cgroup.Group // closed by Unregister when owned
	ownsGroup bool
	provider  metric.MeterProvider // its key in registered, nil if none
}

// registered holds the MeterProviders snug's instruments are registered
// on, to refuse a second Register on one: the SDK adds up what two
// callbacks observe for a series, so every value would be reported twice.
var registered sync.Map

// providerKey is mp as a key of registered, or nil when mp is not a
// pointer (a value such as the no-op provider compares equal to every
// other, and doubling its nothing does no harm).
func providerKey(mp metric.MeterProvider) metric.MeterProvider {
	if v := reflect.ValueOf(mp); v.Kind() == reflect.Pointer && !v.IsNil() {
		return mp
	}
	return nil
}

// Register creates snug's instruments on a MeterProvider and registers the
// callbacks that observe them at each collection: the Go runtime metrics
// (read from runtime/metrics), the container metrics (read from the
// process's cgroup through package cgroup), and whatever WithDecisions,
// WithEvents and WithChecks supply. The package documentation lists every
// metric.
//
// Nothing runs between collections: no goroutine, no timer. Each collection
// reads runtime/metrics once and the cgroup's limit and usage files once, so
// every value is as fresh as the collection itself.
//
// The two histograms (go.schedule.duration and go.memory.gc.pause.duration)
// cannot be observable instruments: the OpenTelemetry API has no
// asynchronous histogram. They come from NewProducer, which the program
// adds to its reader. Package telemetry/export does both for you.
//
// When the process has no cgroup (cgroup.ErrNoCgroup: bare metal, macOS),
// the container metrics are left out and Register succeeds. When the cgroup
// exists but cannot be read, they are left out too, and the reason goes to
// the OpenTelemetry error handler (otel.Handle). Register fails only when
// the MeterProvider refuses an instrument or a callback.
//
// Call it once per MeterProvider, with all the options: the SDK adds up
// what two callbacks observe for one series, so a second Register would
// report every go.* and container.* value twice over (GOMAXPROCS 2 as
// go.processor.limit 4). Register refuses it with an error until the
// first is unregistered. Package telemetry/export's Setup calls Register on
// the provider it builds, which it also makes the global one: give it the
// options through export.WithTelemetry rather than calling Register again.
func Register(opts ...Option) (*Registration, error) {
	c := config{}
	for _, o := range opts {
		o(&c)
	}
	if c.provider == nil {
		c.provider = otel.GetMeterProvider()
	}
	r := &Registration{}
	if key := providerKey(c.provider); key != nil {
		if _, dup := registered.LoadOrStore(key, true); dup {
			return nil, errors.New("telemetry: snug's instruments are already registered on this MeterProvider " +
				"(a second Register would report every value twice): give one Register all the options, or Unregister the first")
		}
		r.provider = key
	}
	meter := c.provider.Meter(ScopeName)

	add := func(reg metric.Registration, err error) error {
		if err != nil {
			return err
		}
		r.regs = append(r.regs, reg)
		return nil
	}
	fail := func(err error) (*Registration, error) {
		r.Unregister()
		return nil, fmt.Errorf("telemetry: %w", err)
	}

	if err := add(registerRuntime(meter)); err != nil {
		return fail(err)
	}

	g := c.group
	if !c.groupSet {
		var err error
		g, err = cgroup.Open()
		switch {
		case err == nil:
			r.group, r.ownsGroup = g, true
		case errors.Is(err, cgroup.ErrNoCgroup), errors.Is(err, cgroup.ErrUnsupported):
			// Not in a container: no container metrics, and nothing to report.
		default:
			otel.Handle(fmt.Errorf("telemetry: container metrics off: %w", err))
		}
	}
	if g != nil {
		if err := add(registerContainer(meter, g)); err != nil {
			return fail(err)
		}
	}

	if len(c.decisions) > 0 {
		if err := add(registerDecisions(meter, c.decisions)); err != nil {
			return fail(err)
		}
	}
	if len(c.events) > 0 {
		if err := add(registerEvents(meter, c.events)); err != nil {
			return fail(err)
		}
	}
	if len(c.checks) > 0 {
		if err := add(registerChecks(meter, c.checks)); err != nil {
			return fail(err)
		}
	}
	return r, nil
}

// Unregister removes the callbacks, so that later collections no longer
// report snug's metrics, and closes the cgroup files Register opened. It is
// safe to call more than once.
func (r *Registration) Unregister() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for _, reg := range r.regs {
		if err := reg.Unregister(); err != nil {
			errs = append(errs, err)
		}
	}
	r.regs = nil
	if r.ownsGroup && r.group != nil {
		r.group.Close()
		r.group = nil
	}
	if r.provider != nil {
		registered.Delete(r.provider)
		r.provider = nil
	}
	return errors.Join(errs...)
}

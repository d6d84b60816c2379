package tune

import (
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/snug-go/snug/cgroup"
)

// An Option configures Start. Options set the program's defaults; the
// SNUG_* environment variables, when set, override them (see the package
// documentation), so that whoever deploys the program has the last word.
type Option func(*config)

// DefaultInterval is how often the Tuner re-reads the cgroup limits. The
// Go runtime re-checks its own GOMAXPROCS default at most as often, and
// Kubernetes applies an in-place resize within seconds; one read costs a
// few microseconds.
const DefaultInterval = time.Second

// MinInterval is the shortest interval WithInterval and SNUG_INTERVAL
// accept.
const MinInterval = 10 * time.Millisecond

type config struct {
	procs    procsConfig
	memory   memoryConfig
	interval time.Duration
	logger   *slog.Logger
	quiet    bool
	onChange []func(Decision)
	restore  bool

	noMaxProcs, noMemoryLimit bool

	watch watchdogConfig // the GC watchdog (watchdog_options.go)

	// group replaces the process's own cgroup (tests give fixtures here),
	// and open the way it is opened.
	group *cgroup.Group
	open  func(...cgroup.Option) (*cgroup.Group, error)
	// getenv reads the environment (tests replace it).
	getenv func(string) string
	// noLoop: Start does all its work but starts no goroutine (tests of
	// what Start alone does to the process).
	noLoop bool

	errs []error
}

func defaultConfig() config {
	return config{
		procs:    procsConfig{policy: DefaultPolicy},
		memory:   memoryConfig{ratio: DefaultMemoryRatio, headroom: DefaultMemoryHeadroom},
		interval: DefaultInterval,
		restore:  true,
		watch:    defaultWatchdogConfig(),
	}
}

func (c *config) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("tune: "+format, args...))
}

// WithPolicy sets how a CPU limit becomes GOMAXPROCS (default
// DefaultPolicy). SNUG_GOMAXPROCS_POLICY overrides it.
func WithPolicy(p Policy) Option {
	return func(c *config) {
		if !p.valid() {
			c.fail("WithPolicy(%q): want PolicyAdaptive, PolicyRuntime, PolicyFloor or PolicyCeil", string(p))
			return
		}
		c.procs.policy = p
	}
}

// WithMinProcs sets the least GOMAXPROCS the Tuner chooses (it still never
// exceeds the CPUs the process may run on). n must be at least 1.
// SNUG_GOMAXPROCS_MIN overrides it.
func WithMinProcs(n int) Option {
	return func(c *config) {
		if n < 1 {
			c.fail("WithMinProcs(%d): want at least 1", n)
			return
		}
		c.procs.min = n
	}
}

// WithMaxProcs sets the most GOMAXPROCS the Tuner chooses, for a program
// that does not scale past a few threads whatever its quota. n must be at
// least 1. SNUG_GOMAXPROCS_MAX overrides it.
func WithMaxProcs(n int) Option {
	return func(c *config) {
		if n < 1 {
			c.fail("WithMaxProcs(%d): want at least 1", n)
			return
		}
		c.procs.max = n
	}
}

// WithReserveCPUs takes cpus CPUs off the limit before the policy rounds
// it, for a sidecar or child processes that share the cgroup's quota: with
// a 4-CPU quota and a reserve of 1.5, PolicyFloor gives GOMAXPROCS 2.
// SNUG_GOMAXPROCS_RESERVE overrides it.
func WithReserveCPUs(cpus float64) Option {
	return func(c *config) {
		if !(cpus >= 0) || math.IsInf(cpus, 0) {
			c.fail("WithReserveCPUs(%v): want a finite number of CPUs, 0 or more", cpus)
			return
		}
		c.procs.reserve = cpus
	}
}

// WithMemoryRatio sets the share of the cgroup memory limit that
// GOMEMLIMIT gets (default DefaultMemoryRatio), in (0, 1].
// SNUG_GOMEMLIMIT_RATIO overrides it.
func WithMemoryRatio(r float64) Option {
	return func(c *config) {
		if !(r > 0 && r <= 1) {
			c.fail("WithMemoryRatio(%v): want a ratio greater than 0 and at most 1", r)
			return
		}
		c.memory.ratio = r
	}
}

// WithMemoryHeadroom sets the least memory in bytes kept between GOMEMLIMIT
// and the cgroup limit (default DefaultMemoryHeadroom; at most half the
// limit is ever kept). SNUG_GOMEMLIMIT_HEADROOM overrides it.
func WithMemoryHeadroom(bytes int64) Option {
	return func(c *config) {
		if bytes < 0 {
			c.fail("WithMemoryHeadroom(%d): want 0 or more bytes", bytes)
			return
		}
		c.memory.headroom = bytes
	}
}

// WithInterval sets how often the Tuner re-reads the limits (default
// DefaultInterval, at least MinInterval). SNUG_INTERVAL overrides it.
func WithInterval(d time.Duration) Option {
	return func(c *config) {
		if d < MinInterval {
			c.fail("WithInterval(%v): want at least %v", d, MinInterval)
			return
		}
		c.interval = d
	}
}

// WithoutMaxProcs leaves GOMAXPROCS alone.
func WithoutMaxProcs() Option { return func(c *config) { c.noMaxProcs = true } }

// WithoutMemoryLimit leaves GOMEMLIMIT alone.
func WithoutMemoryLimit() Option { return func(c *config) { c.noMemoryLimit = true } }

// WithoutRestore makes Stop leave GOMAXPROCS and GOMEMLIMIT as the Tuner
// last set them, instead of restoring what they were before Start.
func WithoutRestore() Option { return func(c *config) { c.restore = false } }

// WithLogger sends the Tuner's log lines to l instead of slog.Default()
// (which is looked up at each line, so a later slog.SetDefault is
// followed). A nil l means slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// Quiet silences the Tuner's log lines. SNUG_LOG=quiet does the same.
func Quiet() Option { return func(c *config) { c.quiet = true } }

// OnChange calls f with each new Decision: those Start makes (before Start
// returns), and then each change of a knob's value or owner, including a
// GOMAXPROCS change the runtime makes by itself while in charge. f runs on
// the Tuner's goroutine: it must return quickly, and a panic in it is
// recovered and logged. It may call Status and Stop.
func OnChange(f func(Decision)) Option {
	return func(c *config) {
		if f != nil {
			c.onChange = append(c.onChange, f)
		}
	}
}

// withGroup makes the Tuner read g instead of the process's own cgroup.
func withGroup(g *cgroup.Group) Option { return func(c *config) { c.group = g } }

// withoutLoop makes Start leave out its goroutine; Stop still restores.
func withoutLoop() Option { return func(c *config) { c.noLoop = true } }

package tune

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/snug-go/snug/cgroup"
)

// fixture is a cgroup v2 tree in a temporary directory, seen through
// cgroup.WithRoot, for tests that drive the Tuner in this process without
// root: the process "is" in /pod/ctr, whose parent /pod is a Kubernetes
// pod-level cgroup. Tests change the files while the Tuner runs.
type fixture struct {
	t    testing.TB
	root string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{t: t, root: t.TempDir()}
	f.write("proc/self/cgroup", "0::/pod/ctr\n")
	f.write("proc/self/mountinfo",
		"30 20 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n")
	cpus := fmt.Sprintf("0-%d", runtime.NumCPU()-1)
	if runtime.NumCPU() == 1 {
		cpus = "0"
	}
	for _, level := range []string{"pod", "pod/ctr"} {
		f.set(level, "cpu.max", "max 100000")
		f.set(level, "memory.max", "max")
		f.set(level, "memory.high", "max")
		f.set(level, "memory.swap.max", "0")
		f.set(level, "cpuset.cpus.effective", cpus)
	}
	restoreRuntime(t)
	return f
}

func (f *fixture) write(rel, value string) {
	f.t.Helper()
	p := filepath.Join(f.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	// In place, as the kernel changes its files: package cgroup keeps
	// each file open and re-reads it at offset 0. A read between the
	// truncation and the write sees an empty file, which Limits reports as
	// an error and the Tuner must ride out.
	if err := os.WriteFile(p, []byte(value+"\n"), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// set writes a cgroup interface file at level ("pod" or "pod/ctr").
func (f *fixture) set(level, file, value string) {
	f.write(filepath.Join("sys/fs/cgroup", level, file), value)
}

func (f *fixture) group() *cgroup.Group {
	f.t.Helper()
	g, err := cgroup.Open(cgroup.WithRoot(f.root))
	if errors.Is(err, cgroup.ErrUnsupported) {
		// macOS, Windows: the README's go test ./... skips what needs
		// Linux rather than failing it.
		f.t.Skip("cgroup reading is Linux-only")
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return g
}

// start starts a Tuner on the fixture with a short interval, quiet, and an
// empty environment unless env gives one.
func (f *fixture) start(env map[string]string, opts ...Option) *Tuner {
	f.t.Helper()
	opts = append([]Option{withGroup(f.group()), WithInterval(20 * time.Millisecond), Quiet(), withEnv(env)}, opts...)
	tu, err := Start(f.t.Context(), opts...)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(tu.Stop)
	return tu
}

// withEnv replaces the environment the Tuner reads.
func withEnv(env map[string]string) Option {
	return func(c *config) { c.getenv = func(k string) string { return env[k] } }
}

// restoreRuntime puts GOMAXPROCS back to the runtime's default and
// GOMEMLIMIT to its value now when the test ends, whatever the test did.
func restoreRuntime(t testing.TB) {
	limit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		runtime.SetDefaultGOMAXPROCS()
		debug.SetMemoryLimit(limit)
	})
}

// eventually polls cond until it holds or 5 s have passed. The Tuners in
// these tests re-read the limits every 20 ms: 5 s is only a bound for a
// slow, shared machine, not a speed requirement (that is a benchmark's).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

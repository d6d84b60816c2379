//go:build linux

package telemetry_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/snug-go/snug/cgroup"
	"github.com/snug-go/snug/internal/cgtest"
	"github.com/snug-go/snug/telemetry"
)

// writeTree writes files (relative path → content) under a new temporary
// root, for cgroup.WithRoot.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const fixturePod = "/kubepods.slice/kubepods-pod1.slice"
const fixtureLeaf = fixturePod + "/cri-containerd-0123.scope"

// v2Fixture is a Kubernetes container on cgroup v2: a CPU limit on the pod,
// memory.max and memory.high on the container, every counter file.
func v2Fixture() map[string]string {
	fs := "sys/fs/cgroup"
	return map[string]string{
		"proc/self/cgroup":                          "0::" + fixtureLeaf + "\n",
		"proc/self/mountinfo":                       "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
		fs + "/cgroup.controllers":                  "cpuset cpu io memory pids\n",
		fs + fixtureLeaf + "/cgroup.controllers":    "cpuset cpu io memory pids\n",
		fs + fixtureLeaf + "/cpu.max":               "max 100000\n",
		fs + fixturePod + "/cpu.max":                "150000 100000\n",
		fs + fixtureLeaf + "/memory.max":            "536870912\n",
		fs + fixtureLeaf + "/memory.high":           "402653184\n",
		fs + fixtureLeaf + "/cpuset.cpus.effective": "0-2\n",
		fs + fixtureLeaf + "/memory.current":        "123456789\n",
		fs + fixtureLeaf + "/memory.stat":           "anon 80000000\nfile 40000000\ninactive_file 30000000\nactive_file 10000000\n",
		fs + fixtureLeaf + "/memory.events":         "low 1\nhigh 12\nmax 3\noom 2\noom_kill 1\n",
		fs + fixtureLeaf + "/cpu.stat":              "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 50\nnr_throttled 7\nthrottled_usec 123456\n",
		fs + fixtureLeaf + "/cpu.pressure":          "some avg10=1.50 avg60=0.75 avg300=0.10 total=987654\nfull avg10=0.25 avg60=0.00 avg300=0.00 total=1234\n",
		fs + fixtureLeaf + "/memory.pressure":       "some avg10=0.00 avg60=0.00 avg300=0.00 total=5\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
	}
}

func fixtureGroup(t *testing.T, files map[string]string) *cgroup.Group {
	t.Helper()
	g, err := cgroup.Open(cgroup.WithRoot(writeTree(t, files)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

// TestContainerFixtureV2 checks every container metric against the files
// of a cgroup v2 layout.
func TestContainerFixtureV2(t *testing.T) {
	reader := setup(t, telemetry.WithCgroup(fixtureGroup(t, v2Fixture())))
	s := collect(t, reader)
	want := map[string]float64{
		"container.cpu.time":                                       2.5,
		"snug.container.cpu.limit":                                 1.5,
		"snug.container.cpu.count":                                 3,
		"snug.container.cpu.cfs.periods":                           50,
		"snug.container.cpu.cfs.throttled_periods":                 7,
		"snug.container.cpu.cfs.throttled_time":                    0.123456,
		"container.memory.usage":                                   123456789,
		"container.memory.working_set":                             123456789 - 30000000,
		"container.memory.rss":                                     80000000,
		"container.memory.available":                               536870912 - (123456789 - 30000000),
		"snug.container.memory.limit":                              536870912,
		"snug.container.memory.high":                               402653184,
		"snug.container.memory.events{snug.memory.event=low}":      1,
		"snug.container.memory.events{snug.memory.event=high}":     12,
		"snug.container.memory.events{snug.memory.event=max}":      3,
		"snug.container.memory.events{snug.memory.event=oom}":      2,
		"snug.container.memory.events{snug.memory.event=oom_kill}": 1,
		"snug.container.pressure.stalled{snug.pressure.resource=cpu,snug.pressure.scope=some}":    0.987654,
		"snug.container.pressure.stalled{snug.pressure.resource=cpu,snug.pressure.scope=full}":    0.001234,
		"snug.container.pressure.stalled{snug.pressure.resource=memory,snug.pressure.scope=some}": 0.000005,
		"snug.container.pressure.stalled{snug.pressure.resource=memory,snug.pressure.scope=full}": 0,
	}
	for k, v := range want {
		if got := s.must(t, k).value; math.Abs(got-v) > 1e-9 {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	// No io.pressure file: no io series, not a zero.
	for k := range s {
		if strings.Contains(k, "resource=io") {
			t.Errorf("%s reported without an io.pressure file", k)
		}
	}
	for _, k := range []string{"container.cpu.time", "snug.container.cpu.cfs.periods", "snug.container.memory.events{snug.memory.event=max}", "snug.container.pressure.stalled{snug.pressure.resource=cpu,snug.pressure.scope=some}"} {
		if s.must(t, k).kind != "sum" {
			t.Errorf("%s is %s, want a monotonic counter", k, s.must(t, k).kind)
		}
	}
	for _, k := range []string{"container.memory.usage", "snug.container.memory.limit", "snug.container.cpu.limit"} {
		if s.must(t, k).kind != "updown" {
			t.Errorf("%s is %s, want an UpDownCounter", k, s.must(t, k).kind)
		}
	}
}

// TestContainerFixturePodLimit: under a pod-level memory limit the memory
// available is the pod's limit less the pod's working set, the sibling
// containers' included, as the kernel counts it; the container's own
// usage series stay its own. A leaf whose parent did not enable the memory
// controller has no memory files: its own usage series are absent, but the
// pod's limit and the room left under it are known.
func TestContainerFixturePodLimit(t *testing.T) {
	fs := "sys/fs/cgroup"
	for _, leafFiles := range []bool{true, false} {
		t.Run(fmt.Sprint("leaf-memory-files=", leafFiles), func(t *testing.T) {
			files := v2Fixture()
			files[fs+fixtureLeaf+"/memory.max"] = "max\n"
			files[fs+fixtureLeaf+"/memory.high"] = "max\n"
			if !leafFiles {
				for _, f := range []string{"memory.max", "memory.high", "memory.current", "memory.stat", "memory.events", "memory.swap.max"} {
					delete(files, fs+fixtureLeaf+"/"+f)
				}
				files[fs+fixtureLeaf+"/cgroup.controllers"] = "cpuset cpu io pids\n"
			}
			files[fs+fixturePod+"/memory.max"] = "1073741824\n"
			files[fs+fixturePod+"/memory.high"] = "max\n"
			files[fs+fixturePod+"/memory.current"] = "900000000\n"
			files[fs+fixturePod+"/memory.stat"] = "anon 700000000\ninactive_file 100000000\n"
			s := collect(t, setup(t, telemetry.WithCgroup(fixtureGroup(t, files))))
			want := map[string]float64{
				"snug.container.memory.limit": 1073741824,
				"container.memory.available":  1073741824 - (900000000 - 100000000),
			}
			if leafFiles {
				want["container.memory.usage"] = 123456789
				want["container.memory.working_set"] = 123456789 - 30000000
			} else {
				for _, k := range []string{"container.memory.usage", "container.memory.working_set"} {
					if p, ok := s[k]; ok {
						t.Errorf("%s = %v without the leaf's memory files", k, p.value)
					}
				}
			}
			for k, v := range want {
				if got := s.must(t, k).value; got != v {
					t.Errorf("%s = %v, want %v", k, got, v)
				}
			}
		})
	}
}

// TestContainerFixtureNoLimits: without limits, no limit series and no
// container.memory.available, rather than zeros that read as "no memory".
func TestContainerFixtureNoLimits(t *testing.T) {
	files := v2Fixture()
	files["sys/fs/cgroup"+fixturePod+"/cpu.max"] = "max 100000\n"
	files["sys/fs/cgroup"+fixtureLeaf+"/memory.max"] = "max\n"
	files["sys/fs/cgroup"+fixtureLeaf+"/memory.high"] = "max\n"
	s := collect(t, setup(t, telemetry.WithCgroup(fixtureGroup(t, files))))
	for _, k := range []string{"snug.container.cpu.limit", "snug.container.memory.limit", "snug.container.memory.high", "container.memory.available"} {
		if p, ok := s[k]; ok {
			t.Errorf("%s = %v without a limit", k, p.value)
		}
	}
	s.must(t, "container.memory.usage")
}

// TestContainerFixtureUnreadable: a file that cannot be read drops exactly
// the metrics it feeds. A zero in its place would look like a counter reset
// or an empty cgroup.
func TestContainerFixtureUnreadable(t *testing.T) {
	files := v2Fixture()
	g := fixtureGroup(t, files)
	// Replace memory.stat and cpu.stat with directories after Open planned
	// to read them: reading fails with EISDIR, as a vanished or
	// unreadable file would.
	reader := setup(t, telemetry.WithCgroup(g))
	root := strings.TrimSuffix(g.Paths()["memory"], fixtureLeaf)
	for _, f := range []string{"memory.stat", "cpu.stat"} {
		p := filepath.Join(root, fixtureLeaf, f)
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	g.Close() // drop descriptors kept open, so that the next read reopens
	s := collect(t, reader)
	for _, k := range []string{"container.memory.working_set", "container.memory.rss",
		"container.memory.available", "container.cpu.time", "snug.container.cpu.cfs.periods", "snug.container.cpu.cfs.throttled_time"} {
		if p, ok := s[k]; ok {
			t.Errorf("%s = %v although its file is unreadable", k, p.value)
		}
	}
	// The other files still read.
	if v := s.must(t, "container.memory.usage").value; v != 123456789 {
		t.Errorf("memory usage = %v; memory.current is readable", v)
	}
	if v := s.must(t, "snug.container.memory.events{snug.memory.event=high}").value; v != 12 {
		t.Errorf("memory events high = %v", v)
	}
	if v := s.must(t, "snug.container.memory.limit").value; v != 536870912 {
		t.Errorf("memory limit = %v", v)
	}
	s.must(t, "snug.container.pressure.stalled{snug.pressure.resource=cpu,snug.pressure.scope=some}")
}

// TestContainerFixtureV2NoControllers: on cgroup v2 a controller's files
// exist only where the parent enabled it, and package cgroup reads an
// absent file as zero without an error. A service under systemd without
// memory accounting, or in the root cgroup, has no memory.current: it must
// get no container.memory.usage rather than a usage of 0 bytes, and no
// memory events or CFS periods that were never counted.
func TestContainerFixtureV2NoControllers(t *testing.T) {
	fs := "sys/fs/cgroup"
	const leaf = "/system.slice/app.service"
	files := map[string]string{
		"proc/self/cgroup":                      "0::" + leaf + "\n",
		"proc/self/mountinfo":                   "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
		fs + "/cgroup.controllers":              "cpuset cpu io memory pids\n",
		fs + leaf + "/cgroup.controllers":       "pids\n",
		fs + leaf + "/cpu.stat":                 "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n",
		fs + leaf + "/cpu.pressure":             "some avg10=0.00 avg60=0.00 avg300=0.00 total=1000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
		fs + "/system.slice/memory.max":         "1073741824\n",
		fs + "/system.slice/cpu.max":            "max 100000\n",
		fs + "/system.slice/cgroup.controllers": "cpu memory pids\n",
	}
	s := collect(t, setup(t, telemetry.WithCgroup(fixtureGroup(t, files))))
	for k, p := range s {
		for _, absent := range []string{"container.memory.usage", "container.memory.working_set", "container.memory.rss",
			"container.memory.available", "snug.container.memory.events", "snug.container.cpu.cfs."} {
			if strings.HasPrefix(k, absent) {
				t.Errorf("%s = %v, but the cgroup has no file to read it from", k, p.value)
			}
		}
	}
	// What the cgroup does have is reported: CPU time is in every v2
	// cgroup's cpu.stat, and the parent's memory limit applies.
	if v := s.must(t, "container.cpu.time").value; v != 2.5 {
		t.Errorf("container.cpu.time = %v, want 2.5", v)
	}
	if v := s.must(t, "snug.container.memory.limit").value; v != 1073741824 {
		t.Errorf("snug.container.memory.limit = %v, want the parent's 1073741824", v)
	}
}

// TestContainerHost compares the metrics with package cgroup's own reading
// of the test process's cgroup on this machine.
func TestContainerHost(t *testing.T) {
	g := openCgroup(t)
	reader := setup(t, telemetry.WithCgroup(g))
	st0, _ := g.Stats()
	s := collect(t, reader)
	st1, _ := g.Stats()
	lim, _ := g.Limits()

	usage := s.must(t, "container.memory.usage").value
	lo, hi := float64(min(st0.MemoryCurrent, st1.MemoryCurrent)), float64(max(st0.MemoryCurrent, st1.MemoryCurrent))
	// Other processes share this cgroup: allow 8 MiB of drift.
	if usage < lo-8<<20 || usage > hi+8<<20 {
		t.Errorf("container.memory.usage = %.0f, cgroup read %.0f and %.0f around it", usage, lo, hi)
	}
	if ws := s.must(t, "container.memory.working_set").value; ws > usage || ws <= 0 {
		t.Errorf("working set %.0f, usage %.0f", ws, usage)
	}
	if lim.MemoryMax > 0 {
		if v := s.must(t, "snug.container.memory.limit").value; v != float64(lim.MemoryMax) {
			t.Errorf("memory limit %v, cgroup says %d", v, lim.MemoryMax)
		}
	}
	if v := s.must(t, "snug.container.cpu.count").value; v != float64(lim.CPUs) || v < 1 {
		t.Errorf("cpu count %v, cgroup says %d", v, lim.CPUs)
	}
	cpu := s.must(t, "container.cpu.time").value
	if cpu < st0.CPUUsage.Seconds() || cpu > st1.CPUUsage.Seconds() {
		t.Errorf("container.cpu.time %v outside [%v, %v]", cpu, st0.CPUUsage.Seconds(), st1.CPUUsage.Seconds())
	}
}

// childEnv makes TestMain run telemetryChild instead of the tests.
const childEnv = "SNUG_TELEMETRY_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		telemetryChild()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// telemetryChild runs inside a real cgroup made by the parent test: it uses
// memory and CPU, then prints one collection as JSON.
func telemetryChild() {
	// 48 MiB of anonymous memory, touched so that it is charged.
	mem := make([]byte, 48<<20)
	for i := range mem {
		mem[i] = byte(i)
	}
	// Spin on every CPU until the process has used 100 ms of CPU time and
	// the kernel has throttled the cgroup at least once. Under a 0.2 CPU
	// quota that takes at least 500 ms. A wall-clock spin would not do: on
	// a busy host the spinners may never get as much CPU as the quota.
	var stop atomic.Bool
	done := make(chan struct{})
	n := runtime.GOMAXPROCS(0)
	for i := 0; i < n; i++ {
		go func() {
			for !stop.Load() {
			}
			done <- struct{}{}
		}()
	}
	g, err := cgroup.Open()
	if err != nil {
		panic(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if st, _ := g.Stats(); cpuTime() >= 100*time.Millisecond && st.ThrottledPeriods > 0 {
			break
		}
	}
	g.Close()
	stop.Store(true)
	for i := 0; i < n; i++ {
		<-done
	}
	var t childT
	s := collect(&t, setup(&t))
	out := map[string]float64{}
	for k, p := range s {
		out[k] = p.value
	}
	out["child.touched"] = float64(mem[len(mem)-1]) // keep mem alive
	t.cleanup()
	json.NewEncoder(os.Stdout).Encode(out)
}

// cpuTime is the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestContainerRealCgroup runs a child process in a real cgroup with a CPU
// quota of 0.2 and a 256 MiB memory limit, and checks what its telemetry
// reports from inside.
func TestContainerRealCgroup(t *testing.T) {
	cg := cgtest.New(t, "telemetry")
	cg.SetCPU(0.2)
	cg.SetMemory(256 << 20)
	cmd := cg.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var got map[string]float64
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("child output %q: %v", out, err)
	}
	need := func(k string) float64 {
		t.Helper()
		v, ok := got[k]
		if !ok {
			t.Fatalf("child reported no %s; got %v", k, got)
		}
		return v
	}
	if v := need("snug.container.cpu.limit"); v != 0.2 {
		t.Errorf("cpu limit %v, set 0.2", v)
	}
	if v := need("snug.container.memory.limit"); v != 256<<20 {
		t.Errorf("memory limit %v, set %d", v, 256<<20)
	}
	usage, ws, rss := need("container.memory.usage"), need("container.memory.working_set"), need("container.memory.rss")
	if usage < 48<<20 || usage > 256<<20 {
		t.Errorf("memory usage %v with 48 MiB touched and a 256 MiB limit", usage)
	}
	if ws > usage || rss < 40<<20 {
		t.Errorf("working set %v, rss %v, usage %v", ws, rss, usage)
	}
	if v := need("container.memory.available"); v != 256<<20-ws {
		t.Errorf("available %v, want limit - working set = %v", v, 256<<20-ws)
	}
	// The child spun until it had used 100 ms of CPU; the cgroup counts
	// that and the start-up of the process, at most 0.2 CPU for 10 s.
	if v := need("container.cpu.time"); v < 0.1 || v > 2.5 {
		t.Errorf("cpu time %v s after spinning to 100 ms of CPU", v)
	}
	if v := need("snug.container.cpu.cfs.throttled_periods"); v < 1 {
		t.Errorf("throttled periods %v after spinning past the quota (periods %v, cpu %v)", v, got["snug.container.cpu.cfs.periods"], got["container.cpu.time"])
	}
	if need("snug.container.cpu.cfs.periods") < need("snug.container.cpu.cfs.throttled_periods") {
		t.Error("more throttled periods than periods")
	}
	if v := need("snug.container.cpu.cfs.throttled_time"); v <= 0 {
		t.Errorf("throttled time %v", v)
	}
	need("snug.container.memory.events{snug.memory.event=oom_kill}")
	need("snug.container.memory.events{snug.memory.event=max}")
	if v := need("go.processor.limit"); v < 1 {
		t.Errorf("GOMAXPROCS %v", v)
	}
}

// childT stands in for testing.TB in the child process, which runs no test:
// the helpers need only these methods. Embedding the interface satisfies
// its unexported method; the methods not overridden are never called.
type childT struct {
	testing.TB
	cleanups []func()
}

func (c *childT) Helper()                   {}
func (c *childT) Cleanup(f func())          { c.cleanups = append(c.cleanups, f) }
func (c *childT) Fatal(args ...any)         { panic(args) }
func (c *childT) Fatalf(f string, a ...any) { panic(f) }
func (c *childT) Error(args ...any)         { panic(args) }
func (c *childT) Errorf(f string, a ...any) { panic(f) }

func (c *childT) cleanup() {
	for i := len(c.cleanups) - 1; i >= 0; i-- {
		c.cleanups[i]()
	}
}

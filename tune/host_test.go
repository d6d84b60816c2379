package tune

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snug-go/snug/internal/cgtest"
)

// The host tests run testdata/blank, a program whose only import of snug is
// the blank one, inside real cgroups made under this test's own (v1 on the
// development machines, v2 in CI's VM when it runs there), and read what it
// reports: GOMAXPROCS, GOMEMLIMIT, and its count of non-GC stop-the-world
// pauses. Nothing is simulated: the runtime, the kernel's files and the
// import's init are the real ones.

// blankReport is one line of testdata/blank's output.
type blankReport struct {
	UnixNano   int64  `json:"unix_nano"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GOMEMLIMIT int64  `json:"gomemlimit"`
	NumCPU     int    `json:"num_cpu"`
	STWOther   uint64 `json:"stw_other"`
}

var (
	buildOnce sync.Map // package dir + tags → *builtBinary
	buildMu   sync.Mutex
	buildDirs []string // removed when the test binary ends
)

// startChildEnv makes the test binary a child that only calls Start, for
// TestHostStartNoPoller.
const startChildEnv = "SNUG_TUNE_START_CHILD"

// startReport is what that child reports.
type startReport struct {
	GOMAXPROCS int
	GOMEMLIMIT int64
	Err        string
	Eventpoll  bool // the runtime's network poller was running after Start
}

func TestMain(m *testing.M) {
	if os.Getenv(startChildEnv) == "1" {
		var r startReport
		if _, err := Start(context.Background(), withoutLoop()); err != nil {
			r.Err = err.Error()
		}
		r.Eventpoll = hasEventpoll()
		r.GOMAXPROCS, r.GOMEMLIMIT = runtime.GOMAXPROCS(0), debug.SetMemoryLimit(-1)
		json.NewEncoder(os.Stdout).Encode(r)
		os.Exit(0)
	}
	code := m.Run()
	buildMu.Lock()
	for _, d := range buildDirs {
		os.RemoveAll(d)
	}
	buildMu.Unlock()
	os.Exit(code)
}

type builtBinary struct {
	once sync.Once
	path string
	err  error
}

// buildProgram builds the main package in dir (relative to this package)
// once per test binary, statically (CGO_ENABLED=0), so that the same file
// can also serve as a VM guest.
func buildProgram(t testing.TB, dir string, extra ...string) string {
	t.Helper()
	key := dir + " " + strings.Join(extra, " ")
	v, _ := buildOnce.LoadOrStore(key, &builtBinary{})
	bb := v.(*builtBinary)
	bb.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		out, err := os.MkdirTemp("", "snug-tune-bin-")
		if err != nil {
			bb.err = err
			return
		}
		buildMu.Lock()
		buildDirs = append(buildDirs, out)
		buildMu.Unlock()
		bb.path = filepath.Join(out, filepath.Base(dir))
		args := append([]string{"build", "-o", bb.path}, extra...)
		cmd := exec.Command(goTool, append(args, "./"+dir)...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			bb.err = fmt.Errorf("go build %s: %v\n%s", dir, err, msg)
		}
	})
	if bb.err != nil {
		t.Fatal(bb.err)
	}
	return bb.path
}

// cleanEnv is this process's environment without any variable snug or the
// Go runtime's tuning reads, plus env.
func cleanEnv(env ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "SNUG") || k == "GOMAXPROCS" || k == "GOMEMLIMIT" || k == "GODEBUG" {
			continue
		}
		out = append(out, kv)
	}
	return append(out, env...)
}

// runBlank runs testdata/blank once in g and returns its report and stderr.
func runBlank(t *testing.T, g *cgtest.Group, env ...string) (blankReport, string) {
	t.Helper()
	var r blankReport
	log := runToFiles(t, g.Command(buildProgram(t, "testdata/blank")), &r, env...)
	return r, log
}

// runToFiles runs cmd with the clean environment plus env, decodes its
// stdout into v and returns its stderr. Its output goes to regular files,
// not pipes: a pipe from os/exec is non-blocking, and os.Stdout or
// os.Stderr would start the network poller for it before any init ran.
func runToFiles(t *testing.T, cmd *exec.Cmd, v any, env ...string) string {
	t.Helper()
	dir := t.TempDir()
	stdout, err1 := os.Create(filepath.Join(dir, "stdout"))
	stderr, err2 := os.Create(filepath.Join(dir, "stderr"))
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	defer stderr.Close()
	cmd.Env = cleanEnv(env...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	out, _ := os.ReadFile(stdout.Name())
	log, _ := os.ReadFile(stderr.Name())
	if err != nil {
		t.Fatalf("%s: %v\n%s", filepath.Base(cmd.Path), err, log)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("%s output %q: %v", filepath.Base(cmd.Path), out, err)
	}
	return string(log)
}

// hasEventpoll reports whether the process has an epoll descriptor, the
// runtime's network poller, through readlink, which opens nothing.
func hasEventpoll() bool {
	for fd := 0; fd < 256; fd++ {
		if target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd)); err == nil && target == "anon_inode:[eventpoll]" {
			return true
		}
	}
	return false
}

// liveBlank is testdata/blank running with -every, its reports arriving on
// a channel.
type liveBlank struct {
	cmd     *exec.Cmd
	reports chan blankReport
	stderr  *lockedBuilder
}

type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startBlank(t *testing.T, g *cgtest.Group, env []string, args ...string) *liveBlank {
	t.Helper()
	cmd := g.Command(buildProgram(t, "testdata/blank"), args...)
	cmd.Env = cleanEnv(env...)
	lb := &liveBlank{cmd: cmd, reports: make(chan blankReport, 1024), stderr: &lockedBuilder{}}
	cmd.Stderr = lb.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(lb.reports)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var r blankReport
			if json.Unmarshal(sc.Bytes(), &r) == nil {
				lb.reports <- r
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		for range lb.reports {
		}
		cmd.Wait()
	})
	return lb
}

// next returns the next report, failing the test if none comes in 10 s.
func (lb *liveBlank) next(t *testing.T) blankReport {
	t.Helper()
	select {
	case r, ok := <-lb.reports:
		if !ok {
			t.Fatalf("blank exited early; stderr:\n%s", lb.stderr.String())
		}
		return r
	case <-time.After(10 * time.Second):
		t.Fatalf("no report from blank in 10 s; stderr:\n%s", lb.stderr.String())
	}
	panic("unreachable")
}

// waitFor reads reports until cond holds, and returns the time from since
// to the first report where it does (by the program's own clock, which is
// this machine's). It fails the test after limit.
func (lb *liveBlank) waitFor(t *testing.T, what string, since time.Time, limit time.Duration, cond func(blankReport) bool) time.Duration {
	t.Helper()
	var last blankReport
	for {
		r := lb.next(t)
		at := time.Unix(0, r.UnixNano)
		if cond(r) {
			return at.Sub(since)
		}
		last = r
		if at.Sub(since) > limit {
			t.Fatalf("%s: not seen within %v; last report %+v; stderr:\n%s", what, limit, last, lb.stderr.String())
		}
	}
}

func requireHost(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("host cgroup tests build and run a program; skipped with -short")
	}
	cgtest.Require(t)
	if runtime.NumCPU() < 2 {
		t.Skip("the policies differ only with 2 CPUs or more")
	}
}

func TestHostBlankImport(t *testing.T) {
	requireHost(t)
	cases := []struct {
		cpu        float64
		mem        int64
		procs      int
		memLimit   int64
		wantSource string
	}{
		{0.5, 256 * mib, 1, 224 * mib, "GOMAXPROCS 1:"},
		{1.5, 1 << 30, 1, 966367641, "GOMAXPROCS 1:"},
		{2, 0, 2, math.MaxInt64, "the runtime's own default"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("cpu%v-mem%s", c.cpu, strings.ReplaceAll(formatBytes(c.mem), " ", "")), func(t *testing.T) {
			g := cgtest.New(t, "snug-tune")
			g.SetCPU(c.cpu)
			if c.mem > 0 {
				g.SetMemory(c.mem)
			}
			r, stderr := runBlank(t, g)
			if r.GOMAXPROCS != min(c.procs, r.NumCPU) || r.GOMEMLIMIT != c.memLimit {
				t.Errorf("GOMAXPROCS %d GOMEMLIMIT %d, want %d and %d; log:\n%s", r.GOMAXPROCS, r.GOMEMLIMIT, c.procs, c.memLimit, stderr)
			}
			if !strings.Contains(stderr, "snug: tuned") || !strings.Contains(stderr, c.wantSource) ||
				strings.Count(stderr, "\n") != 1 {
				t.Errorf("want one start line naming %q, got:\n%s", c.wantSource, stderr)
			}
			if c.mem > 0 && !strings.Contains(stderr, "at "+g.Cgroup["memory"]) {
				t.Errorf("the log does not name the memory cgroup %s:\n%s", g.Cgroup["memory"], stderr)
			}
		})
	}
}

// What the blank import's init does, Start, must not start the runtime's
// network poller (an epoll instance, an eventfd, and a registration and
// removal per file), which os.Open does for the pollable /proc and cgroup
// files. The Tuner's goroutine does start it, at its first wait on a
// timer, as any program's first timer does; whether that comes before main
// is up to the scheduler, so the child calls Start without it.
func TestHostStartNoPoller(t *testing.T) {
	requireHost(t)
	g := cgtest.New(t, "snug-tune-poller")
	g.SetCPU(0.5)
	g.SetMemory(256 * mib)
	var r startReport
	log := runToFiles(t, g.Command(os.Args[0], "-test.run=^$"), &r, startChildEnv+"=1")
	if r.Err != "" || r.GOMAXPROCS != 1 || r.GOMEMLIMIT != 224*mib {
		t.Fatalf("Start: %s, GOMAXPROCS %d GOMEMLIMIT %d: it did not run as configured; log:\n%s", r.Err, r.GOMAXPROCS, r.GOMEMLIMIT, log)
	}
	if r.Eventpoll {
		t.Errorf("the network poller was running after Start")
	}
}

// A limit on the parent cgroup, which the Go runtime does not read.
func TestHostParentLimit(t *testing.T) {
	requireHost(t)
	parent := cgtest.New(t, "snug-tune-parent")
	child := parent.Child("leaf")
	parent.SetCPU(0.5)
	parent.SetMemory(128 * mib)
	child.SetMemory(512 * mib)
	r, stderr := runBlank(t, child)
	if r.GOMAXPROCS != 1 || r.GOMEMLIMIT != 96*mib {
		t.Errorf("GOMAXPROCS %d GOMEMLIMIT %s, want 1 and 96 MiB from the parent's limits; log:\n%s",
			r.GOMAXPROCS, formatBytes(r.GOMEMLIMIT), stderr)
	}
	if !strings.Contains(stderr, "(ancestor)") || !strings.Contains(stderr, "the runtime alone would use 2") {
		t.Errorf("the log does not say the limit is an ancestor's that the runtime misses:\n%s", stderr)
	}
	// The control: with SNUG=off the runtime, reading only the leaf, uses
	// every CPU and sets no memory limit.
	r, _ = runBlank(t, child, "SNUG=off")
	if r.GOMAXPROCS != r.NumCPU || r.GOMEMLIMIT != math.MaxInt64 {
		t.Errorf("SNUG=off: GOMAXPROCS %d GOMEMLIMIT %d, want the runtime's %d and no limit", r.GOMAXPROCS, r.GOMEMLIMIT, r.NumCPU)
	}
}

// Limits changed while the program runs, as a Kubernetes in-place resize
// does, are followed within 2 s.
func TestHostFollowsResize(t *testing.T) {
	requireHost(t)
	g := cgtest.New(t, "snug-tune-live")
	g.SetCPU(0.5)
	g.SetMemory(256 * mib)
	lb := startBlank(t, g, nil, "-every=20ms", "-for=30s")
	if r := lb.next(t); r.GOMAXPROCS != 1 || r.GOMEMLIMIT != 224*mib {
		t.Fatalf("at start: %+v", r)
	}
	time.Sleep(300 * time.Millisecond)

	changed := time.Now()
	g.SetMemory(512 * mib)
	g.SetCPU(0)
	memLatency := lb.waitFor(t, "GOMEMLIMIT after the memory limit went to 512 MiB", changed, 2*time.Second,
		func(r blankReport) bool { return r.GOMEMLIMIT == 483183820 })
	procsLatency := lb.waitFor(t, "GOMAXPROCS after the quota went away", changed, 2*time.Second,
		func(r blankReport) bool { return r.GOMAXPROCS == r.NumCPU })
	t.Logf("followed a resize: GOMEMLIMIT after %v, GOMAXPROCS after %v", memLatency.Round(time.Millisecond),
		max(memLatency, procsLatency).Round(time.Millisecond))

	changed = time.Now()
	g.SetMemory(128 * mib)
	memLatency = lb.waitFor(t, "GOMEMLIMIT after the memory limit went to 128 MiB", changed, 2*time.Second,
		func(r blankReport) bool { return r.GOMEMLIMIT == 96*mib })
	t.Logf("followed a shrink: GOMEMLIMIT after %v", memLatency.Round(time.Millisecond))
	// The Tuner logs a change just after making it, so the report can see
	// the new value before the line is on stderr: give the line a moment.
	for deadline := time.Now().Add(2 * time.Second); strings.Count(lb.stderr.String(), "changed") < 3 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := strings.Count(lb.stderr.String(), "changed"); n != 3 {
		t.Errorf("%d change lines in the log, want 3 (two for memory, one for GOMAXPROCS):\n%s", n, lb.stderr.String())
	}
}

func TestHostEnvironment(t *testing.T) {
	requireHost(t)
	g := cgtest.New(t, "snug-tune-env")
	g.SetCPU(0.5)
	g.SetMemory(256 * mib)
	cases := []struct {
		env      []string
		procs    int // 0: the CPU count
		memLimit int64
		logHas   string
	}{
		{nil, 1, 224 * mib, "snug: tuned"},
		{[]string{"GOMAXPROCS=2"}, 2, 224 * mib, "GOMAXPROCS environment variable 2"},
		{[]string{"GOMAXPROCS=2", "SNUG_GOMAXPROCS=force"}, 1, 224 * mib, "GOMAXPROCS 1:"},
		{[]string{"GOMEMLIMIT=100MiB"}, 1, 100 * mib, `GOMEMLIMIT environment variable \"100MiB\"`},
		{[]string{"GOMEMLIMIT=100MiB", "SNUG_GOMEMLIMIT=force"}, 1, 224 * mib, "GOMEMLIMIT 224 MiB"},
		{[]string{"GOMEMLIMIT=off"}, 1, math.MaxInt64, "GOMEMLIMIT environment variable"},
		{[]string{"SNUG=off"}, 0, math.MaxInt64, "SNUG=off"},
		{[]string{"SNUG_GOMAXPROCS=off"}, 0, 224 * mib, "SNUG_GOMAXPROCS=off"},
		{[]string{"SNUG_GOMEMLIMIT=off"}, 1, math.MaxInt64, "SNUG_GOMEMLIMIT=off"},
		{[]string{"SNUG_GOMAXPROCS_POLICY=runtime"}, 0, 224 * mib, "left to the runtime"},
		{[]string{"SNUG_GOMAXPROCS_POLICY=ceil"}, 1, 224 * mib, "policy ceil"},
		{[]string{"SNUG_GOMAXPROCS_MIN=2"}, 2, 224 * mib, "min 2"},
		{[]string{"SNUG_GOMEMLIMIT_RATIO=0.5", "SNUG_GOMEMLIMIT_HEADROOM=0"}, 1, 128 * mib, "× 0.5"},
		{[]string{"SNUG_GOMEMLIMIT_RATIO=abc"}, 1, 224 * mib, `SNUG_GOMEMLIMIT_RATIO="abc" ignored`},
		{[]string{"GOMAXPROCS=zero"}, 1, 224 * mib, "the Go runtime ignores it"},
		{[]string{"SNUG_LOG=quiet"}, 1, 224 * mib, ""},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.env, ","), func(t *testing.T) {
			r, stderr := runBlank(t, g, c.env...)
			want := c.procs
			if want == 0 {
				want = r.NumCPU
			}
			if r.GOMAXPROCS != want || r.GOMEMLIMIT != c.memLimit {
				t.Errorf("GOMAXPROCS %d GOMEMLIMIT %d, want %d and %d; log:\n%s", r.GOMAXPROCS, r.GOMEMLIMIT, want, c.memLimit, stderr)
			}
			if c.logHas == "" && stderr != "" {
				t.Errorf("SNUG_LOG=quiet logged:\n%s", stderr)
			}
			if !strings.Contains(stderr, c.logHas) {
				t.Errorf("log lacks %q:\n%s", c.logHas, stderr)
			}
			if strings.Contains(stderr, "panic") {
				t.Errorf("log mentions a panic:\n%s", stderr)
			}
		})
	}
}

// Without any limit, importing snug changes nothing: no runtime call at all,
// so the runtime keeps updating GOMAXPROCS by itself. The check: snug is
// told to look only once an hour, then the cpuset shrinks to one CPU, and
// GOMAXPROCS must follow, which only the runtime's own updates can do.
func TestHostNoLimitsLeaveRuntimeInCharge(t *testing.T) {
	requireHost(t)
	g := cgtest.New(t, "snug-tune-none")
	if g.Dir("cpuset") == "" {
		t.Skip("no cpuset hierarchy")
	}
	lb := startBlank(t, g, []string{"SNUG_INTERVAL=1h"}, "-every=20ms", "-for=30s")
	r := lb.next(t)
	if r.GOMAXPROCS != r.NumCPU || r.GOMEMLIMIT != math.MaxInt64 || r.STWOther != 0 {
		t.Fatalf("at start: %+v, want the CPU count, no memory limit and no pause", r)
	}
	changed := time.Now()
	g.Write("cpuset", "cpuset.cpus", "0")
	d := lb.waitFor(t, "the runtime to follow a one-CPU cpuset by itself", changed, 5*time.Second,
		func(r blankReport) bool { return r.GOMAXPROCS == 1 })
	t.Logf("the runtime followed the cpuset in %v", d.Round(time.Millisecond))
}

// The program sets its own limits after start: snug steps back, logs it
// once per knob, and no longer follows the cgroup for them.
func TestHostApplicationSetsItsOwn(t *testing.T) {
	requireHost(t)
	g := cgtest.New(t, "snug-tune-app")
	g.SetCPU(0.5)
	g.SetMemory(256 * mib)
	lb := startBlank(t, g, []string{"SNUG_INTERVAL=50ms"}, "-every=20ms", "-for=30s",
		fmt.Sprint("-setmem=", 150*mib), "-setprocs=2", "-after=200ms")
	lb.waitFor(t, "the program's own settings", time.Now(), 5*time.Second,
		func(r blankReport) bool { return r.GOMEMLIMIT == 150*mib && r.GOMAXPROCS == 2 })
	time.Sleep(200 * time.Millisecond)
	changed := time.Now()
	g.SetMemory(512 * mib)
	g.SetCPU(0)
	g.SetCPU(0.5)
	for {
		r := lb.next(t)
		if r.GOMEMLIMIT != 150*mib || r.GOMAXPROCS != 2 {
			t.Fatalf("snug overrode the program's settings: %+v\n%s", r, lb.stderr.String())
		}
		if time.Unix(0, r.UnixNano).Sub(changed) > time.Second {
			break
		}
	}
	log := lb.stderr.String()
	if strings.Count(log, "set by the application") != 2 {
		t.Errorf("want one step-back line per knob:\n%s", log)
	}
}

// A quota that flaps costs few stop-the-world pauses: the confirm read and
// the growing gap between changes (see maxprocs.go).
func TestHostFlappingQuota(t *testing.T) {
	requireHost(t)
	g := cgtest.New(t, "snug-tune-flap")
	g.SetCPU(0.5)
	lb := startBlank(t, g, nil, "-every=50ms", "-for=30s")
	first := lb.next(t)
	if first.GOMAXPROCS != 1 {
		t.Fatalf("at start: %+v", first)
	}
	// Each value holds 1.3 s, long enough for a read and its confirmation
	// at the default 1 s interval: without the gap between changes, every
	// flip would be followed.
	const flips, hold = 6, 1300 * time.Millisecond
	for i := 0; i < flips; i++ {
		if i%2 == 0 {
			g.SetCPU(0)
		} else {
			g.SetCPU(0.5)
		}
		time.Sleep(hold)
	}
	last := first
	for len(lb.reports) > 0 {
		last = lb.next(t)
	}
	pauses := last.STWOther - first.STWOther
	t.Logf("%d quota flips %v apart: %d GOMAXPROCS stop-the-world pauses after start (%d at start)",
		flips, hold, pauses, first.STWOther)
	// The first flip followed, then at most one more after the 5 s gap.
	if pauses > 2 {
		t.Errorf("%d pauses for %d flips", pauses, flips)
	}
	if pauses == 0 {
		t.Errorf("no change followed in %v: the quota change itself was missed", flips*hold)
	}
}

// The adaptive policy, the default, on a real CFS quota: an idle program
// under 0.5 CPU starts at the floor (1) and takes the runtime's second P
// once its counters show it calm; when it then keeps two Ps busy, the
// kernel throttles it in nearly every period and it drops back to 1. With
// the quota on the parent, the kernel counts the throttling only in the
// parent's cpu.stat: the program's own counters stay 0.
func TestHostAdaptivePolicy(t *testing.T) {
	requireHost(t)
	t.Run("own quota", func(t *testing.T) {
		g := cgtest.New(t, "snug-tune-adapt")
		g.SetCPU(0.5)
		adaptOnRealQuota(t, g)
	})
	t.Run("parent quota", func(t *testing.T) {
		parent := cgtest.New(t, "snug-tune-adaptp")
		parent.SetCPU(0.5)
		adaptOnRealQuota(t, parent.Child("leaf"))
	})
}

// adaptOnRealQuota runs the blank import in g, under a 0.5-CPU quota on g
// or an ancestor: see TestHostAdaptivePolicy.
func adaptOnRealQuota(t *testing.T, g *cgtest.Group) {
	// Busy soon after the rise, within the 5 s the Tuner otherwise keeps
	// between changes: the drop must not wait for that gap.
	const busyAfter = 5 * time.Second
	lb := startBlank(t, g, nil, "-every=50ms", "-for=30s", "-spin=2", "-spinafter="+busyAfter.String())
	first := lb.next(t)
	start := time.Unix(0, first.UnixNano)
	if first.GOMAXPROCS != 1 {
		t.Fatalf("at start: GOMAXPROCS %d, want 1 (adaptive starts at floor)", first.GOMAXPROCS)
	}
	// Two calm evaluations after the baseline sample: about 3 s.
	rose := lb.waitFor(t, "GOMAXPROCS 2 while idle", start, 6*time.Second,
		func(r blankReport) bool { return r.GOMAXPROCS == 2 })
	// Busy from busyAfter: the first evaluation that sees the throttling
	// drops, 1.2 to 2.2 s later; waiting out the gap would take at least
	// 3.2 s.
	busy := start.Add(busyAfter)
	lb.waitFor(t, "still 2 until busy", start, busyAfter-500*time.Millisecond,
		func(r blankReport) bool {
			if r.GOMAXPROCS != 2 {
				t.Fatalf("GOMAXPROCS %d before the program got busy; log:\n%s", r.GOMAXPROCS, lb.stderr.String())
			}
			return time.Unix(0, r.UnixNano).After(busy.Add(-time.Second))
		})
	dropped := lb.waitFor(t, "GOMAXPROCS 1 once throttled", busy, 2800*time.Millisecond,
		func(r blankReport) bool { return r.GOMAXPROCS == 1 })
	// Busy at one P it stays at one: 1 CPU of demand is twice the quota.
	stay := time.Now().Add(4 * time.Second)
	lb.waitFor(t, "staying at 1 while busy", busy, 30*time.Second, func(r blankReport) bool {
		if r.GOMAXPROCS != 1 {
			t.Fatalf("GOMAXPROCS back to %d while busy; log:\n%s", r.GOMAXPROCS, lb.stderr.String())
		}
		return time.Unix(0, r.UnixNano).After(stay)
	})
	log := lb.stderr.String()
	t.Logf("rose to 2 after %v idle, dropped to 1 %v after getting busy; log:\n%s",
		rose.Round(time.Millisecond), dropped.Round(time.Millisecond), log)
	if !strings.Contains(log, "CFS periods throttled") || !strings.Contains(log, "of the CPU limit used") {
		t.Errorf("the change lines do not give the evidence:\n%s", log)
	}
}

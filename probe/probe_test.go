package probe

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snug-go/snug/cgroup"
)

// *cgroup.Group is what production code passes as a CgroupReader.
var _ CgroupReader = (*cgroup.Group)(nil)

func run(t *testing.T, c Check) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Func(ctx)
}

func TestKind(t *testing.T) {
	for k, want := range map[Kind]string{
		Liveness: "liveness", Readiness: "readiness", Both: "liveness+readiness", Startup: "startup",
		0: "Kind(0)", Startup | Liveness: "Kind(5)",
	} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
		if got, wantValid := k.Valid(), !strings.HasPrefix(want, "Kind("); got != wantValid {
			t.Errorf("Kind(%d).Valid() = %v", k, got)
		}
	}
}

func TestFunc(t *testing.T) {
	boom := errors.New("boom")
	c := Func("x", Both, func(context.Context) error { return boom })
	if c.Name != "x" || c.Kind != Both || c.Timeout != 0 {
		t.Fatalf("Func built %+v", c)
	}
	if err := run(t, c); err != boom {
		t.Fatalf("err = %v", err)
	}
	if !(Result{}).OK() || (Result{Err: boom}).OK() {
		t.Fatal("Result.OK wrong")
	}
}

func TestGoroutines(t *testing.T) {
	c := Goroutines(1 << 30)
	if c.Name != "goroutines" || c.Kind != Liveness {
		t.Fatalf("got %+v", c)
	}
	if err := run(t, c); err != nil {
		t.Fatalf("huge limit: %v", err)
	}
	err := run(t, Goroutines(1))
	if err == nil || !strings.Contains(err.Error(), "over the limit of 1") {
		t.Fatalf("limit 1: %v", err)
	}
	for _, bad := range []int{0, -5} {
		if err := run(t, Goroutines(bad)); err == nil || !strings.Contains(err.Error(), "must be positive") {
			t.Fatalf("limit %d: %v", bad, err)
		}
	}
}

func TestGCDeathSpiral(t *testing.T) {
	c := GCDeathSpiral(SpiralFunc(func() (bool, string) { return false, "" }))
	if c.Name != "gc-death-spiral" || c.Kind != Liveness {
		t.Fatalf("got %+v", c)
	}
	if err := run(t, c); err != nil {
		t.Fatal(err)
	}
	err := run(t, GCDeathSpiral(SpiralFunc(func() (bool, string) { return true, "GC took 48% of CPU for 60s" })))
	if err == nil || err.Error() != "GC took 48% of CPU for 60s" {
		t.Fatalf("spiral: %v", err)
	}
	if err := run(t, GCDeathSpiral(SpiralFunc(func() (bool, string) { return true, "" }))); err == nil {
		t.Fatal("spiral without reason passed")
	}
	// No detector, no spiral: failing liveness would restart the process
	// in a loop.
	if err := run(t, GCDeathSpiral(nil)); err != nil {
		t.Fatalf("nil detector: %v", err)
	}
	var tu *pointerDetector // as snug.Tuner() returns a nil *tune.Tuner
	if err := run(t, GCDeathSpiral(tu)); err != nil {
		t.Fatalf("nil pointer detector: %v", err)
	}
}

// pointerDetector is a SpiralDetector with a pointer receiver, as
// *tune.Tuner is; a nil one must count as no detector.
type pointerDetector struct{ spiraling bool }

func (d *pointerDetector) DeathSpiral() (bool, string) { return d.spiraling, "spiral" }

func TestStandard(t *testing.T) {
	names := func(cs []Check) string {
		var s []string
		for _, c := range cs {
			s = append(s, c.Name)
		}
		return strings.Join(s, ",")
	}
	if got := names(Standard(nil, nil)); got != "goroutines" {
		t.Errorf("Standard(nil, nil) = %s", got)
	}
	var g *cgroup.Group // what cgroup.Open returns with an error
	var f SpiralFunc    // a nil func
	if got := names(Standard(g, f)); got != "goroutines" {
		t.Errorf("Standard(nil *Group, nil func) = %s", got)
	}
	if err := run(t, MemoryHeadroom(g, 0.05)); !errors.Is(err, errNilReader) {
		t.Errorf("MemoryHeadroom(nil *Group): %v", err)
	}
	if err := run(t, GCDeathSpiral(f)); err != nil {
		t.Errorf("GCDeathSpiral(nil func): %v", err)
	}
	got := names(Standard(&fakeCgroup{}, SpiralFunc(func() (bool, string) { return false, "" })))
	if got != "goroutines,memory-headroom,gc-death-spiral" {
		t.Errorf("Standard(r, d) = %s", got)
	}
}

// fakeCgroup returns fixed limits and stats, or errors.
type fakeCgroup struct {
	limits    cgroup.Limits
	stats     cgroup.Stats
	limitsErr error
	statsErr  error
}

func (f *fakeCgroup) Limits() (cgroup.Limits, error) { return f.limits, f.limitsErr }
func (f *fakeCgroup) Stats() (cgroup.Stats, error)   { return f.stats, f.statsErr }

const mib = 1 << 20

func TestMemoryHeadroom(t *testing.T) {
	v2 := cgroup.Source{File: "memory.max", Cgroup: "/kubepods/pod1", Value: "268435456"}
	limit256 := cgroup.Limits{MemoryMax: 256 * mib, MemoryMaxSource: v2}
	podSource := v2
	podSource.Ancestor = true
	podLimit := cgroup.Limits{MemoryMax: 256 * mib, MemoryMaxSource: podSource}
	permission := &cgroup.FileError{Path: "/sys/fs/cgroup/memory.max", Err: fs.ErrPermission}
	cpusetErr := &cgroup.FileError{Path: "/sys/fs/cgroup/cpuset.cpus.effective", Err: fs.ErrPermission}
	highErr := &cgroup.FileError{Path: "/sys/fs/cgroup/memory.high", Err: fs.ErrPermission}
	psiErr := &cgroup.FileError{Path: "/sys/fs/cgroup/cpu.pressure", Err: fs.ErrPermission}
	currentErr := &cgroup.FileError{Path: "/sys/fs/cgroup/memory.current", Err: fs.ErrPermission}
	statErr := &cgroup.FileError{Path: "/sys/fs/cgroup/memory/memory.stat", Err: fs.ErrPermission}
	tests := []struct {
		name    string
		r       CgroupReader
		minFree float64
		want    string // "" for pass, else a substring of the error
	}{
		{"no cgroup", &fakeCgroup{limitsErr: cgroup.ErrNoCgroup}, 0.05, ""},
		{"unsupported", &fakeCgroup{limitsErr: fmt.Errorf("open: %w", cgroup.ErrUnsupported)}, 0.05, ""},
		{"no limit", &fakeCgroup{stats: cgroup.Stats{WorkingSet: 1 << 40}}, 0.05, ""},
		{"plenty free", &fakeCgroup{limits: limit256, stats: cgroup.Stats{WorkingSet: 100 * mib}}, 0.05, ""},
		{"exactly 5% free", &fakeCgroup{limits: cgroup.Limits{MemoryMax: 100 * mib}, stats: cgroup.Stats{WorkingSet: 95 * mib}}, 0.05, ""},
		{"under 5% free", &fakeCgroup{limits: limit256, stats: cgroup.Stats{WorkingSet: 250 * mib}},
			0.05, "working set 250.0 MiB is 97.7% of the memory limit 256.0 MiB (memory.max 268435456 at /kubepods/pod1); less than 5% free"},
		{"over the limit", &fakeCgroup{limits: limit256, stats: cgroup.Stats{WorkingSet: 300 * mib}}, 0.05, "117.2%"},
		// A pod-level limit: the pod's working set, the siblings'
		// included, is what the kernel holds against it.
		{"pod limit, siblings fill it", &fakeCgroup{limits: podLimit, stats: cgroup.Stats{WorkingSet: 20 * mib,
			HasMemoryLimitUsage: true, MemoryLimitCgroup: "/kubepods/pod1", MemoryLimitWorkingSet: 250 * mib}},
			0.05, "working set of /kubepods/pod1 (siblings included) 250.0 MiB is 97.7% of the memory limit 256.0 MiB (memory.max 268435456 at /kubepods/pod1 (ancestor))"},
		{"pod limit, room left", &fakeCgroup{limits: podLimit, stats: cgroup.Stats{WorkingSet: 20 * mib,
			HasMemoryLimitUsage: true, MemoryLimitCgroup: "/kubepods/pod1", MemoryLimitWorkingSet: 200 * mib}}, 0.05, ""},
		// The usage of another cgroup than the limit's (the limit moved
		// between the two reads) is not compared with it.
		{"usage of another cgroup", &fakeCgroup{limits: podLimit, stats: cgroup.Stats{WorkingSet: 20 * mib,
			HasMemoryLimitUsage: true, MemoryLimitCgroup: "/kubepods/pod1/ctr", MemoryLimitWorkingSet: 250 * mib}}, 0.05, ""},
		// A v1 ancestor the mount hides: no usage but the process's own.
		{"hidden ancestor's limit", &fakeCgroup{limits: podLimit, stats: cgroup.Stats{WorkingSet: 250 * mib}}, 0.05, "97.7%"},
		{"memory.high is lower", &fakeCgroup{
			limits: cgroup.Limits{MemoryMax: 256 * mib, MemoryHigh: 200 * mib, MemoryHighSource: cgroup.Source{File: "memory.high"}},
			stats:  cgroup.Stats{WorkingSet: 199 * mib}}, 0.05, "memory.high"},
		{"limits unreadable", &fakeCgroup{limitsErr: permission}, 0.05, "reading cgroup limits: cgroup: /sys/fs/cgroup/memory.max: permission denied"},
		{"stats unreadable", &fakeCgroup{limits: limit256, statsErr: errors.New("bad memory.stat")}, 0.05, "reading cgroup usage: bad memory.stat"},
		{"stats: no cgroup", &fakeCgroup{limits: limit256, statsErr: cgroup.ErrNoCgroup}, 0.05, ""},
		// Limits and Stats return what they read with an error naming each
		// file they could not: one the check does not use must not fail it.
		{"cpuset unreadable", &fakeCgroup{limits: limit256, limitsErr: cpusetErr, stats: cgroup.Stats{WorkingSet: 100 * mib}}, 0.05, ""},
		{"cpuset unreadable, under 5% free", &fakeCgroup{limits: limit256, limitsErr: cpusetErr, stats: cgroup.Stats{WorkingSet: 250 * mib}}, 0.05, "97.7%"},
		{"cpu.pressure unreadable", &fakeCgroup{limits: limit256, statsErr: psiErr, stats: cgroup.Stats{WorkingSet: 100 * mib}}, 0.05, ""},
		{"cpu.pressure unreadable, under 5% free", &fakeCgroup{limits: limit256, statsErr: psiErr, stats: cgroup.Stats{WorkingSet: 250 * mib}}, 0.05, "97.7%"},
		{"memory.high unreadable", &fakeCgroup{limits: limit256, limitsErr: highErr, stats: cgroup.Stats{WorkingSet: 100 * mib}}, 0.05, "reading cgroup limits: cgroup: /sys/fs/cgroup/memory.high: permission denied"},
		{"memory.current unreadable", &fakeCgroup{limits: limit256, statsErr: errors.Join(psiErr, currentErr)}, 0.05, "reading cgroup usage: "},
		{"v1 memory.stat unreadable", &fakeCgroup{limits: limit256, statsErr: statErr}, 0.05, "memory.stat"},
		{"minFree 0", &fakeCgroup{}, 0, "must be a fraction"},
		{"minFree 1", &fakeCgroup{}, 1, "must be a fraction"},
		{"minFree NaN", &fakeCgroup{}, nanFloat(), "must be a fraction"},
		{"nil reader", nil, 0.05, "no cgroup reader"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := MemoryHeadroom(tt.r, tt.minFree)
			if c.Name != "memory-headroom" || c.Kind != Readiness {
				t.Fatalf("got %+v", c)
			}
			err := run(t, c)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("want pass, got %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("want error containing %q, got %v", tt.want, err)
			}
		})
	}
	// The cgroup error stays inspectable.
	err := run(t, MemoryHeadroom(&fakeCgroup{limitsErr: permission}, 0.05))
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("errors.Is(%v, fs.ErrPermission) = false", err)
	}
}

func nanFloat() float64 { var z float64; return z / z }

// TestMemoryHeadroomRealCgroup runs the check against this process's real
// cgroup: whatever the machine, it must give an answer, not an error.
func TestMemoryHeadroomRealCgroup(t *testing.T) {
	g, err := cgroup.Open()
	if errors.Is(err, cgroup.ErrNoCgroup) || errors.Is(err, cgroup.ErrUnsupported) {
		t.Skipf("no cgroup: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	limits, err := g.Limits()
	if err != nil {
		t.Fatal(err)
	}
	stats, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	limit, src := limits.MemoryLimit()
	t.Logf("memory limit %d (%v), working set %d", limit, src, stats.WorkingSet)
	// A threshold no real process reaches: it must pass. (With no limit,
	// it passes too.)
	if err := run(t, MemoryHeadroom(g, 1e-9)); err != nil && stats.WorkingSet < limit {
		t.Errorf("tiny threshold: %v", err)
	}
	// A threshold every process with a limit reaches: it must fail.
	err = run(t, MemoryHeadroom(g, 0.999999999))
	if limit > 0 && stats.WorkingSet > 1<<20 && err == nil {
		t.Errorf("huge threshold passed with limit %d and working set %d", limit, stats.WorkingSet)
	}
	if err := run(t, CPUThrottling(g, 0.5)); err != nil {
		t.Errorf("cpu throttling first run: %v", err)
	}
}

func TestCPUThrottling(t *testing.T) {
	c := CPUThrottling(&fakeCgroup{}, 0.5)
	if c.Name != "cpu-throttling" || c.Kind != Readiness {
		t.Fatalf("got %+v", c)
	}
	if err := run(t, c); err != nil {
		t.Fatalf("first run: %v", err)
	}

	// The window logic, with a clock of our own.
	var w throttleWindow
	t0 := time.Now()
	steps := []struct {
		at                 time.Duration
		periods, throttled uint64
		wantFail           bool
		why                string
	}{
		{0, 1000, 900, false, "first run: no window yet"},
		{100 * time.Millisecond, 1005, 905, false, "5 periods: too few, repeats the previous verdict (pass)"},
		{10 * time.Second, 1100, 1000, true, "100 periods, all throttled"},
		{10100 * time.Millisecond, 1103, 1003, true, "3 periods: repeats fail"},
		{20 * time.Second, 1200, 1020, false, "97 periods, 20 throttled"},
		{30 * time.Second, 1300, 1070, false, "100 periods, exactly 50 throttled: not over"},
		{40 * time.Second, 1400, 1121, true, "51%"},
		{41 * time.Second, 1402, 1123, true, "idle for 1 s: too soon, repeats fail"},
		{43 * time.Second, 1404, 1125, false, "idle for 3 s: 4 periods in 2 s or more, mostly idle: pass"},
		{44 * time.Second, 10, 1, false, "counters went back: a new window"},
		{60 * time.Second, 10, 1, false, "no quota: periods do not move"},
		{70 * time.Second, 20, 20, true, "10 periods all throttled"},
	}
	for _, s := range steps {
		err := w.observe(t0.Add(s.at), "", s.periods, s.throttled, 0.5)
		if (err != nil) != s.wantFail {
			t.Fatalf("%d/%d (%s): err = %v", s.throttled, s.periods, s.why, err)
		}
	}
	if err := w.observe(t0.Add(80*time.Second), "", 2000, 1000, 0.5); err != nil {
		t.Fatalf("980 of 1980 periods (49.5%%): %v", err)
	}
	if err := w.observe(t0.Add(90*time.Second), "", 2100, 1060, 0.5); err == nil || err.Error() != "throttled in 60 of the last 100 CPU periods (60.0%, over 50%)" {
		t.Fatalf("message: %v", err)
	}

	if err := run(t, CPUThrottling(&fakeCgroup{statsErr: cgroup.ErrNoCgroup}, 0.5)); err != nil {
		t.Fatalf("no cgroup: %v", err)
	}
	if err := run(t, CPUThrottling(&fakeCgroup{statsErr: errors.New("bad cpu.stat")}, 0.5)); err == nil || !strings.Contains(err.Error(), "bad cpu.stat") {
		t.Fatalf("stats error: %v", err)
	}
	cpuStatErr := &cgroup.FileError{Path: "/sys/fs/cgroup/cpu.stat", Err: fs.ErrPermission}
	if err := run(t, CPUThrottling(&fakeCgroup{statsErr: cpuStatErr}, 0.5)); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("cpu.stat unreadable: %v", err)
	}
	// An unreadable file the check does not use (a memory or PSI file)
	// leaves the CFS counters sound: the check judges them.
	f := &fakeCgroup{
		statsErr:  &cgroup.FileError{Path: "/sys/fs/cgroup/memory.events", Err: fs.ErrPermission},
		limitsErr: &cgroup.FileError{Path: "/sys/fs/cgroup/memory.max", Err: fs.ErrPermission},
	}
	c = CPUThrottling(f, 0.5)
	for i, st := range []struct {
		periods, throttled uint64
		wantFail           bool
	}{{100, 0, false}, {200, 10, false}, {300, 100, true}} {
		f.stats = cgroup.Stats{HasCFS: true, CFSCgroup: "/", Periods: st.periods, ThrottledPeriods: st.throttled}
		if err := run(t, c); (err != nil) != st.wantFail || (err != nil && !strings.Contains(err.Error(), "throttled in 90 of the last 100")) {
			t.Fatalf("run %d with memory.events unreadable: %v", i, err)
		}
	}
	for _, bad := range []float64{0, -1, 1.5, nanFloat()} {
		if err := run(t, CPUThrottling(&fakeCgroup{}, bad)); err == nil || !strings.Contains(err.Error(), "must be a fraction") {
			t.Fatalf("maxThrottled %v: %v", bad, err)
		}
	}
	if err := run(t, CPUThrottling(nil, 0.5)); !errors.Is(err, errNilReader) {
		t.Fatalf("nil reader: %v", err)
	}
}

// TestCPUThrottlingAncestorQuota reads a Kubernetes v2 layout where the CPU
// quota is the pod's (a pod-level resources block): the kernel counts the
// throttling in the pod's cpu.stat and the container's own counters stay 0.
// The check alone, on a Group no one else has called Limits on, must see
// the pod being throttled.
func TestCPUThrottlingAncestorQuota(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("cgroup reading is Linux-only")
	}
	const pod = "/kubepods.slice/kubepods-pod1.slice"
	const leaf = pod + "/cri-containerd-0123.scope"
	root := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fs := "sys/fs/cgroup"
	write("proc/self/cgroup", "0::"+leaf+"\n")
	write("proc/self/mountinfo", "1565 1566 0:29 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw\n")
	write(fs+"/cgroup.controllers", "cpu memory\n")
	write(fs+leaf+"/cgroup.controllers", "cpu memory\n")
	write(fs+leaf+"/cpu.max", "max 100000\n")
	write(fs+leaf+"/cpu.stat", "usage_usec 100\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n")
	write(fs+pod+"/cpu.max", "50000 100000\n")
	write(fs+pod+"/cpu.stat", "usage_usec 100\nnr_periods 1000\nnr_throttled 10\nthrottled_usec 500\n")
	g, err := cgroup.Open(cgroup.WithRoot(root))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)

	c := CPUThrottling(g, 0.5)
	if err := run(t, c); err != nil {
		t.Fatalf("first run: %v", err)
	}
	// 100 more periods, 90 of them throttled, all in the pod's counters.
	write(fs+pod+"/cpu.stat", "usage_usec 200\nnr_periods 1100\nnr_throttled 100\nthrottled_usec 900000\n")
	if err := run(t, c); err == nil || !strings.Contains(err.Error(), "throttled in 90 of the last 100 CPU periods") {
		t.Fatalf("pod throttled in 90 of 100 periods: err = %v", err)
	}
}

// TestCPUThrottlingCgroupMoves: when the tightest quota moves to another
// level (an in-place resize of the pod's or the container's limit), Stats
// continues with that cgroup's counters, which have nothing to do with the
// previous ones: the check must start a new window, not subtract them.
func TestCPUThrottlingCgroupMoves(t *testing.T) {
	f := &fakeCgroup{}
	c := CPUThrottling(f, 0.5)
	steps := []struct {
		from               string
		periods, throttled uint64
		wantFail           bool
		why                string
	}{
		{"/pod/ctr", 100, 0, false, "first run"},
		{"/pod", 100000, 90000, false, "the pod's counters, over its lifetime: a new window"},
		{"/pod", 100100, 90010, false, "10 of 100 in the pod"},
		{"/pod", 100200, 90100, true, "90 of 100 in the pod"},
		{"/pod/ctr", 120, 20, false, "back to the container's counters: a new window"},
	}
	for _, s := range steps {
		f.stats = cgroup.Stats{HasCFS: true, CFSCgroup: s.from, Periods: s.periods, ThrottledPeriods: s.throttled}
		if err := run(t, c); (err != nil) != s.wantFail {
			t.Fatalf("%s %d/%d (%s): err = %v", s.from, s.throttled, s.periods, s.why, err)
		}
	}
}

// stepCgroup hands out one Stats per call, in order; call number block
// signals entered and waits for release before returning.
type stepCgroup struct {
	mu      sync.Mutex
	calls   int
	stats   []cgroup.Stats
	block   int
	entered chan struct{}
	release chan struct{}
}

func (s *stepCgroup) Limits() (cgroup.Limits, error) { return cgroup.Limits{}, nil }

func (s *stepCgroup) Stats() (cgroup.Stats, error) {
	s.mu.Lock()
	i := s.calls
	s.calls++
	s.mu.Unlock()
	if i == s.block {
		close(s.entered)
		<-s.release
	}
	return s.stats[i], nil
}

// TestCPUThrottlingConcurrentRuns: two runs of the same check at once (the
// Check registered with two handlers). The run that read its counters
// first but reached the window last took its older counters for a reset
// and passed while the cgroup was throttled in 90% of its periods.
func TestCPUThrottlingConcurrentRuns(t *testing.T) {
	cfs := func(periods, throttled uint64) cgroup.Stats {
		return cgroup.Stats{HasCFS: true, CFSCgroup: "/", Periods: periods, ThrottledPeriods: throttled}
	}
	r := &stepCgroup{
		stats:   []cgroup.Stats{cfs(100, 0), cfs(200, 90), cfs(300, 180), cfs(400, 270)},
		block:   2,
		entered: make(chan struct{}),
		release: make(chan struct{}),
	}
	c := CPUThrottling(r, 0.5)
	if err := run(t, c); err != nil {
		t.Fatalf("first run: %v", err)
	}
	if err := run(t, c); err == nil {
		t.Fatal("90 of 100 periods throttled: passed")
	}
	slow, fast := make(chan error, 1), make(chan error, 1)
	go func() { slow <- run(t, c) }()
	<-r.entered // the slow run is reading its counters
	go func() { fast <- run(t, c) }()
	// Let the slow run go once the fast one has finished, or, if the
	// fast one waits for the slow one, after a while: the verdicts must
	// be failures in either order, so the wait decides nothing.
	var errFast error
	fastDone := false
	select {
	case errFast = <-fast:
		fastDone = true
	case <-time.After(100 * time.Millisecond):
	}
	close(r.release)
	errSlow := <-slow
	if !fastDone {
		errFast = <-fast
	}
	if errSlow == nil || errFast == nil {
		t.Fatalf("throttled in 90%% of periods, concurrent runs: slow %v, fast %v", errSlow, errFast)
	}
}

func TestTCPDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	c := TCPDial("sidecar", addr)
	if c.Name != "sidecar" || c.Kind != Readiness {
		t.Fatalf("got %+v", c)
	}
	if err := run(t, c); err != nil {
		t.Fatalf("open port: %v", err)
	}
	ln.Close()
	if err := run(t, c); err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("closed port: %v", err)
	}
	if err := run(t, TCPDial("x", "no-port")); err == nil {
		t.Fatal("bad address passed")
	}
}

func TestHTTPGet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte(strings.Repeat("x", 50<<10))) // longer than what the check reads
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/not-modified":
			w.WriteHeader(http.StatusNotModified)
		case "/hang":
			<-r.Context().Done()
		default:
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	for path, wantErr := range map[string]string{
		"/ok": "", "/moved": "", "/not-modified": "", "/down": "503 Service Unavailable",
	} {
		err := run(t, HTTPGet("dep", srv.URL+path, nil))
		if wantErr == "" && err != nil || wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
			t.Errorf("%s: err = %v, want %q", path, err, wantErr)
		}
	}
	// The password never shows.
	u := strings.Replace(srv.URL, "http://", "http://user:hunter2@", 1)
	if err := run(t, HTTPGet("dep", u+"/down", srv.Client())); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("password in error or no error: %v", err)
	}
	if err := run(t, HTTPGet("dep", "http://user:hunter2@127.0.0.1:1/", nil)); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("password in dial error or no error: %v", err)
	}
	// Nor in a URL that does not parse: the parse error quotes the URL.
	for _, bad := range []string{
		"http://user:hunter2%@db.internal/health", // unescaped '%'
		"http://user:hunter2/@db.internal/health", // unescaped '/'
		"http://us er:hunter2@db.internal/health",
	} {
		err := run(t, HTTPGet("dep", bad, nil))
		if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "db.internal") {
			t.Errorf("unparsable %q: password in error, host missing, or no error: %v", bad, err)
		}
	}
	if err := run(t, HTTPGet("dep", "://bad url", nil)); err == nil {
		t.Error("bad URL passed")
	}
	// The context bounds the request.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := HTTPGet("dep", srv.URL+"/hang", nil).Func(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hang: %v", err)
	}
}

type fakePinger struct{ err error }

func (p fakePinger) PingContext(context.Context) error { return p.err }

func TestSQLPing(t *testing.T) {
	if err := run(t, SQLPing("db", fakePinger{})); err != nil {
		t.Fatal(err)
	}
	down := errors.New("driver: bad connection")
	if err := run(t, SQLPing("db", fakePinger{down})); err != down {
		t.Fatal(err)
	}
	if err := run(t, SQLPing("db", nil)); !errors.Is(err, errNilPinger) {
		t.Fatal(err)
	}
	var db *sql.DB // a nil pointer in a non-nil interface: would panic if called
	if err := run(t, SQLPing("db", db)); !errors.Is(err, errNilPinger) {
		t.Fatal(err)
	}
}

func TestDNSResolve(t *testing.T) {
	if err := run(t, DNSResolve("dns", "localhost")); err != nil {
		t.Fatalf("localhost: %v", err)
	}
	// A name that is not a domain name fails without a query.
	if err := run(t, DNSResolve("dns", "not a host!")); err == nil || !strings.Contains(err.Error(), "not a host!") {
		t.Fatalf("bad name: %v", err)
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 256 * mib: "256.0 MiB", 3 << 40: "3.0 TiB", -2048: "-2.0 KiB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

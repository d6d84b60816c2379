package tune

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snug-go/snug/cgroup"
)

// These tests drive a Tuner in this process over a fixture cgroup tree (see
// fixture_test.go): GOMAXPROCS and GOMEMLIMIT really change, only the
// cgroup files are fakes. host_test.go does the same with real cgroups and
// a separate program.

const mib = 1 << 20

func procs() int      { return runtime.GOMAXPROCS(0) }
func memLimit() int64 { return debug.SetMemoryLimit(-1) }
func ncpu() int       { return runtime.NumCPU() }
func skipOneCPU(t *testing.T) {
	if ncpu() < 2 {
		t.Skip("needs at least 2 CPUs to tell the policies apart")
	}
}

func TestFollowsQuotaAndMemoryLimit(t *testing.T) {
	skipOneCPU(t)
	f := newFixture(t)
	f.set("pod/ctr", "cpu.max", "50000 100000")
	f.set("pod/ctr", "memory.max", "268435456")
	before := memLimit()

	var mu sync.Mutex
	var seen []Decision
	tu := f.start(nil, OnChange(func(d Decision) { mu.Lock(); seen = append(seen, d); mu.Unlock() }))

	st := tu.Status()
	if procs() != 1 || !st.MaxProcs.Owned || st.MaxProcs.Owner != OwnerSnug {
		t.Fatalf("GOMAXPROCS = %d, decision %+v; want 1 owned by snug (adaptive starts at the floor of 0.5)", procs(), st.MaxProcs)
	}
	if !strings.Contains(st.MaxProcs.Source, "cpu.max 50000 100000 at /pod/ctr") ||
		!strings.Contains(st.MaxProcs.Source, "policy adaptive (floor)") {
		t.Errorf("source %q does not name the file, value and policy", st.MaxProcs.Source)
	}
	if got := memLimit(); got != 224*mib || st.MemoryLimit.Value != 224*mib || !st.MemoryLimit.Owned {
		t.Fatalf("GOMEMLIMIT = %d, decision %+v; want 224 MiB (256 MiB − 32 MiB headroom)", got, st.MemoryLimit)
	}
	if !st.Running {
		t.Error("Running = false with limits to follow")
	}
	mu.Lock()
	if len(seen) != 2 {
		t.Errorf("OnChange saw %d decisions at Start, want 2", len(seen))
	}
	mu.Unlock()

	// An in-place resize: more memory, no CPU limit.
	f.set("pod/ctr", "memory.max", "536870912")
	f.set("pod/ctr", "cpu.max", "max 100000")
	eventually(t, "GOMEMLIMIT to follow 512 MiB", func() bool { return memLimit() == 512*mib*9/10 })
	eventually(t, "GOMAXPROCS to go back to the runtime", func() bool {
		return procs() == ncpu() && tu.Status().MaxProcs.Owner == OwnerRuntime
	})
	st = tu.Status()
	if st.MaxProcs.Owned || st.MaxProcs.Value != int64(ncpu()) || st.MaxProcs.Previous != 1 {
		t.Errorf("after the quota went away: %+v", st.MaxProcs)
	}
	if st.Changes < 3 || st.StopTheWorlds < 2 {
		t.Errorf("Changes %d, StopTheWorlds %d: want at least 3 changes (2 at Start, 2 since) and 2 pauses",
			st.Changes, st.StopTheWorlds)
	}

	tu.Stop()
	if got := memLimit(); got != before {
		t.Errorf("after Stop GOMEMLIMIT = %d, want %d as before Start", got, before)
	}
	if procs() != ncpu() {
		t.Errorf("after Stop GOMAXPROCS = %d, want the runtime's %d", procs(), ncpu())
	}
	if tu.Status().Running {
		t.Error("Running after Stop")
	}
}

// The limit that matters may sit on the pod, not the container: the runtime
// reads only the container's own cgroup and misses it.
func TestAncestorLimit(t *testing.T) {
	skipOneCPU(t)
	f := newFixture(t)
	f.set("pod", "cpu.max", "50000 100000")
	f.set("pod", "memory.max", "134217728")
	f.set("pod/ctr", "memory.max", "1073741824")
	tu := f.start(nil)
	st := tu.Status()
	if procs() != 1 || !strings.Contains(st.MaxProcs.Source, "at /pod (ancestor)") {
		t.Errorf("GOMAXPROCS %d from %q, want 1 from the pod's quota", procs(), st.MaxProcs.Source)
	}
	if !strings.Contains(st.MaxProcs.Source, "the runtime alone would use 2") {
		t.Errorf("source %q does not say what the runtime would do", st.MaxProcs.Source)
	}
	if memLimit() != 96*mib {
		t.Errorf("GOMEMLIMIT = %d, want 96 MiB from the pod's 128 MiB", memLimit())
	}
}

// With a whole-CPU quota the policy and the runtime agree: the Tuner must
// leave GOMAXPROCS to the runtime and make no call at all.
func TestRuntimeKeepsWhatItWouldChoose(t *testing.T) {
	f := newFixture(t)
	f.set("pod/ctr", "cpu.max", fmt.Sprintf("%d 100000", ncpu()*100000))
	tu := f.start(nil)
	st := tu.Status()
	if st.MaxProcs.Owner != OwnerRuntime || st.StopTheWorlds != 0 || procs() != ncpu() {
		t.Errorf("decision %+v, %d stop-the-worlds: want the runtime in charge and no call", st.MaxProcs, st.StopTheWorlds)
	}
}

func TestNoLimitsTouchNothing(t *testing.T) {
	f := newFixture(t)
	debug.SetMemoryLimit(300 * mib) // a limit the program chose before Start
	tu := f.start(nil)
	st := tu.Status()
	if st.MaxProcs.Owner != OwnerRuntime || procs() != ncpu() || st.StopTheWorlds != 0 {
		t.Errorf("GOMAXPROCS %d, %+v: want the runtime's own value untouched", procs(), st.MaxProcs)
	}
	if memLimit() != 300*mib || st.MemoryLimit.Owner != OwnerNone || st.MemoryLimit.Value != 300*mib {
		t.Errorf("GOMEMLIMIT %d, %+v: want the program's 300 MiB left alone", memLimit(), st.MemoryLimit)
	}
	if !st.Running {
		t.Error("not following: a limit set later would be missed")
	}
	// A limit appearing later is followed, and given back when it goes.
	f.set("pod/ctr", "memory.max", "268435456")
	eventually(t, "a new memory limit to be followed", func() bool { return memLimit() == 224*mib })
	f.set("pod/ctr", "memory.max", "max")
	eventually(t, "the program's limit to come back", func() bool { return memLimit() == 300*mib })
}

func TestApplicationTakesOver(t *testing.T) {
	skipOneCPU(t)
	f := newFixture(t)
	f.set("pod/ctr", "cpu.max", "50000 100000")
	f.set("pod/ctr", "memory.max", "268435456")
	var logs bytes.Buffer // unused: f.start is Quiet, which wins over WithLogger
	tu := f.start(nil, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))

	debug.SetMemoryLimit(100 * mib)
	runtime.GOMAXPROCS(2)
	eventually(t, "the Tuner to step back", func() bool {
		st := tu.Status()
		return st.MemoryLimit.Owner == OwnerApplication && st.MaxProcs.Owner == OwnerApplication
	})
	f.set("pod/ctr", "memory.max", "134217728")
	f.set("pod/ctr", "cpu.max", "max 100000")
	time.Sleep(100 * time.Millisecond) // five intervals: the Tuner must not act
	if memLimit() != 100*mib || procs() != 2 {
		t.Errorf("GOMEMLIMIT %d, GOMAXPROCS %d: the application's settings were overwritten", memLimit(), procs())
	}
	st := tu.Status()
	if !strings.Contains(st.MemoryLimit.Source, "set by the application") || st.MemoryLimit.Value != 100*mib {
		t.Errorf("memory decision %+v", st.MemoryLimit)
	}
	if st.Running {
		t.Error("still running with both knobs taken over")
	}
	tu.Stop()
	if memLimit() != 100*mib || procs() != 2 {
		t.Errorf("Stop restored over the application's settings: GOMEMLIMIT %d, GOMAXPROCS %d", memLimit(), procs())
	}
}

func TestLogLines(t *testing.T) {
	skipOneCPU(t)
	f := newFixture(t)
	f.set("pod/ctr", "cpu.max", "50000 100000")
	f.set("pod/ctr", "memory.max", "268435456")
	var mu sync.Mutex
	var logs bytes.Buffer
	h := slog.NewTextHandler(lockedWriter{&mu, &logs}, nil)
	tu, err := Start(t.Context(), withGroup(f.group()), WithInterval(20*time.Millisecond), WithLogger(slog.New(h)),
		withEnv(map[string]string{"SNUG_GOMEMLIMIT_RATIO": "lots"}))
	if err != nil {
		t.Fatal(err)
	}
	defer tu.Stop()
	time.Sleep(200 * time.Millisecond) // ten quiet evaluations
	debug.SetMemoryLimit(100 * mib)
	eventually(t, "step back", func() bool { return tu.Status().MemoryLimit.Owner == OwnerApplication })
	time.Sleep(100 * time.Millisecond)
	tu.Stop()

	mu.Lock()
	out := logs.String()
	mu.Unlock()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 log lines (bad variable, start, step back), got %d:\n%s", len(lines), out)
	}
	if !strings.Contains(lines[0], "SNUG_GOMEMLIMIT_RATIO") || !strings.Contains(lines[0], "level=WARN") {
		t.Errorf("first line should warn about the bad variable: %s", lines[0])
	}
	if !strings.Contains(lines[1], "snug: tuned") || !strings.Contains(lines[1], "GOMAXPROCS 1:") ||
		!strings.Contains(lines[1], "GOMEMLIMIT 224 MiB") {
		t.Errorf("start line: %s (the bad ratio must fall back to 0.9 and the headroom rule)", lines[1])
	}
	if !strings.Contains(lines[2], "GOMEMLIMIT changed") || !strings.Contains(lines[2], "set by the application") {
		t.Errorf("step-back line: %s", lines[2])
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestEnvironment(t *testing.T) {
	skipOneCPU(t)
	cases := []struct {
		name      string
		env       map[string]string
		procs     int
		procOwner Owner
		mem       int64
		memOwner  Owner
	}{
		{"defaults", nil, 1, OwnerSnug, 224 * mib, OwnerSnug},
		{"GOMAXPROCS wins", map[string]string{"GOMAXPROCS": "2"}, 2, OwnerEnv, 224 * mib, OwnerSnug},
		{"SNUG_GOMAXPROCS=force", map[string]string{"GOMAXPROCS": "2", "SNUG_GOMAXPROCS": "force"}, 1, OwnerSnug, 224 * mib, OwnerSnug},
		{"GOMAXPROCS malformed", map[string]string{"GOMAXPROCS": "two"}, 1, OwnerSnug, 224 * mib, OwnerSnug},
		{"GOMEMLIMIT wins", map[string]string{"GOMEMLIMIT": "100MiB"}, 1, OwnerSnug, -1, OwnerEnv},
		{"SNUG_GOMEMLIMIT=force", map[string]string{"GOMEMLIMIT": "100MiB", "SNUG_GOMEMLIMIT": "force"}, 1, OwnerSnug, 224 * mib, OwnerSnug},
		{"SNUG=off", map[string]string{"SNUG": "off"}, 2, OwnerOff, -1, OwnerOff},
		{"SNUG_GOMAXPROCS=off", map[string]string{"SNUG_GOMAXPROCS": "off"}, 2, OwnerOff, 224 * mib, OwnerSnug},
		{"SNUG_GOMEMLIMIT=off", map[string]string{"SNUG_GOMEMLIMIT": "off"}, 1, OwnerSnug, -1, OwnerOff},
		{"policy runtime", map[string]string{"SNUG_GOMAXPROCS_POLICY": "runtime"}, 2, OwnerRuntime, 224 * mib, OwnerSnug},
		{"policy ceil", map[string]string{"SNUG_GOMAXPROCS_POLICY": "CEIL"}, 1, OwnerSnug, 224 * mib, OwnerSnug},
		{"policy bad", map[string]string{"SNUG_GOMAXPROCS_POLICY": "fastest"}, 1, OwnerSnug, 224 * mib, OwnerSnug},
		{"min 2", map[string]string{"SNUG_GOMAXPROCS_MIN": "2"}, 2, OwnerRuntime, 224 * mib, OwnerSnug},
		{"ratio and headroom", map[string]string{"SNUG_GOMEMLIMIT_RATIO": "0.5", "SNUG_GOMEMLIMIT_HEADROOM": "0"}, 1, OwnerSnug, 128 * mib, OwnerSnug},
		{"headroom 64MiB", map[string]string{"SNUG_GOMEMLIMIT_HEADROOM": "64MiB"}, 1, OwnerSnug, 192 * mib, OwnerSnug},
		{"bad headroom", map[string]string{"SNUG_GOMEMLIMIT_HEADROOM": "-5"}, 1, OwnerSnug, 224 * mib, OwnerSnug},
		{"bad SNUG stays on", map[string]string{"SNUG": "maybe"}, 1, OwnerSnug, 224 * mib, OwnerSnug},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.set("pod/ctr", "cpu.max", "50000 100000")
			f.set("pod/ctr", "memory.max", "268435456")
			startProcs, startMem := procs(), memLimit()
			if c.procs == 2 && c.procOwner != OwnerRuntime {
				c.procs = startProcs // the value found is kept
			}
			if c.mem == -1 {
				c.mem = startMem
			}
			tu := f.start(c.env)
			st := tu.Status()
			if procs() != c.procs || st.MaxProcs.Owner != c.procOwner || st.MaxProcs.Value != int64(c.procs) {
				t.Errorf("GOMAXPROCS %d %+v, want %d owned by %s", procs(), st.MaxProcs, c.procs, c.procOwner)
			}
			if memLimit() != c.mem || st.MemoryLimit.Owner != c.memOwner {
				t.Errorf("GOMEMLIMIT %d %+v, want %d owned by %s", memLimit(), st.MemoryLimit, c.mem, c.memOwner)
			}
		})
	}
}

func TestEnvWarnings(t *testing.T) {
	c := defaultConfig()
	c.getenv = func(k string) string {
		return map[string]string{
			"SNUG": "maybe", "SNUG_LOG": "loud", "SNUG_GOMAXPROCS": "yes", "SNUG_GOMEMLIMIT": "always",
			"SNUG_GOMAXPROCS_POLICY": "x", "SNUG_GOMAXPROCS_MIN": "0", "SNUG_GOMAXPROCS_MAX": "1.5",
			"SNUG_GOMAXPROCS_RESERVE": "-1", "SNUG_GOMEMLIMIT_RATIO": "1.5", "SNUG_GOMEMLIMIT_HEADROOM": "1.5GiB",
			"SNUG_INTERVAL": "1ms", "GOMAXPROCS": "0",
		}[k]
	}
	e := c.applyEnv()
	if len(e.warnings) != 12 {
		t.Errorf("%d warnings, want one per bad variable (12):\n%s", len(e.warnings), strings.Join(e.warnings, "\n"))
	}
	want := defaultConfig()
	if c.procs != want.procs || c.memory != want.memory || c.interval != want.interval || c.quiet {
		t.Errorf("bad values changed the configuration: %+v", c)
	}
	if e.off || e.procsMode != modeAuto || e.memMode != modeAuto || e.maxProcsEnv != 0 {
		t.Errorf("bad values changed the modes: %+v", e)
	}
	for _, w := range e.warnings {
		if !strings.Contains(w, "want ") && !strings.Contains(w, "ignore") {
			t.Errorf("warning does not say what is accepted: %s", w)
		}
	}

	c = defaultConfig()
	c.getenv = func(k string) string {
		return map[string]string{"SNUG_GOMAXPROCS_MIN": "4", "SNUG_GOMAXPROCS_MAX": "2"}[k]
	}
	if e := c.applyEnv(); len(e.warnings) != 1 || c.procs.min != 0 || c.procs.max != 0 {
		t.Errorf("min above max: warnings %q, min %d max %d", e.warnings, c.procs.min, c.procs.max)
	}
}

func TestInvalidOptions(t *testing.T) {
	for _, o := range []Option{
		WithPolicy("fast"), WithMinProcs(0), WithMaxProcs(-1), WithReserveCPUs(math.NaN()),
		WithReserveCPUs(-1), WithMemoryRatio(0), WithMemoryRatio(1.1), WithMemoryHeadroom(-1),
		WithInterval(time.Millisecond),
	} {
		tu, err := Start(context.Background(), o, Quiet())
		if err == nil || tu != nil {
			tu.Stop()
			t.Errorf("an invalid option was accepted")
		} else if !strings.HasPrefix(err.Error(), "tune: With") {
			t.Errorf("error %q does not name the option", err)
		}
	}
}

func TestAlreadyStarted(t *testing.T) {
	f := newFixture(t)
	f.set("pod/ctr", "memory.max", "268435456")
	tu := f.start(nil)
	if _, err := Start(context.Background(), withGroup(f.group()), Quiet(), withEnv(nil)); !errors.Is(err, ErrAlreadyStarted) {
		t.Fatalf("second Start: %v, want ErrAlreadyStarted", err)
	}
	// SNUG=off starts nothing, so it does not conflict.
	off, err := Start(context.Background(), withEnv(map[string]string{"SNUG": "off"}), Quiet())
	if err != nil || off.Status().Running || off.Status().MaxProcs.Owner != OwnerOff {
		t.Errorf("SNUG=off Start: %v %+v", err, off.Status())
	}
	off.Stop()
	tu.Stop()
	tu2 := f.start(nil)
	if tu2.Status().MemoryLimit.Value != 224*mib {
		t.Errorf("a Start after Stop: %+v", tu2.Status().MemoryLimit)
	}
}

func TestStopIsCompleteAndIdempotent(t *testing.T) {
	skipOneCPU(t)
	f := newFixture(t)
	f.set("pod/ctr", "cpu.max", "50000 100000")
	f.set("pod/ctr", "memory.max", "268435456")
	base := stableGoroutines()
	limit := memLimit()
	for i := 0; i < 20; i++ {
		tu := f.start(nil)
		if i%2 == 0 {
			time.Sleep(30 * time.Millisecond)
		}
		var wg sync.WaitGroup
		for j := 0; j < 3; j++ {
			wg.Add(1)
			go func() { defer wg.Done(); tu.Stop(); _ = tu.Status() }()
		}
		wg.Wait()
		tu.Stop()
		if procs() != ncpu() || memLimit() != limit {
			t.Fatalf("round %d: after Stop GOMAXPROCS %d GOMEMLIMIT %d", i, procs(), memLimit())
		}
	}
	if n := stableGoroutines(); n > base {
		t.Errorf("%d goroutines after 20 Start/Stop, %d before", n, base)
	}
	var nilTuner *Tuner
	nilTuner.Stop()
	if nilTuner.Status().Running {
		t.Error("nil Tuner running")
	}
}

// stableGoroutines counts goroutines once the count stops moving (the
// testing package's own come and go).
func stableGoroutines() int {
	n := runtime.NumGoroutine()
	for i := 0; i < 50; i++ {
		time.Sleep(10 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			return n
		}
		n = m
	}
	return n
}

func TestContextCancelStops(t *testing.T) {
	f := newFixture(t)
	f.set("pod/ctr", "memory.max", "268435456")
	limit := memLimit()
	ctx, cancel := context.WithCancel(context.Background())
	tu, err := Start(ctx, withGroup(f.group()), WithInterval(20*time.Millisecond), Quiet(), withEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	eventually(t, "the Tuner to stop on cancel", func() bool { return !tu.Status().Running })
	if memLimit() != limit {
		t.Errorf("GOMEMLIMIT %d after the context ended, want it restored", memLimit())
	}
	tu.Stop()
}

func TestStopFromOnChange(t *testing.T) {
	f := newFixture(t)
	limit := memLimit()
	var self atomic.Pointer[Tuner]
	var once sync.Once
	stopped := make(chan struct{})
	tu := f.start(nil, OnChange(func(d Decision) {
		if d.Knob == GOMEMLIMIT && d.Owned {
			once.Do(func() { self.Load().Stop(); close(stopped) })
		}
	}))
	self.Store(tu)
	f.set("pod/ctr", "memory.max", "268435456")
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("OnChange never ran, or Stop inside it blocked")
	}
	eventually(t, "the loop to end after the callback", func() bool { return !tu.Status().Running })
	if memLimit() != limit {
		t.Errorf("GOMEMLIMIT %d: Stop from OnChange did not restore", memLimit())
	}
}

func TestOnChangePanicIsContained(t *testing.T) {
	f := newFixture(t)
	f.set("pod/ctr", "memory.max", "268435456")
	tu := f.start(nil, OnChange(func(Decision) { panic("boom") }))
	f.set("pod/ctr", "memory.max", "536870912")
	eventually(t, "the Tuner to keep working", func() bool { return memLimit() == 512*mib*9/10 })
	tu.Stop()
}

// A limit that flaps must not cost a stop-the-world per evaluation.
func TestHysteresis(t *testing.T) {
	skipOneCPU(t)
	f := newFixture(t)
	f.set("pod/ctr", "cpu.max", "50000 100000")
	tu := f.start(nil)
	if procs() != 1 {
		t.Fatalf("GOMAXPROCS %d at a 0.5 quota", procs())
	}
	atStart := tu.Status().StopTheWorlds
	// Each value holds 400 ms, long enough for a read and its confirmation
	// 200 ms later at a 20 ms interval: only the gap keeps the Tuner from
	// following all six.
	for i := 0; i < 6; i++ {
		v := "max 100000"
		if i%2 == 1 {
			v = "50000 100000"
		}
		f.set("pod/ctr", "cpu.max", v)
		time.Sleep(400 * time.Millisecond)
	}
	st := tu.Status()
	// The first flip may be followed (TestConfirmThenApply checks that a
	// change is), then the 5 s gap holds.
	if n := st.StopTheWorlds - atStart; n > 1 {
		t.Errorf("%d stop-the-worlds for 6 flips 400 ms apart (%d evaluations), want at most 1",
			n, st.Evaluations)
	}
}

func TestChangeGapGrowsOnFlaps(t *testing.T) {
	var k maxProcs
	k.gap = minChangeGap
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at            time.Duration
		before, after int
		gap           time.Duration
	}{
		{0, 1, 2, minChangeGap},                    // first change
		{6 * time.Second, 2, 1, 2 * minChangeGap},  // back within a minute: a flap
		{17 * time.Second, 1, 2, 4 * minChangeGap}, // and again
		{38 * time.Second, 2, 3, 4 * minChangeGap}, // a new value: no flap, the gap stays
		{59 * time.Second, 3, 2, 8 * minChangeGap}, // back to 2
		{100 * time.Second, 2, 3, 12 * minChangeGap},
		{170 * time.Second, 3, 2, minChangeGap}, // after a calm minute: reset
	}
	for _, s := range steps {
		k.noteChange(t0.Add(s.at), s.before, s.after)
		if k.gap != min(s.gap, maxChangeGap) {
			t.Errorf("after %d→%d at %v: gap %v, want %v", s.before, s.after, s.at, k.gap, min(s.gap, maxChangeGap))
		}
	}
}

// A single change is confirmed by a second read and then applied.
func TestConfirmThenApply(t *testing.T) {
	skipOneCPU(t)
	f := newFixture(t)
	tu := f.start(nil)
	f.set("pod/ctr", "cpu.max", "50000 100000")
	eventually(t, "GOMAXPROCS 1", func() bool { return procs() == 1 })
	st := tu.Status()
	if st.StopTheWorlds != 1 || st.MaxProcs.Previous != int64(ncpu()) {
		t.Errorf("status %+v", st)
	}
}

type fakeLowerer struct{ by int64 }

func (f fakeLowerer) lowerMemoryLimit(target int64, l cgroup.Limits) (int64, string) {
	return target - f.by, "fake watchdog"
}

// The memory-limit hook the GC watchdog will use goes through the same
// owner: the lowered value is set, named in the Source, floored, and
// restored on Stop.
func TestMemoryLowererHook(t *testing.T) {
	restoreRuntime(t)
	limit := memLimit()
	for _, c := range []struct {
		by, want int64
	}{{50 * mib, 174 * mib}, {-10 * mib, 224 * mib}, {1 << 40, MinMemoryLimit}} {
		k := memoryLimit{cfg: memoryConfig{ratio: 0.9, headroom: 32 * mib}, lower: fakeLowerer{c.by}}
		l := cgroup.Limits{MemoryMax: 256 * mib, MemoryMaxSource: cgroup.Source{File: "memory.max", Cgroup: "/pod/ctr", Value: "268435456"}}
		k.start(time.Now(), l, "", "")
		if memLimit() != c.want || k.d.Value != c.want {
			t.Errorf("lowered by %d: GOMEMLIMIT %d, want %d", c.by, memLimit(), c.want)
		}
		if c.by > 0 && !strings.Contains(k.d.Source, "lowered: fake watchdog") {
			t.Errorf("source %q does not say who lowered it", k.d.Source)
		}
		k.stop(true)
		if memLimit() != limit {
			t.Errorf("not restored: %d", memLimit())
		}
	}
}

// While the limits hold still the Tuner never stops the world, as the
// runtime's own pause histogram shows.
func TestSteadyStateNoPauses(t *testing.T) {
	skipOneCPU(t)
	f := newFixture(t)
	f.set("pod", "cpu.max", "50000 100000")
	f.set("pod/ctr", "memory.max", "268435456")
	tu := f.start(nil)
	if !tu.Status().MaxProcs.Owned {
		t.Fatalf("snug should own GOMAXPROCS here: %+v", tu.Status().MaxProcs)
	}
	n0, _ := otherPauses()
	e0 := tu.Status().Evaluations
	time.Sleep(500 * time.Millisecond)
	n1, _ := otherPauses()
	st := tu.Status()
	if st.Evaluations-e0 < 10 {
		t.Fatalf("only %d evaluations in 500 ms at a 20 ms interval", st.Evaluations-e0)
	}
	if n1 != n0 {
		t.Errorf("%d stop-the-world pauses during %d steady evaluations", n1-n0, st.Evaluations-e0)
	}
}

func TestWithoutRestore(t *testing.T) {
	skipOneCPU(t)
	f := newFixture(t)
	f.set("pod/ctr", "cpu.max", "50000 100000")
	f.set("pod/ctr", "memory.max", "268435456")
	tu := f.start(nil, WithoutRestore())
	tu.Stop()
	if procs() != 1 || memLimit() != 224*mib {
		t.Errorf("after Stop with WithoutRestore: GOMAXPROCS %d GOMEMLIMIT %d, want 1 and 224 MiB kept", procs(), memLimit())
	}
}

func TestOptionsShapeDecisions(t *testing.T) {
	skipOneCPU(t)
	f := newFixture(t) // no limits at all
	before := memLimit()
	tu := f.start(nil, WithMaxProcs(1), WithoutMemoryLimit())
	st := tu.Status()
	if procs() != 1 || !st.MaxProcs.Owned || !strings.Contains(st.MaxProcs.Source, "max 1") {
		t.Errorf("WithMaxProcs(1) without a quota: GOMAXPROCS %d, %+v", procs(), st.MaxProcs)
	}
	if st.MemoryLimit.Owner != OwnerOff || memLimit() != before {
		t.Errorf("WithoutMemoryLimit: %+v", st.MemoryLimit)
	}
	tu.Stop()
	if procs() != ncpu() {
		t.Errorf("GOMAXPROCS %d after Stop, want the runtime's %d back", procs(), ncpu())
	}
}

// No cgroup at all (bare metal, a sandbox, another OS): nothing to follow,
// no goroutine, no runtime call.
func TestNoCgroup(t *testing.T) {
	restoreRuntime(t)
	base := stableGoroutines()
	limit := memLimit()
	noCgroup := func(c *config) {
		c.open = func(...cgroup.Option) (*cgroup.Group, error) {
			return nil, fmt.Errorf("open: %w", cgroup.ErrNoCgroup)
		}
	}
	tu, err := Start(context.Background(), noCgroup, Quiet(), withEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	st := tu.Status()
	if st.Running || st.StopTheWorlds != 0 || procs() != ncpu() || memLimit() != limit {
		t.Errorf("without cgroups: %+v, GOMAXPROCS %d", st, procs())
	}
	if st.MaxProcs.Owner != OwnerRuntime || st.MemoryLimit.Owner != OwnerNone ||
		!strings.Contains(st.MemoryLimit.Source, "no cgroup") || !errors.Is(st.Err, cgroup.ErrNoCgroup) {
		t.Errorf("decisions without cgroups: %+v / %+v / %v", st.MaxProcs, st.MemoryLimit, st.Err)
	}
	if n := stableGoroutines(); n > base {
		t.Errorf("%d goroutines with nothing to follow, %d before", n, base)
	}
	tu.Stop()
}

// A runtime.GOMAXPROCS or debug.SetMemoryLimit call the program makes
// between two evaluations is the program's setting too: Stop must not
// restore over it, though the Tuner has not seen it yet. The interval is
// an hour so that no evaluation runs before Stop.
func TestStopKeepsApplicationChangeNotYetSeen(t *testing.T) {
	skipOneCPU(t)
	f := newFixture(t)
	f.set("pod/ctr", "cpu.max", "50000 100000")
	f.set("pod/ctr", "memory.max", "268435456")
	tu := f.start(nil, WithInterval(time.Hour))
	if procs() != 1 || memLimit() != 224*mib {
		t.Fatalf("GOMAXPROCS %d GOMEMLIMIT %d at Start, want 1 and 224 MiB", procs(), memLimit())
	}
	// Neither value is one a restore would give: the runtime's default is
	// ncpu(), and the limit before Start is the test binary's.
	appProcs := ncpu() + 1
	runtime.GOMAXPROCS(appProcs)
	debug.SetMemoryLimit(100 * mib)
	tu.Stop()
	if procs() != appProcs {
		t.Errorf("GOMAXPROCS %d after Stop, want the application's %d kept", procs(), appProcs)
	}
	if memLimit() != 100*mib {
		t.Errorf("GOMEMLIMIT %d after Stop, want the application's 100 MiB kept", memLimit())
	}
}

// The same with the runtime in charge of GOMAXPROCS after Start replaced a
// value set before it (which Stop restores when nobody changed it since).
func TestStopKeepsApplicationChangeWhileRuntimeOwns(t *testing.T) {
	skipOneCPU(t)
	f := newFixture(t)
	runtime.GOMAXPROCS(1) // another package's init, say
	tu := f.start(nil, WithInterval(time.Hour))
	if st := tu.Status(); st.MaxProcs.Owner != OwnerRuntime || procs() != ncpu() {
		t.Fatalf("at Start: GOMAXPROCS %d owned by %s, want the runtime's %d", procs(), st.MaxProcs.Owner, ncpu())
	}
	appProcs := ncpu() + 1
	runtime.GOMAXPROCS(appProcs)
	tu.Stop()
	if procs() != appProcs {
		t.Errorf("GOMAXPROCS %d after Stop, want the application's %d kept", procs(), appProcs)
	}
}

// The warning for a bad SNUG_GOMAXPROCS_POLICY lists every policy it
// accepts, the default included.
func TestEnvPolicyWarningNamesEveryPolicy(t *testing.T) {
	c := defaultConfig()
	c.getenv = func(k string) string { return map[string]string{"SNUG_GOMAXPROCS_POLICY": "auto"}[k] }
	e := c.applyEnv()
	if len(e.warnings) != 1 {
		t.Fatalf("warnings %q, want one", e.warnings)
	}
	for _, p := range []Policy{PolicyAdaptive, PolicyFloor, PolicyRuntime, PolicyCeil} {
		if !strings.Contains(e.warnings[0], string(p)) {
			t.Errorf("warning %q does not name the %s policy", e.warnings[0], p)
		}
	}
}

// After Stop, Status says the Tuner no longer manages the knobs it
// managed (OwnerOff: "or is stopped") and gives the value in effect, not
// the one the Tuner had set before restoring: telemetry exports both.
func TestStatusAfterStop(t *testing.T) {
	skipOneCPU(t)
	f := newFixture(t)
	f.set("pod/ctr", "cpu.max", "50000 100000")
	f.set("pod/ctr", "memory.max", "268435456")
	before := memLimit()
	tu := f.start(nil)
	if st := tu.Status(); st.MaxProcs.Owner != OwnerSnug || st.MemoryLimit.Owner != OwnerSnug {
		t.Fatalf("owners at Start: %s, %s", st.MaxProcs.Owner, st.MemoryLimit.Owner)
	}
	tu.Stop()
	st := tu.Status()
	if st.MaxProcs.Owner != OwnerOff || st.MaxProcs.Owned || st.MaxProcs.Value != int64(procs()) {
		t.Errorf("GOMAXPROCS after Stop: %+v, want owner off and the value in effect %d", st.MaxProcs, procs())
	}
	if st.MemoryLimit.Owner != OwnerOff || st.MemoryLimit.Owned || st.MemoryLimit.Value != before {
		t.Errorf("GOMEMLIMIT after Stop: %+v, want owner off and the restored value %d", st.MemoryLimit, before)
	}
}

// WithMinProcs above WithMaxProcs is an invalid combination of options:
// Start says so, instead of a warning about SNUG_GOMAXPROCS_MIN and
// SNUG_GOMAXPROCS_MAX, which are not set, that claims both are ignored
// while the maximum applies.
func TestMinAboveMaxOptions(t *testing.T) {
	tu, err := Start(context.Background(), WithMinProcs(4), WithMaxProcs(2), Quiet(), withEnv(nil))
	if err == nil || tu != nil {
		tu.Stop()
		t.Fatal("WithMinProcs(4) with WithMaxProcs(2) accepted")
	}
	if !strings.Contains(err.Error(), "WithMinProcs(4)") || !strings.Contains(err.Error(), "WithMaxProcs(2)") {
		t.Errorf("error %q does not name the options", err)
	}
}

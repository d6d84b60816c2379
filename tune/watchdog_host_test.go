//go:build linux

package tune

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/snug-go/snug/internal/cgtest"
)

// The watchdog's host tests run testdata/watchdog, a program that only
// blank-imports snug (the watchdog configured by SNUG_* variables, as a
// deployed service gets it), inside real cgroups made under this test's
// own, and read its JSON reports (stdout) and the watchdog's events (its
// JSON log lines on stderr). The OOM kills are the kernel's.

// watchdogReport is one line of testdata/watchdog's output.
type watchdogReport struct {
	UnixNano        int64            `json:"unix_nano"`
	Phase           string           `json:"phase"`
	GOMEMLIMIT      int64            `json:"gomemlimit"`
	HeapLive        int64            `json:"heap_live"`
	GoHeld          int64            `json:"go_held"`
	WorkingSet      int64            `json:"working_set"`
	MemoryLimit     int64            `json:"memory_limit"`
	OutsideGo       int64            `json:"outside_go"`
	OutsideDeducted int64            `json:"outside_deducted"`
	GCCPU           float64          `json:"gc_cpu"`
	LongPauses      uint64           `json:"long_pauses"`
	FreeCalls       uint64           `json:"free_calls"`
	Freed           int64            `json:"freed"`
	Spiraling       bool             `json:"spiraling"`
	Reason          string           `json:"reason"`
	Probe           string           `json:"probe"`
	Events          map[string]int64 `json:"events"`
	Mapped          int64            `json:"mapped"`
}

func (r watchdogReport) time() time.Time { return time.Unix(0, r.UnixNano) }

// watchdogRun is testdata/watchdog running in a cgroup.
type watchdogRun struct {
	g       *cgtest.Group
	cmd     *exec.Cmd
	mu      sync.Mutex
	reports []watchdogReport
	events  []map[string]any // log lines with an "event" key
	stderr  lockedBuilder
	done    chan struct{}
	err     error // from Wait, once done is closed
}

func startWatchdogProgram(t testing.TB, g *cgtest.Group, env []string, args ...string) *watchdogRun {
	t.Helper()
	r := &watchdogRun{g: g, done: make(chan struct{})}
	r.cmd = g.Command(buildProgram(t, "testdata/watchdog"), args...)
	r.cmd.Env = cleanEnv(env...)
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := r.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var rep watchdogReport
			if json.Unmarshal(sc.Bytes(), &rep) == nil {
				r.mu.Lock()
				r.reports = append(r.reports, rep)
				r.mu.Unlock()
			}
		}
	}()
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			r.stderr.Write(append(sc.Bytes(), '\n'))
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil && line["event"] != nil {
				r.mu.Lock()
				r.events = append(r.events, line)
				r.mu.Unlock()
			}
		}
	}()
	go func() {
		readers.Wait()
		r.err = r.cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		r.cmd.Process.Kill()
		<-r.done
	})
	return r
}

// wait waits for the program to exit, at most limit.
func (r *watchdogRun) wait(t testing.TB, limit time.Duration) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(limit):
		r.cmd.Process.Kill()
		<-r.done
		t.Fatalf("the program did not end within %v; log:\n%s", limit, r.stderr.String())
	}
	return nil
}

// until polls the reports until cond holds for one, and returns it; it
// fails the test when the program ends first or limit passes.
func (r *watchdogRun) until(t testing.TB, what string, limit time.Duration, cond func(watchdogReport) bool) watchdogReport {
	t.Helper()
	deadline := time.Now().Add(limit)
	seen := 0
	for {
		r.mu.Lock()
		reps := r.reports[seen:]
		seen = len(r.reports)
		r.mu.Unlock()
		for _, rep := range reps {
			if cond(rep) {
				return rep
			}
		}
		select {
		case <-r.done:
			t.Fatalf("%s: the program ended first (%v); log:\n%s", what, r.err, r.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; log:\n%s", what, limit, r.stderr.String())
		}
	}
}

func (r *watchdogRun) eventsOf(kind EventKind) []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	for _, e := range r.events {
		if e["event"] == string(kind) {
			out = append(out, e)
		}
	}
	return out
}

func (r *watchdogRun) last() watchdogReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reports) == 0 {
		return watchdogReport{}
	}
	return r.reports[len(r.reports)-1]
}

// oomKills reads how many processes the kernel OOM-killed in g.
func oomKills(t testing.TB, g *cgtest.Group) int {
	t.Helper()
	file, key := "memory.oom_control", "oom_kill"
	if g.V2() {
		file = "memory.events"
	}
	data, err := os.ReadFile(filepath.Join(g.Dir("memory"), file))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

func killedBySignal(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// (1) A service bursts to 200 MiB of heap and drops it; no GC runs while
// it is quiet, so the runtime keeps the pages. Then 128 MiB of non-Go
// memory (anonymous mmap, touched) grows in 16 MiB steps 2 s apart, twice
// the watchdog's interval. With GOMEMLIMIT alone at 0.9 × the limit the
// runtime sees no reason to return anything and the kernel OOM-kills the
// process; with the watchdog it gives the heap back and survives. Both run
// at once, in cgroups of their own.
func TestHostWatchdogFreesBeforeOOM(t *testing.T) {
	requireHost(t)
	const limit = 256 * mib
	args := []string{"-mode=burst", fmt.Sprint("-burst=", 200*mib), fmt.Sprint("-mmap=", 120*mib),
		fmt.Sprint("-step=", 16*mib), "-pause=2s", "-for=26s", "-every=250ms"}
	control := cgtest.New(t, "snug-wd-control")
	control.SetMemory(limit)
	watched := cgtest.New(t, "snug-wd-watched")
	watched.SetMemory(limit)

	c := startWatchdogProgram(t, control, []string{"SNUG=off", fmt.Sprintf("GOMEMLIMIT=%d", limit*9/10)}, args...)
	w := startWatchdogProgram(t, watched, nil, args...)

	cerr := c.wait(t, 40*time.Second)
	werr := w.wait(t, 40*time.Second)

	cl, wl := c.last(), w.last()
	t.Logf("GOMEMLIMIT only (%s): %v after the %s phase with %s mmap'd; %d OOM kill(s)",
		formatBytes(limit*9/10), cerr, cl.Phase, formatBytes(cl.Mapped), oomKills(t, control))
	if !killedBySignal(cerr) || oomKills(t, control) != 1 || cl.Phase != "mmap" {
		t.Errorf("the control was not OOM-killed during the mmap growth: %v, phase %q, %d OOM kills; log:\n%s",
			cerr, cl.Phase, oomKills(t, control), c.stderr.String())
	}

	t.Logf("with the watchdog: %v, phase %q, %s mmap'd, working set %s, GOMEMLIMIT %s (%s deducted for %s outside Go)",
		werr, wl.Phase, formatBytes(wl.Mapped), formatBytes(wl.WorkingSet), formatBytes(wl.GOMEMLIMIT),
		formatBytes(wl.OutsideDeducted), formatBytes(wl.OutsideGo))
	if werr != nil || oomKills(t, watched) != 0 || wl.Phase != "done" || wl.Mapped < 120*mib {
		t.Fatalf("the watched program did not survive: %v, phase %q, %d OOM kills; log:\n%s",
			werr, wl.Phase, oomKills(t, watched), w.stderr.String())
	}
	frees := w.eventsOf(EventFreeOSMemory)
	if len(frees) != 1 || wl.FreeCalls != 1 {
		t.Fatalf("%d free-os-memory events, %d calls; want 1; log:\n%s", len(frees), wl.FreeCalls, w.stderr.String())
	}
	freed, _ := frees[0]["freed"].(float64)
	took, _ := frees[0]["took"].(float64)
	t.Logf("event: %s", frees[0]["msg"])
	if freed < 150*mib {
		t.Errorf("FreeOSMemory returned %s, want most of the 200 MiB burst", formatBytes(int64(freed)))
	}
	t.Logf("FreeOSMemory returned %s in %v", formatBytes(int64(freed)), time.Duration(took).Round(time.Millisecond))
	if wl.OutsideDeducted < 100*mib || wl.GOMEMLIMIT > 224*mib-100*mib {
		t.Errorf("GOMEMLIMIT %s with %s deducted, want it lowered by the ~128 MiB outside Go", formatBytes(wl.GOMEMLIMIT), formatBytes(wl.OutsideDeducted))
	}
}

// Page cache is not memory outside Go: a program that reads a 200 MiB file
// over and over in a 256 MiB cgroup fills it with page cache (which the
// kernel reclaims as it needs), and GOMEMLIMIT must stay where the limit
// puts it, not shrink the heap for it.
func TestHostWatchdogPageCacheKeepsLimit(t *testing.T) {
	requireHost(t)
	dir := t.TempDir()
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil || fs.Type == 0x01021994 {
		t.Skip("the temporary directory is on tmpfs, whose pages are shared memory, not page cache")
	}
	g := cgtest.New(t, "snug-wd-file")
	g.SetMemory(256 * mib)
	r := startWatchdogProgram(t, g, nil, "-mode=file", "-file="+filepath.Join(dir, "data"),
		fmt.Sprint("-filesize=", 200*mib), fmt.Sprint("-live=", 32*mib), "-for=8s", "-every=250ms")
	if err := r.wait(t, 30*time.Second); err != nil {
		t.Fatalf("%v; log:\n%s", err, r.stderr.String())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var maxWS int64
	for _, rep := range r.reports {
		if rep.GOMEMLIMIT != 224*mib || rep.OutsideDeducted != 0 {
			t.Fatalf("GOMEMLIMIT %s (%s deducted) while reading a file; log:\n%s",
				formatBytes(rep.GOMEMLIMIT), formatBytes(rep.OutsideDeducted), r.stderr.String())
		}
		maxWS = max(maxWS, rep.WorkingSet)
	}
	t.Logf("working set up to %s of 256 MiB with page cache; GOMEMLIMIT stayed 224 MiB; %d FreeOSMemory call(s)",
		formatBytes(maxWS), r.reports[len(r.reports)-1].FreeCalls)
	if maxWS < 200*mib {
		t.Errorf("the working set reached only %s: the page cache did not fill the cgroup, so the test proves nothing", formatBytes(maxWS))
	}
}

// (2) A slow leak under GOMEMLIMIT: the live heap creeps toward the limit,
// the GC runs ever more often, and the program does little else. The
// watchdog must call it a death spiral, and the liveness check of package
// probe fail with it, within the spiral window (5 s here) plus two
// intervals of the moment the live heap reached 80% of GOMEMLIMIT and
// stayed there, and before the kernel kills the process.
func TestHostWatchdogDeathSpiral(t *testing.T) {
	requireHost(t)
	g := cgtest.New(t, "snug-wd-spiral")
	g.SetMemory(256 * mib)
	const window, interval = 5 * time.Second, 500 * time.Millisecond
	r := startWatchdogProgram(t, g, []string{"SNUG_WATCHDOG_SPIRAL_WINDOW=" + window.String(), "SNUG_INTERVAL=" + interval.String()},
		"-mode=leak", fmt.Sprint("-live=", 150*mib), fmt.Sprint("-rate=", 1*mib), fmt.Sprint("-churn=", 100*mib),
		"-for=60s", "-every=100ms")
	spiral := r.until(t, "a death spiral", 55*time.Second, func(rep watchdogReport) bool { return rep.Spiraling })
	// When the live heap reached 80% of GOMEMLIMIT for good: the first
	// report of the run of reports at or over it that ends at the spiral.
	r.mu.Lock()
	var near time.Time
	for _, rep := range r.reports {
		if rep.UnixNano > spiral.UnixNano {
			break
		}
		switch {
		case float64(rep.HeapLive) < 0.8*float64(rep.GOMEMLIMIT):
			near = time.Time{}
		case near.IsZero():
			near = rep.time()
		}
	}
	r.mu.Unlock()
	if near.IsZero() {
		// The other way to be at the limit: the GC CPU limiter engaged
		// before the live heap reached 80%. Then the bound runs from the
		// first report of the window that ended in the spiral.
		if !strings.Contains(spiral.Reason, "limiter engaged") {
			t.Fatalf("spiral without the live heap at 80%% of GOMEMLIMIT or the GC CPU limiter: %+v", spiral)
		}
		near = spiral.time().Add(-window)
	}
	// The bound: the window, an interval for the sample that completes it,
	// another for the report, and a second for the runtime's lag in
	// updating its live heap and CPU counts (at the end of each GC cycle).
	// The spiral may come sooner: the heap is also at its limit while the
	// GC CPU limiter engages, which it can do before the live heap reaches
	// 80%.
	bound := window + 2*interval + time.Second
	took := spiral.time().Sub(near)
	var leakStart time.Time
	r.mu.Lock()
	for _, rep := range r.reports {
		if rep.Phase == "leak" {
			leakStart = rep.time()
			break
		}
	}
	r.mu.Unlock()
	t.Logf("leak start to death spiral %v; live heap at 80%% of GOMEMLIMIT %s to death spiral %v (bound %v); %q",
		spiral.time().Sub(leakStart).Round(10*time.Millisecond), formatBytes(spiral.GOMEMLIMIT),
		took.Round(10*time.Millisecond), bound, spiral.Reason)
	if took > bound {
		t.Errorf("the spiral took %v to be seen, over the bound of %v", took, bound)
	}
	if spiral.Probe == "" || !strings.Contains(spiral.Probe, "GC death spiral") {
		t.Errorf("the liveness check did not fail with the spiral: %q", spiral.Probe)
	}
	if evs := r.eventsOf(EventDeathSpiral); len(evs) != 1 {
		t.Errorf("%d death-spiral events, want 1; log:\n%s", len(evs), r.stderr.String())
	}
	if spiral.GCCPU < DefaultSpiralShare {
		t.Errorf("GC share %.2f at the spiral", spiral.GCCPU)
	}
}

// (3) GOMAXPROCS 2 under a 0.2-CPU quota and a GC-heavy workload: the
// process burns its quota early in each 100 ms period and a stop-the-world
// pause that overlaps the throttled rest lasts tens of milliseconds. One
// long-pause event names throttling (later ones within the minute are
// counted, not delivered), and the flight recorder writes one trace.
func TestHostWatchdogThrottledPause(t *testing.T) {
	requireHost(t)
	g := cgtest.New(t, "snug-wd-pause")
	g.SetCPU(0.2)
	dir := t.TempDir()
	r := startWatchdogProgram(t, g, []string{"GOMAXPROCS=2", "SNUG_WATCHDOG_SNAPSHOTS=trace", "SNUG_WATCHDOG_SNAPSHOT_DIR=" + dir},
		"-mode=gc", fmt.Sprint("-live=", 32*mib), "-workers=2", "-for=20s", "-every=250ms")
	first := r.until(t, "a long pause", 18*time.Second, func(rep watchdogReport) bool { return rep.LongPauses > 0 })
	time.Sleep(3 * time.Second) // more long pauses, which must not make more events
	r.cmd.Process.Kill()
	<-r.done
	last := r.last()
	evs := r.eventsOf(EventLongPause)
	if len(evs) != 1 {
		t.Fatalf("%d long-pause events, want 1; log:\n%s", len(evs), r.stderr.String())
	}
	e := evs[0]
	msg, _ := e["msg"].(string)
	t.Logf("event: %s", msg)
	t.Logf("%d long pauses counted by the end, %d events", last.LongPauses, len(evs))
	if !strings.Contains(msg, "pause overlapped CPU throttling: GOMAXPROCS 2 > quota 0.2") {
		t.Errorf("the event does not name throttling: %q", msg)
	}
	if th, _ := e["throttled_periods"].(float64); th < 1 {
		t.Errorf("no throttled periods in the event: %v", e)
	}
	if p, _ := e["pause"].(float64); time.Duration(p) < DefaultLongPause*8/10 {
		t.Errorf("pause %v in the event", time.Duration(p))
	}
	path, _ := e["snapshot"].(string)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() == 0 || filepath.Dir(path) != dir {
		t.Fatalf("snapshot %q: %v %v; event %v", path, fi, err, e)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "go 1.") {
		t.Errorf("the snapshot is not an execution trace: starts with %q", data[:min(16, len(data))])
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%d files in the snapshot directory, want 1", len(entries))
	}
	t.Logf("flight recorder trace: %s, %s", filepath.Base(path), formatBytes(fi.Size()))
	_ = first
}

// BenchmarkHostWatchdogAtLimit is the experiment behind
// DefaultFreeOSMemoryAt and DefaultSpiralShare: a healthy program holding
// a live heap of small pointerful objects and making 100 MiB/s of garbage
// (200 MiB/s in the 1 GiB case) under a real memory limit, with
// GOMEMLIMIT from snug and FreeOSMemory off. It reports the highest and
// median working set as a share of the limit (the FreeOSMemory threshold
// must sit above what a healthy program reaches) and the GC's share of the
// CPU (what a death spiral must exceed). Run it alone:
//
//	go test -run '^$' -bench HostWatchdogAtLimit -benchtime 1x ./tune
func BenchmarkHostWatchdogAtLimit(b *testing.B) {
	if testing.Short() {
		b.Skip("runs programs for seconds each")
	}
	cgtest.Require(b)
	cases := []struct {
		limit, live, churn int64
	}{
		{256 * mib, 100 * mib, 100 * mib},
		{256 * mib, 150 * mib, 100 * mib},
		{256 * mib, 180 * mib, 100 * mib},
		{1024 * mib, 600 * mib, 200 * mib},
	}
	for _, c := range cases {
		b.Run(fmt.Sprintf("limit=%s/live=%s", strings.ReplaceAll(formatBytes(c.limit), " ", ""),
			strings.ReplaceAll(formatBytes(c.live), " ", "")), func(b *testing.B) {
			for b.Loop() {
				g := cgtest.New(b, "snug-wd-exp")
				g.SetMemory(c.limit)
				r := startWatchdogProgram(b, g, []string{"SNUG_WATCHDOG_FREE=off"}, "-mode=steady",
					fmt.Sprint("-live=", c.live), fmt.Sprint("-churn=", c.churn), "-for=15s", "-every=250ms")
				// A heap this close to its limit may be OOM-killed (the GC
				// CPU limiter lets it pass GOMEMLIMIT): that is a result too.
				err := r.wait(b, 40*time.Second)
				ooms := oomKills(b, g)
				if err != nil && ooms == 0 {
					b.Fatalf("%v; log:\n%s", err, r.stderr.String())
				}
				b.ReportMetric(float64(ooms), "oom-kills")
				var ws, gc []float64
				r.mu.Lock()
				for _, rep := range r.reports {
					if rep.Phase == "steady" && rep.MemoryLimit > 0 {
						ws = append(ws, float64(rep.WorkingSet)/float64(rep.MemoryLimit))
						gc = append(gc, rep.GCCPU)
					}
				}
				r.mu.Unlock()
				if len(ws) == 0 {
					continue // killed before it settled
				}
				slices.Sort(ws)
				slices.Sort(gc)
				b.ReportMetric(ws[len(ws)-1], "ws/limit-max")
				b.ReportMetric(ws[len(ws)/2], "ws/limit-median")
				b.ReportMetric(gc[len(gc)/2], "gc-cpu-median")
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}

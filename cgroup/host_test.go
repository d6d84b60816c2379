//go:build linux

package cgroup_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/snug-go/snug/cgroup"
	"github.com/snug-go/snug/internal/cgtest"
)

// These tests run against the host's real cgroups: they make child cgroups
// under the test process's own, run this test binary inside them as a child
// process (TestMain's report mode), and compare what it reports with what
// was set.

type report struct {
	Limits   cgroup.Limits
	Stats    cgroup.Stats
	LimitErr string
	StatErr  string
	Paths    map[string]string
	// Permission: the Limits error unwraps to fs.ErrPermission.
	Permission bool
	// NsfsFirst: an nsfs line preceded the cgroup2 line in mountinfo.
	NsfsFirst bool
	// What MemoryLimitCurrent returned after Stats.
	LimitCurrent       int64
	LimitCurrentCgroup string
	LimitCurrentErr    string
}

const reportEnv = "SNUG_CGROUP_REPORT"

func TestMain(m *testing.M) {
	if mib, err := strconv.Atoi(os.Getenv("SNUG_HOG_MIB")); err == nil {
		keep := hog(mib)
		if os.Getenv("SNUG_HOG_HOLD") == "1" {
			// Hold the memory until the test closes our stdin.
			io.Copy(io.Discard, os.Stdin)
		}
		runtime.KeepAlive(keep)
		os.Exit(0)
	}
	if os.Getenv(reportEnv) == "1" {
		// Child mode: report what Open, Limits and Stats see, then exit.
		var r report
		if stack := os.Getenv("SNUG_REPORT_STACK"); stack != "" {
			if err := stackMount(stack); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
		}
		if os.Getenv("SNUG_REPORT_REMOUNT") == "1" {
			if err := remountInNamespace(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			r.NsfsFirst = nsfsFirst()
		}
		var opts []cgroup.Option
		if root := os.Getenv("SNUG_REPORT_ROOT"); root != "" {
			opts = append(opts, cgroup.WithRoot(root))
		}
		g, err := cgroup.Open(opts...)
		if err != nil {
			r.LimitErr = err.Error()
		} else {
			r.Paths = g.Paths()
			if os.Getenv("SNUG_REPORT_BURN") == "1" {
				burn(300*time.Millisecond, g)
			}
			var err error
			r.Limits, err = g.Limits()
			if err != nil {
				r.LimitErr = err.Error()
				r.Permission = errors.Is(err, fs.ErrPermission)
			}
			r.Stats, err = g.Stats()
			if err != nil {
				r.StatErr = err.Error()
			}
			r.LimitCurrent, r.LimitCurrentCgroup, err = g.MemoryLimitCurrent()
			if err != nil {
				r.LimitCurrentErr = err.Error()
			}
		}
		json.NewEncoder(os.Stdout).Encode(r)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// burn spins on both CPUs until the process has used d of CPU time and g's
// Stats show a throttled period (or 10 s have passed), then idles for two
// periods: the kernel adds to throttled_time when it lifts a throttle, so
// a read taken while still throttled can show throttled periods with no
// time yet. Spinning for a wall-clock while is not enough on a machine
// busy with other cgroups: the cgroup's fair share can stay under its
// quota, and nothing is throttled. A Stats that never shows throttling
// only makes burn take its 10 s; the tests' own checks then fail.
func burn(d time.Duration, g *cgroup.Group) {
	defer time.Sleep(200 * time.Millisecond)
	start := cpuTime()
	var stop atomic.Bool
	done := make(chan struct{})
	for i := 0; i < 2; i++ {
		go func() {
			for !stop.Load() {
			}
			done <- struct{}{}
		}()
	}
	throttled := func() bool { s, err := g.Stats(); return err == nil && s.ThrottledPeriods > 0 }
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		if cpuTime()-start >= d && throttled() {
			break
		}
	}
	stop.Store(true)
	<-done
	<-done
}

// cpuTime is the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runReport runs this test binary in g and decodes its report.
func runReport(t *testing.T, g *cgtest.Group, env ...string) report {
	t.Helper()
	cmd := g.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), reportEnv+"=1"), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	return decodeReport(t, out)
}

func decodeReport(t *testing.T, out []byte) report {
	t.Helper()
	var r report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("child output: %v\n%s", err, out)
	}
	return r
}

func TestHostLeafLimits(t *testing.T) {
	g := cgtest.New(t, "snug-leaf")
	g.SetCPU(0.5)
	g.SetMemory(256 << 20)
	g.Write("pids", "pids.max", "321")
	r := runReport(t, g, "SNUG_REPORT_BURN=1")
	if r.LimitErr != "" || r.StatErr != "" {
		t.Fatalf("errors: limits %q stats %q", r.LimitErr, r.StatErr)
	}
	l := r.Limits
	if l.CPU != 0.5 {
		t.Errorf("CPU = %v, want 0.5 (source %v)", l.CPU, l.CPUSource)
	}
	if l.CPUSource.Ancestor || l.CPUSource.Cgroup != g.Cgroup["cpu"] {
		t.Errorf("CPU source = %+v, want own cgroup %s", l.CPUSource, g.Cgroup["cpu"])
	}
	if l.MemoryMax != 256<<20 {
		t.Errorf("MemoryMax = %d, want %d (source %v)", l.MemoryMax, 256<<20, l.MemoryMaxSource)
	}
	if l.PidsMax != 321 {
		t.Errorf("PidsMax = %d, want 321", l.PidsMax)
	}
	if l.CPUs < 1 {
		t.Errorf("CPUs = %d", l.CPUs)
	}
	s := r.Stats
	if s.MemoryCurrent <= 0 || s.WorkingSet <= 0 || s.WorkingSet > s.MemoryCurrent || s.Anon <= 0 {
		t.Errorf("memory stats implausible: %+v", s)
	}
	if s.CPUUsage < 100*time.Millisecond {
		t.Errorf("CPUUsage = %v after burning 300 ms of CPU", s.CPUUsage)
	}
	// nr_throttled counts every throttle; on kernels with task-based
	// throttling (6.18 here) throttled_time only grows when a task was
	// actually held back, so it can stay 0 for a short burst. Its parsing
	// is covered by the fixtures and, against containerd, in the VM.
	if s.Periods == 0 || s.ThrottledPeriods == 0 {
		t.Errorf("no throttling seen under a 0.5 CPU quota: periods %d throttled %d (%v)",
			s.Periods, s.ThrottledPeriods, s.ThrottledTime)
	}
}

func TestHostAncestorTighter(t *testing.T) {
	parent := cgtest.New(t, "snug-parent")
	child := parent.Child("leaf")
	parent.SetCPU(0.25)
	if child.V2() {
		// v1 refuses a child quota above its parent's (EINVAL); there the
		// case the leaf-only readers miss is a child with no quota at all.
		child.SetCPU(1.5)
	}
	parent.SetMemory(128 << 20)
	child.SetMemory(512 << 20)
	r := runReport(t, child, "SNUG_REPORT_BURN=1")
	if r.LimitErr != "" {
		t.Fatal(r.LimitErr)
	}
	// The kernel counts the throttling in the parent, whose quota ran out;
	// the child's own counters stay 0. Stats reads them where the quota is.
	if s := r.Stats; s.CFSCgroup != parent.Cgroup["cpu"] || s.Periods == 0 || s.ThrottledPeriods == 0 {
		t.Errorf("CFS counters %d periods, %d throttled, from %q: want the parent's (%s), throttled under 0.25 CPU",
			s.Periods, s.ThrottledPeriods, s.CFSCgroup, parent.Cgroup["cpu"])
	}
	l := r.Limits
	if l.CPU != 0.25 || !l.CPUSource.Ancestor || l.CPUSource.Cgroup != parent.Cgroup["cpu"] {
		t.Errorf("CPU = %v from %+v, want 0.25 from ancestor %s", l.CPU, l.CPUSource, parent.Cgroup["cpu"])
	}
	if !strings.Contains(l.CPUSource.String(), "(ancestor)") {
		t.Errorf("source string %q does not say ancestor", l.CPUSource)
	}
	if l.MemoryMax != 128<<20 {
		t.Errorf("MemoryMax = %d from %v, want parent's %d", l.MemoryMax, l.MemoryMaxSource, 128<<20)
	}
}

// Under a parent's memory limit the kernel compares the parent's usage,
// a sibling's included, with it: Stats reports that usage beside the
// process's own.
func TestHostAncestorMemoryUsage(t *testing.T) {
	parent := cgtest.New(t, "snug-podmem")
	child := parent.Child("leaf")
	sibling := parent.Child("sibling")
	parent.SetMemory(256 << 20)

	const hogMiB = 64
	hog := sibling.Command(os.Args[0], "-test.run=^$")
	hog.Env = append(os.Environ(), fmt.Sprintf("SNUG_HOG_MIB=%d", hogMiB), "SNUG_HOG_HOLD=1")
	stdin, err := hog.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := hog.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := hog.Start(); err != nil {
		t.Fatal(err)
	}
	defer hog.Wait()
	defer stdin.Close()
	if _, err := fmt.Fscanln(stdout, new(int)); err != nil { // hog prints once it holds the memory
		t.Fatalf("sibling: %v", err)
	}

	r := runReport(t, child)
	if r.LimitErr != "" || r.StatErr != "" {
		t.Fatal(r.LimitErr, r.StatErr)
	}
	s := r.Stats
	if r.Limits.MemoryMax != 256<<20 || s.MemoryLimitCgroup != parent.Cgroup["memory"] || !s.HasMemoryLimitUsage {
		t.Fatalf("limit %d from %v; usage against it from %q (has %v): want the parent's", r.Limits.MemoryMax, r.Limits.MemoryMaxSource, s.MemoryLimitCgroup, s.HasMemoryLimitUsage)
	}
	// The parent holds the sibling's hog and the child's own usage.
	if s.MemoryLimitCurrent < s.MemoryCurrent+hogMiB<<20 || s.MemoryLimitWorkingSet < s.WorkingSet+hogMiB<<20*9/10 {
		t.Errorf("parent usage %d (working set %d), own %d (%d): want the sibling's %d MiB on top of the child's",
			s.MemoryLimitCurrent, s.MemoryLimitWorkingSet, s.MemoryCurrent, s.WorkingSet, hogMiB)
	}
	if s.MemoryLimitCurrent > 256<<20 || s.MemoryCurrent > 128<<20 {
		t.Errorf("implausible usage: parent %d, own %d", s.MemoryLimitCurrent, s.MemoryCurrent)
	}
	// The one-file read gives the same cgroup's usage (the child's own
	// moves a little between the two reads).
	if d := r.LimitCurrent - s.MemoryLimitCurrent; r.LimitCurrentErr != "" || r.LimitCurrentCgroup != parent.Cgroup["memory"] || d < -4<<20 || d > 4<<20 {
		t.Errorf("MemoryLimitCurrent = %d, %q, %s; want about the parent's %d", r.LimitCurrent, r.LimitCurrentCgroup, r.LimitCurrentErr, s.MemoryLimitCurrent)
	}
}

// The next Limits call sees a limit changed while the process runs.
func TestHostLiveChange(t *testing.T) {
	g := cgtest.New(t, "snug-live")
	g.SetMemory(300 << 20)
	// In-process: move a child that waits for a signal on stdin? Simpler and
	// just as real: read Limits twice through a Group opened on a view whose
	// own cgroup is g, by running two reports around the change.
	r1 := runReport(t, g)
	g.SetMemory(200 << 20)
	g.SetCPU(1.25)
	r2 := runReport(t, g)
	if r1.Limits.MemoryMax != 300<<20 || r2.Limits.MemoryMax != 200<<20 || r2.Limits.CPU != 1.25 {
		t.Errorf("before %d, after %d / %v", r1.Limits.MemoryMax, r2.Limits.MemoryMax, r2.Limits.CPU)
	}
}

// A container's own cgroup bind-mounted over the whole hierarchy, stacked at
// the same mount point (as a runtime or an operator may do to hide the
// host's tree): the process's mountinfo then has two lines for the memory
// hierarchy at one mount point, and only the top one is reachable. The
// child runs in a mount namespace of its own, so the host's mounts are
// untouched.
func TestHostStackedMount(t *testing.T) {
	g := cgtest.New(t, "snug-stack")
	g.SetMemory(256 << 20)
	dir, cg := g.Dir("memory"), g.Cgroup["memory"]
	mountPoint := strings.TrimSuffix(dir, cg)
	if mountPoint == dir || mountPoint == "" {
		t.Fatalf("cannot tell the memory mount point from %s and %s", dir, cg)
	}
	cmd := g.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), reportEnv+"=1", "SNUG_REPORT_STACK="+dir+":"+mountPoint)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	r := decodeReport(t, out)
	if r.Paths["memory"] != mountPoint {
		t.Errorf("memory at %q, want the stacked mount's %q", r.Paths["memory"], mountPoint)
	}
	l := r.Limits
	if l.MemoryMax != 256<<20 || l.MemoryMaxSource.Cgroup != cg {
		t.Errorf("MemoryMax = %d from %+v, want 256 MiB from %s", l.MemoryMax, l.MemoryMaxSource, cg)
	}
	if r.Stats.MemoryCurrent <= 0 {
		t.Errorf("MemoryCurrent = %d through the stacked mount (stats error %q)", r.Stats.MemoryCurrent, r.StatErr)
	}
}

// stackMount is the child side of TestHostStackedMount: "SRC:TARGET" binds
// the cgroup directory SRC over the hierarchy's mount point TARGET, in the
// child's private mount namespace.
func stackMount(spec string) error {
	src, target, ok := strings.Cut(spec, ":")
	if !ok {
		return fmt.Errorf("bad SNUG_REPORT_STACK %q", spec)
	}
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := syscall.Mount(src, target, "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s over %s: %w", src, target, err)
	}
	return nil
}

func TestHostOwnProcess(t *testing.T) {
	cgtest.Require(t)
	g, err := cgroup.Open()
	if err != nil {
		t.Fatal(err)
	}
	if g.Mode() == cgroup.ModeNone {
		t.Fatal("mode none on a host with cgroups")
	}
	l, err := g.Limits()
	if err != nil {
		t.Fatal(err)
	}
	if l.CPUs < 1 {
		t.Errorf("CPUs = %d", l.CPUs)
	}
	s, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.MemoryCurrent <= 0 {
		t.Errorf("MemoryCurrent = %d", s.MemoryCurrent)
	}
}

// A file the process may not read (EACCES, as under AppArmor or Landlock, or
// files owned by another user) gives an error that unwraps to
// fs.ErrPermission and names the file, and Open still works. Root reads
// everything, so the reader runs as nobody against a real file system
// denying it.
func TestHostPermissionDenied(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a child as another user")
	}
	root, err := os.MkdirTemp("", "snug-eacces-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	files := map[string]string{
		"proc/self/cgroup":                   "0::/a\n",
		"proc/self/mountinfo":                "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
		"sys/fs/cgroup/a/cgroup.controllers": "cpu memory\n",
		"sys/fs/cgroup/a/cpu.max":            "50000 100000\n",
		"sys/fs/cgroup/a/memory.max":         "1000000\n",
	}
	for name, content := range files {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(root, 0o755)
	if err := os.Chmod(filepath.Join(root, "sys/fs/cgroup/a/memory.max"), 0); err != nil {
		t.Fatal(err)
	}
	// The test binary itself must be reachable by nobody.
	bin := filepath.Join(root, "cgroup.test")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), reportEnv+"=1", "SNUG_REPORT_ROOT="+root)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var r report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !r.Permission || !strings.Contains(r.LimitErr, "memory.max") {
		t.Errorf("Limits error %q (permission %v), want EACCES naming memory.max", r.LimitErr, r.Permission)
	}
	if r.Limits.CPU != 0.5 {
		t.Errorf("CPU = %v: the readable files must still be read", r.Limits.CPU)
	}
}

// Limits allocates nothing once the files it reads stop changing: the
// tuner and the watchdog call it every second for the life of the process.
func TestLimitsSteadyStateAllocs(t *testing.T) {
	g, err := cgroup.Open()
	if err != nil {
		t.Skip(err)
	}
	g.Limits()
	if n := testing.AllocsPerRun(100, func() { g.Limits() }); n != 0 {
		t.Errorf("Limits allocates %v times per call", n)
	}
}

// A Group is shared by the tuner, the watchdog, probes and telemetry: calls
// from many goroutines must be safe (run with -race) and Close must give
// back every descriptor the reads opened.
func TestConcurrentUseAndClose(t *testing.T) {
	// Count descriptors open on cgroup files, after letting earlier tests'
	// Groups be collected (their cleanups close theirs).
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range ents {
			if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(target, "/sys/fs/cgroup/") {
				n++
			}
		}
		return n
	}
	runtime.GC()
	runtime.GC()
	time.Sleep(100 * time.Millisecond)
	before := fds()
	g, err := cgroup.Open()
	if err != nil {
		t.Skip(err)
	}
	done := make(chan struct{})
	for i := 0; i < 4; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := 0; j < 200; j++ {
				if _, err := g.Limits(); err != nil {
					t.Error(err)
					return
				}
				if _, err := g.Stats(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < 4; i++ {
		<-done
	}
	if fds() <= before {
		t.Fatalf("no descriptor kept open between reads (%d before, %d now)", before, fds())
	}
	g.Close()
	if after := fds(); after != before {
		t.Errorf("%d descriptors before Open, %d after Close", before, after)
	}
	if _, err := g.Limits(); err != nil {
		t.Errorf("Limits after Close: %v", err)
	}
	g.Close()
}

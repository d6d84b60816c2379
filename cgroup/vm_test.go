//go:build linux

package cgroup_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	cg2 "github.com/containerd/cgroups/v3/cgroup2"

	"github.com/snug-go/snug/cgroup"
	"github.com/snug-go/snug/internal/vmtest"
)

// cgroup v2 on a real kernel: TestV2InVM boots Debian's kernel under qemu
// with this package's test binary, which runs the TestGuest* tests inside.
// Each guest test makes its cgroups, moves the test process (or a child)
// into them, and checks Limits and Stats; Stats are checked against
// github.com/containerd/cgroups/v3, an independent reader.

var guestTests = []string{
	"TestGuestLeafLimits",
	"TestGuestParentTighter",
	"TestGuestNamespace",
	"TestGuestLiveChange",
	"TestGuestOOMKill",
}

func TestV2InVM(t *testing.T) {
	bin := vmtest.BuildTestBinary(t, ".")
	out, code := vmtest.Run(t, vmtest.Guest{
		Files:   map[string]string{"/t/cgroup.test": bin},
		Script:  vmtest.GoTest("/t/cgroup.test", "^TestGuest"),
		Memory:  768,
		CPUs:    2,
		Timeout: 4 * time.Minute,
	})
	if code != 0 {
		t.Fatalf("guest tests failed (exit %d):\n%s", code, out)
	}
	// A guest test that skipped or never ran is a failure here: the point
	// is that they ran on a real v2 kernel.
	for _, name := range guestTests {
		if !strings.Contains(out, "--- PASS: "+name+" ") {
			t.Errorf("%s did not pass in the VM:\n%s", name, out)
		}
	}
	if testing.Verbose() {
		t.Log(out)
	}
}

const v2root = "/sys/fs/cgroup"

func guestOnly(t *testing.T) {
	if !vmtest.InGuest() {
		t.Skip("runs inside the VM booted by TestV2InVM")
	}
}

// mkcg makes the cgroup v2root/path and writes each "file=value" into it;
// it is removed when the test ends.
func mkcg(t *testing.T, path string, settings ...string) string {
	t.Helper()
	dir := filepath.Join(v2root, path)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := 0; i < 100 && os.Remove(dir) != nil; i++ {
			time.Sleep(10 * time.Millisecond)
		}
	})
	for _, s := range settings {
		file, value, _ := strings.Cut(s, "=")
		if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0); err != nil {
			t.Fatalf("%s/%s = %q: %v", path, file, value, err)
		}
	}
	return dir
}

// enter moves the whole test process into the cgroup, and back to the root
// when the test ends.
func enter(t *testing.T, dir string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte("0"), 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.WriteFile(filepath.Join(v2root, "cgroup.procs"), []byte("0"), 0) })
}

func TestGuestLeafLimits(t *testing.T) {
	guestOnly(t)
	dir := mkcg(t, "snug-leaf", "cpu.max=50000 100000", "memory.max=268435456",
		"memory.high=209715200", "memory.swap.max=0", "pids.max=100", "cpuset.cpus=0")
	enter(t, dir)
	g, err := cgroup.Open()
	if err != nil {
		t.Fatal(err)
	}
	l, err := g.Limits()
	if err != nil {
		t.Fatal(err)
	}
	if l.Mode != cgroup.ModeV2 {
		t.Errorf("Mode = %v", l.Mode)
	}
	if l.CPU != 0.5 || l.CPUSource.String() != "cpu.max 50000 100000 at /snug-leaf" {
		t.Errorf("CPU = %v from %q", l.CPU, l.CPUSource)
	}
	if l.CPUs != 1 {
		t.Errorf("CPUs = %d from %v, want 1 (cpuset 0)", l.CPUs, l.CPUsSource)
	}
	if l.MemoryMax != 256<<20 || l.MemoryHigh != 200<<20 || !l.NoSwap || l.PidsMax != 100 {
		t.Errorf("limits = %+v", l)
	}
	if v, src := l.MemoryLimit(); v != 200<<20 || src.File != "memory.high" {
		t.Errorf("MemoryLimit = %d from %v", v, src)
	}

	burn(300*time.Millisecond, g)
	before, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	m, err := cg2.Load("/snug-leaf")
	if err != nil {
		t.Fatal(err)
	}
	oracle, err := m.Stat()
	if err != nil {
		t.Fatal(err)
	}
	after, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// Counters only grow: the oracle's reading, taken between two of ours,
	// must lie between them.
	between := func(name string, lo, mid, hi uint64) {
		if mid < lo || mid > hi {
			t.Errorf("%s: containerd read %d, outside our %d..%d", name, mid, lo, hi)
		}
	}
	between("usage_usec", uint64(before.CPUUsage.Microseconds()), oracle.CPU.UsageUsec, uint64(after.CPUUsage.Microseconds()))
	between("nr_periods", before.Periods, oracle.CPU.NrPeriods, after.Periods)
	between("nr_throttled", before.ThrottledPeriods, oracle.CPU.NrThrottled, after.ThrottledPeriods)
	between("throttled_usec", uint64(before.ThrottledTime.Microseconds()), oracle.CPU.ThrottledUsec, uint64(after.ThrottledTime.Microseconds()))
	if before.ThrottledPeriods == 0 {
		t.Errorf("no throttling under a 0.5 CPU quota after burning two threads: %+v", before)
	}
	const slack = 8 << 20 // the test itself allocates between the reads
	if d := int64(oracle.Memory.Usage) - after.MemoryCurrent; d > slack || d < -slack {
		t.Errorf("memory.current: ours %d, containerd %d", after.MemoryCurrent, oracle.Memory.Usage)
	}
	if d := int64(oracle.Memory.Anon) - after.Anon; d > slack || d < -slack {
		t.Errorf("anon: ours %d, containerd %d", after.Anon, oracle.Memory.Anon)
	}
	if after.WorkingSet <= 0 || after.WorkingSet > after.MemoryCurrent {
		t.Errorf("working set %d of %d", after.WorkingSet, after.MemoryCurrent)
	}
	if after.SlabReclaimable < 0 || after.SlabReclaimable > after.Kernel {
		t.Errorf("reclaimable slab %d of kernel memory %d", after.SlabReclaimable, after.Kernel)
	}
	if !after.CPUPressure.Valid || !after.MemoryPressure.Valid || !after.IOPressure.Valid {
		t.Errorf("PSI missing on a kernel with PSI: %+v", after)
	}
	if oracle.CPU.PSI != nil && after.CPUPressure.Some.Total < time.Duration(oracle.CPU.PSI.Some.Total)*time.Microsecond {
		t.Errorf("cpu.pressure total: ours %v, containerd earlier %dµs", after.CPUPressure.Some.Total, oracle.CPU.PSI.Some.Total)
	}
}

func TestGuestParentTighter(t *testing.T) {
	guestOnly(t)
	mkcg(t, "snug-p", "cgroup.subtree_control=+cpu +memory +pids", "cpu.max=25000 100000", "memory.max=134217728")
	leaf := mkcg(t, "snug-p/c", "cpu.max=150000 100000", "memory.max=536870912")
	enter(t, leaf)
	g, err := cgroup.Open()
	if err != nil {
		t.Fatal(err)
	}
	l, err := g.Limits()
	if err != nil {
		t.Fatal(err)
	}
	if l.CPU != 0.25 || l.CPUSource.String() != "cpu.max 25000 100000 at /snug-p (ancestor)" {
		t.Errorf("CPU = %v from %q, want the parent's 0.25", l.CPU, l.CPUSource)
	}
	if l.MemoryMax != 128<<20 || !l.MemoryMaxSource.Ancestor {
		t.Errorf("MemoryMax = %d from %v, want the parent's", l.MemoryMax, l.MemoryMaxSource)
	}
	// Throttled by the parent's quota: the parent's cpu.stat counts it.
	burn(300*time.Millisecond, g)
	s, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.CFSCgroup != "/snug-p" || s.ThrottledPeriods == 0 {
		t.Errorf("CFS counters %d periods, %d throttled, from %q: want the parent's, throttled under 0.25 CPU",
			s.Periods, s.ThrottledPeriods, s.CFSCgroup)
	}
	// The parent's memory.max binds: the usage held against it is the
	// parent's, which contains the process's own.
	if !s.HasMemoryLimitUsage || s.MemoryLimitCgroup != "/snug-p" || s.MemoryLimitCurrent < s.MemoryCurrent ||
		s.MemoryLimitCurrent > 128<<20 || s.MemoryLimitWorkingSet > s.MemoryLimitCurrent || s.MemoryLimitWorkingSet <= 0 {
		t.Errorf("usage against the limit %d (working set %d) from %q, has %v; own %d: want the parent's, at least the own",
			s.MemoryLimitCurrent, s.MemoryLimitWorkingSet, s.MemoryLimitCgroup, s.HasMemoryLimitUsage, s.MemoryCurrent)
	}
	if v, cg, err := g.MemoryLimitCurrent(); err != nil || cg != "/snug-p" || v < s.MemoryCurrent-4<<20 || v > 128<<20 {
		t.Errorf("MemoryLimitCurrent = %d, %q, %v; want the parent's, about %d", v, cg, err, s.MemoryLimitCurrent)
	}
}

// Files missing for real: a cgroup whose parent enabled no controller has
// only the core files (cpu.stat with usage but no CFS counters, no memory
// files), and the root cgroup has no memory.current (its cpu.stat has the
// CFS counters, always 0). Stats must not claim
// to have read what is not there; the parent's memory.max still applies.
func TestGuestStatsMissingFiles(t *testing.T) {
	guestOnly(t)
	flags := func(s cgroup.Stats) string {
		return fmt.Sprintf("memory.current=%v memory.stat=%v events=%v cpu=%v cfs=%v",
			s.HasMemoryCurrent, s.HasMemoryStat, s.HasMemoryEvents, s.HasCPUUsage, s.HasCFS)
	}
	// What the kernel provides in a directory, from the files themselves.
	expect := func(dir string) string {
		has := func(name string) bool { _, err := os.Stat(filepath.Join(dir, name)); return err == nil }
		cpuStat, _ := os.ReadFile(filepath.Join(dir, "cpu.stat"))
		return fmt.Sprintf("memory.current=%v memory.stat=%v events=%v cpu=%v cfs=%v",
			has("memory.current"), has("memory.stat"), has("memory.events"),
			strings.Contains(string(cpuStat), "usage_usec"), strings.Contains(string(cpuStat), "nr_periods"))
	}
	stats := func() cgroup.Stats {
		g, err := cgroup.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		s, err := g.Stats()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	// The test process is in the root cgroup between tests.
	s := stats()
	if got, want := flags(s), expect(v2root); got != want {
		t.Errorf("root cgroup: flags %s, files %s", got, want)
	}
	if s.HasMemoryCurrent {
		t.Errorf("root cgroup: %s, but it has no memory.current", flags(s))
	}

	mkcg(t, "snug-bare", "memory.max=268435456") // its subtree_control stays empty
	leaf := mkcg(t, "snug-bare/c")
	enter(t, leaf)
	s = stats()
	if got, want := flags(s), expect(leaf); got != want {
		t.Errorf("leaf without controllers: flags %s, files %s", got, want)
	}
	if got, want := flags(s), "memory.current=false memory.stat=false events=false cpu=true cfs=false"; got != want {
		t.Errorf("leaf without controllers: flags %s, want %s", got, want)
	}
	if s.MemoryCurrent != 0 || s.Periods != 0 {
		t.Errorf("values without their files: %+v", s)
	}
	g, err := cgroup.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if l, err := g.Limits(); err != nil || l.MemoryMax != 256<<20 || !l.MemoryMaxSource.Ancestor {
		t.Errorf("Limits = %+v, %v: want the parent's memory.max", l, err)
	}
	// The parent has the memory controller (the root enables it): its
	// usage, which holds the leaf's, is what its limit is held against.
	if v, cg, err := g.MemoryLimitCurrent(); err != nil || cg != "/snug-bare" || v <= 0 {
		t.Errorf("MemoryLimitCurrent = %d, %q, %v; want the parent's usage", v, cg, err)
	}
}

// A container with a private cgroup namespace: a child process is cloned into
// a new cgroup and mount namespace, mounts cgroup2 afresh (as container
// runtimes do) after an nsfs bind mount, so that an nsfs line precedes the
// cgroup2 line in its mountinfo (the layout of Go issue 81864), and reports
// what it sees.
func TestGuestNamespace(t *testing.T) {
	guestOnly(t)
	dir := mkcg(t, "snug-ns", "cpu.max=30000 100000", "memory.max=314572800")
	enter(t, dir)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), reportEnv+"=1", "SNUG_REPORT_REMOUNT=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWCGROUP | syscall.CLONE_NEWNS}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	r := decodeReport(t, out)
	if r.LimitErr != "" {
		t.Fatal(r.LimitErr)
	}
	if !r.NsfsFirst {
		t.Errorf("test setup: no nsfs line before the cgroup2 line in the child's mountinfo")
	}
	if r.Limits.CPU != 0.3 || r.Limits.CPUSource.Cgroup != "/" || r.Limits.CPUSource.Ancestor {
		t.Errorf("CPU = %v from %+v, want 0.3 from the namespace root /", r.Limits.CPU, r.Limits.CPUSource)
	}
	if r.Limits.MemoryMax != 300<<20 {
		t.Errorf("MemoryMax = %d", r.Limits.MemoryMax)
	}
}

// remountInNamespace is the child side of TestGuestNamespace.
func remountInNamespace() error {
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := syscall.Unmount(v2root, syscall.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount: %w", err)
	}
	if err := os.WriteFile("/tmp/snug-netns", nil, 0o644); err != nil {
		return err
	}
	if err := syscall.Mount("/proc/self/ns/net", "/tmp/snug-netns", "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind nsfs: %w", err)
	}
	if err := syscall.Mount("cgroup2", v2root, "cgroup2", 0, ""); err != nil {
		return fmt.Errorf("mount cgroup2: %w", err)
	}
	return nil
}

// nsfsFirst reports whether an nsfs line comes before the cgroup2 line.
func nsfsFirst() bool {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	nsfs := strings.Index(string(b), " - nsfs ")
	cg := strings.Index(string(b), " - cgroup2 ")
	return nsfs >= 0 && cg > nsfs
}

// Limits changed while the process runs are seen by the next Limits call; a
// controller disabled under the process (its files vanish, the kept
// descriptors go stale) is an error that says so, not "no limit".
func TestGuestLiveChange(t *testing.T) {
	guestOnly(t)
	dir := mkcg(t, "snug-live", "cpu.max=100000 100000", "memory.max=314572800")
	enter(t, dir)
	g, err := cgroup.Open()
	if err != nil {
		t.Fatal(err)
	}
	if l, err := g.Limits(); err != nil || l.CPU != 1 || l.MemoryMax != 300<<20 {
		t.Fatalf("before: %+v %v", l, err)
	}
	for _, s := range []string{"cpu.max=20000 100000", "memory.max=209715200", "memory.high=157286400"} {
		file, value, _ := strings.Cut(s, "=")
		if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0); err != nil {
			t.Fatal(err)
		}
	}
	l, err := g.Limits()
	if err != nil || l.CPU != 0.2 || l.MemoryMax != 200<<20 || l.MemoryHigh != 150<<20 {
		t.Fatalf("after: %+v %v", l, err)
	}
	if l.CPUSource.Value != "20000 100000" {
		t.Errorf("CPU source value %q not refreshed", l.CPUSource.Value)
	}

	ctl := filepath.Join(v2root, "cgroup.subtree_control")
	if err := os.WriteFile(ctl, []byte("-memory"), 0); err != nil {
		t.Fatal(err)
	}
	defer os.WriteFile(ctl, []byte("+memory"), 0)
	l, err = g.Limits()
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("memory controller disabled: err = %v, want ErrNotExist naming memory.max", err)
	}
	if l.CPU != 0.2 {
		t.Errorf("CPU still readable, got %v", l.CPU)
	}
}

// A real OOM kill is counted in Stats, read through WithRoot as a host agent
// would read another cgroup, and agrees with containerd's reading.
func TestGuestOOMKill(t *testing.T) {
	guestOnly(t)
	dir := mkcg(t, "snug-oom", "memory.max=50331648", "memory.swap.max=0")
	fd, err := syscall.Open(dir, syscall.O_DIRECTORY|syscall.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	hog := exec.Command(os.Args[0], "-test.run=^$")
	hog.Env = append(os.Environ(), "SNUG_HOG_MIB=200")
	hog.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	err = hog.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("hog over a 48 MiB limit: %v, want killed by SIGKILL", err)
	}

	view := t.TempDir()
	os.MkdirAll(filepath.Join(view, "proc/self"), 0o755)
	os.MkdirAll(filepath.Join(view, "sys/fs"), 0o755)
	os.WriteFile(filepath.Join(view, "proc/self/cgroup"), []byte("0::/snug-oom\n"), 0o644)
	os.WriteFile(filepath.Join(view, "proc/self/mountinfo"), []byte("30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"), 0o644)
	if err := os.Symlink(v2root, filepath.Join(view, "sys/fs/cgroup")); err != nil {
		t.Fatal(err)
	}
	g, err := cgroup.Open(cgroup.WithRoot(view))
	if err != nil {
		t.Fatal(err)
	}
	s, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	m, err := cg2.Load("/snug-oom")
	if err != nil {
		t.Fatal(err)
	}
	oracle, err := m.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if s.MemoryEvents.OOMKill != 1 || s.MemoryEvents.OOMKill != oracle.MemoryEvents.OomKill ||
		s.MemoryEvents.Max != oracle.MemoryEvents.Max || s.MemoryEvents.OOM != oracle.MemoryEvents.Oom {
		t.Errorf("memory.events: ours %+v, containerd %+v", s.MemoryEvents, oracle.MemoryEvents)
	}
	l, err := g.Limits()
	if err != nil || l.MemoryMax != 48<<20 {
		t.Errorf("limits of the viewed cgroup: %+v %v", l, err)
	}
}

// hog allocates and touches mib MiB, for TestGuestOOMKill's child and
// TestHostAncestorMemoryUsage's sibling, and prints how many it holds.
func hog(mib int) [][]byte {
	var keep [][]byte
	for i := 0; i < mib; i++ {
		b := make([]byte, 1<<20)
		for j := range b {
			if j%4096 == 0 {
				b[j] = 1
			}
		}
		keep = append(keep, b)
	}
	fmt.Println(len(keep))
	return keep
}

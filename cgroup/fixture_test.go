package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// Fixtures are for layouts this machine cannot boot (Kubernetes nodes with
// systemd slices, cgroup namespaces, odd mounts). Each is a file tree read
// through WithRoot, so the same Open, Limits and Stats code runs as on a real
// system. Real kernels are covered by host_test.go (v1 here) and
// vm_test.go (v2 under qemu).

// tree writes files (relative path → content) under a new temporary root.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("cgroup reading is Linux-only")
	}
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

func mustOpen(t *testing.T, root string) *Group {
	t.Helper()
	g, err := Open(WithRoot(root))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return g
}

func mustLimits(t *testing.T, g *Group) Limits {
	t.Helper()
	l, err := g.Limits()
	if err != nil {
		t.Fatalf("Limits: %v", err)
	}
	return l
}

// hasFlags lists the Has* flags set in s, in declaration order.
func hasFlags(s Stats) string {
	var set []string
	for _, f := range []struct {
		name string
		on   bool
	}{{"memory.current", s.HasMemoryCurrent}, {"memory.stat", s.HasMemoryStat}, {"events", s.HasMemoryEvents},
		{"cpu", s.HasCPUUsage}, {"cfs", s.HasCFS}} {
		if f.on {
			set = append(set, f.name)
		}
	}
	return strings.Join(set, " ")
}

const all = "memory.current memory.stat events cpu cfs"

const k8sPod = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice"
const k8sLeaf = k8sPod + "/cri-containerd-0123abcd.scope"

// A Kubernetes node on cgroup v2 with systemd slices: the pod slice carries
// the CPU limit (as with a pod-level resources block), the container its
// own memory.max and memory.high. An nsfs line precedes the cgroup mount, as
// in Go issue 81864.
func TestFixtureV2Kubernetes(t *testing.T) {
	fs := "sys/fs/cgroup"
	root := tree(t, map[string]string{
		"proc/self/cgroup": "0::" + k8sLeaf + "\n",
		"proc/self/mountinfo": "" +
			"1544 1543 0:4 net:[4026532612] /run/netns/x rw shared:623 - nsfs nsfs rw\n" +
			"1565 1566 0:29 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime shared:9 master:3 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n" +
			"1566 1537 0:51 / / rw,relatime - overlay overlay rw,lowerdir=/a:/b\n",
		fs + "/cgroup.controllers":                              "cpuset cpu io memory pids\n",
		fs + k8sLeaf + "/cgroup.controllers":                    "cpuset cpu io memory pids\n",
		fs + k8sLeaf + "/cpu.max":                               "max 100000\n",
		fs + k8sLeaf + "/memory.max":                            "536870912\n",
		fs + k8sLeaf + "/memory.high":                           "402653184\n",
		fs + k8sLeaf + "/memory.swap.max":                       "0\n",
		fs + k8sLeaf + "/pids.max":                              "max\n",
		fs + k8sLeaf + "/cpuset.cpus.effective":                 "0-3,6\n",
		fs + k8sPod + "/cpu.max":                                "150000 100000\n",
		fs + k8sPod + "/memory.max":                             "1073741824\n",
		fs + k8sPod + "/memory.high":                            "max\n",
		fs + k8sPod + "/pids.max":                               "4096\n",
		fs + "/kubepods.slice/kubepods-burstable.slice/cpu.max": "max 100000\n",
		fs + k8sLeaf + "/memory.current":                        "123456789\n",
		fs + k8sLeaf + "/memory.stat":                           "anon 80000000\nfile 40000000\nkernel 3000000\nslab 2000000\nslab_reclaimable 1500000\nshmem 1000\ninactive_file 30000000\nactive_file 10000000\n",
		fs + k8sLeaf + "/memory.events":                         "low 0\nhigh 12\nmax 3\noom 1\noom_kill 1\n",
		fs + k8sLeaf + "/cpu.stat":                              "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 50\nnr_throttled 7\nthrottled_usec 123456\nnr_bursts 0\nburst_usec 0\n",
		fs + k8sPod + "/cpu.stat":                               "usage_usec 9000000\nuser_usec 7000000\nsystem_usec 2000000\nnr_periods 80\nnr_throttled 30\nthrottled_usec 654321\n",
		fs + k8sLeaf + "/cpu.pressure":                          "some avg10=1.50 avg60=0.75 avg300=0.10 total=987654\nfull avg10=0.25 avg60=0.00 avg300=0.00 total=1234\n",
		fs + k8sLeaf + "/memory.pressure":                       "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
	})
	g := mustOpen(t, root)
	if g.Mode() != ModeV2 {
		t.Errorf("Mode = %v, want v2", g.Mode())
	}
	l := mustLimits(t, g)
	if l.CPU != 1.5 || !l.CPUSource.Ancestor || l.CPUSource.Cgroup != k8sPod {
		t.Errorf("CPU = %v from %+v, want 1.5 from the pod slice", l.CPU, l.CPUSource)
	}
	if got, want := l.CPUSource.String(), "cpu.max 150000 100000 at "+k8sPod+" (ancestor)"; got != want {
		t.Errorf("CPUSource = %q, want %q", got, want)
	}
	if l.CPUs != 5 || l.CPUsSource.File != "cpuset.cpus.effective" {
		t.Errorf("CPUs = %d from %v, want 5 from the cpuset (no affinity under WithRoot)", l.CPUs, l.CPUsSource)
	}
	if l.MemoryMax != 512<<20 || l.MemoryMaxSource.Ancestor {
		t.Errorf("MemoryMax = %d from %v", l.MemoryMax, l.MemoryMaxSource)
	}
	if l.MemoryHigh != 384<<20 {
		t.Errorf("MemoryHigh = %d", l.MemoryHigh)
	}
	if v, src := l.MemoryLimit(); v != 384<<20 || src.File != "memory.high" {
		t.Errorf("MemoryLimit = %d from %v, want memory.high", v, src)
	}
	if !l.NoSwap || l.SwapMax != 0 {
		t.Errorf("swap = %d noSwap %v, want none allowed", l.SwapMax, l.NoSwap)
	}
	if l.PidsMax != 4096 || !l.PidsMaxSource.Ancestor {
		t.Errorf("PidsMax = %d from %v", l.PidsMax, l.PidsMaxSource)
	}

	s, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.MemoryCurrent != 123456789 || s.WorkingSet != 123456789-30000000 || s.Anon != 80000000 ||
		s.File != 40000000 || s.Kernel != 3000000 || s.SlabReclaimable != 1500000 || s.Shmem != 1000 {
		t.Errorf("memory stats: %+v", s)
	}
	if (s.MemoryEvents != MemoryEvents{High: 12, Max: 3, OOM: 1, OOMKill: 1}) {
		t.Errorf("events: %+v", s.MemoryEvents)
	}
	// CPU time is the container's own; throttling is counted where the
	// tightest quota is, the pod's (the container's own counters would
	// stay 0 on a real kernel).
	if s.CPUUsage.Microseconds() != 2500000 || s.Periods != 80 || s.ThrottledPeriods != 30 || s.ThrottledTime.Microseconds() != 654321 || s.CFSCgroup != k8sPod {
		t.Errorf("cpu stats: %+v", s)
	}
	// Stats finds the tightest quota by itself, without a Limits call.
	if s, err := mustOpen(t, root).Stats(); err != nil || s.CFSCgroup != k8sPod || s.ThrottledPeriods != 30 {
		t.Errorf("Stats alone: CFS counters from %q (%d throttled), %v: want the pod's", s.CFSCgroup, s.ThrottledPeriods, err)
	}
	if !s.CPUPressure.Valid || s.CPUPressure.Some.Avg10 != 1.5 || s.CPUPressure.Full.Total.Microseconds() != 1234 {
		t.Errorf("cpu pressure: %+v", s.CPUPressure)
	}
	if s.IOPressure.Valid {
		t.Errorf("io pressure valid without an io.pressure file")
	}
	if got := hasFlags(s); got != all {
		t.Errorf("Has* flags set: %q, want %q", got, all)
	}
}

// A pod whose memory limit is on the pod (Kubernetes pod-level resources)
// with a container that has none: the kernel compares the pod's usage,
// the sibling containers' included, with the pod's limit, so that is the
// usage Stats reports against it. When an in-place resize gives the
// container a tighter limit of its own, the next Limits moves it there.
func TestFixturePodMemoryLimit(t *testing.T) {
	fs := "sys/fs/cgroup"
	files := map[string]string{
		"proc/self/cgroup":                 "0::" + k8sLeaf + "\n",
		"proc/self/mountinfo":              "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
		fs + "/cgroup.controllers":         "cpu memory\n",
		fs + k8sLeaf + "/memory.max":       "max\n",
		fs + k8sLeaf + "/memory.high":      "max\n",
		fs + k8sLeaf + "/memory.current":   "52428800\n",
		fs + k8sLeaf + "/memory.stat":      "anon 40000000\ninactive_file 2428800\n",
		fs + k8sPod + "/memory.max":        "268435456\n",
		fs + k8sPod + "/memory.high":       "max\n",
		fs + k8sPod + "/memory.current":    "209715200\n",
		fs + k8sPod + "/memory.stat":       "anon 150000000\nactive_file 1000\ninactive_file 20971520\n",
		fs + "/kubepods.slice/memory.max":  "max\n",
		fs + "/kubepods.slice/memory.high": "max\n",
	}
	root := tree(t, files)
	podUsage := func(what string, s Stats) {
		t.Helper()
		if !s.HasMemoryLimitUsage || s.MemoryLimitCgroup != k8sPod || s.MemoryLimitCurrent != 200<<20 || s.MemoryLimitWorkingSet != 180<<20 {
			t.Errorf("%s: usage against the limit %d (working set %d) from %q, has %v: want the pod's %d (%d)",
				what, s.MemoryLimitCurrent, s.MemoryLimitWorkingSet, s.MemoryLimitCgroup, s.HasMemoryLimitUsage, 200<<20, 180<<20)
		}
		if s.MemoryCurrent != 50<<20 || s.WorkingSet != 50<<20-2428800 {
			t.Errorf("%s: own usage %d (working set %d), want the container's", what, s.MemoryCurrent, s.WorkingSet)
		}
	}
	limitCurrent := func(what string, g *Group, want int64, wantCgroup string) {
		t.Helper()
		if v, cg, err := g.MemoryLimitCurrent(); err != nil || v != want || cg != wantCgroup {
			t.Errorf("%s: MemoryLimitCurrent = %d, %q, %v; want %d, %q", what, v, cg, err, want, wantCgroup)
		}
	}
	g := mustOpen(t, root)
	limitCurrent("before any Limits or Stats", g, 50<<20, k8sLeaf)
	if l := mustLimits(t, g); l.MemoryMax != 256<<20 || l.MemoryMaxSource.Cgroup != k8sPod {
		t.Fatalf("MemoryMax = %d from %v, want the pod's", l.MemoryMax, l.MemoryMaxSource)
	}
	limitCurrent("after Limits", g, 200<<20, k8sPod)
	s, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	podUsage("after Limits", s)
	// Stats finds the binding limit by itself, without a Limits call.
	s, err = mustOpen(t, root).Stats()
	if err != nil {
		t.Fatal(err)
	}
	podUsage("Stats alone", s)

	// memory.high binds where it is lower than memory.max: here the
	// container's own.
	if err := os.WriteFile(filepath.Join(root, fs, k8sLeaf, "memory.high"), []byte("104857600\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustLimits(t, g)
	if s, err = g.Stats(); err != nil {
		t.Fatal(err)
	}
	if !s.HasMemoryLimitUsage || s.MemoryLimitCgroup != k8sLeaf || s.MemoryLimitCurrent != s.MemoryCurrent || s.MemoryLimitWorkingSet != s.WorkingSet {
		t.Errorf("with the container's memory.high binding: usage against the limit %d (%d) from %q, has %v: want the container's own %d (%d)",
			s.MemoryLimitCurrent, s.MemoryLimitWorkingSet, s.MemoryLimitCgroup, s.HasMemoryLimitUsage, s.MemoryCurrent, s.WorkingSet)
	}
	limitCurrent("with the container's memory.high binding", g, 50<<20, k8sLeaf)
	// Stats alone follows a change back, as Limits would.
	if err := os.WriteFile(filepath.Join(root, fs, k8sLeaf, "memory.high"), []byte("max\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s, err = g.Stats(); err != nil {
		t.Fatal(err)
	}
	podUsage("Stats alone after the change", s)
	limitCurrent("after Stats alone found the pod's limit again", g, 200<<20, k8sPod)
	if err := os.WriteFile(filepath.Join(root, fs, k8sPod, "memory.current"), []byte("2x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := g.MemoryLimitCurrent(); err == nil || !strings.Contains(err.Error(), k8sPod+"/memory.current") {
		t.Errorf("pod memory.current of 2x: error %v, want one naming the file", err)
	}
	if err := os.WriteFile(filepath.Join(root, fs, k8sPod, "memory.current"), []byte("209715200\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// A pod usage file that cannot be parsed is an error naming it, and
	// no usage against the limit rather than a wrong one.
	if err := os.WriteFile(filepath.Join(root, fs, k8sPod, "memory.stat"), []byte("anon 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = g.Stats()
	if err == nil || !strings.Contains(err.Error(), k8sPod+"/memory.stat") || s.HasMemoryLimitUsage {
		t.Errorf("pod memory.stat without inactive_file: error %v, has usage %v; want an error naming it and no usage", err, s.HasMemoryLimitUsage)
	}
	if !s.HasMemoryCurrent || !s.HasMemoryStat {
		t.Errorf("the container's own usage was lost with the pod's: %+v", s)
	}
}

// Inside a cgroup namespace the process sees itself at "/" and the cgroup2
// mount made in the namespace shows its own cgroup at the mount point.
// Ancestors outside the namespace are invisible (and on v2 nothing reports
// them): the limits are those of the namespace root.
func TestFixtureV2Namespace(t *testing.T) {
	root := tree(t, map[string]string{
		"proc/self/cgroup":                    "0::/\n",
		"proc/self/mountinfo":                 "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
		"sys/fs/cgroup/cgroup.controllers":    "cpu memory pids\n",
		"sys/fs/cgroup/cpu.max":               "25000 100000\n",
		"sys/fs/cgroup/memory.max":            "268435456\n",
		"sys/fs/cgroup/memory.high":           "max\n",
		"sys/fs/cgroup/cpuset.cpus.effective": "0\n",
		"sys/fs/cgroup/memory.swap.max":       "max\n",
		"sys/fs/cgroup/pids.max":              "max\n",
	})
	l := mustLimits(t, mustOpen(t, root))
	if l.CPU != 0.25 || l.CPUSource.Ancestor || l.CPUSource.Cgroup != "/" {
		t.Errorf("CPU = %v from %+v", l.CPU, l.CPUSource)
	}
	if l.MemoryMax != 256<<20 || l.MemoryHigh != 0 || l.SwapMax != 0 || l.NoSwap || l.CPUs != 1 {
		t.Errorf("limits: %+v", l)
	}
}

// memory.swap.max holds "max" for no limit, but a number written above
// what parseLimit takes for a limit (2^62 bytes and more, such as "4E") reads
// back as that number. Like memory.max, it is no limit, not a limit of zero:
// NoSwap would tell the caller that no swap is allowed.
func TestFixtureHugeSwapMax(t *testing.T) {
	root := tree(t, map[string]string{
		"proc/self/cgroup":                   "0::/a\n",
		"proc/self/mountinfo":                "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
		"sys/fs/cgroup/a/cgroup.controllers": "memory\n",
		"sys/fs/cgroup/a/memory.max":         "1073741824\n",
		"sys/fs/cgroup/a/memory.swap.max":    "4611686018427387904\n",
	})
	l := mustLimits(t, mustOpen(t, root))
	if l.NoSwap || l.SwapMax != 0 || !l.SwapMaxSource.IsZero() {
		t.Errorf("swap = %d noSwap %v from %v, want no swap limit", l.SwapMax, l.NoSwap, l.SwapMaxSource)
	}
}

// A mount whose root is not "/" (a container with the host's cgroup
// namespace and a bind mount of its own subtree, automaxprocs issue 85):
// cgroup paths are translated relative to the mount root, and ancestors above
// the mount root are out of sight.
func TestFixtureV2MountRootNotSlash(t *testing.T) {
	root := tree(t, map[string]string{
		"proc/self/cgroup":                     "0::/docker/ctr/app\n",
		"proc/self/mountinfo":                  "40 30 0:26 /docker/ctr /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n",
		"sys/fs/cgroup/app/cgroup.controllers": "cpu memory\n",
		"sys/fs/cgroup/app/cpu.max":            "200000 100000\n",
		"sys/fs/cgroup/cpu.max":                "50000 100000\n",
		"sys/fs/cgroup/memory.max":             "max\n",
		"sys/fs/cgroup/app/memory.max":         "1048576000\n",
	})
	l := mustLimits(t, mustOpen(t, root))
	if l.CPU != 0.5 || l.CPUSource.Cgroup != "/docker/ctr" || !l.CPUSource.Ancestor {
		t.Errorf("CPU = %v from %+v, want 0.5 from /docker/ctr", l.CPU, l.CPUSource)
	}
	if l.MemoryMax != 1048576000 || l.MemoryMaxSource.Cgroup != "/docker/ctr/app" {
		t.Errorf("MemoryMax = %d from %+v", l.MemoryMax, l.MemoryMaxSource)
	}
}

// A process outside its cgroup namespace's root (moved after unshare, or
// entered into a container's namespaces with nsenter while its cgroup stayed
// on the host) sees its cgroup as "/../…". A mount whose root is the
// namespace root cannot reach that cgroup: its path must not be joined onto
// the mount point, where ".." leads out of the hierarchy and the walk up
// ends at the namespace root, whose limits do not apply to the process.
func TestFixtureOutsideNamespaceRoot(t *testing.T) {
	root := tree(t, map[string]string{
		"proc/self/cgroup":                 "0::/../../user.slice/session-1.scope\n",
		"proc/self/mountinfo":              "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
		"sys/fs/cgroup/cgroup.controllers": "cpu memory\n",
		"sys/fs/cgroup/cpu.max":            "25000 100000\n",
		"sys/fs/cgroup/memory.max":         "268435456\n",
		// Where the unchecked path leads: above the mount point.
		"sys/user.slice/session-1.scope/memory.max": "1048576\n",
	})
	g, err := Open(WithRoot(root))
	if !errors.Is(err, ErrNoCgroup) {
		l, lerr := g.Limits()
		t.Fatalf("Open err = %v, want ErrNoCgroup; paths %v, limits %+v (%v)", err, g.Paths(), l, lerr)
	}

	// A mount whose root is above the namespace's ("/..", the host's mount
	// seen from inside the namespace) reaches it.
	root = tree(t, map[string]string{
		"proc/self/cgroup":                         "0::/../sibling\n",
		"proc/self/mountinfo":                      "30 25 0:26 /.. /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
		"sys/fs/cgroup/sibling/cgroup.controllers": "cpu\n",
		"sys/fs/cgroup/sibling/cpu.max":            "50000 100000\n",
	})
	l := mustLimits(t, mustOpen(t, root))
	if l.CPU != 0.5 || l.CPUSource.Cgroup != "/../sibling" {
		t.Errorf("CPU = %v from %+v, want 0.5 from /../sibling", l.CPU, l.CPUSource)
	}
}

// Pure v1 with cpu and cpuacct co-mounted (a comma in the mount point) and a
// memory limit on an ancestor the mount does not show: only
// hierarchical_memory_limit in memory.stat reveals it.
func TestFixtureV1HiddenAncestor(t *testing.T) {
	root := tree(t, map[string]string{
		"proc/self/cgroup": "12:pids:/docker/abc\n11:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n3:cpuset:/docker/abc\n1:name=systemd:/docker/abc\n",
		"proc/self/mountinfo": "" +
			"700 699 0:63 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid master:13 - cgroup cgroup rw,cpu,cpuacct\n" +
			"701 699 0:64 /docker/abc /sys/fs/cgroup/memory ro,nosuid master:14 - cgroup cgroup rw,memory\n" +
			"702 699 0:65 /docker/abc /sys/fs/cgroup/cpuset ro master:15 - cgroup cgroup rw,cpuset\n" +
			"703 699 0:66 /docker/abc /sys/fs/cgroup/pids ro - cgroup cgroup rw,pids\n",
		"sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us":       "150000\n",
		"sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us":      "100000\n",
		"sys/fs/cgroup/cpu,cpuacct/cpuacct.usage":          "5000000000\n",
		"sys/fs/cgroup/cpu,cpuacct/cpuacct.stat":           "user 300\nsystem 100\n",
		"sys/fs/cgroup/cpu,cpuacct/cpu.stat":               "nr_periods 10\nnr_throttled 2\nthrottled_time 5000000\n",
		"sys/fs/cgroup/memory/memory.limit_in_bytes":       "9223372036854771712\n",
		"sys/fs/cgroup/memory/memory.memsw.limit_in_bytes": "9223372036854771712\n",
		"sys/fs/cgroup/memory/memory.usage_in_bytes":       "104857600\n",
		"sys/fs/cgroup/memory/memory.stat": "cache 1000\nrss 2000\ninactive_file 5\n" +
			"hierarchical_memory_limit 209715200\nhierarchical_memsw_limit 314572800\n" +
			"total_cache 41943040\ntotal_rss 52428800\ntotal_shmem 4096\ntotal_inactive_anon 0\ntotal_active_anon 52428800\n" +
			"total_inactive_file 20971520\ntotal_active_file 20971520\n",
		"sys/fs/cgroup/memory/memory.failcnt":        "4\n",
		"sys/fs/cgroup/memory/memory.oom_control":    "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
		"sys/fs/cgroup/cpuset/cpuset.effective_cpus": "0-1\n",
		"sys/fs/cgroup/pids/pids.max":                "1000\n",
	})
	g := mustOpen(t, root)
	if g.Mode() != ModeV1 {
		t.Errorf("Mode = %v", g.Mode())
	}
	l := mustLimits(t, g)
	if l.CPU != 1.5 || l.CPUSource.String() != "cpu.cfs_quota_us 150000 100000 at /docker/abc" {
		t.Errorf("CPU = %v from %q", l.CPU, l.CPUSource)
	}
	if l.MemoryMax != 200<<20 || l.MemoryMaxSource.File != "hierarchical_memory_limit in memory.stat" {
		t.Errorf("MemoryMax = %d from %v", l.MemoryMax, l.MemoryMaxSource)
	}
	if l.SwapMax != 100<<20 || l.NoSwap {
		t.Errorf("SwapMax = %d (memsw minus memory)", l.SwapMax)
	}
	if l.CPUs != 2 || l.PidsMax != 1000 {
		t.Errorf("CPUs %d PidsMax %d", l.CPUs, l.PidsMax)
	}
	s, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.WorkingSet != 100<<20-20<<20 || s.Anon != 50<<20 || s.File != 40<<20 || s.Shmem != 4096 {
		t.Errorf("memory: %+v", s)
	}
	if s.MemoryEvents.Max != 4 || s.MemoryEvents.OOMKill != 2 {
		t.Errorf("events: %+v", s.MemoryEvents)
	}
	// The limit is a hidden ancestor's: no file shows its usage.
	if s.HasMemoryLimitUsage || s.MemoryLimitCgroup != "" || s.MemoryLimitWorkingSet != 0 {
		t.Errorf("usage against a hidden ancestor's limit: %d from %q, has %v; want none", s.MemoryLimitWorkingSet, s.MemoryLimitCgroup, s.HasMemoryLimitUsage)
	}
	if s.CPUUsage.Seconds() != 5 || s.CPUUser.Seconds() != 3 || s.CPUSystem.Seconds() != 1 ||
		s.ThrottledPeriods != 2 || s.ThrottledTime.Milliseconds() != 5 {
		t.Errorf("cpu: %+v", s)
	}
	if got := hasFlags(s); got != all {
		t.Errorf("Has* flags set: %q, want %q", got, all)
	}
}

// Stats without a Limits call finds the binding memory limit as Limits
// does, a hidden v1 ancestor's included: no usage is reported against it,
// and when the container's own limit becomes the tighter, Stats follows.
func TestFixtureV1HiddenAncestorStatsAlone(t *testing.T) {
	mem := "sys/fs/cgroup/memory/"
	root := tree(t, map[string]string{
		"proc/self/cgroup":            "11:memory:/docker/abc\n",
		"proc/self/mountinfo":         "701 699 0:64 /docker/abc /sys/fs/cgroup/memory ro,nosuid master:14 - cgroup cgroup rw,memory\n",
		mem + "memory.limit_in_bytes": "9223372036854771712\n",
		mem + "memory.usage_in_bytes": "104857600\n",
		mem + "memory.stat":           "hierarchical_memory_limit 209715200\ntotal_inactive_file 20971520\n",
	})
	hidden := func(what string, s Stats, err error) {
		t.Helper()
		if err != nil || s.HasMemoryLimitUsage || s.MemoryLimitCgroup != "" {
			t.Errorf("%s: usage against the hidden ancestor's limit %d from %q, has %v (error %v); want none",
				what, s.MemoryLimitWorkingSet, s.MemoryLimitCgroup, s.HasMemoryLimitUsage, err)
		}
	}
	own := func(what string, s Stats, err error) {
		t.Helper()
		if err != nil || !s.HasMemoryLimitUsage || s.MemoryLimitCgroup != "/docker/abc" || s.MemoryLimitWorkingSet != 80<<20 {
			t.Errorf("%s: usage against the container's limit %d from %q, has %v (error %v); want its own 80 MiB",
				what, s.MemoryLimitWorkingSet, s.MemoryLimitCgroup, s.HasMemoryLimitUsage, err)
		}
	}
	g := mustOpen(t, root)
	s, err := g.Stats()
	hidden("Stats alone", s, err)
	if v, cg, err := g.MemoryLimitCurrent(); err != nil || v != 100<<20 || cg != "" {
		t.Errorf("MemoryLimitCurrent under the hidden ancestor's limit = %d, %q, %v; want the own 100 MiB and no cgroup", v, cg, err)
	}

	// The container's own limit becomes the tighter: Stats alone follows,
	// also after a Limits call found the hidden ancestor's binding.
	if l := mustLimits(t, g); l.MemoryMaxSource.File != "hierarchical_memory_limit in memory.stat" {
		t.Fatalf("MemoryMax from %v", l.MemoryMaxSource)
	}
	if err := os.WriteFile(filepath.Join(root, mem, "memory.limit_in_bytes"), []byte("104857600\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = g.Stats() // the limit Limits found
	hidden("Stats after Limits", s, err)
	s, err = g.Stats()
	own("Stats alone after the change", s, err)
}

// Hybrid: controllers on v1, a unified mount for PSI. A cpu.max on the
// unified side (impossible on a real kernel, which binds cpu to one
// hierarchy) must not win over v1. Mount points with spaces are octal
// escaped; optional fields vary; a cgroup path holds a colon.
func TestFixtureHybridEscapesColons(t *testing.T) {
	const leaf = "/system.slice/my:svc.service"
	root := tree(t, map[string]string{
		"proc/self/cgroup": "7:memory:" + leaf + "\n6:cpu:" + leaf + "\n1:name=systemd:" + leaf + "\n0::" + leaf + "\n",
		"proc/self/mountinfo": "" +
			"25 1 0:22 / /cg\\040root/cpu rw shared:7 master:1 propagate_from:2 unbindable - cgroup cgroup rw,cpu\n" +
			"26 1 0:23 / /cg\\040root/memory rw - cgroup cgroup rw,memory\n" +
			"27 1 0:4 mnt:[4026531840] /run/ns rw - nsfs nsfs rw\n" +
			"28 1 0:24 / /cg\\040root/unified rw shared:9 - cgroup2 cgroup2 rw\n",
		"cg root/cpu" + leaf + "/cpu.cfs_quota_us":         "-1\n",
		"cg root/cpu" + leaf + "/cpu.cfs_period_us":        "100000\n",
		"cg root/cpu/system.slice/cpu.cfs_quota_us":        "75000\n",
		"cg root/cpu/system.slice/cpu.cfs_period_us":       "100000\n",
		"cg root/memory" + leaf + "/memory.limit_in_bytes": "104857600\n",
		"cg root/unified" + leaf + "/cgroup.controllers":   "\n",
		"cg root/unified" + leaf + "/cpu.max":              "10000 100000\n",
		"cg root/unified" + leaf + "/cpu.pressure":         "some avg10=0.00 avg60=0.00 avg300=0.00 total=42\n",
	})
	g := mustOpen(t, root)
	if g.Mode() != ModeHybrid {
		t.Errorf("Mode = %v", g.Mode())
	}
	l := mustLimits(t, g)
	if l.CPU != 0.75 || l.CPUSource.Cgroup != "/system.slice" {
		t.Errorf("CPU = %v from %+v, want v1's 0.75 from /system.slice", l.CPU, l.CPUSource)
	}
	if l.MemoryMax != 100<<20 || l.MemoryMaxSource.Cgroup != leaf {
		t.Errorf("MemoryMax = %d from %+v", l.MemoryMax, l.MemoryMaxSource)
	}
	s, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if !s.CPUPressure.Valid || s.CPUPressure.Some.Total.Microseconds() != 42 {
		t.Errorf("PSI from the unified mount: %+v", s.CPUPressure)
	}
	// None of the counter files is there: every field is zero, and no
	// flag claims it was read.
	if got := hasFlags(s); got != "" {
		t.Errorf("Has* flags set without their files: %q", got)
	}
}

// Mounts hidden by others. A tmpfs stacked on /sys/fs/cgroup hides the cpu
// hierarchy mounted on the old one. On the new tmpfs the memory hierarchy
// is mounted whole, then the container's own cgroup is bind-mounted on top
// of it at the same mount point: only the top one is reachable, so the files
// are at the mount point itself, not at the full cgroup path below it (where
// the hidden mount would lead). The root mount is listed after its
// children, as on real hosts, so the order of the lines decides nothing.
func TestFixtureCoveredMounts(t *testing.T) {
	const ctr = "/kubepods/pod1/ctr"
	root := tree(t, map[string]string{
		"proc/self/cgroup": "5:memory:" + ctr + "\n4:cpu:" + ctr + "\n0::" + ctr + "\n",
		"proc/self/mountinfo": "" +
			"23 27 0:22 / /sys rw - sysfs sysfs rw\n" +
			"27 1 254:1 / / rw - ext4 /dev/vda1 rw\n" +
			"31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n" +
			"32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n" +
			"70 31 0:40 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n" +
			"71 70 0:41 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n" +
			"72 70 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n" +
			"73 72 0:32 " + ctr + " /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
		// What the hidden mounts would lead to: present in the tree, so a
		// wrong pick reads them instead of failing.
		"sys/fs/cgroup/memory" + ctr + "/memory.limit_in_bytes": "999999999\n",
		"sys/fs/cgroup/cpu" + ctr + "/cpu.cfs_quota_us":         "50000\n",
		"sys/fs/cgroup/cpu" + ctr + "/cpu.cfs_period_us":        "100000\n",
		// What the top mounts show.
		"sys/fs/cgroup/memory/memory.limit_in_bytes":    "268435456\n",
		"sys/fs/cgroup/unified" + ctr + "/cpu.pressure": "some avg10=0.00 avg60=0.00 avg300=0.00 total=7\n",
	})
	g := mustOpen(t, root)
	paths := g.Paths()
	if want := filepath.Join(root, "sys/fs/cgroup/memory"); paths["memory"] != want {
		t.Errorf("memory at %q, want the top mount's %q", paths["memory"], want)
	}
	if paths["cpu"] != paths["unified"] {
		t.Errorf("cpu at %q: the v1 cpu mount is hidden by the second tmpfs, so cpu should fall to the unified mount %q", paths["cpu"], paths["unified"])
	}
	l := mustLimits(t, g)
	if l.MemoryMax != 256<<20 || l.MemoryMaxSource.Cgroup != ctr {
		t.Errorf("MemoryMax = %d from %+v, want 256 MiB from %s", l.MemoryMax, l.MemoryMaxSource, ctr)
	}
	if l.CPU != 0 {
		t.Errorf("CPU = %v from %+v: read through a hidden mount", l.CPU, l.CPUSource)
	}
}

// The v1 CFS quota is read with its period. A period file that cannot be
// read is reported with its cause, as any other file, and a quota that does
// not parse names the quota file (what FailedFile asks about).
func TestFixtureV1CFSErrors(t *testing.T) {
	files := map[string]string{
		"proc/self/cgroup":                        "3:cpu:/svc\n",
		"proc/self/mountinfo":                     "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n",
		"sys/fs/cgroup/cpu/svc/cpu.cfs_quota_us":  "50000\n",
		"sys/fs/cgroup/cpu/svc/cpu.cfs_period_us": "100000\n",
	}
	root := tree(t, files)
	g := mustOpen(t, root)
	if l := mustLimits(t, g); l.CPU != 0.5 {
		t.Fatalf("CPU = %v", l.CPU)
	}
	os.Remove(filepath.Join(root, "sys/fs/cgroup/cpu/svc/cpu.cfs_period_us"))
	g.Close()
	_, err := g.Limits()
	if !errors.Is(err, fs.ErrNotExist) || !FailedFile(err, "cpu.cfs_period_us") {
		t.Errorf("period removed: err = %v, want ErrNotExist naming cpu.cfs_period_us", err)
	}

	files["sys/fs/cgroup/cpu/svc/cpu.cfs_quota_us"] = "fifty\n"
	_, err = mustOpen(t, tree(t, files)).Limits()
	if !FailedFile(err, "cpu.cfs_quota_us") || !strings.Contains(fmt.Sprint(err), "fifty") {
		t.Errorf("garbage quota: err = %v, want a syntax error naming cpu.cfs_quota_us and its content", err)
	}
}

// Before Linux 6.1 a kernel with PSI disabled at boot (psi=0, or
// CONFIG_PSI_DEFAULT_DISABLED as on RHEL 9) keeps the cgroup pressure files,
// and reading them fails with EOPNOTSUPP. That is no PSI, as when the files
// are absent (Valid false), not a read failure that makes every Stats call
// return an error. A sysfs attribute that fails the same way stands in for
// the pressure file.
func TestFixturePSIDisabled(t *testing.T) {
	unsupported := ""
	for _, pattern := range []string{"/sys/class/net/*/phys_port_name", "/sys/class/net/*/phys_port_id", "/sys/class/net/*/phys_switch_id"} {
		names, _ := filepath.Glob(pattern)
		for _, n := range names {
			if _, err := os.ReadFile(n); errors.Is(err, syscall.EOPNOTSUPP) {
				unsupported = n
				break
			}
		}
	}
	if unsupported == "" {
		t.Skip("no sysfs file here fails with EOPNOTSUPP")
	}
	root := tree(t, map[string]string{
		"proc/self/cgroup":                   "0::/a\n",
		"proc/self/mountinfo":                "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
		"sys/fs/cgroup/a/cgroup.controllers": "memory\n",
		"sys/fs/cgroup/a/memory.current":     "10\n",
		"sys/fs/cgroup/a/memory.pressure":    "some avg10=0.00 avg60=0.00 avg300=0.00 total=5\n",
	})
	if err := os.Symlink(unsupported, filepath.Join(root, "sys/fs/cgroup/a/cpu.pressure")); err != nil {
		t.Fatal(err)
	}
	g := mustOpen(t, root)
	for range 2 {
		s, err := g.Stats()
		if err != nil {
			t.Fatalf("Stats: %v", err)
		}
		if s.CPUPressure.Valid || !s.MemoryPressure.Valid || s.MemoryCurrent != 10 {
			t.Errorf("cpu pressure %+v, memory pressure %+v, memory %d", s.CPUPressure, s.MemoryPressure, s.MemoryCurrent)
		}
	}
}

// The root of a v1 hierarchy (the level with release_agent) has limit files
// that always read "no limit": the kernel refuses a limit there. Limits
// skips them. The root's files below hold limits a kernel never shows, so
// that reading them would show.
func TestFixtureV1RootLimitsNotRead(t *testing.T) {
	root := tree(t, map[string]string{
		"proc/self/cgroup": "4:memory:/svc\n3:cpu:/svc\n",
		"proc/self/mountinfo": "" +
			"32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n" +
			"35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
		"sys/fs/cgroup/cpu/release_agent":                "\n",
		"sys/fs/cgroup/cpu/cpu.cfs_quota_us":             "10000\n",
		"sys/fs/cgroup/cpu/cpu.cfs_period_us":            "100000\n",
		"sys/fs/cgroup/cpu/svc/cpu.cfs_quota_us":         "150000\n",
		"sys/fs/cgroup/cpu/svc/cpu.cfs_period_us":        "100000\n",
		"sys/fs/cgroup/memory/release_agent":             "\n",
		"sys/fs/cgroup/memory/memory.limit_in_bytes":     "104857600\n",
		"sys/fs/cgroup/memory/svc/memory.limit_in_bytes": "209715200\n",
		"sys/fs/cgroup/memory/svc/memory.usage_in_bytes": "1048576\n",
	})
	g := mustOpen(t, root)
	l := mustLimits(t, g)
	if l.CPU != 1.5 || l.CPUSource.Cgroup != "/svc" {
		t.Errorf("CPU = %v from %+v, want 1.5 from /svc", l.CPU, l.CPUSource)
	}
	if l.MemoryMax != 200<<20 || l.MemoryMaxSource.Cgroup != "/svc" {
		t.Errorf("MemoryMax = %d from %+v, want 200 MiB from /svc", l.MemoryMax, l.MemoryMaxSource)
	}
}

// The host this project runs on (a v1 hybrid layout), as read off it.
func TestFixtureRealHostFiles(t *testing.T) {
	d := "testdata/host-v1-hybrid/"
	read := func(name string) string {
		b, err := os.ReadFile(d + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	procs := read("proc-self-cgroup")
	mem := ""
	for _, line := range strings.Split(procs, "\n") {
		if strings.Contains(line, ":memory:") {
			mem = strings.SplitN(line, ":", 3)[2]
		}
	}
	root := tree(t, map[string]string{
		"proc/self/cgroup":                                   procs,
		"proc/self/mountinfo":                                read("mountinfo"),
		"sys/fs/cgroup/memory" + mem + "/memory.stat":        read("memory.stat"),
		"sys/fs/cgroup/memory" + mem + "/memory.oom_control": read("memory.oom_control"),
		"sys/fs/cgroup/cpu/cpu.stat":                         read("cpu.stat"),
		"sys/fs/cgroup/cpuacct/cpuacct.stat":                 read("cpuacct.stat"),
		"sys/fs/cgroup/unified/cpu.pressure":                 read("cpu.pressure"),
		"sys/fs/cgroup/unified/io.pressure":                  read("io.pressure"),
	})
	g := mustOpen(t, root)
	if g.Mode() != ModeHybrid {
		t.Errorf("Mode = %v", g.Mode())
	}
	l := mustLimits(t, g)
	if l.CPU != 0 || l.MemoryMax != 0 {
		t.Errorf("this host's process has no limits, got %+v", l)
	}
	if _, err := g.Stats(); err != nil {
		t.Errorf("Stats: %v", err)
	}
}

func TestFixtureNoCgroup(t *testing.T) {
	root := tree(t, map[string]string{
		"proc/self/cgroup":    "0::/\n",
		"proc/self/mountinfo": "22 27 0:21 / /proc rw,relatime - proc proc rw\n",
	})
	_, err := Open(WithRoot(root))
	if !errors.Is(err, ErrNoCgroup) {
		t.Fatalf("err = %v, want ErrNoCgroup", err)
	}
}

func TestFixtureBadInput(t *testing.T) {
	good := map[string]string{
		"proc/self/cgroup":                   "0::/a\n",
		"proc/self/mountinfo":                "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
		"sys/fs/cgroup/a/cgroup.controllers": "cpu memory\n",
		"sys/fs/cgroup/a/cpu.max":            "50000 100000\n",
		"sys/fs/cgroup/a/memory.max":         "max\n",
		"sys/fs/cgroup/a/memory.stat":        "anon 1\n",
		"sys/fs/cgroup/a/memory.current":     "10\n",
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for kk, vv := range good {
			m[kk] = vv
		}
		if v == "<delete>" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for _, c := range []struct {
		name      string
		files     map[string]string
		openErr   bool
		limitsErr string // substring: the file named in the error
		statsErr  string
	}{
		{name: "no proc cgroup", files: with("proc/self/cgroup", "<delete>"), openErr: true},
		{name: "garbage proc cgroup", files: with("proc/self/cgroup", "\x00\xff garbage"), openErr: true},
		// Well formed, but deeper than any path the kernel writes: 4096
		// levels (each one a directory path for Open to plan) must be
		// refused, not resolved.
		{name: "path too long", files: with("proc/self/cgroup", "0::"+strings.Repeat("/a", 2048)+"\n"), openErr: true},
		{name: "truncated mountinfo", files: with("proc/self/mountinfo", "30 25 0:26 / /sys/fs/cgroup rw - cgr"), openErr: true},
		{name: "garbage cpu.max", files: with("sys/fs/cgroup/a/cpu.max", "fifty thousand\n"), limitsErr: "cpu.max"},
		{name: "negative memory.max", files: with("sys/fs/cgroup/a/memory.max", "-5\n"), limitsErr: "memory.max"},
		{name: "zero period", files: with("sys/fs/cgroup/a/cpu.max", "5000 0\n"), limitsErr: "cpu.max"},
		{name: "huge memory.stat", files: with("sys/fs/cgroup/a/memory.stat", strings.Repeat("anon 1\n", 1<<14)), statsErr: "memory.stat"},
		{name: "garbage memory.current", files: with("sys/fs/cgroup/a/memory.current", "lots"), statsErr: "memory.current"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g, err := Open(WithRoot(tree(t, c.files)))
			if c.openErr {
				var fe *FileError
				if err == nil || !errors.As(err, &fe) || errors.Is(err, ErrNoCgroup) {
					t.Fatalf("Open err = %v, want a *FileError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, lerr := g.Limits()
			_, serr := g.Stats()
			check := func(what string, err error, want string) {
				if want == "" {
					if err != nil {
						t.Errorf("%s: unexpected %v", what, err)
					}
					return
				}
				var fe *FileError
				if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), want) {
					t.Errorf("%s err = %v, want a *FileError naming %s", what, err, want)
				}
				// What a caller using only some fields asks.
				if !FailedFile(err, "cpu.stat", want) || FailedFile(err, "cpu.stat", "io.pressure") {
					t.Errorf("FailedFile(%v) does not single out %s", err, want)
				}
			}
			check("Limits", lerr, c.limitsErr)
			check("Stats", serr, c.statsErr)
		})
	}
}

// A limit file that vanishes after Open (a controller disabled) is reported,
// not taken for "no limit". On a real cgroup file system the kept descriptor
// then fails with ENODEV and is reopened (vm_test.go covers that); an
// ordinary file stays readable through its descriptor, so here Close drops
// the descriptors first.
func TestFixtureFileVanishes(t *testing.T) {
	root := tree(t, map[string]string{
		"proc/self/cgroup":                   "0::/a\n",
		"proc/self/mountinfo":                "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
		"sys/fs/cgroup/a/cgroup.controllers": "memory\n",
		"sys/fs/cgroup/a/memory.max":         "1000000\n",
	})
	g := mustOpen(t, root)
	if l := mustLimits(t, g); l.MemoryMax != 1000000 {
		t.Fatalf("MemoryMax = %d", l.MemoryMax)
	}
	os.Remove(filepath.Join(root, "sys/fs/cgroup/a/memory.max"))
	g.Close()
	_, err := g.Limits()
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want ErrNotExist", err)
	}
}

func TestFailedFile(t *testing.T) {
	a := &FileError{Path: "/sys/fs/cgroup/a/cpu.stat", Err: fs.ErrPermission}
	b := syntaxError("/sys/fs/cgroup/a/memory.stat", "want key value lines")
	joined := errors.Join(a, b)
	for _, c := range []struct {
		err   error
		names []string
		want  bool
	}{
		{nil, []string{"cpu.stat"}, false},
		{a, []string{"cpu.stat"}, true},
		{a, []string{"stat"}, false}, // base names, not suffixes
		{joined, []string{"memory.stat"}, true},
		{joined, []string{"memory.max", "io.pressure"}, false},
		{fmt.Errorf("reading: %w", a), []string{"cpu.stat"}, true},
		{errors.New("something else"), []string{"cpu.stat"}, true}, // could be any file
	} {
		if got := FailedFile(c.err, c.names...); got != c.want {
			t.Errorf("FailedFile(%v, %q) = %v, want %v", c.err, c.names, got, c.want)
		}
	}
}

// UsageAgainst gives the limit's cgroup's usage only for a limit on that
// cgroup: one read at another moment may be on another level.
func TestStatsUsageAgainst(t *testing.T) {
	s := Stats{MemoryCurrent: 50, WorkingSet: 40, HasMemoryLimitUsage: true,
		MemoryLimitCgroup: "/pod", MemoryLimitCurrent: 200, MemoryLimitWorkingSet: 180}
	for _, c := range []struct {
		src        Source
		cur, ws    int64
		atTheLimit bool
	}{
		{Source{Cgroup: "/pod"}, 200, 180, true},
		{Source{Cgroup: "/pod/ctr"}, 50, 40, false}, // the limit moved since
	} {
		if cur, ws, ok := s.UsageAgainst(c.src); cur != c.cur || ws != c.ws || ok != c.atTheLimit {
			t.Errorf("UsageAgainst(%q) = %d, %d, %v; want %d, %d, %v", c.src.Cgroup, cur, ws, ok, c.cur, c.ws, c.atTheLimit)
		}
	}
	s.HasMemoryLimitUsage = false // a hidden v1 ancestor's limit
	if cur, ws, ok := s.UsageAgainst(Source{Cgroup: "/pod"}); cur != 50 || ws != 40 || ok {
		t.Errorf("without the limit's usage: %d, %d, %v; want the own 50, 40, false", cur, ws, ok)
	}
}

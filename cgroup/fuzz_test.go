package cgroup

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// Every parser is fuzzed: whatever the bytes, it returns a value or an error
// and never panics, loops or reports nonsense (negative counts, NaN). The
// seeds are real files: this host's (testdata/host-v1-hybrid) and the shapes
// of Kubernetes v2 nodes used in fixture_test.go.

func seedFiles(f *testing.F, names ...string) {
	for _, n := range names {
		if b, err := os.ReadFile(filepath.Join("testdata/host-v1-hybrid", n)); err == nil {
			f.Add(b)
		}
	}
}

func FuzzParseProcCgroup(f *testing.F) {
	seedFiles(f, "proc-self-cgroup")
	f.Add([]byte("0::" + k8sLeaf + "\n"))
	f.Add([]byte("7:memory:/a:b\n0::/a:b\n1:name=systemd:/\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines, err := parseProcCgroup(data)
		if err != nil {
			return
		}
		for _, l := range lines {
			if !strings.HasPrefix(l.path, "/") {
				t.Fatalf("path %q not absolute", l.path)
			}
		}
	})
}

func FuzzParseMountinfo(f *testing.F) {
	seedFiles(f, "mountinfo")
	f.Add([]byte("25 1 0:22 / /cg\\040root/cpu rw shared:7 master:1 - cgroup cgroup rw,cpu\n27 1 0:4 mnt:[1] /run/ns rw - nsfs nsfs rw\n"))
	f.Add([]byte("40 30 0:26 /docker/ctr /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n"))
	// Stacked mounts, and parents in a cycle (no kernel writes one).
	f.Add([]byte("35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n66 35 0:32 /ctr /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"))
	f.Add([]byte("5 6 0:1 / /a rw - cgroup2 cgroup2 rw\n6 5 0:2 / /a rw - tmpfs tmpfs rw\n7 7 0:3 / /a/b rw - cgroup cgroup rw,cpu\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		mounts, err := parseMountinfo(data)
		if err != nil {
			return
		}
		for _, m := range mounts {
			// Whatever the mount, path translation must not panic.
			if under("/a/b", m.root) {
				newHierarchy("/", &m, "/a/b")
			}
		}
	})
}

func FuzzParseCPUMax(f *testing.F) {
	for _, s := range []string{"max 100000\n", "150000 100000\n", "max\n", "50000 1000000", "-1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		q, p, ok := parseCPUMax(data)
		if ok && (q < 0 || p <= 0) {
			t.Fatalf("quota %d period %d from %q", q, p, data)
		}
	})
}

func FuzzParseLimit(f *testing.F) {
	for _, s := range []string{"max\n", "9223372036854771712\n", "-1\n", "268435456", "0\n", "99999999999999999999"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if v, ok := parseLimit(data); ok && v < 0 {
			t.Fatalf("negative limit %d from %q", v, data)
		}
	})
}

func FuzzCountCPUList(f *testing.F) {
	for _, s := range []string{"0-1\n", "0-3,6,8-11", "", "5", "3-1", "0-1048576", "0,0,0", "0-3,2-5"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, ok := countCPUList(data)
		if !ok {
			return
		}
		if n < 0 {
			t.Fatalf("negative count %d from %q", n, data)
		}
		// No CPU counted twice: at most the span from the first to the
		// last CPU named.
		items := strings.Split(strings.TrimSpace(string(data)), ",")
		if n == 0 || len(items) == 0 {
			return
		}
		first, _, _ := strings.Cut(items[0], "-")
		last := items[len(items)-1]
		if _, hi, ok := strings.Cut(last, "-"); ok {
			last = hi
		}
		lo, err1 := strconv.Atoi(first)
		hi, err2 := strconv.Atoi(last)
		if err1 == nil && err2 == nil && n > hi-lo+1 {
			t.Fatalf("%d CPUs from %q, which spans %d", n, data, hi-lo+1)
		}
	})
}

func TestCountCPUList(t *testing.T) {
	for in, want := range map[string]int{"0-3,6\n": 5, "": 0, "7": 1, "0,2,4-5": 4, "0-1048576": 1<<20 + 1} {
		if n, ok := countCPUList([]byte(in)); !ok || n != want {
			t.Errorf("countCPUList(%q) = %d, %v; want %d", in, n, ok, want)
		}
	}
	// Lists the kernel never writes: they would count a CPU twice.
	for _, in := range []string{"0,0,0", "0-3,2-5", "4-7,2", "1,1-2"} {
		if n, ok := countCPUList([]byte(in)); ok {
			t.Errorf("countCPUList(%q) = %d, accepted", in, n)
		}
	}
}

func FuzzParsePressure(f *testing.F) {
	seedFiles(f, "cpu.pressure", "io.pressure")
	f.Add([]byte("some avg10=1.50 avg60=0.75 avg300=0.10 total=987654\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, ok := parsePressure(data)
		if !ok {
			return
		}
		for _, l := range []PressureLine{p.Some, p.Full} {
			if l.Avg10 < 0 || l.Avg10 != l.Avg10 || l.Total < 0 {
				t.Fatalf("nonsense %+v from %q", l, data)
			}
		}
	})
}

// The flat keyed files (memory.stat, cpu.stat, memory.events,
// memory.oom_control) share one parser.
func FuzzKeyedFile(f *testing.F) {
	seedFiles(f, "memory.stat", "cpu.stat", "memory.oom_control", "cpuacct.stat")
	f.Add([]byte("low 0\nhigh 12\nmax 3\noom 1\noom_kill 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		forEachKV(data, func(k []byte, v int64) { n++ })
		if n > len(data) {
			t.Fatalf("%d pairs from %d bytes", n, len(data))
		}
		kvLine(data, "hierarchical_memory_limit")
	})
}

// joinedLevels is what newHierarchy's levels must hold: each directory
// joined from the mount point and the level's path below the mount root.
func joinedLevels(fsRoot string, m *mount, path string) []level {
	var out []level
	for p := path; ; {
		out = append(out, level{dir: filepath.Join(fsRoot, m.mountPoint, relPath(p, m.root)), cgroup: p})
		if p == m.root || p == "/" {
			break
		}
		p = parentPath(p)
		if !under(p, m.root) {
			break
		}
	}
	return out
}

func FuzzNewHierarchy(f *testing.F) {
	f.Add("/", "/", "/sys/fs/cgroup/memory", "/a/b")
	f.Add("/tmp/x", "/docker/ctr", "/sys/fs/cgroup", "/docker/ctr/a:b/c")
	f.Add("/", "/", "/", "/a")
	f.Add("/", "/a", "/mnt/", "/a")
	f.Add("/", "/", "/sys/fs/cgroup", "/a//b/./c/../d/")
	f.Add("", "/", "cg", "/")
	f.Add("", "/", "", "/") // no mount point at all: "/", not ""
	f.Fuzz(func(t *testing.T, fsRoot, root, mountPoint, path string) {
		m := &mount{root: root, mountPoint: mountPoint}
		if !strings.HasPrefix(path, "/") || !under(path, root) {
			return
		}
		got := newHierarchy(fsRoot, m, path).levels
		want := joinedLevels(fsRoot, m, path)
		if len(got) != len(want) {
			t.Fatalf("%d levels, want %d", len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("level %d: %+v, want %+v", i, got[i], want[i])
			}
		}
	})
}

// A path as deep as the kernel writes (4095 bytes, 2047 levels) costs
// memory in proportion to its length, not to its length squared: a forged
// /proc/self/cgroup of a megabyte of such lines made Open take seconds.
func TestNewHierarchyDeepPath(t *testing.T) {
	m := &mount{root: "/", mountPoint: "/sys/fs/cgroup/memory"}
	path := strings.Repeat("/a", 2047)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	h := newHierarchy("/", m, path)
	runtime.ReadMemStats(&after)
	if len(h.levels) != 2048 || h.levels[2047].dir != "/sys/fs/cgroup/memory" || h.levels[0].dir != "/sys/fs/cgroup/memory"+path {
		t.Fatalf("%d levels, top %q", len(h.levels), h.levels[len(h.levels)-1].dir)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("newHierarchy allocated %d bytes for a path of %d bytes", n, len(path))
	}
}

// FuzzResolve runs what Open makes of /proc/self/cgroup and mountinfo
// (parse both, pick each line's mount, list its levels) and checks that no
// level leads out of the mount that shows it: a cgroup path is joined onto
// the mount point, and whatever its ".." elements, the directories Limits
// and Stats read stay in that hierarchy.
func FuzzResolve(f *testing.F) {
	for _, dir := range []string{"testdata/host-v1-hybrid", "testdata/k8s-v2/proc/self"} {
		cg, err1 := os.ReadFile(filepath.Join(dir, "proc-self-cgroup"))
		if err1 != nil {
			cg, err1 = os.ReadFile(filepath.Join(dir, "cgroup"))
		}
		mi, err2 := os.ReadFile(filepath.Join(dir, "mountinfo"))
		if err1 == nil && err2 == nil {
			f.Add(cg, mi)
		}
	}
	v2 := []byte("40 30 0:26 /docker/ctr /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n")
	f.Add([]byte("0::/docker/ctr/a\n"), v2)
	f.Add([]byte("0::/../../other\n"), v2)
	f.Add([]byte("0::/a/b\n"), []byte("40 30 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"))
	f.Add([]byte("4:memory:/a\n"), []byte("35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"))
	f.Fuzz(func(t *testing.T, procCgroup, mountinfo []byte) {
		lines, err := parseProcCgroup(procCgroup)
		if err != nil {
			return
		}
		mounts, err := parseMountinfo(mountinfo)
		if err != nil {
			return
		}
		for _, fsRoot := range []string{"/", "/tmp/root"} {
			for _, l := range lines {
				m := pickMount(mounts, l.path, l.controllers)
				if m == nil {
					continue
				}
				base := filepath.Join(fsRoot, m.mountPoint)
				for _, lv := range newHierarchy(fsRoot, m, l.path).levels {
					if lv.dir != base && !strings.HasPrefix(lv.dir, strings.TrimSuffix(base, "/")+"/") {
						t.Fatalf("cgroup %q through mount of %q at %q: level %q is outside %q",
							l.path, m.root, m.mountPoint, lv.dir, base)
					}
				}
			}
		}
	})
}

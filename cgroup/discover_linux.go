package cgroup

import (
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
)

// Group is the calling process's cgroup, resolved once by Open.
type Group struct {
	mode Mode
	self bool // a view of this process: consult its CPU affinity

	// One hierarchy per controller we read. On v2 several point to the same
	// unified hierarchy; on v1 each has its own; nil where not found.
	cpu, cpuacct, cpuset, memory, pids, unified *hierarchy

	mu        sync.Mutex // guards buf, files, the plans' cached values, affinity
	files     *fileSet
	buf       []byte
	small     [192]byte // v1 CFS period and the joined quota/period value
	limitPlan []limitFile
	statsPlan statsPlan
	// cfsAt is the ancestor whose CPU quota was last found the tightest,
	// nil for the process's own cgroup or no quota: the kernel counts
	// throttling in the cpu.stat of the cgroup whose quota ran out, so
	// Stats reads the CFS counters there. cfsFresh: a Limits call found
	// it since the last Stats, which need not read the quotas again.
	cfsAt    *limitFile
	cfsFresh bool
	// memAt is the entry of the memory limit that binds (as
	// Limits.MemoryLimit picks it), nil for none; memFresh, like
	// cfsFresh, says a Limits call found it since the last Stats. Stats
	// reads the usage the kernel holds against that limit there.
	memAt      *limitFile
	memFresh   bool
	affinity   [16]uint64 // room for 1024 CPUs
	affinityN  int
	affinityS  string
	affinitySz int
}

// file returns the path of an interface file of level i.
func (h *hierarchy) file(i int, name string) string {
	return filepath.Join(h.levels[i].dir, name)
}

// plan returns the file name of level i of h for reading by Limits or Stats,
// or nil when the layout does not have it. It opens the file: one path walk
// both tells whether the file is there and gives the descriptor every read
// will use, where a stat now and an open at the first read walked it twice
// (Open plans 20 to 40 files). A file that is there but cannot be opened
// (EACCES) is planned all the same, so that reading it reports why.
func (g *Group) plan(h *hierarchy, i int, name string) *cfile {
	if h == nil || i >= len(h.levels) {
		return nil
	}
	f := newCFile(h.file(i, name))
	switch f.open() {
	case syscall.ENOENT, syscall.ENOTDIR:
		return nil
	}
	g.files.add(f)
	return f
}

// Bounds on the two files read once at Open.
const (
	maxProcCgroup = 1 << 20
	maxMountinfo  = 16 << 20
)

func open(o options) (*Group, error) {
	procCgroup := filepath.Join(o.root, "proc/self/cgroup")
	data, err := readBounded(procCgroup, maxProcCgroup)
	if err != nil {
		return nil, err
	}
	lines, err := parseProcCgroup(data)
	if err != nil {
		return nil, &FileError{Path: procCgroup, Err: fmt.Errorf("%w: %v", errSyntax, err)}
	}
	mountinfo := filepath.Join(o.root, "proc/self/mountinfo")
	data, err = readBounded(mountinfo, maxMountinfo)
	if err != nil {
		return nil, err
	}
	mounts, err := parseMountinfo(data)
	if err != nil {
		return nil, &FileError{Path: mountinfo, Err: fmt.Errorf("%w: %v", errSyntax, err)}
	}

	g := &Group{self: filepath.Clean(o.root) == "/", buf: make([]byte, fileBufSize), files: &fileSet{}}
	v1 := map[string]*hierarchy{}
	for _, l := range lines {
		if l.controllers == nil {
			if m := pickMount(mounts, l.path, nil); m != nil {
				g.unified = newHierarchy(o.root, m, l.path)
			}
			continue
		}
		m := pickMount(mounts, l.path, l.controllers)
		if m == nil {
			continue
		}
		h := newHierarchy(o.root, m, l.path)
		for _, c := range l.controllers {
			v1[c] = h
		}
	}

	// The kernel binds each controller to one hierarchy: where a v1
	// hierarchy has it, the unified one cannot, so v1 wins. Otherwise the
	// unified hierarchy serves; files of a controller not enabled there
	// are simply absent, and planLimits only plans files that exist.
	pick := func(name string) *hierarchy {
		if h := v1[name]; h != nil {
			return h
		}
		return g.unified
	}
	g.cpu, g.cpuacct, g.cpuset, g.memory, g.pids =
		pick("cpu"), v1["cpuacct"], pick("cpuset"), pick("memory"), pick("pids")
	if g.cpuacct == nil {
		g.cpuacct = g.cpu // v2 (and v1 "cpu,cpuacct") keep usage beside the quota
	}

	anyV1 := false
	for _, c := range []string{"cpu", "cpuacct", "cpuset", "memory", "pids"} {
		if v1[c] != nil {
			anyV1 = true
		}
	}
	switch {
	case anyV1 && g.unified != nil:
		g.mode = ModeHybrid
	case anyV1:
		g.mode = ModeV1
	case g.unified != nil:
		g.mode = ModeV2
	default:
		return nil, fmt.Errorf("%w (read %s and %s)", ErrNoCgroup, procCgroup, mountinfo)
	}
	g.limitPlan = g.planLimits()
	g.statsPlan = g.planStats()
	runtime.AddCleanup(g, func(fs *fileSet) { fs.closeAll() }, g.files)
	return g, nil
}

func (g *Group) paths() map[string]string {
	if g == nil {
		return nil
	}
	out := map[string]string{}
	for name, h := range map[string]*hierarchy{
		"cpu": g.cpu, "cpuacct": g.cpuacct, "cpuset": g.cpuset,
		"memory": g.memory, "pids": g.pids, "unified": g.unified,
	} {
		if h != nil {
			out[name] = h.levels[0].dir
		}
	}
	return out
}

func (g *Group) close() {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.files.closeAll()
}

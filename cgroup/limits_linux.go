package cgroup

import (
	"bytes"
	"errors"
	"math/bits"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"
)

// limitKind says how to read one planned limit file.
type limitKind uint8

const (
	kCPUMax     limitKind = iota // v2 cpu.max
	kCFSQuota                    // v1 cpu.cfs_quota_us, with cpu.cfs_period_us in path2
	kMemoryMax                   // v2 memory.max, v1 memory.limit_in_bytes
	kMemoryHigh                  // v2 memory.high
	kSwapMax                     // v2 memory.swap.max
	kMemswMax                    // v1 memory.memsw.limit_in_bytes (memory plus swap)
	kMemoryStat                  // v1 memory.stat: hierarchical_memory_limit, hierarchical_memsw_limit
	kPidsMax                     // pids.max
	kCPUSet                      // cpuset.cpus.effective (v2), cpuset.effective_cpus (v1)
)

// limitFile is a file Limits reads, decided once by Open.
type limitFile struct {
	kind    limitKind
	path    *cfile
	path2   *cfile // second file of a pair (v1 CFS period)
	cfsStat *cfile // an ancestor's cpu.stat beside its CPU quota (see Group.cfsAt)
	// usage: an ancestor's memory usage files beside its memory limit
	// (see Group.memAt); nil for the process's own level and for the
	// limits of ancestors the mount hides.
	usage    *levelUsage
	file     string
	cgroup   string
	ancestor bool

	// The last content read and its string, so that a Source's Value costs
	// an allocation only when the file changes.
	last    []byte
	lastStr string
}

// levelUsage is the memory usage files of one ancestor, opened at the first
// read: the usage the kernel compares with that ancestor's limit, which
// counts the process's siblings too.
type levelUsage struct {
	current, stat *cfile
}

func (f *limitFile) value(b []byte) string {
	if f.lastStr == "" || !bytes.Equal(b, f.last) {
		f.last = append(f.last[:0], b...)
		f.lastStr = string(b)
	}
	return f.lastStr
}

func (f *limitFile) source(value string) Source {
	return Source{File: f.file, Cgroup: f.cgroup, Ancestor: f.ancestor, Value: value}
}

// planLimits lists the files Limits reads: each limit on every level from
// the process's cgroup up to the mount root where the file exists (the root
// cgroup has no cpu.max or memory.max on v2), and the cpuset at the nearest
// level that has one (it is already effective: the kernel intersects it
// with the ancestors').
func (g *Group) planLimits() []limitFile {
	var plan []limitFile
	v1Root := map[*hierarchy]bool{} // one stat per hierarchy, not per kind
	usage := map[int]*levelUsage{}  // memory ancestors' usage, by level
	isRoot := func(h *hierarchy) bool {
		r, ok := v1Root[h]
		if !ok {
			r = isV1Root(h)
			v1Root[h] = r
		}
		return r
	}
	add := func(h *hierarchy, kind limitKind, name, name2 string) {
		if h == nil {
			return
		}
		levels := len(h.levels)
		if isRoot(h) {
			// The root of a v1 hierarchy has the limit files, but the
			// kernel refuses any limit there (EINVAL): they always read
			// "no limit", and reading them costs a syscall each.
			levels--
		}
		for i := range levels {
			f := limitFile{kind: kind, path: g.plan(h, i, name), file: name,
				cgroup: h.levels[i].cgroup, ancestor: i > 0}
			if f.path == nil {
				continue
			}
			if name2 != "" {
				if f.path2 = g.plan(h, i, name2); f.path2 == nil {
					continue
				}
			}
			if i > 0 && (kind == kCPUMax || kind == kCFSQuota) {
				// Every cgroup with a quota file has a cpu.stat: opened
				// at the first read, if this quota is ever the tightest,
				// not at Open (the program's init).
				f.cfsStat = newCFile(h.file(i, "cpu.stat"))
				g.files.add(f.cfsStat)
			}
			if i > 0 && (kind == kMemoryMax || kind == kMemoryHigh) {
				// Likewise its memory usage, read only while this
				// limit binds; memory.max and memory.high share them.
				if usage[i] == nil {
					current := "memory.usage_in_bytes"
					if h.v2 {
						current = "memory.current"
					}
					usage[i] = &levelUsage{current: newCFile(h.file(i, current)), stat: newCFile(h.file(i, "memory.stat"))}
					g.files.add(usage[i].current)
					g.files.add(usage[i].stat)
				}
				f.usage = usage[i]
			}
			plan = append(plan, f)
		}
	}
	if h := g.cpu; h != nil && h.v2 {
		add(h, kCPUMax, "cpu.max", "")
	} else {
		add(h, kCFSQuota, "cpu.cfs_quota_us", "cpu.cfs_period_us")
	}
	if h := g.memory; h != nil && h.v2 {
		add(h, kMemoryMax, "memory.max", "")
		add(h, kMemoryHigh, "memory.high", "")
		add(h, kSwapMax, "memory.swap.max", "")
	} else if h != nil {
		add(h, kMemoryMax, "memory.limit_in_bytes", "")
		add(h, kMemswMax, "memory.memsw.limit_in_bytes", "")
		// When the mount hides ancestors (a container's own subtree, or a
		// cgroup namespace), only the hierarchical_* lines of memory.stat
		// show their limits. It is the costliest file to read (the kernel
		// sums the whole subtree), so skip it when the top level we see is
		// the hierarchy's true root: only a root has release_agent.
		if !isRoot(h) {
			if f := g.plan(h, 0, "memory.stat"); f != nil {
				plan = append(plan, limitFile{kind: kMemoryStat, path: f, cgroup: h.levels[0].cgroup})
			}
		}
	}
	add(g.pids, kPidsMax, "pids.max", "")
	if h := g.cpuset; h != nil {
		name := "cpuset.effective_cpus"
		if h.v2 {
			name = "cpuset.cpus.effective"
		}
		for i := range h.levels {
			if f := g.plan(h, i, name); f != nil {
				plan = append(plan, limitFile{kind: kCPUSet, path: f, file: name,
					cgroup: h.levels[i].cgroup, ancestor: i > 0})
				break
			}
		}
	}
	return plan
}

// isV1Root reports whether the top level of h is the root of a v1
// hierarchy, rather than a cgroup whose ancestors the mount or a cgroup
// namespace hides: only a v1 root has release_agent.
func isV1Root(h *hierarchy) bool {
	return !h.v2 && exists(h.file(len(h.levels)-1, "release_agent"))
}

func (g *Group) limits() (Limits, error) {
	if g == nil {
		return Limits{}, ErrNoCgroup
	}
	g.mu.Lock()
	defer g.mu.Unlock()

	l := Limits{Mode: g.mode}
	var errs []error
	memsw, memswSrc := int64(0), Source{}
	var cpuAt *limitFile // the tightest quota's
	cpuRead := true      // every quota file read and parsed
	var mem memPick
	memRead := true // every memory limit file read and parsed
	for i := range g.limitPlan {
		f := &g.limitPlan[i]
		data, err := f.path.read(g.buf)
		if err != nil {
			errs = append(errs, err)
			cpuRead = cpuRead && f.kind != kCPUMax && f.kind != kCFSQuota
			memRead = memRead && f.kind != kMemoryMax && f.kind != kMemoryHigh && f.kind != kMemoryStat
			continue
		}
		data = bytes.TrimSpace(data)
		switch f.kind {
		case kCPUMax, kCFSQuota:
			cpus, err := g.quota(f, data)
			if err != nil {
				errs = append(errs, err)
				cpuRead = false
				continue
			}
			if cpus > 0 && (l.CPU == 0 || cpus < l.CPU) {
				l.CPU, l.CPUSource, cpuAt = cpus, f.source(f.lastStr), f
			}
		case kMemoryMax, kMemoryHigh, kPidsMax, kMemswMax:
			v, ok := parseLimit(data)
			if !ok {
				errs = append(errs, syntaxError(f.path.name, "want a number or \"max\", have %q", data))
				memRead = memRead && f.kind != kMemoryMax && f.kind != kMemoryHigh
				continue
			}
			if f.kind == kMemoryMax || f.kind == kMemoryHigh {
				mem.offer(f, v)
			}
			var dst *int64
			var src *Source
			switch f.kind {
			case kMemoryMax:
				dst, src = &l.MemoryMax, &l.MemoryMaxSource
			case kMemoryHigh:
				dst, src = &l.MemoryHigh, &l.MemoryHighSource
			case kPidsMax:
				dst, src = &l.PidsMax, &l.PidsMaxSource
			default:
				dst, src = &memsw, &memswSrc
			}
			if v > 0 && (*dst == 0 || v < *dst) {
				*dst, *src = v, f.source(f.value(data))
			}
		case kSwapMax:
			v, ok := parseLimit(data)
			if !ok {
				errs = append(errs, syntaxError(f.path.name, "want a number or \"max\", have %q", data))
				continue
			}
			// parseLimit's 0 is no limit ("max", or a number too large
			// to be one); only a written 0 allows no swap.
			if v == 0 && string(data) != "0" {
				continue
			}
			if v == 0 || l.SwapMaxSource.IsZero() || v < l.SwapMax {
				l.SwapMax, l.NoSwap, l.SwapMaxSource = v, v == 0, f.source(f.value(data))
			}
		case kMemoryStat:
			if v, ok := kvLine(data, "hierarchical_memory_limit"); ok {
				if n, ok := parseLimit(v); ok && n > 0 && (l.MemoryMax == 0 || n < l.MemoryMax) {
					mem.offer(f, n)
					f.file = "hierarchical_memory_limit in memory.stat"
					l.MemoryMax, l.MemoryMaxSource = n, f.source(f.value(v))
				}
			}
			if v, ok := kvLine(data, "hierarchical_memsw_limit"); ok {
				if n, ok := parseLimit(v); ok && n > 0 && (memsw == 0 || n < memsw) {
					memsw = n
					memswSrc = Source{File: "hierarchical_memsw_limit in memory.stat", Cgroup: f.cgroup, Value: strconv.FormatInt(n, 10)}
				}
			}
		case kCPUSet:
			n, ok := countCPUList(data)
			if !ok {
				errs = append(errs, syntaxError(f.path.name, "want a CPU list, have %q", data))
				continue
			}
			if n > 0 {
				l.CPUs, l.CPUsSource = n, f.source(f.value(data))
			}
		}
	}
	// v1 accounts memory plus swap together: the swap allowed is the
	// difference, and none when the two limits are equal.
	if memsw > 0 && l.MemoryMax > 0 && memsw >= l.MemoryMax {
		l.SwapMax, l.NoSwap, l.SwapMaxSource = memsw-l.MemoryMax, memsw == l.MemoryMax, memswSrc
	}
	if cpuRead {
		g.setCFSAt(cpuAt)
	}
	if memRead {
		g.memAt, g.memFresh = mem.binding(), true
	}
	if g.self {
		if n := g.affinityCount(); n > 0 && (l.CPUs == 0 || n < l.CPUs) {
			l.CPUs, l.CPUsSource = n, Source{File: "sched_getaffinity", Value: g.affinityS}
		}
	}
	if l.CPUs == 0 {
		l.CPUs, l.CPUsSource = runtime.NumCPU(), Source{File: "runtime.NumCPU"}
	}
	return l, joinErrors(errs)
}

// quota parses a CPU quota file read into data (v2 cpu.max, or v1
// cpu.cfs_quota_us with its period read beside it) as the CPUs it allows,
// 0 for no quota, and caches "QUOTA PERIOD" as the Source's value.
func (g *Group) quota(f *limitFile, data []byte) (float64, error) {
	if f.kind == kCFSQuota {
		quota, period, err := g.readCFS(f, data)
		if err != nil || quota <= 0 {
			return 0, err
		}
		return float64(quota) / float64(period), nil
	}
	quota, period, ok := parseCPUMax(data)
	if !ok {
		return 0, syntaxError(f.path.name, "want \"max|QUOTA PERIOD\", have %q", data)
	}
	f.value(data)
	if quota <= 0 {
		return 0, nil
	}
	return float64(quota) / float64(period), nil
}

// setCFSAt records the tightest quota's entry (nil for none) for Stats.
func (g *Group) setCFSAt(at *limitFile) {
	g.cfsAt, g.cfsFresh = nil, true
	if at != nil && at.cfsStat != nil {
		g.cfsAt = at
	}
}

// tightestQuota re-reads the CPU quotas of the process's cgroup and its
// ancestors and returns the entry of the tightest, nil for none. ok is
// false when a quota could not be read or parsed (Limits reports why).
func (g *Group) tightestQuota() (at *limitFile, ok bool) {
	best := 0.0
	for i := range g.limitPlan {
		f := &g.limitPlan[i]
		if f.kind != kCPUMax && f.kind != kCFSQuota {
			continue
		}
		data, err := f.path.read(g.buf)
		if err != nil {
			return nil, false
		}
		cpus, err := g.quota(f, bytes.TrimSpace(data))
		if err != nil {
			return nil, false
		}
		if cpus > 0 && (best == 0 || cpus < best) {
			at, best = f, cpus
		}
	}
	return at, true
}

// memPick finds the entry of the memory limit that binds, the way
// Limits.MemoryLimit picks its value: memory.high when it is set and lower
// than memory.max, else memory.max. A v1 hierarchical_memory_limit (an
// ancestor the mount hides) counts as a memory.max.
type memPick struct {
	max, high     int64
	maxAt, highAt *limitFile
}

// offer considers f's limit v (0: none).
func (p *memPick) offer(f *limitFile, v int64) {
	if v <= 0 {
		return
	}
	if f.kind == kMemoryHigh {
		if p.high == 0 || v < p.high {
			p.high, p.highAt = v, f
		}
	} else if p.max == 0 || v < p.max {
		p.max, p.maxAt = v, f
	}
}

func (p *memPick) binding() *limitFile {
	if p.high > 0 && (p.max == 0 || p.high < p.max) {
		return p.highAt
	}
	return p.maxAt
}

// tightestMemory re-reads the memory limits of the process's cgroup and
// its visible ancestors and returns the binding one's entry, as Limits
// does. On v1 the limit of the ancestors the mount hides is the
// hierarchical_memory_limit line of the process's memory.stat, which Stats
// has just read (costly to read twice): hier, with hierOK false when Stats
// could not read it. ok is false when a limit could not be read or parsed.
func (g *Group) tightestMemory(hier int64, hierOK bool) (at *limitFile, ok bool) {
	var mem memPick
	for i := range g.limitPlan {
		f := &g.limitPlan[i]
		if f.kind == kMemoryStat {
			if !hierOK {
				return nil, false
			}
			if hier >= maxUnlimited {
				hier = 0
			}
			mem.offer(f, hier)
			continue
		}
		if f.kind != kMemoryMax && f.kind != kMemoryHigh {
			continue
		}
		data, err := f.path.read(g.buf)
		if err != nil {
			return nil, false
		}
		v, ok := parseLimit(bytes.TrimSpace(data))
		if !ok {
			return nil, false
		}
		mem.offer(f, v)
	}
	return mem.binding(), true
}

// readCFS reads the v1 period beside an already read quota and caches the
// pair as "QUOTA PERIOD" for the Source. A quota of -1 means no limit. The
// error names the file at fault, with its cause, like any other file's.
func (g *Group) readCFS(f *limitFile, quotaData []byte) (quota, period int64, err error) {
	q, ok := parseInt(quotaData)
	if !ok || q < -1 {
		return 0, 0, syntaxError(f.path.name, "want a quota in microseconds or -1, have %q", quotaData)
	}
	if q == -1 {
		return 0, 100000, nil
	}
	pd, err := f.path2.read(g.small[:64])
	if err != nil {
		return 0, 0, err
	}
	pd = bytes.TrimSpace(pd)
	p, ok := parseUint(pd)
	if !ok || p == 0 {
		return 0, 0, syntaxError(f.path2.name, "want a period in microseconds, have %q", pd)
	}
	// Cache "QUOTA PERIOD" as the Source's value.
	pair := append(append(append(g.small[64:64], quotaData...), ' '), pd...)
	f.value(pair)
	return q, int64(p), nil
}

// affinityCount counts the CPUs in the calling thread's affinity mask, the
// same mask the Go runtime counts at start for runtime.NumCPU. It is
// re-read because it can change at run time (taskset, a CPU manager).
func (g *Group) affinityCount() int {
	r, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, 0,
		uintptr(len(g.affinity)*8), uintptr(unsafe.Pointer(&g.affinity[0])))
	if errno != 0 {
		return 0
	}
	n := maskCount(g.affinity[:], int(r))
	if n != g.affinityN || g.affinityS == "" {
		g.affinityN, g.affinityS = n, strconv.Itoa(n)+" CPUs"
	}
	return n
}

// maskCount counts the CPUs in the first size bytes of mask, as
// sched_getaffinity returned it. The kernel copies its mask in whole longs:
// on a 32-bit kernel built for at most 32 CPUs (armv7 boards) that is 4
// bytes, half a uint64, so the count is by bytes (as the Go runtime's for
// runtime.NumCPU), which also makes it the same on big-endian systems.
func maskCount(mask []uint64, size int) int {
	n := 0
	for _, c := range unsafe.Slice((*byte)(unsafe.Pointer(&mask[0])), len(mask)*8)[:size] {
		n += bits.OnesCount8(c)
	}
	return n
}

// joinErrors is errors.Join without its allocation when there is nothing to
// join (the steady state).
func joinErrors(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}

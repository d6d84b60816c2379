package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"time"
)

// statsPlan is the set of counter files Stats reads, decided by Open; nil is
// a file this layout does not have.
type statsPlan struct {
	v2Memory                  bool
	memCurrent, memStat       *cfile
	memEvents                 *cfile // v2
	memFailcnt, memOOMControl *cfile // v1
	memKmem                   *cfile // v1 memory.kmem.usage_in_bytes
	cpuStat                   *cfile // v2: usage and throttling; v1: throttling only
	cpuacctUsage, cpuacctStat *cfile // v1
	cpuPSI, memoryPSI, ioPSI  *cfile
}

func (g *Group) planStats() statsPlan {
	var p statsPlan
	opt := func(h *hierarchy, name string) *cfile { return g.plan(h, 0, name) }
	if h := g.memory; h != nil && h.v2 {
		p.v2Memory = true
		p.memCurrent = opt(h, "memory.current")
		p.memStat = opt(h, "memory.stat")
		p.memEvents = opt(h, "memory.events")
	} else {
		p.memCurrent = opt(h, "memory.usage_in_bytes")
		p.memStat = opt(h, "memory.stat")
		p.memFailcnt = opt(h, "memory.failcnt")
		p.memOOMControl = opt(h, "memory.oom_control")
		p.memKmem = opt(h, "memory.kmem.usage_in_bytes")
	}
	p.cpuStat = opt(g.cpu, "cpu.stat")
	if h := g.cpuacct; h != nil && !h.v2 {
		p.cpuacctUsage = opt(h, "cpuacct.usage")
		p.cpuacctStat = opt(h, "cpuacct.stat")
	}
	// Pressure files live on the unified hierarchy, also on hybrid hosts
	// whose controllers are all on v1.
	p.cpuPSI = opt(g.unified, "cpu.pressure")
	p.memoryPSI = opt(g.unified, "memory.pressure")
	p.ioPSI = opt(g.unified, "io.pressure")
	return p
}

// limitUsageAt says where the usage held against the binding memory limit
// is: an ancestor's usage files (usage), or the process's own cgroup
// (usage nil), with that cgroup's path; known is false under a v1
// ancestor's limit the mount hides, whose usage no file shows.
func (g *Group) limitUsageAt() (usage *levelUsage, cgroup string, known bool) {
	switch at := g.memAt; {
	case at != nil && at.kind == kMemoryStat:
		return nil, "", false
	case at != nil && at.usage != nil:
		return at.usage, at.cgroup, true
	}
	if g.memory != nil {
		cgroup = g.memory.levels[0].cgroup
	}
	return nil, cgroup, true
}

// readNumber reads a file of one number.
func (g *Group) readNumber(c *cfile) (int64, error) {
	data, err := c.read(g.buf)
	if err != nil {
		return 0, err
	}
	v, ok := parseInt(trim(data))
	if !ok {
		return 0, syntaxError(c.name, "want a number")
	}
	return v, nil
}

// memoryLimitUsage fills s's MemoryLimit* fields, its own memory fields
// already read.
func (g *Group) memoryLimitUsage(s *Stats) error {
	usage, cg, known := g.limitUsageAt()
	switch {
	case !known:
		return nil
	case usage == nil: // the process's own limit, or none
		s.MemoryLimitCgroup = cg
		s.MemoryLimitCurrent, s.MemoryLimitWorkingSet = s.MemoryCurrent, s.WorkingSet
		s.HasMemoryLimitUsage = s.HasMemoryCurrent && s.HasMemoryStat
		return nil
	}
	current, err := g.readNumber(usage.current)
	if err != nil {
		return err
	}
	data, err := usage.stat.read(g.buf)
	if err != nil {
		return err
	}
	key := "inactive_file"
	if !g.statsPlan.v2Memory {
		key = "total_inactive_file" // hierarchical, as usage_in_bytes is
	}
	v, found := kvLine(data, key)
	inactive, ok := parseInt(v)
	if !found || !ok {
		return syntaxError(usage.stat.name, "want an %s line", key)
	}
	s.MemoryLimitCgroup, s.MemoryLimitCurrent = cg, current
	s.MemoryLimitWorkingSet, s.HasMemoryLimitUsage = max(current-inactive, 0), true
	return nil
}

func (g *Group) memoryLimitCurrent() (int64, string, error) {
	if g == nil {
		return 0, "", ErrNoCgroup
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	usage, cg, _ := g.limitUsageAt() // unknown: the own usage, with no path
	f := g.statsPlan.memCurrent
	if usage != nil {
		f = usage.current
	}
	if f == nil { // no memory controller, or no usage file on it
		return 0, cg, fmt.Errorf("cgroup: no memory usage file for %q: %w", cg, fs.ErrNotExist)
	}
	v, err := g.readNumber(f)
	return v, cg, err
}

// userHZ is the unit of v1 cpuacct.stat. The kernel's USER_HZ is 100 on every
// architecture Go supports on Linux.
const userHZ = 100

func (g *Group) stats() (Stats, error) {
	if g == nil {
		return Stats{}, ErrNoCgroup
	}
	g.mu.Lock()
	defer g.mu.Unlock()

	var s Stats
	var errs []error
	p := &g.statsPlan
	read := func(c *cfile) []byte {
		if c == nil {
			return nil
		}
		data, err := c.read(g.buf)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		return data
	}
	// number reads a file of one number, and whether it was there and
	// read: the Has* flags.
	number := func(c *cfile) (int64, bool) {
		if c == nil {
			return 0, false
		}
		v, err := g.readNumber(c)
		if err != nil {
			errs = append(errs, err)
			return 0, false
		}
		return v, true
	}

	s.MemoryCurrent, s.HasMemoryCurrent = number(p.memCurrent)
	// v1: the limit of the ancestors the mount hides, for tightestMemory.
	hier, hierOK := int64(0), false
	if data := read(p.memStat); data != nil {
		s.HasMemoryStat, hierOK = true, true
		prefix := "total_" // v1: hierarchical, like memory.current on v2
		if p.v2Memory {
			prefix = ""
		}
		var kernelParts int64
		forEachKV(data, func(k []byte, v int64) {
			if !p.v2Memory && string(k) == "hierarchical_memory_limit" {
				hier = v
				return
			}
			key := string(k)
			if len(key) > len(prefix) && key[:len(prefix)] == prefix {
				key = key[len(prefix):]
			} else if prefix != "" {
				return
			}
			switch key {
			case "anon":
				s.Anon = v
			case "active_anon", "inactive_anon":
				if !p.v2Memory {
					s.Anon += v
				}
			case "file":
				s.File = v
			case "cache":
				if !p.v2Memory {
					s.File = v
				}
			case "inactive_file":
				s.InactiveFile = v
			case "shmem":
				s.Shmem = v
			case "kernel":
				s.Kernel = v
			case "slab_reclaimable":
				if p.v2Memory {
					s.SlabReclaimable = v
				}
			case "kernel_stack", "pagetables", "percpu", "sock", "slab":
				kernelParts += v // kernels before 5.18 have no "kernel" line
			}
		})
		if p.v2Memory && s.Kernel == 0 {
			s.Kernel = kernelParts
		}
	}
	if p.memKmem != nil {
		s.Kernel, _ = number(p.memKmem)
	}
	s.WorkingSet = max(s.MemoryCurrent-s.InactiveFile, 0)
	if !g.memFresh {
		if at, ok := g.tightestMemory(hier, hierOK); ok {
			g.memAt = at
		}
	}
	g.memFresh = false
	if err := g.memoryLimitUsage(&s); err != nil {
		errs = append(errs, err)
	}

	if data := read(p.memEvents); data != nil {
		s.HasMemoryEvents = true
		forEachKV(data, func(k []byte, v int64) {
			switch string(k) {
			case "low":
				s.MemoryEvents.Low = uint64(v)
			case "high":
				s.MemoryEvents.High = uint64(v)
			case "max":
				s.MemoryEvents.Max = uint64(v)
			case "oom":
				s.MemoryEvents.OOM = uint64(v)
			case "oom_kill":
				s.MemoryEvents.OOMKill = uint64(v)
			}
		})
	}
	if p.memFailcnt != nil {
		// v1: the two counters come from two files; report them only
		// together, as memory.events is on v2.
		failcnt, ok := number(p.memFailcnt)
		s.MemoryEvents.Max = uint64(failcnt)
		if data := read(p.memOOMControl); data != nil {
			if v, found := kvLine(data, "oom_kill"); found {
				n, _ := parseUint(v)
				s.MemoryEvents.OOMKill = n
			}
			s.HasMemoryEvents = ok
		}
	}

	if data := read(p.cpuStat); data != nil {
		forEachKV(data, func(k []byte, v int64) {
			u := uint64(max(v, 0))
			switch string(k) {
			case "usage_usec":
				s.CPUUsage, s.HasCPUUsage = usec(u), true
			case "user_usec":
				s.CPUUser = usec(u)
			case "system_usec":
				s.CPUSystem = usec(u)
			default:
				s.cfsKV(k, u)
			}
		})
		if s.HasCFS {
			s.CFSCgroup = g.cpu.levels[0].cgroup
		}
	}
	// The kernel counts throttling in the cgroup whose quota ran out, not
	// in its descendants: when the tightest quota is an ancestor's, its
	// counters, not ours, say whether the process was throttled. Limits
	// finds that level as it reads the quotas; without a Limits call
	// since the last Stats, they are read here. A quota that cannot be
	// read now keeps the level found last.
	if !g.cfsFresh {
		if at, ok := g.tightestQuota(); ok {
			g.setCFSAt(at)
		}
	}
	g.cfsFresh = false
	if at := g.cfsAt; at != nil {
		data, err := at.cfsStat.read(g.buf)
		if errors.Is(err, fs.ErrNotExist) {
			// Opened only now, and not there (a fixture: kernels have a
			// cpu.stat wherever there is a quota file): our own counters
			// stand, as for a level Open found without one.
			at.cfsStat, g.cfsAt = nil, nil
		} else {
			s.Periods, s.ThrottledPeriods, s.ThrottledTime, s.HasCFS, s.CFSCgroup = 0, 0, 0, false, ""
			if err != nil {
				errs = append(errs, err)
			} else {
				forEachKV(data, func(k []byte, v int64) { s.cfsKV(k, uint64(max(v, 0))) })
				if s.HasCFS {
					s.CFSCgroup = at.cgroup
				}
			}
		}
	}
	if p.cpuacctUsage != nil {
		ns, ok := number(p.cpuacctUsage)
		s.CPUUsage, s.HasCPUUsage = time.Duration(ns), ok
	}
	if data := read(p.cpuacctStat); data != nil {
		forEachKV(data, func(k []byte, v int64) {
			switch string(k) {
			case "user":
				s.CPUUser = time.Duration(v) * (time.Second / userHZ)
			case "system":
				s.CPUSystem = time.Duration(v) * (time.Second / userHZ)
			}
		})
	}

	for _, f := range []struct {
		c   **cfile
		dst *Pressure
	}{{&p.cpuPSI, &s.CPUPressure}, {&p.memoryPSI, &s.MemoryPressure}, {&p.ioPSI, &s.IOPressure}} {
		c := *f.c
		if c == nil {
			continue
		}
		data, err := c.read(g.buf)
		if errors.Is(err, syscall.EOPNOTSUPP) {
			// Before Linux 6.1 a kernel with PSI disabled at boot (psi=0,
			// CONFIG_PSI_DEFAULT_DISABLED) keeps the cgroup pressure
			// files and fails their reads with EOPNOTSUPP: no PSI, as
			// when they are absent, and for good, so stop reading it.
			*f.c = nil
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if pr, ok := parsePressure(data); ok {
			*f.dst = pr
		} else {
			errs = append(errs, syntaxError(c.name, "want PSI lines"))
		}
	}
	return s, joinErrors(errs)
}

// cfsKV takes one line of cpu.stat's CFS bandwidth counters.
func (s *Stats) cfsKV(k []byte, u uint64) {
	switch string(k) {
	case "nr_periods":
		s.Periods, s.HasCFS = u, true
	case "nr_throttled":
		s.ThrottledPeriods = u
	case "throttled_usec":
		s.ThrottledTime = usec(u)
	case "throttled_time": // v1, in nanoseconds
		s.ThrottledTime = time.Duration(u)
	}
}

func trim(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

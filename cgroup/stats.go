package cgroup

import "time"

// Stats is a snapshot of the process's cgroup usage. Counters (events, CPU
// time, throttling, PSI totals) only grow: subtract two snapshots to get a
// rate. A field the kernel does not provide is left zero; the Has* fields
// tell missing data from a true zero where that matters.
type Stats struct {
	// Which groups of fields below were read at this call. A group is
	// missing when its file is not in the cgroup or could not be read (the
	// error returned with the Stats names the latter). Files are missing
	// for real: on cgroup v2 a controller's files exist only in cgroups
	// whose parent enabled it (a systemd unit without memory accounting
	// has no memory.current), the root cgroup has no memory.current or
	// memory.events, and cpu.stat has the CFS counters only in cgroups
	// with the cpu controller (and the root). PSI has its own
	// Pressure.Valid.
	HasMemoryCurrent bool // MemoryCurrent
	HasMemoryStat    bool // Anon, File, InactiveFile, Shmem (Kernel, SlabReclaimable on v2); WorkingSet with HasMemoryCurrent
	HasMemoryEvents  bool // MemoryEvents (on v1 both of its files)
	HasCPUUsage      bool // CPUUsage, and CPUUser and CPUSystem where the kernel reports them
	HasCFS           bool // Periods, ThrottledPeriods, ThrottledTime

	// MemoryCurrent is the memory charged to the cgroup (memory.current,
	// or memory.usage_in_bytes on v1), page cache included.
	MemoryCurrent int64
	// WorkingSet is MemoryCurrent less inactive file pages, floored at 0:
	// what the kubelet and cAdvisor call the working set and compare with
	// the limit for eviction. Inactive page cache is what the kernel drops
	// first under pressure, so it is not counted.
	WorkingSet int64
	// From memory.stat (on v1 the hierarchical total_* lines): anonymous
	// memory (heap, stacks, anonymous mmap), file-backed page cache, its
	// inactive part, shared memory (tmpfs, shm), and kernel memory (v2
	// only: slab, stacks, page tables).
	Anon, File, InactiveFile, Shmem, Kernel int64
	// SlabReclaimable is the part of Kernel the kernel reclaims under
	// pressure, as it does page cache: dentry and inode caches
	// (memory.stat slab_reclaimable, v2 only; v1 has no such split).
	SlabReclaimable int64

	// The usage the kernel holds against the memory limit
	// (Limits.MemoryLimit) is that of the cgroup the limit is set on,
	// MemoryLimitCgroup. When that is an ancestor (a pod-level limit, a
	// systemd slice), its usage counts the process's siblings too, and
	// the kernel reclaims and OOM-kills when that usage reaches the
	// limit, however little the process's own cgroup holds.
	// MemoryLimitCurrent and MemoryLimitWorkingSet are that cgroup's
	// memory.current (v1 memory.usage_in_bytes) and working set; for a
	// limit on the process's own cgroup, or none, they are MemoryCurrent
	// and WorkingSet. The cgroup is the one the last Limits call found
	// (Stats reads the limits itself when no Limits call came since the
	// last Stats). HasMemoryLimitUsage is false when that usage could not
	// be read, and when the limit is that of a v1 ancestor the mount hides
	// (hierarchical_memory_limit in memory.stat), whose usage no file
	// shows: WorkingSet is then the best there is, and undercounts.
	HasMemoryLimitUsage                       bool
	MemoryLimitCgroup                         string
	MemoryLimitCurrent, MemoryLimitWorkingSet int64

	// MemoryEvents counts memory.events (v2) or, on v1, the closest
	// equivalents: memory.failcnt as Max and oom_kill from
	// memory.oom_control.
	MemoryEvents MemoryEvents

	// CPU time consumed by the cgroup: cpu.stat usage_usec (v2) or
	// cpuacct.usage (v1).
	CPUUsage, CPUUser, CPUSystem time.Duration

	// CFS bandwidth accounting from cpu.stat: enforcement periods that
	// elapsed, those in which the cgroup was throttled, and the total time
	// it spent throttled. The kernel counts them in the cgroup whose quota
	// ran out, not in its descendants (whose own counters stay at 0), so
	// they are read from CFSCgroup: the cgroup whose quota is the
	// tightest (Stats re-reads the quotas), or the process's own cgroup
	// when there is no quota. When an in-place change moves
	// the tightest quota to another level, the counters continue from that
	// cgroup's, so compare CFSCgroup before subtracting two snapshots.
	Periods, ThrottledPeriods uint64
	ThrottledTime             time.Duration
	CFSCgroup                 string

	// Pressure stall information (cpu.pressure, memory.pressure,
	// io.pressure) from the unified hierarchy, when the kernel has PSI.
	CPUPressure, MemoryPressure, IOPressure Pressure
}

// UsageAgainst returns the usage (page cache included) and the working set
// to compare with the memory limit whose source is src: those of src's
// cgroup, MemoryLimitCurrent and MemoryLimitWorkingSet, with ok true, when
// Stats read them there; else the process's own, MemoryCurrent and
// WorkingSet, with ok false. The own usage is all there is under a v1
// ancestor's limit the mount hides, and it is what a limit read at
// another moment than these Stats may go with: after an in-place resize
// moves the limit to another level, the other level's usage must not be
// compared with it.
func (s *Stats) UsageAgainst(src Source) (current, workingSet int64, ok bool) {
	if s.HasMemoryLimitUsage && s.MemoryLimitCgroup == src.Cgroup {
		return s.MemoryLimitCurrent, s.MemoryLimitWorkingSet, true
	}
	return s.MemoryCurrent, s.WorkingSet, false
}

// MemoryEvents are counters from memory.events.
type MemoryEvents struct {
	// Low, High, Max: times the cgroup was reclaimed below memory.low,
	// throttled over memory.high, or hit memory.max.
	Low, High, Max uint64
	// OOM: times the cgroup's usage hit its limit and allocation failed;
	// OOMKill: processes the OOM killer killed in it.
	OOM, OOMKill uint64
}

// Pressure is one PSI file: "some" is the share of time at least one task
// stalled on the resource, "full" the share in which all non-idle tasks did.
type Pressure struct {
	// Valid is false when the file was not there (no PSI, or no unified
	// mount) or could not be read or parsed.
	Valid      bool
	Some, Full PressureLine
}

// PressureLine is one line of a PSI file.
type PressureLine struct {
	// Avg10, Avg60, Avg300 are percentages (0 to 100) of wall time stalled,
	// averaged over 10, 60 and 300 seconds.
	Avg10, Avg60, Avg300 float64
	// Total is the accumulated stall time.
	Total time.Duration
}

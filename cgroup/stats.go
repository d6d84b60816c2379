package cgroup

import "time"

// Stats is a snapshot of the process's cgroup usage. Counters (events, CPU
// time, throttling, PSI totals) only grow: subtract two snapshots to get a
// rate. A field the kernel does not provide is left zero; the Has* fields
// tell missing data from a true zero where that matters.
type Stats struct {
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

	// MemoryEvents counts memory.events (v2) or, on v1, the closest
	// equivalents: memory.failcnt as Max and oom_kill from
	// memory.oom_control.
	MemoryEvents MemoryEvents

	// CPU time consumed by the cgroup: cpu.stat usage_usec (v2) or
	// cpuacct.usage (v1).
	CPUUsage, CPUUser, CPUSystem time.Duration

	// CFS bandwidth accounting from cpu.stat: enforcement periods that
	// elapsed, those in which the cgroup was throttled, and the total time
	// it spent throttled.
	Periods, ThrottledPeriods uint64
	ThrottledTime             time.Duration

	// Pressure stall information (cpu.pressure, memory.pressure,
	// io.pressure) from the unified hierarchy, when the kernel has PSI.
	CPUPressure, MemoryPressure, IOPressure Pressure
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
	// mount).
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

package cgroup

import (
	"strconv"
	"strings"
)

// Mode tells which cgroup hierarchies the process's controllers live on.
type Mode int

const (
	// ModeNone: no cgroup filesystem holds the process's cpu or memory
	// controller (bare metal without cgroups, a sandbox that hides them).
	ModeNone Mode = iota
	// ModeV1: only legacy per-controller hierarchies are mounted.
	ModeV1
	// ModeV2: the unified hierarchy alone (every modern distribution,
	// Kubernetes 1.25+ nodes by default).
	ModeV2
	// ModeHybrid: v1 controller hierarchies plus a cgroup2 mount that holds
	// few or no controllers (systemd's "hybrid" layout). Limits come from
	// v1; pressure (PSI) may come from the unified mount.
	ModeHybrid
)

// String returns the mode's name: none, v1, v2 or hybrid.
func (m Mode) String() string {
	switch m {
	case ModeNone:
		return "none"
	case ModeV1:
		return "v1"
	case ModeV2:
		return "v2"
	case ModeHybrid:
		return "hybrid"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// Source says where an effective value came from, so that a person reading a
// decision can check it: which file, in which cgroup, and what it held.
// The zero Source means no file set the value (no limit was found).
type Source struct {
	// File is the interface file, such as "cpu.max" or
	// "memory.limit_in_bytes", or "sched_getaffinity" for the CPU mask.
	File string
	// Cgroup is the cgroup's path as the process sees it in
	// /proc/self/cgroup (inside a cgroup namespace the process's own
	// cgroup is "/").
	Cgroup string
	// Ancestor is true when the value was set on a parent of the process's
	// own cgroup, the case that the Go runtime and automaxprocs miss.
	Ancestor bool
	// Value is the file's content as read, trimmed ("50000 100000").
	Value string
}

// IsZero reports whether s names no file.
func (s Source) IsZero() bool { return s.File == "" }

// String formats s as `cpu.max 50000 100000 at /kubepods/pod1 (ancestor)`,
// or "not set" for the zero Source.
func (s Source) String() string {
	if s.IsZero() {
		return "not set"
	}
	var b strings.Builder
	b.WriteString(s.File)
	if s.Value != "" {
		b.WriteByte(' ')
		b.WriteString(s.Value)
	}
	if s.Cgroup != "" {
		b.WriteString(" at ")
		b.WriteString(s.Cgroup)
	}
	if s.Ancestor {
		b.WriteString(" (ancestor)")
	}
	return b.String()
}

// Limits are the effective limits of the process's cgroup: for each kind of
// limit, the tightest over the process's own cgroup and every ancestor
// visible through the mount (up to the namespace or mount root). A zero
// value means "no limit found" and its Source is zero.
type Limits struct {
	Mode Mode

	// CPU is the CFS bandwidth limit in CPUs: quota divided by period, from
	// cpu.max (v2) or cpu.cfs_quota_us and cpu.cfs_period_us (v1).
	// 1.5 means the cgroup may use 150 ms of CPU time per 100 ms.
	CPU       float64
	CPUSource Source

	// CPUs is how many CPUs the process may be scheduled on: the smaller of
	// the cpuset (cpuset.cpus.effective) and the scheduler affinity mask.
	// It is always at least 1 on a supported system. The affinity mask is
	// only consulted when the view is of this process (no WithRoot).
	CPUs       int
	CPUsSource Source

	// MemoryMax is the hard memory limit in bytes, past which the kernel
	// reclaims and then OOM-kills: memory.max (v2), or on v1 the smaller of
	// memory.limit_in_bytes on each visible level and the
	// hierarchical_memory_limit line of memory.stat, which also covers
	// ancestors hidden by the mount.
	MemoryMax       int64
	MemoryMaxSource Source

	// MemoryHigh is memory.high (v2 only) in bytes: above it the kernel
	// throttles the cgroup's allocations and reclaims hard, without killing.
	MemoryHigh       int64
	MemoryHighSource Source

	// SwapMax is the swap the cgroup may use, in bytes: memory.swap.max
	// (v2), or memory.memsw.limit_in_bytes minus memory.limit_in_bytes
	// (v1). Zero means no swap limit was found; NoSwap reports a limit of
	// zero (no swap allowed), which is what Kubernetes sets by default.
	SwapMax       int64
	NoSwap        bool
	SwapMaxSource Source

	// PidsMax is pids.max: how many tasks (threads count) the cgroup may
	// hold. Zero means no limit.
	PidsMax       int64
	PidsMaxSource Source
}

// MemoryLimit returns the lower of MemoryMax and MemoryHigh that is set, and
// its source: the point past which the cgroup's memory use hurts (throttling
// or OOM kill). It returns 0 and a zero Source when neither is set.
func (l Limits) MemoryLimit() (int64, Source) {
	switch {
	case l.MemoryHigh > 0 && (l.MemoryMax == 0 || l.MemoryHigh < l.MemoryMax):
		return l.MemoryHigh, l.MemoryHighSource
	case l.MemoryMax > 0:
		return l.MemoryMax, l.MemoryMaxSource
	}
	return 0, Source{}
}

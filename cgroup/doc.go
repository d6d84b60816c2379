// Package cgroup reads the limits and the usage of the calling process's
// Linux control groups: the CPU quota, the CPUs it may run on, the memory
// limits, and the counters that show how close it runs to them.
//
// It is the single source of truth for the rest of snug: the tuner sets
// GOMAXPROCS and GOMEMLIMIT from Limits, the watchdog and the health probes
// compare Stats with them, and telemetry exports both.
//
// # Effective limits
//
// A container's limits need not sit on its own cgroup. Kubernetes puts pod
// level limits on the pod's cgroup, systemd puts them on slices, and
// operators put them anywhere above. The kernel enforces every one of them:
// a process may use the smallest quota and the smallest memory limit on its
// path to the root. Limits therefore returns the minimum over the process's
// cgroup and every ancestor it can see, and each value's Source says which
// file set it:
//
//	cpu.max 150000 100000 at /kubepods.slice/…-pod1.slice (ancestor)
//
// The Go runtime (1.25 and later) and go.uber.org/automaxprocs read only the
// process's own cgroup and miss such a limit.
//
// On v1, memory.stat's hierarchical_memory_limit also covers ancestors that
// the mount hides (a container that sees only its own subtree). On v2
// nothing reports limits above a cgroup namespace's root or a mount's root;
// there, what the container can see is all there is to know.
//
// # Layouts
//
// Open reads /proc/self/cgroup and /proc/self/mountinfo once and works out,
// for each controller, which directory holds the process's cgroup:
//
//   - v2 (the unified hierarchy): one directory for every controller.
//   - v1: one hierarchy per controller or group of controllers ("cpu,cpuacct").
//   - hybrid: v1 controllers plus a cgroup2 mount, as systemd sets up. A
//     controller lives on one hierarchy only, so v1 wins where it has one;
//     pressure (PSI) files come from the unified mount.
//   - a cgroup namespace, where the process sees its own cgroup as "/".
//   - a mount whose root is not "/" (the host's namespace with a bind mount
//     of the container's subtree): paths are translated through the mount.
//   - mounts hidden by others: a bind mount of the container's cgroup
//     stacked on the whole hierarchy at the same mount point, or a new tmpfs
//     over /sys/fs/cgroup. Only what the process can reach counts, judged
//     from the mount and parent IDs, not from the order of the lines.
//
// Mountinfo is parsed as the kernel writes it: octal escapes (\040) in
// paths, any number of optional fields, lines of other file systems (nsfs,
// overlay) anywhere; cgroup paths may contain colons.
//
// # Cost
//
// Open costs a few hundred microseconds, opening the limit and counter
// files it finds; Limits and Stats then only re-read them, keeping them open
// between calls (a pread is several times cheaper than an open, read and
// close). Close releases the descriptors, about one per file. On a 2-core VM
// (see BenchmarkLimits, BenchmarkStats) Limits takes about 10 µs with no
// allocations, and Stats about 30 µs: calling them once a second is free.
//
// # Errors
//
// Open returns ErrNoCgroup (check with errors.Is) when there is no cgroup
// to read, which is normal outside containers, and ErrUnsupported off Linux.
// Files that cannot be read or that hold what no kernel writes are reported
// as *FileError, which names the file and unwraps to the cause
// (fs.ErrPermission for EACCES under AppArmor or Landlock, fs.ErrNotExist
// for a file that vanished). Limits and Stats return what they could read
// together with such errors, so a caller can keep its last decision for what
// is missing. Nothing in this package panics on bad input; each parser is
// fuzzed.
package cgroup

package cgroup

// Option configures Open.
type Option func(*options)

type options struct {
	root string
}

// WithRoot makes Open read proc/self/cgroup, proc/self/mountinfo and every
// mount point named in that mountinfo under dir instead of under /. Use it
// for fixtures in tests, and to read a host-mounted view of a container's
// files. With a root other than "/" the calling process's CPU affinity mask
// is not consulted (it belongs to a different process than the view), so
// Limits.CPUs comes from the cpuset alone.
func WithRoot(dir string) Option {
	return func(o *options) { o.root = dir }
}

// Open resolves the calling process's cgroups once, from /proc/self/cgroup and
// /proc/self/mountinfo, and decides which interface files Limits and Stats
// read. It does not read any limit yet.
//
// Open returns an error wrapping ErrNoCgroup when the process has no cgroup
// filesystem (check with errors.Is), ErrUnsupported off Linux, and a
// *FileError when a file could not be read or parsed.
//
// A Group is safe for concurrent use. Open it once and keep it: Limits and
// Stats re-read only the limit and counter files, which is cheap. Open again
// if the process is moved to another cgroup or controllers are enabled after
// Open (Kubernetes does neither to a running container; an in-place resize
// only rewrites the limit files, which Limits sees).
func Open(opts ...Option) (*Group, error) {
	o := options{root: "/"}
	for _, opt := range opts {
		opt(&o)
	}
	if o.root == "" {
		o.root = "/"
	}
	return open(o)
}

// Mode reports which hierarchies the process's controllers are on.
func (g *Group) Mode() Mode {
	if g == nil {
		return ModeNone
	}
	return g.mode
}

// Close releases the file descriptors the Group keeps open between reads
// (about one per file Limits and Stats read, opened by Open). A Group that
// is garbage collected releases them too. Calling Limits or Stats after
// Close opens them again.
func (g *Group) Close() { g.close() }

// Limits re-reads the limit files and returns the effective limits: for each
// kind, the tightest value over the process's cgroup and its ancestors, with
// the file it came from. It does not re-parse mountinfo.
//
// If a file cannot be read or parsed, Limits returns the limits it could
// read together with an error that names each such file; a caller that acts
// on limits should keep its previous decision for the affected limit rather
// than take a partial Limits for "no limit".
func (g *Group) Limits() (Limits, error) { return g.limits() }

// Stats reads the usage counters of the process's own cgroup, the CFS
// throttling counters of the cgroup whose CPU quota is the tightest (see
// Stats.CFSCgroup), and the memory usage of the cgroup whose memory limit
// binds (see Stats.MemoryLimitCgroup). Like Limits, it returns what it
// could read along with an error naming each file it could not.
func (g *Group) Stats() (Stats, error) { return g.stats() }

// MemoryLimitCurrent reads the memory usage, page cache included, that the
// kernel holds against the memory limit: memory.current (v1:
// memory.usage_in_bytes) of the cgroup whose limit bound at the last Limits
// or Stats call, or of the process's own cgroup when there is no limit. It
// returns that cgroup's path too, as Stats reports it in
// MemoryLimitCgroup, for the caller to compare with the limit's
// Source.Cgroup before it compares the numbers. Under a v1 ancestor's
// limit that the mount hides no file shows the usage: the path is empty
// and the usage is the process's own cgroup's, which is less.
//
// It is one read of one small file, a few percent of what Stats costs (on
// cgroup v1 the kernel generates memory.stat at each read): it is for a
// caller that watches memory often, such as tune's watchdog near the limit,
// and reads Stats only when the usage comes close. The usage is never less
// than the working set, so a usage below a threshold tells that the working
// set is below it too.
func (g *Group) MemoryLimitCurrent() (current int64, cgroup string, err error) {
	return g.memoryLimitCurrent()
}

// Paths reports the cgroup directories Open resolved, keyed by controller
// ("cpu", "memory", "cpuset", "pids", "cpuacct", and "unified" for the v2
// hierarchy), as paths under the root given to Open. It is for diagnostics:
// examples/basic prints it.
func (g *Group) Paths() map[string]string { return g.paths() }

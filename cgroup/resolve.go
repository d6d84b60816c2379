package cgroup

import (
	"path/filepath"
	"strings"
)

// Resolving which directory holds the process's cgroup, and its ancestors,
// from the parsed /proc/self/cgroup and mountinfo. Pure functions, shared by
// every platform so that they can be fuzzed anywhere.

// hierarchy is one mounted cgroup hierarchy as the process sees it.
type hierarchy struct {
	v2     bool
	levels []level // the process's own cgroup first, then each ancestor up to the mount root
}

// level is one cgroup directory on the way from the process's cgroup to the
// mount root.
type level struct {
	dir    string // directory on the filesystem, under the Open root
	cgroup string // path as /proc/self/cgroup names it ("/kubepods/pod1")
}

// pickMount finds the mount that shows the cgroup at path: for v1 one whose
// super options name every controller of the hierarchy, for v2 a cgroup2
// mount. The mount's root must contain path, or path is not reachable
// through it. A mount that another one hides is not reachable at all. Of
// several (bind mounts), the one whose root is shortest shows the most
// ancestors.
func pickMount(mounts []mount, path string, controllers []string) *mount {
	var best *mount
	for i := range mounts {
		m := &mounts[i]
		if m.covered || m.v2 != (controllers == nil) || !under(path, m.root) {
			continue
		}
		// Outside its cgroup namespace's root the process's path starts
		// with "/..": a mount whose root does not hold those ".." cannot
		// reach the cgroup, and joining them onto its mount point would
		// lead out of the hierarchy (as the Go runtime, skip such a mount).
		// The kernel writes ".." nowhere else; one further in ("/a/../..",
		// from a forged file) would lead out just the same.
		if hasDotDot(relPath(path, m.root)) {
			continue
		}
		if !m.v2 && !hasAll(m.options, controllers) {
			continue
		}
		if best == nil || len(m.root) < len(best.root) {
			best = m
		}
	}
	return best
}

// hasDotDot reports whether path p has a ".." element.
func hasDotDot(p string) bool {
	for e := range strings.SplitSeq(p, "/") {
		if e == ".." {
			return true
		}
	}
	return false
}

func hasAll(opts, want []string) bool {
	for _, w := range want {
		found := false
		for _, o := range opts {
			if o == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// under reports whether path p (a cgroup's, or a mount point) is root or
// below it, comparing whole path elements ("/a/bc" is not under "/a/b").
func under(p, root string) bool {
	if root == "/" || p == root {
		return strings.HasPrefix(p, "/")
	}
	return strings.HasPrefix(p, root) && p[len(root)] == '/'
}

// newHierarchy lists the directories from the process's cgroup at path up to
// the mount's root, translating cgroup paths into paths under the mount
// point (the mount shows root at mountPoint).
//
// Each directory is cut from the process's own when the path is clean, as
// the kernel writes it: joined afresh at every level, a path n levels deep
// made n strings of up to n elements, and a forged /proc/self/cgroup of
// deep paths (a megabyte of 4 KiB ones) kept the program's init busy for
// seconds.
func newHierarchy(fsRoot string, m *mount, path string) *hierarchy {
	h := &hierarchy{v2: m.v2}
	base := filepath.Join(fsRoot, m.mountPoint)
	leaf := filepath.Join(base, relPath(path, m.root))
	// cut: every level's directory is leaf less the elements below it.
	cut := path == filepath.Clean(path) && leaf == strings.TrimSuffix(base, "/")+relPath(path, m.root)
	for p := path; ; {
		dir := ""
		switch rel := relPath(p, m.root); {
		case !cut || rel == "" || rel == "/":
			dir = filepath.Join(base, rel)
		default:
			dir = leaf[:len(leaf)-(len(path)-len(p))]
		}
		h.levels = append(h.levels, level{dir: dir, cgroup: p})
		if p == m.root || p == "/" {
			break
		}
		p = parentPath(p)
		if !under(p, m.root) {
			break
		}
	}
	return h
}

// relPath is cgroup path p, which is under root, as a path below the mount
// point of a mount showing root.
func relPath(p, root string) string {
	if root == "/" {
		return p
	}
	return strings.TrimPrefix(p, root)
}

func parentPath(p string) string {
	i := strings.LastIndexByte(strings.TrimSuffix(p, "/"), '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

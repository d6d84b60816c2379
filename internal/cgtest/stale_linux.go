package cgtest

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
)

// staleName matches the names the harness gives directories in the test
// process's own cgroup: New's snug-<name>-<pid>-<n> (n is below 1e6) and
// Skip's snug-probe-<pid>. The prefix keeps other tools' directories out of
// it where the test's cgroup is a shared root (the cpu hierarchy here).
// Child's names need no pattern: they only ever sit inside one of New's
// directories and go with it. New's names made outside the initial pid
// namespace end in nameSuffix and do not match.
var staleName = regexp.MustCompile(`^(?:snug-.+-([0-9]+)-[0-9]{1,6}|snug-probe-([0-9]+))$`)

// pidMaxLimit is the kernel's PID_MAX_LIMIT: no pid is larger.
const pidMaxLimit = 1 << 22

// initPidNS is /proc/self/ns/pid in the initial pid namespace; the inode
// number is fixed by the kernel (PROC_PID_INIT_INO).
const initPidNS = "pid:[4026531836]"

// nameSuffix is what New puts at the end of its directory names. Outside
// the initial pid namespace the pid in a name is the creator's pid in its
// own namespace, which another test binary, in the initial namespace and
// the same cgroup (a shared root such as the cpu hierarchy's), would look
// up as a different process: dead there, it would remove the directory of
// a live test. The suffix keeps such names out of staleName.
func nameSuffix() string {
	if ok, _ := initialPidNS(); !ok {
		return "-pidns"
	}
	return ""
}

// initialPidNS reports whether the process is in the initial pid
// namespace, and the namespace it is in.
func initialPidNS() (bool, string) {
	ns, _ := os.Readlink("/proc/self/ns/pid")
	return ns == initPidNS, ns
}

// stalePid returns the pid a harness directory name carries.
func stalePid(name string) (int, bool) {
	m := staleName.FindStringSubmatch(name)
	if m == nil {
		return 0, false
	}
	s := m[1]
	if s == "" {
		s = m[2]
	}
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 || pid > pidMaxLimit {
		return 0, false
	}
	return pid, true
}

// removeStale removes, from each of parents (directories of the test
// process's own cgroup), the harness directories whose creating process is
// gone: the leftovers of a test binary or benchmark that was killed before
// its t.Cleanup could run. A directory whose pid is alive may belong to a
// test binary running in parallel and is left alone; with pid reuse that
// can also be a leftover, which a later run will get. Nothing here fails
// the test.
func removeStale(t testing.TB, parents []string) {
	// From inside a pid namespace, a test binary in another namespace that
	// shares these directories looks dead: only the initial namespace sees
	// every pid, so only there is "no such process" proof of a leftover,
	// and only for names made in it (the others end in nameSuffix).
	conclusive, ns := initialPidNS()
	seen := map[string]bool{}
	for _, parent := range parents {
		if seen[parent] {
			continue
		}
		seen[parent] = true
		entries, err := os.ReadDir(parent)
		if err != nil {
			t.Logf("cgtest: looking for stale cgroups: %v", err)
			continue
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			pid, ok := stalePid(e.Name())
			if !ok || !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
				continue
			}
			dir := filepath.Join(parent, e.Name())
			if !conclusive {
				t.Logf("cgtest: left %s: its pid %d may live in another pid namespace (this one is %s)", dir, pid, ns)
				continue
			}
			if err := removeTree(dir); err != nil {
				t.Logf("cgtest: removing stale cgroup: %v", err)
			}
		}
	}
}

// removeTree removes a cgroup directory and every cgroup below it; a
// cgroup can be removed only once it has no children.
func removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return removeDir(dir)
}

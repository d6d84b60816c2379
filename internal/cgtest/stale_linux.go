package cgtest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// staleName matches the names the harness gives directories in the test
// process's own cgroup: New's snug-<name>-<pid>-<n> (n is below 1e6) and
// Skip's snug-probe-<pid>. The prefix keeps other tools' directories out of
// it where the test's cgroup is a shared root (the cpu hierarchy here).
// Child's names need no pattern: they only ever sit inside one of New's
// directories and go with it. New's names made outside the initial pid
// namespace end in nameSuffix, -pidns<inode of that namespace>, and match
// the third form.
var staleName = regexp.MustCompile(`^(?:snug-.+-([0-9]+)-[0-9]{1,6}|snug-probe-([0-9]+)|snug-.+-([0-9]+)-[0-9]{1,6}-pidns([0-9]+))$`)

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
// a live test. The suffix names the namespace, so that the pid is looked
// up there (see nsPidAlive) and a leftover of a killed test binary in a
// pid namespace can still be told from a live one.
func nameSuffix() string {
	if ok, ns := initialPidNS(); !ok {
		return "-pidns" + strings.TrimSuffix(strings.TrimPrefix(ns, "pid:["), "]")
	}
	return ""
}

// initialPidNS reports whether the process is in the initial pid
// namespace, and the namespace it is in.
func initialPidNS() (bool, string) {
	ns, _ := os.Readlink("/proc/self/ns/pid")
	return ns == initPidNS, ns
}

// stalePid returns the pid a harness directory name carries and, for a
// name made outside the initial pid namespace, that namespace's inode
// number (0 for the initial one).
func stalePid(name string) (int, uint64, bool) {
	m := staleName.FindStringSubmatch(name)
	if m == nil {
		return 0, 0, false
	}
	s := m[1] + m[2] + m[3] // only one is set
	var ns uint64
	if m[4] != "" {
		var err error
		if ns, err = strconv.ParseUint(m[4], 10, 64); err != nil {
			return 0, 0, false
		}
	}
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 || pid > pidMaxLimit {
		return 0, 0, false
	}
	return pid, ns, true
}

// nsPidAlive reports whether a process whose pid is pid in the pid
// namespace with inode number ns is alive, from the initial namespace's
// /proc, which lists every process. When it cannot tell, it says alive.
// An inode number reused by a later namespace can only make a leftover
// look alive, never the reverse.
func nsPidAlive(ns uint64, pid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	want := fmt.Sprintf("pid:[%d]", ns)
	for _, e := range entries {
		// Pid 1 is the initial namespace's own init (the sweep runs only
		// there), whose link even root may not read.
		if n, err := strconv.Atoi(e.Name()); err != nil || n == 1 {
			continue
		}
		l, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns/pid"))
		if errors.Is(err, fs.ErrNotExist) {
			continue // exited meanwhile
		}
		if err != nil {
			return true // not ours to see (a security module): cannot tell
		}
		if l != want {
			continue
		}
		status, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil || !strings.Contains(string(status), "\nNSpid:") {
			return true // a kernel before 4.1 has no NSpid line: cannot tell
		}
		// NSpid lists the process's pid in each namespace it is in, its
		// own (the one ns names) last.
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == "NSpid:" && f[len(f)-1] == strconv.Itoa(pid) {
				return true
			}
		}
	}
	return false
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
	// every pid, so only there is "no such process" proof of a leftover;
	// a name made in another namespace has its pid looked up in that one.
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
			pid, pidns, ok := stalePid(e.Name())
			if !ok {
				continue
			}
			if pidns != 0 {
				if !conclusive || nsPidAlive(pidns, pid) {
					continue
				}
			} else if !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
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

package cgtest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/snug-go/snug/cgroup"
)

// deadPid returns the pid of a process that has exited and been reaped.
func deadPid(t *testing.T) int {
	t.Helper()
	for i := 0; i < 10; i++ {
		cmd := exec.Command("true")
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		pid := cmd.Process.Pid
		if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			return pid
		}
	}
	t.Fatal("every pid of an exited process was reused at once")
	return 0
}

// TestNewRemovesStaleCgroups leaves behind what a killed test binary
// would: a harness directory named for a dead pid, with a child cgroup and
// a process still inside, and a probe directory. New must remove those, and
// leave a harness directory whose pid is alive and a directory that only
// looks similar.
func TestNewRemovesStaleCgroups(t *testing.T) {
	self := requireSweep(t)
	parent := self.Paths()["memory"]
	if self.Mode() == cgroup.ModeV2 {
		parent = self.Paths()["unified"]
	}
	dead := deadPid(t)
	me := os.Getpid()

	stale := filepath.Join(parent, fmt.Sprintf("snug-cgtest-stale-of-%d-%d-12", me, dead))
	leaf := filepath.Join(stale, "leaf")
	probe := filepath.Join(parent, fmt.Sprintf("snug-probe-%d", dead))
	alive := filepath.Join(parent, fmt.Sprintf("snug-cgtest-alive-%d-12", me))
	unlike := filepath.Join(parent, fmt.Sprintf("othertool-%d-12", dead)) // not ours: no snug- prefix
	for _, dir := range []string{stale, leaf, probe, alive, unlike} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Registered first, so they run after the sleeper is reaped.
	t.Cleanup(func() {
		for _, dir := range []string{leaf, stale, probe, alive, unlike} {
			os.Remove(dir)
		}
	})

	// A process left running inside, as the harness's Command would leave
	// one. Reaped at once when killed, so its cgroup can go.
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { sleeper.Wait(); close(exited) }()
	t.Cleanup(func() {
		sleeper.Process.Kill()
		<-exited
	})
	if self.Mode() == cgroup.ModeV2 {
		os.WriteFile(filepath.Join(stale, "cgroup.subtree_control"), []byte("+memory"), 0)
	}
	if err := os.WriteFile(filepath.Join(leaf, "cgroup.procs"), []byte(fmt.Sprint(sleeper.Process.Pid)), 0); err != nil {
		t.Fatal(err)
	}

	New(t, "cgtest-stale")

	for _, dir := range []string{stale, probe} {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s (pid %d is dead) still there after New: %v", dir, dead, err)
		}
	}
	for _, dir := range []string{alive, unlike} {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("%s should have been left: %v", dir, err)
		}
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Errorf("process inside the stale cgroup still running after New")
	}
}

// TestNewLeavesOtherPidNamespaces runs a test binary in a new pid
// namespace, in the same cgroups, whose pid there is one that is dead in
// the initial namespace: the name of its live harness directory carries
// that pid. New, run from the initial namespace, must leave the directory
// (and the process) alone: the pid is not the creator's pid here.
func TestNewLeavesOtherPidNamespaces(t *testing.T) {
	if os.Getenv("CGTEST_NS_CHILD") == "1" {
		g := New(t, "cgtest-ns")
		fmt.Printf("cgtest-ns-child: %d %s\n", os.Getpid(), g.Dir("memory"))
		io.Copy(io.Discard, os.Stdin) // until the parent is done
		return
	}
	Require(t)
	if ok, ns := initialPidNS(); !ok {
		t.Skipf("stale cgroups are removed only from the initial pid namespace; this is %s", ns)
	}
	dead := deadPid(t)
	// sh is pid 1 of the new namespace; it sets the namespace's last pid
	// so that the test binary it starts gets the dead pid there.
	cmd := exec.Command("/bin/sh", "-c",
		fmt.Sprintf(`echo %d > /proc/sys/kernel/ns_last_pid && "$@"; exit $?`, dead-1),
		"sh", os.Args[0], "-test.run=^TestNewLeavesOtherPidNamespaces$", "-test.count=1")
	pid, dir := startNSChild(t, cmd)
	if !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		t.Skipf("the child's pid %d in its namespace (wanted %d) is alive in this one", pid, dead)
	}

	New(t, "cgtest-ns-parent")

	if _, err := os.Stat(dir); err != nil {
		t.Errorf("%s, of a live test binary whose pid in its own namespace is %d, removed by New: %v", dir, pid, err)
	}
}

// TestNewRemovesStalePidNamespaceCgroups kills a test binary that runs in
// a new pid namespace after its New, as a cancelled CI job or a Ctrl-C
// does: its cgroup, named for a pid of that namespace, is left behind.
// Once the namespace is gone, New run from the initial namespace must
// remove it, as it does the leftovers of test binaries there.
func TestNewRemovesStalePidNamespaceCgroups(t *testing.T) {
	parents := harnessParents(requireSweep(t))
	// The child is the test binary itself, as pid 1 of the namespace: a
	// SIGKILL to it ends the namespace, and its t.Cleanup never runs.
	cmd := exec.Command(os.Args[0], "-test.run=^TestNewLeavesOtherPidNamespaces$", "-test.count=1")
	_, dir := startNSChild(t, cmd)
	name := filepath.Base(dir)
	// Should New leave them, the test must not.
	t.Cleanup(func() {
		for _, p := range parents {
			removeTree(filepath.Join(p, name))
		}
	})
	cmd.Process.Kill()
	cmd.Wait() // pid 1's exit waits for the rest of its namespace
	if _, err := os.Stat(dir); err != nil {
		// Another test binary's New, in a parallel go test, may have got
		// it first; then this one has nothing left to check.
		t.Skipf("the killed child's cgroup %s was gone before New: %v", dir, err)
	}

	New(t, "cgtest-pidns-parent")

	for _, p := range parents {
		if _, err := os.Stat(filepath.Join(p, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s, left by a killed test binary in a pid namespace that has ended, still there after New: %v", filepath.Join(p, name), err)
		}
	}
}

// startNSChild starts cmd, the test binary running
// TestNewLeavesOtherPidNamespaces as its child in a new pid namespace, and
// returns the pid there and the cgroup directory its New reported. The
// child waits on its stdin, held open until the test ends: then it exits
// and removes its cgroup, unless the test killed it first.
func startNSChild(t *testing.T, cmd *exec.Cmd) (pid int, dir string) {
	t.Helper()
	cmd.Env = append(os.Environ(), "CGTEST_NS_CHILD=1")
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWPID
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start a process in a new pid namespace: %v", err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "cgtest-ns-child: %d %s", &pid, &dir); err == nil {
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	if dir == "" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("test binary in a new pid namespace made no cgroup: %s", stderr.String())
	}
	return pid, dir
}

// requireSweep skips a test of stale cleanup where New does none (outside
// the initial pid namespace) and returns the test process's cgroup.
func requireSweep(t *testing.T) *cgroup.Group {
	t.Helper()
	Require(t)
	if ok, ns := initialPidNS(); !ok {
		t.Skipf("stale cgroups are removed only from the initial pid namespace; this is %s", ns)
	}
	self, err := cgroup.Open()
	if err != nil {
		t.Fatal(err)
	}
	return self
}

package cgtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	Require(t)
	if ns, _ := os.Readlink("/proc/self/ns/pid"); ns != initPidNS {
		t.Skipf("stale cgroups are removed only from the initial pid namespace; this is %s", ns)
	}
	self, err := cgroup.Open()
	if err != nil {
		t.Fatal(err)
	}
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

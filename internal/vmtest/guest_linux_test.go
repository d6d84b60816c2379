package vmtest

import (
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
)

// TestInGuest is the Go side of TestGuestHasCgroupV2: it runs only in the VM.
// It moves itself into a child cgroup and checks that a new cgroup namespace
// (which busybox's unshare cannot make) is rooted there.
func TestInGuest(t *testing.T) {
	if !InGuest() {
		t.Skip("runs inside the VM only")
	}
	if got := os.Getenv("VMTEST_WANT"); got != "hello" {
		t.Errorf("VMTEST_WANT=%q: GoTest's environment did not arrive", got)
	}
	dir := "/sys/fs/cgroup/gotest"
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(file, s string) {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(s), 0); err != nil {
			t.Fatal(err)
		}
	}
	write("cpu.max", "50000 100000")
	write("cgroup.procs", "0") // "0" is the writer: the whole process moves
	if got := readFile(t, "/proc/self/cgroup"); got != "0::/gotest\n" {
		t.Errorf("/proc/self/cgroup = %q after the move", got)
	}

	// Namespaces belong to threads: unshare on a locked thread, and let
	// that thread die with its goroutine rather than serve others.
	done := make(chan string)
	go func() {
		runtime.LockOSThread()
		if err := syscall.Unshare(syscall.CLONE_NEWCGROUP); err != nil {
			done <- err.Error()
			return
		}
		done <- readFile(t, "/proc/thread-self/cgroup")
	}()
	if got := <-done; got != "0::/\n" {
		t.Errorf("in a new cgroup namespace, /proc/thread-self/cgroup = %q, want 0::/", got)
	}
}

func readFile(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
	}
	return string(b)
}

package cgroup

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A limit file that is a FIFO (one bind-mounted over it) with no writer
// would block an open without O_NONBLOCK for good, and with it the blank
// import's init: it must be reported as a file that cannot be read. The
// Go runtime reads only the CPU files, so one over memory.max hung only
// the programs that imported snug.
func TestFixtureFIFONotBlocking(t *testing.T) {
	root := tree(t, map[string]string{
		"proc/self/cgroup":                   "0::/a\n",
		"proc/self/mountinfo":                "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
		"sys/fs/cgroup/a/cgroup.controllers": "cpu memory\n",
		"sys/fs/cgroup/a/cpu.max":            "50000 100000\n",
	})
	if err := syscall.Mkfifo(filepath.Join(root, "sys/fs/cgroup/a/memory.max"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	type result struct {
		l   Limits
		err error
	}
	done := make(chan result, 1)
	go func() {
		g, err := Open(WithRoot(root))
		if err != nil {
			done <- result{err: err}
			return
		}
		l, err := g.Limits()
		done <- result{l, err}
	}()
	select {
	case r := <-done:
		if !FailedFile(r.err, "memory.max") || r.l.CPU != 0.5 {
			t.Errorf("Limits = CPU %v, err %v; want CPU 0.5 and an error naming memory.max", r.l.CPU, r.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Open or Limits blocked on a FIFO")
	}
}

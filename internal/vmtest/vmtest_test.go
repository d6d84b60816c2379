package vmtest

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test that waits longest starts first, while the others run.
func TestTimeoutKillsQemu(t *testing.T) {
	t.Parallel()
	Require(t)
	const timeout = 20 * time.Second
	start := time.Now()
	r, err := run(t.TempDir(), Guest{Script: "echo hanging; sleep 1000", Timeout: timeout})
	elapsed := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("got error %v, want a timeout", err)
	}
	if elapsed > timeout+10*time.Second {
		t.Errorf("run returned %v after its %v timeout", elapsed-timeout, timeout)
	}
	if !strings.Contains(r.output, "hanging") {
		t.Errorf("the script did not start before the timeout; output:\n%s", r.output)
	}
	// Only this run's qemu: the other parallel tests' may still be running
	// (on a slow day a guest that runs a test binary outlasts 20 s).
	if r.qemuPID == 0 || slices.Contains(qemuChildren(t), strconv.Itoa(r.qemuPID)) {
		t.Errorf("this run's qemu (pid %d) still there, running or unreaped", r.qemuPID)
	}
}

// A guest that never starts the script (a hang in init stands for a boot
// hang) is stopped at the boot deadline, before the whole timeout, with
// errNoStart: Run then boots once more. Not parallel: the parallel tests
// check that no qemu of this process is left, and this one's would be.
func TestBootHangIsCaught(t *testing.T) {
	Require(t)
	const timeout = 12 * time.Second
	start := time.Now()
	r, err := run(t.TempDir(), Guest{Script: "echo started", Timeout: timeout, beforeStart: "sleep 1000\n"})
	elapsed := time.Since(start)
	if !errors.Is(err, errNoStart) {
		t.Fatalf("got error %v, want errNoStart", err)
	}
	if elapsed >= timeout {
		t.Errorf("caught after %v, not before the %v timeout", elapsed, timeout)
	}
	if strings.Contains(r.output, "started") {
		t.Errorf("the script ran; output:\n%s", r.output)
	}
	if pids := qemuChildren(t); len(pids) > 0 {
		t.Errorf("qemu children still there (running or unreaped): %v", pids)
	}
}

// One boot checks the guest's cgroup v2 setup from the shell and from Go (this
// package's own test binary, running TestInGuest), and the exit status.
func TestGuestHasCgroupV2(t *testing.T) {
	t.Parallel()
	bin := BuildTestBinary(t, ".")
	start := time.Now()
	out, code := Run(t, Guest{
		Files: map[string]string{"/t/vmtest.test": bin},
		Script: `
echo "controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
echo "cpus: $(grep -c ^processor /proc/cpuinfo)"
mkdir /sys/fs/cgroup/limited
echo "child controllers: $(cat /sys/fs/cgroup/limited/cgroup.controllers)"
echo "50000 100000" >/sys/fs/cgroup/limited/cpu.max
echo 256M >/sys/fs/cgroup/limited/memory.max
echo "cpu.max: $(cat /sys/fs/cgroup/limited/cpu.max)"
echo "memory.max: $(cat /sys/fs/cgroup/limited/memory.max)"
sh -c 'echo $$ >/sys/fs/cgroup/limited/cgroup.procs && echo "moved: $(cat /proc/self/cgroup)"'
` + GoTest("/t/vmtest.test", "^TestInGuest$", "VMTEST_WANT=hello") + `
echo "go test: $?"
exit 3
`,
	})
	t.Logf("boot, run and power-off took %v", time.Since(start))

	lines := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, ": "); ok {
			lines[k] = v
		}
	}
	// The root lists what the kernel has; a child, what init enabled.
	for k, want := range map[string][]string{
		"controllers":       {"cpu", "memory"},
		"child controllers": {"cpu", "memory", "cpuset", "pids", "io"},
	} {
		for _, c := range want {
			if !strings.Contains(" "+lines[k]+" ", " "+c+" ") {
				t.Errorf("%s: %s missing from %q", k, c, lines[k])
			}
		}
	}
	for k, want := range map[string]string{
		"cpus":       "2",
		"cpu.max":    "50000 100000",
		"memory.max": "268435456",
		"moved":      "0::/limited",
		"go test":    "0",
	} {
		if lines[k] != want {
			t.Errorf("%s: got %q, want %q", k, lines[k], want)
		}
	}
	if !strings.Contains(out, "--- PASS: TestInGuest") {
		t.Errorf("TestInGuest did not pass in the guest")
	}
	if code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
	if t.Failed() {
		t.Logf("guest output:\n%s", out)
	}
}

// A kernel panic must end the run at once, not at the timeout.
func TestCrashEndsRun(t *testing.T) {
	t.Parallel()
	Require(t)
	start := time.Now()
	r, err := run(t.TempDir(), Guest{Script: "echo c >/proc/sysrq-trigger; sleep 1000", Timeout: 60 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "exit status") {
		t.Errorf("got error %v, want a missing exit status", err)
	}
	if elapsed := time.Since(start); elapsed > 30*time.Second {
		t.Errorf("a crashed guest took %v to end", elapsed)
	}
	if !strings.Contains(r.console, "Kernel panic") {
		t.Errorf("no panic on the kernel console:\n%s", r.console)
	}
}

// qemuChildren lists this process's qemu children, zombies included.
func qemuChildren(t *testing.T) []string {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var pids []string
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // exited meanwhile
		}
		// "pid (comm) state ppid ...", where comm may hold spaces.
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(s[end+1:])
		if strings.HasPrefix(s[open+1:end], "qemu-system") && len(f) > 1 && f[1] == strconv.Itoa(os.Getpid()) {
			pids = append(pids, strings.TrimSpace(s[:open]))
		}
	}
	return pids
}

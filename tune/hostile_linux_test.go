package tune

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/snug-go/snug/internal/cgtest"
)

// The promise of the blank import: whatever the environment, the program
// starts, and where nothing trustworthy can be read snug leaves the
// runtime's defaults. TestHostHostileEnvironment runs testdata/blank under
// hostile but real conditions, each made by a shell in a private mount
// namespace of its own (the test's and the host's mounts are never
// touched): the cgroup file systems unmounted or hidden, /proc/self's
// mountinfo and cgroup replaced by garbage, empty, oversized files or
// absurdly deep paths, the cgroup's limit files replaced by garbage or a
// FIFO, and every SNUG_* variable set to garbage.

// hostileBound is how long one run may take: a hang is the failure, and
// a healthy run takes a few milliseconds.
const hostileBound = 20 * time.Second

// runHostile runs testdata/blank in g, in a private mount namespace, after
// setup: shell commands run by the process that then execs blank, so that
// /proc/$$ is blank's own /proc entry. A setup command that fails ends the
// run with status 126, which fails the test as a broken setup rather than
// a finding.
func runHostile(t *testing.T, g *cgtest.Group, setup []string, env ...string) (blankReport, string) {
	t.Helper()
	var script strings.Builder
	for _, c := range setup {
		script.WriteString(c + " || exit 126\n")
	}
	script.WriteString(`exec "$@"`)
	cmd := g.Command("/bin/sh", "-c", script.String(), "sh", buildProgram(t, "testdata/blank"))
	// Go makes every mount private in the new namespace (as unshare(1)
	// does), so nothing done there reaches the host's.
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	cmd.Env = cleanEnv(env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(hostileBound):
		cmd.Process.Kill()
		<-done
		t.Fatalf("blank did not exit within %v: the import blocked it; stderr:\n%s", hostileBound, stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code == 126 {
		t.Fatalf("setup failed (%v):\n%s", err, stderr.String())
	}
	if err != nil {
		t.Fatalf("blank: %v (want exit status 0)\nstdout: %s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	var r blankReport
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("blank output %q: %v\nstderr:\n%s", stdout.String(), err, stderr.String())
	}
	return r, stderr.String()
}

// cgroupMountPoints returns the mount points of the cgroup and cgroup2
// mounts of this process's mountinfo, in order.
func cgroupMountPoints(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		_, after, ok := strings.Cut(line, " - ")
		fields := strings.Fields(line)
		if !ok || len(fields) < 5 {
			continue
		}
		if fs := strings.Fields(after); len(fs) > 0 && (fs[0] == "cgroup" || fs[0] == "cgroup2") {
			out = append(out, unescapeMountPoint(fields[4]))
		}
	}
	return out
}

// unescapeMountPoint undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPoint(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// shq quotes s for the shell.
func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// writeFile writes data to a new file in dir and returns its path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// bindOver returns setup commands that bind-mount file over target and
// check that target now reads as file.
func bindOver(file, target string) []string {
	return []string{
		"mount --bind " + shq(file) + ` "` + target + `"`,
		"cmp -s " + shq(file) + ` "` + target + `"`,
	}
}

func TestHostHostileEnvironment(t *testing.T) {
	requireHost(t)
	for _, tool := range []string{"mount", "umount", "cmp"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("SNUG_REQUIRE_CGROUP") == "1" {
				t.Fatalf("real cgroup tests required (SNUG_REQUIRE_CGROUP=1) but %s is missing", tool)
			}
			t.Skipf("%s is missing (util-linux, diffutils)", tool)
		}
	}
	// Limits snug would act on if it could read them: 0.5 CPU gives
	// GOMAXPROCS 1 and 256 MiB gives 224 MiB, where the runtime alone keeps
	// every CPU (at least 2 under a quota) and no memory limit.
	g := cgtest.New(t, "snug-tune-hostile")
	g.SetCPU(0.5)
	g.SetMemory(256 * mib)
	tmp := t.TempDir()

	// Setup that unmounts every cgroup file system, deepest (last mounted)
	// first, lazily as they are busy, then checks that none is left.
	points := cgroupMountPoints(t)
	var unmount []string
	for i := len(points) - 1; i >= 0; i-- {
		unmount = append(unmount, "umount -l "+shq(points[i]))
	}
	unmount = append(unmount, `! grep -Eq ' - cgroup2? ' /proc/$$/mountinfo`)

	// A mountinfo larger than cgroup.Open reads (16 MiB): 20 MiB of
	// well-formed lines of other file systems, then the real lines, so that
	// only a read of the whole file would find the cgroup mounts.
	own := mustRead(t, "/proc/self/mountinfo")
	var huge bytes.Buffer
	for i := 0; huge.Len() < 20<<20; i++ {
		fmt.Fprintf(&huge, "%d 1 0:%d / /filler/%d rw,relatime - tmpfs tmpfs rw\n", 100000+i, 100+i%900, i)
	}
	huge.Write(own)
	noise := make([]byte, 64<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	// A /proc/self/cgroup of well-formed lines, the host's controllers,
	// whose paths are absurdly deep.
	var deep bytes.Buffer
	lines := strings.Split(strings.TrimSpace(string(mustRead(t, "/proc/self/cgroup"))), "\n")
	for _, l := range lines {
		id, rest, _ := strings.Cut(l, ":")
		ctrls, _, _ := strings.Cut(rest, ":")
		fmt.Fprintf(&deep, "%s:%s:%s\n", id, ctrls, strings.Repeat("/a", (1<<20)/len(lines)/2-64))
	}
	deepFile := writeFile(t, tmp, "deep", deep.Bytes())
	// The same at the deepest the kernel writes (4095 bytes), as many
	// lines as fit in the 1 MiB cgroup.Open reads.
	var deepest bytes.Buffer
	for i := 0; deepest.Len() < 1<<20-5000; i++ {
		id, rest, _ := strings.Cut(lines[i%len(lines)], ":")
		ctrls, _, _ := strings.Cut(rest, ":")
		fmt.Fprintf(&deepest, "%s:%s:%s\n", id, ctrls, strings.Repeat("/a", 2047)+"b")
	}
	deepestFile := writeFile(t, tmp, "deepest", deepest.Bytes())
	garbage := writeFile(t, tmp, "garbage", []byte("garbage\n"))
	noiseFile := writeFile(t, tmp, "noise", noise)
	empty := writeFile(t, tmp, "empty", nil)
	hugeFile := writeFile(t, tmp, "huge", huge.Bytes())

	fifo := filepath.Join(tmp, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	memFile, cpuFile := "memory.limit_in_bytes", "cpu.cfs_quota_us"
	if g.V2() {
		memFile, cpuFile = "memory.max", "cpu.max"
	}
	memPath := filepath.Join(g.Dir("memory"), memFile)
	cpuPath := filepath.Join(g.Dir("cpu"), cpuFile)

	// What a child of the test's own cgroup gets with no limit of its
	// own: the result when g's limit files cannot be read (the test's own
	// cgroup and its ancestors may have limits of their own).
	ctl := cgtest.New(t, "snug-tune-hostile-ctl")
	control, _ := runBlank(t, ctl)

	const defaults = -1 // want: GOMAXPROCS the CPU count, GOMEMLIMIT none
	type hostileCase struct {
		name     string
		setup    []string
		env      []string
		procs    int   // defaults: r.NumCPU
		memLimit int64 // defaults: math.MaxInt64
		logHas   []string
		lines    int // log lines
	}
	cases := []hostileCase{
		{
			name: "cgroup-unmounted", setup: unmount, procs: defaults,
			logHas: []string{"snug: tuned", "no cgroup"}, lines: 1,
		},
		{
			name: "cgroup-hidden-by-tmpfs", setup: []string{"mount -t tmpfs snug-hostile /sys/fs/cgroup"}, procs: defaults,
			logHas: []string{"snug: tuned", "no cgroup"}, lines: 1,
		},
		{
			name: "mountinfo-garbage", setup: bindOver(garbage, "/proc/$$/mountinfo"), procs: defaults,
			logHas: []string{"snug: tuned", "/proc/self/mountinfo", "garbage"}, lines: 1,
		},
		{
			name: "mountinfo-noise", setup: bindOver(noiseFile, "/proc/$$/mountinfo"), procs: defaults,
			logHas: []string{"snug: tuned", "/proc/self/mountinfo"}, lines: 1,
		},
		{
			name: "mountinfo-empty", setup: bindOver(empty, "/proc/$$/mountinfo"), procs: defaults,
			logHas: []string{"snug: tuned", "no cgroup"}, lines: 1,
		},
		{
			name: "mountinfo-20MiB", setup: bindOver(hugeFile, "/proc/$$/mountinfo"), procs: defaults,
			logHas: []string{"snug: tuned", "/proc/self/mountinfo", "too large"}, lines: 1,
		},
		{
			name: "proc-cgroup-garbage", setup: bindOver(garbage, "/proc/$$/cgroup"), procs: defaults,
			logHas: []string{"snug: tuned", "/proc/self/cgroup", "garbage"}, lines: 1,
		},
		{
			name: "proc-cgroup-noise", setup: bindOver(noiseFile, "/proc/$$/cgroup"), procs: defaults,
			logHas: []string{"snug: tuned", "/proc/self/cgroup"}, lines: 1,
		},
		{
			name: "proc-cgroup-deep", setup: bindOver(deepFile, "/proc/$$/cgroup"), procs: defaults,
			logHas: []string{"snug: tuned", "/proc/self/cgroup"}, lines: 1,
		},
		{
			name: "proc-cgroup-deepest", setup: bindOver(deepestFile, "/proc/$$/cgroup"), procs: defaults,
			logHas: []string{"snug: tuned", "no memory limit found"}, lines: 1,
		},
		{
			// A FIFO with no writer: an open without O_NONBLOCK never
			// returns. (The Go runtime itself reads the CPU files, and
			// /proc/self/cgroup and mountinfo: a FIFO there hangs it
			// before snug runs, with SNUG=off too.)
			name: "memory-limit-fifo", setup: []string{"mount --bind " + shq(fifo) + " " + shq(memPath), "test -p " + shq(memPath)},
			procs: 1, memLimit: control.GOMEMLIMIT,
			logHas: []string{"snug: tuned", "GOMAXPROCS 1:", memFile, "illegal seek"}, lines: 1,
		},
		{
			name:  "limit-files-garbage",
			setup: append(bindOver(garbage, memPath), bindOver(garbage, cpuPath)...),
			procs: control.GOMAXPROCS, memLimit: control.GOMEMLIMIT,
			logHas: []string{"snug: tuned", memFile, cpuFile, "garbage"}, lines: 1,
		},
		{
			// One bad file does not throw away the limits that can be read.
			name: "memory-limit-garbage", setup: bindOver(garbage, memPath),
			procs: 1, memLimit: control.GOMEMLIMIT,
			logHas: []string{"snug: tuned", "GOMAXPROCS 1:", memFile, "garbage"}, lines: 1,
		},
	}
	// Every SNUG_* variable malformed at once, as words and as numbers at
	// the edges: each is ignored with a warning naming it, and the limits
	// give what they give without them.
	vars := []string{"SNUG", "SNUG_LOG", "SNUG_GOMAXPROCS", "SNUG_GOMAXPROCS_POLICY", "SNUG_GOMAXPROCS_MIN",
		"SNUG_GOMAXPROCS_MAX", "SNUG_GOMAXPROCS_RESERVE", "SNUG_GOMEMLIMIT", "SNUG_GOMEMLIMIT_RATIO",
		"SNUG_GOMEMLIMIT_HEADROOM", "SNUG_INTERVAL", "SNUG_WATCHDOG", "SNUG_WATCHDOG_FREE",
		"SNUG_WATCHDOG_OUTSIDE", "SNUG_WATCHDOG_PAUSE", "SNUG_WATCHDOG_SPIRAL", "SNUG_WATCHDOG_SPIRAL_WINDOW",
		"SNUG_WATCHDOG_SNAPSHOTS"}
	numbers := map[string]string{
		"SNUG": "2", "SNUG_LOG": "-1", "SNUG_GOMAXPROCS": "0x10", "SNUG_GOMAXPROCS_POLICY": "0",
		"SNUG_GOMAXPROCS_MIN": "99999999999999999999", "SNUG_GOMAXPROCS_MAX": "-1",
		"SNUG_GOMAXPROCS_RESERVE": "NaN", "SNUG_GOMEMLIMIT": "1", "SNUG_GOMEMLIMIT_RATIO": "+Inf",
		"SNUG_GOMEMLIMIT_HEADROOM": "99999999999TiB", "SNUG_INTERVAL": "9999999999h",
		"SNUG_WATCHDOG": "2", "SNUG_WATCHDOG_FREE": "NaN", "SNUG_WATCHDOG_OUTSIDE": "-0",
		"SNUG_WATCHDOG_PAUSE": "-1ms", "SNUG_WATCHDOG_SPIRAL": "1", "SNUG_WATCHDOG_SPIRAL_WINDOW": "0s",
		"SNUG_WATCHDOG_SNAPSHOTS": "trace,",
	}
	for _, kind := range []string{"words", "numbers"} {
		var env []string
		for _, v := range vars {
			val := "garbage \x7f\u2603 $(true) ;"
			if kind == "numbers" {
				val = numbers[v]
			}
			env = append(env, v+"="+val)
		}
		// Not malformed by any value: a directory name, unused without
		// snapshots.
		env = append(env, "SNUG_WATCHDOG_SNAPSHOT_DIR=garbage")
		cases = append(cases, hostileCase{
			name: "env-garbage-" + kind, env: env, procs: 1, memLimit: 224 * mib,
			logHas: append([]string{"snug: tuned", "GOMAXPROCS 1:", "GOMEMLIMIT 224 MiB"}, vars...),
			lines:  len(vars) + 1,
		})
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, stderr := runHostile(t, g, c.setup, c.env...)
			procs, memLimit := c.procs, c.memLimit
			if procs == defaults {
				procs, memLimit = r.NumCPU, math.MaxInt64
			}
			t.Logf("GOMAXPROCS %d GOMEMLIMIT %d (NumCPU %d); log:\n%s", r.GOMAXPROCS, r.GOMEMLIMIT, r.NumCPU, stderr)
			if r.GOMAXPROCS != procs || r.GOMEMLIMIT != memLimit {
				t.Errorf("GOMAXPROCS %d GOMEMLIMIT %d, want %d and %d", r.GOMAXPROCS, r.GOMEMLIMIT, procs, memLimit)
			}
			if n := strings.Count(stderr, "\n"); n != c.lines {
				t.Errorf("%d log lines, want %d", n, c.lines)
			}
			for _, s := range c.logHas {
				if !strings.Contains(stderr, s) {
					t.Errorf("log lacks %q", s)
				}
			}
			if strings.Contains(stderr, "panic") {
				t.Errorf("log mentions a panic")
			}
		})
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Package cgtest makes real cgroups for tests and benchmarks: child cgroups
// of the test process's own cgroup, in each controller hierarchy the host
// has (v1, v2 or hybrid), with real CPU quotas and memory limits, and a way
// to start a process inside them. It never touches a cgroup outside the
// test process's own subtree, moves only processes it starts there, and
// removes everything at the end of the test. What a test binary killed
// before its end left behind, New removes the next time it runs.
//
// It needs root and a writable cgroup filesystem. Where those are missing,
// New skips the test with the reason, unless SNUG_REQUIRE_CGROUP=1 is set
// (CI sets it), in which case the test fails: a CI run must not pass by
// skipping the real-kernel tests.
package cgtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/snug-go/snug/cgroup"
)

// Controllers the harness creates cgroups in. cpuacct and cpuset are
// included so that Stats and Limits.CPUs can be checked too.
var controllers = []string{"cpu", "cpuacct", "cpuset", "memory", "pids"}

// Group is a cgroup made by the harness, one directory per hierarchy.
type Group struct {
	t    testing.TB
	v2   bool
	dirs map[string]string // controller (or "unified") → directory; deduplicated on write
	// Cgroup maps each controller to the cgroup path a process inside will
	// see in /proc/self/cgroup, for checking Sources.
	Cgroup map[string]string
}

// Skip reports why real cgroups cannot be made here, or "" if they can.
func Skip() string {
	if os.Geteuid() != 0 {
		return "not root"
	}
	g, err := cgroup.Open()
	if err != nil {
		return "no cgroups: " + err.Error()
	}
	paths := g.Paths()
	dir := paths["memory"]
	if dir == "" {
		dir = paths["unified"]
	}
	probe := filepath.Join(dir, fmt.Sprintf("snug-probe-%d", os.Getpid()))
	if err := os.Mkdir(probe, 0o755); err != nil {
		return "cgroup filesystem not writable: " + err.Error()
	}
	os.Remove(probe)
	return ""
}

// Require skips (or, with SNUG_REQUIRE_CGROUP=1, fails) t when real cgroups
// cannot be made.
func Require(t testing.TB) {
	t.Helper()
	if why := Skip(); why != "" {
		if os.Getenv("SNUG_REQUIRE_CGROUP") == "1" {
			t.Fatalf("real cgroup tests required (SNUG_REQUIRE_CGROUP=1) but cannot run: %s", why)
		}
		t.Skipf("real cgroup tests skipped: %s (run as root on a host with a writable cgroup filesystem)", why)
	}
}

// New makes a child cgroup named snug-name-pid-n (a name that starts with
// snug- keeps its prefix; outside the initial pid namespace the name ends
// in -pidns and the namespace's inode number, where stale cleanup looks the
// pid up) under the test process's own cgroup in every hierarchy, and
// removes it when the test ends.
func New(t testing.TB, name string) *Group {
	t.Helper()
	Require(t)
	self, err := cgroup.Open()
	if err != nil {
		t.Fatal(err)
	}
	paths := self.Paths()
	procs, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	own := ownPaths(string(procs))
	// A test binary killed before its t.Cleanup ran leaves its cgroups
	// behind for ever; each New clears those of dead processes first.
	removeStale(t, harnessParents(self))
	if !strings.HasPrefix(name, "snug-") {
		name = "snug-" + name // the mark removeStale goes by
	}
	name = fmt.Sprintf("%s-%d-%d%s", name, os.Getpid(), time.Now().UnixNano()%1e6, nameSuffix())
	g := &Group{t: t, dirs: map[string]string{}, Cgroup: map[string]string{}}
	if self.Mode() == cgroup.ModeV2 {
		g.v2 = true
		parent := paths["unified"]
		// The v2 "no internal processes" rule: controllers can be handed to
		// children only from a cgroup without processes, or the root.
		for _, c := range []string{"+cpu", "+memory", "+cpuset", "+pids"} {
			os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte(c), 0)
		}
		g.add("unified", parent, own[""], name)
	} else {
		for _, c := range controllers {
			if paths[c] == "" {
				continue
			}
			g.add(c, paths[c], own[c], name)
		}
		if dir := g.dirs["cpuset"]; dir != "" {
			// A v1 cpuset child starts empty and refuses tasks until given
			// CPUs and memory nodes: inherit the parent's.
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				v, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f))
				if err == nil {
					g.Write("cpuset", f, strings.TrimSpace(string(v)))
				}
			}
		}
	}
	return g
}

// ownPaths maps controller → own cgroup path from /proc/self/cgroup ("" for v2).
func ownPaths(procs string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(procs, "\n") {
		_, rest, ok := strings.Cut(line, ":")
		ctrls, path, ok2 := strings.Cut(rest, ":")
		if !ok || !ok2 {
			continue
		}
		if ctrls == "" {
			out[""] = path
		}
		for _, c := range strings.Split(ctrls, ",") {
			out[c] = path
		}
	}
	return out
}

func (g *Group) add(controller, parentDir, parentCgroup, name string) {
	dir := filepath.Join(parentDir, name)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		g.t.Fatalf("cgtest: %v", err)
	}
	g.dirs[controller] = dir
	g.Cgroup[controller] = strings.TrimSuffix(parentCgroup, "/") + "/" + name
	g.t.Cleanup(func() { remove(g.t, dir) })
}

// Child makes a cgroup below g (a grandchild of the test's own cgroup).
func (g *Group) Child(name string) *Group {
	c := &Group{t: g.t, v2: g.v2, dirs: map[string]string{}, Cgroup: map[string]string{}}
	if g.v2 {
		os.WriteFile(filepath.Join(g.dirs["unified"], "cgroup.subtree_control"), []byte("+cpu +memory +cpuset +pids"), 0)
	}
	for ctl, dir := range g.dirs {
		c.add(ctl, dir, g.Cgroup[ctl], name)
	}
	if dir := c.dirs["cpuset"]; dir != "" {
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if v, err := os.ReadFile(filepath.Join(g.dirs["cpuset"], f)); err == nil {
				c.Write("cpuset", f, strings.TrimSpace(string(v)))
			}
		}
	}
	return c
}

// V2 reports whether the cgroup is on the unified hierarchy.
func (g *Group) V2() bool { return g.v2 }

// Dir returns the directory of the cgroup in the hierarchy of controller
// (any controller name on v2).
func (g *Group) Dir(controller string) string {
	if g.v2 {
		return g.dirs["unified"]
	}
	return g.dirs[controller]
}

// Write writes value to file in the hierarchy of controller, failing the test
// on error.
func (g *Group) Write(controller, file, value string) {
	g.t.Helper()
	if err := os.WriteFile(filepath.Join(g.Dir(controller), file), []byte(value), 0); err != nil {
		g.t.Fatalf("cgtest: write %q: %v", value, err)
	}
}

// SetCPU sets a CFS bandwidth limit of cpus CPUs over a 100 ms period;
// 0 removes it.
func (g *Group) SetCPU(cpus float64) {
	g.t.Helper()
	quota := int64(cpus * 100000)
	if g.v2 {
		v := "max 100000"
		if quota > 0 {
			v = strconv.FormatInt(quota, 10) + " 100000"
		}
		g.Write("cpu", "cpu.max", v)
		return
	}
	g.Write("cpu", "cpu.cfs_period_us", "100000")
	if quota <= 0 {
		quota = -1
	}
	g.Write("cpu", "cpu.cfs_quota_us", strconv.FormatInt(quota, 10))
}

// SetMemory sets the hard memory limit in bytes; 0 removes it.
func (g *Group) SetMemory(bytes int64) {
	g.t.Helper()
	if g.v2 {
		g.Write("memory", "memory.max", limitValue(bytes))
		return
	}
	if bytes <= 0 {
		g.Write("memory", "memory.limit_in_bytes", "-1")
		return
	}
	g.Write("memory", "memory.limit_in_bytes", strconv.FormatInt(bytes, 10))
}

// SetMemoryHigh sets memory.high (v2 only; the test is skipped on v1).
func (g *Group) SetMemoryHigh(bytes int64) {
	g.t.Helper()
	if !g.v2 {
		g.t.Skip("memory.high exists only on cgroup v2")
	}
	g.Write("memory", "memory.high", limitValue(bytes))
}

func limitValue(bytes int64) string {
	if bytes <= 0 {
		return "max"
	}
	return strconv.FormatInt(bytes, 10)
}

// Command returns a command that runs inside the cgroup from its first
// instruction: a shell writes its own pid into every hierarchy's
// cgroup.procs, then execs name. No process but this one is ever moved.
func (g *Group) Command(name string, args ...string) *exec.Cmd {
	var script strings.Builder
	seen := map[string]bool{}
	for _, dir := range g.dirs {
		if seen[dir] {
			continue
		}
		seen[dir] = true
		fmt.Fprintf(&script, "echo $$ > %q/cgroup.procs || exit 125; ", dir)
	}
	script.WriteString(`exec "$@"`)
	return exec.Command("/bin/sh", append([]string{"-c", script.String(), "sh", name}, args...)...)
}

// Procs lists the processes in the cgroup (of any hierarchy).
func (g *Group) Procs() []int {
	var out []int
	for _, dir := range g.dirs {
		data, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				out = append(out, pid)
			}
		}
		break
	}
	return out
}

// remove deletes a cgroup directory made by New or Child, killing what is
// left in it first (only processes the harness started can be there).
// Children are removed before parents because t.Cleanup runs last-in first.
func remove(t testing.TB, dir string) {
	if err := removeDir(dir); err != nil {
		t.Errorf("cgtest: %v", err)
	}
}

// removeDir is remove without a test to fail, so that cleaning up after
// earlier, killed test processes can only log.
func removeDir(dir string) error {
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		data, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
				if p, err := os.FindProcess(pid); err == nil {
					p.Kill()
				}
			}
		}
		err = os.Remove(dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("could not remove %s: %w", dir, err)
}

// harnessParents are the directories New makes its cgroups in: the test
// process's own cgroup in each hierarchy it uses.
func harnessParents(self *cgroup.Group) []string {
	paths := self.Paths()
	if self.Mode() == cgroup.ModeV2 {
		return []string{paths["unified"]}
	}
	var parents []string
	for _, c := range controllers {
		if paths[c] != "" {
			parents = append(parents, paths[c])
		}
	}
	return parents
}

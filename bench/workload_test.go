package bench

import (
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/snug-go/snug/bench/internal/wire"
	"github.com/snug-go/snug/internal/cgtest"
)

// runPlain runs the workload outside any cgroup and returns its stdout.
func runPlain(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(workload(t), args...)
	cmd.Env = append(sanitizedEnv(), env...)
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), &stderrError{ee, string(ee.Stderr)}
	}
	return string(out), err
}

type stderrError struct {
	*exec.ExitError
	stderr string
}

func (e *stderrError) Error() string { return e.ExitError.Error() + ": " + e.stderr }

func lastResult(t *testing.T, out string) wire.Result {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var r wire.Result
	if err := wire.Decode(lines[len(lines)-1], &r); err != nil {
		t.Fatalf("%v\noutput:\n%s", err, out)
	}
	if lines[0] != wire.PhaseMeasure || lines[len(lines)-2] != wire.PhaseDone {
		t.Errorf("phase lines out of order:\n%s", out)
	}
	return r
}

// A short steady run measures what the benchmarks report: requests,
// pauses, GOMAXPROCS, memory.
func TestWorkloadSteady(t *testing.T) {
	out, err := runPlain(t, nil, "-peer", "runtime", "-rate", "500", "-warmup", "100ms", "-duration", "700ms", "-live-mib", "8", "-alloc-kib", "64")
	if err != nil {
		t.Fatal(err)
	}
	r := lastResult(t, out)
	if r.Requests != 350 || r.Unfinished != 0 {
		t.Errorf("requests %d (unfinished %d), want 350 at 500/s for 700ms", r.Requests, r.Unfinished)
	}
	if r.ReqP50 <= 0 || r.ReqP50 > r.ReqP99 || r.ReqP99 > r.ReqP999 || r.ReqP999 > r.ReqMax {
		t.Errorf("latency quantiles not ordered: %d %d %d %d", r.ReqP50, r.ReqP99, r.ReqP999, r.ReqMax)
	}
	if r.Pauses == 0 || r.GCCycles == 0 || r.STWP50 <= 0 || r.STWP50 > r.STWP99 || r.STWP99 > r.STWMax {
		t.Errorf("pauses %d in %d cycles, quantiles %d %d %d", r.Pauses, r.GCCycles, r.STWP50, r.STWP99, r.STWMax)
	}
	if r.GOMAXPROCS < 1 || r.GOMAXPROCS > runtime.NumCPU() {
		t.Errorf("GOMAXPROCS %d on %d CPUs", r.GOMAXPROCS, runtime.NumCPU())
	}
	if r.GCCPUPercent <= 0 || r.GCCPUPercent > 100 {
		t.Errorf("gc-cpu-pct %v", r.GCCPUPercent)
	}
	if runtime.GOOS == "linux" && r.PeakRSS < 8<<20 {
		t.Errorf("peak RSS %d with an 8 MiB live heap", r.PeakRSS)
	}
}

// The numcpu peer is defined by an environment the harness sets; without
// it the workload must refuse rather than run as another peer.
func TestWorkloadRefusesMislabelledPeers(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-peer", "numcpu"}, "containermaxprocs=0"},
		{[]string{"-peer", "nonesuch"}, "unknown peer"},
		{[]string{"-peer", "snug-sideways"}, "snug-sideways"},
		{[]string{"-scenario", "burst"}, "-burst-mib"},
		{[]string{"-rate", "0"}, "positive"},
	} {
		_, err := runPlain(t, nil, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("workload %v: error %v, want one mentioning %q", c.args, err, c.want)
		}
	}
	out, err := runPlain(t, []string{"GODEBUG=containermaxprocs=0"}, "-peer", "numcpu", "-rate", "200", "-warmup", "0s", "-duration", "300ms", "-live-mib", "4")
	if err != nil {
		t.Fatal(err)
	}
	if r := lastResult(t, out); r.GOMAXPROCS != runtime.NumCPU() {
		t.Errorf("numcpu peer: GOMAXPROCS %d, want %d", r.GOMAXPROCS, runtime.NumCPU())
	}
}

// The quiet scenario must be survivable: a process that watches its
// cgroup's charge and returns freed heap in time lives through it, while
// the Go runtime alone, with no memory limit, is killed. Without this
// control an OOM kill in the table could be the scenario's fault.
//
// Over this short window the memory outside the heap grows at about
// 90 MiB/s, from 85% of the limit: snug at its defaults must live through
// it too (sampling once a second, it was killed in 12 runs of 12 before it
// checked the usage every 50 ms near the limit).
func TestQuietScenarioIsFair(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the quiet scenario three times in real cgroups (~10 s)")
	}
	cgtest.Require(t)
	bin := workload(t)
	kills := map[string]uint64{}
	for _, peer := range []string{"control-watchdog", "snug", "runtime"} {
		// The control only has to show that the scenario can be lived
		// through, and it is the simplest watchdog, with no margin for a
		// machine busy with other work: a second run may show it. snug
		// has one run.
		runs := 1
		if peer == "control-watchdog" {
			runs = 2
		}
		for run := 1; run <= runs; run++ {
			g := cgtest.New(t, "snug-quiet")
			g.SetCPU(memQuota)
			g.SetMemory(memLimitMiB << 20)
			spec := runSpec{peer: peer, scenario: "quiet", rate: 1000, warmup: 300 * time.Millisecond,
				window: 3 * time.Second, burstMiB: burstMiB, outsideMiB: outsideMiB}
			cmd := g.Command(bin, spec.args()...)
			cmd.Env = sanitizedEnv()
			out, err := cmd.CombinedOutput()
			kills[peer], _ = readOOMKills(g.Dir("memory"), g.V2())
			t.Logf("%s (run %d): err %v, OOM kills %d\n%s", peer, run, err, kills[peer], lastLine(string(out)))
			if peer == "runtime" || (err == nil && kills[peer] == 0) {
				break
			}
			if run == runs {
				t.Errorf("%s did not survive the quiet scenario in %d runs: %v, OOM-killed %d times\n%s", peer, runs, err, kills[peer], out)
			}
		}
	}
	if kills["runtime"] == 0 {
		t.Errorf("the runtime alone survived the quiet scenario: the case no longer tests anything")
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		return s[i+1:]
	}
	return s
}

package bench

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/snug-go/snug/bench/internal/wire"
	"github.com/snug-go/snug/internal/cgtest"
)

// runSpec is one workload run: which peer, under which limits, at what rate.
type runSpec struct {
	peer       string
	quota      float64 // CPUs; 0 for no CPU quota
	memMiB     int     // memory limit; 0 for none
	scenario   string  // steady, burst, quiet
	rate       float64 // requests per second
	warmup     time.Duration
	window     time.Duration
	burstMiB   int
	outsideMiB int
	cgroup     bool // run inside a child cgroup (false where cgtest cannot)
}

// outcome is what the harness saw of a run: the workload's own result (if
// it lived to print it) and the cgroup's counters over the window.
type outcome struct {
	res    wire.Result
	hasRes bool

	// From the cgroup: CFS throttling between the workload's "measure" and
	// "done" lines (or its death), OOM kills, and the cgroup's peak memory
	// usage (which, unlike VmHWM, survives the process).
	throttledPeriods uint64
	throttledTime    time.Duration
	oomKills         uint64
	cgroupPeak       int64

	killed bool   // the process died of SIGKILL
	phase  string // the last phase line the workload printed
	stderr string // the workload's standard error, for failure messages
}

// sanitizedEnv is the harness's environment without anything that would
// override a peer's decision: each peer must start from Go's defaults.
func sanitizedEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "GOMAXPROCS", k == "GOMEMLIMIT", k == "GOGC", k == "GODEBUG", k == "AUTOMEMLIMIT",
			strings.HasPrefix(k, "SNUG_") && k != "SNUG_REQUIRE_CGROUP":
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (s runSpec) args() []string {
	a := []string{
		"-peer", s.peer,
		"-scenario", s.scenario,
		"-rate", strconv.FormatFloat(s.rate, 'f', 1, 64),
		"-warmup", s.warmup.String(),
		"-duration", s.window.String(),
		"-live-mib", strconv.Itoa(liveMiB),
		"-alloc-kib", strconv.Itoa(allocKiB),
	}
	if s.burstMiB > 0 {
		a = append(a, "-burst-mib", strconv.Itoa(s.burstMiB))
	}
	if s.outsideMiB > 0 {
		a = append(a, "-outside-mib", strconv.Itoa(s.outsideMiB))
	}
	return a
}

// runWorkload runs the workload once as specified and returns what it saw.
// It fails b when the run could not be made or measured; an OOM kill is not
// a failure but a result.
func runWorkload(b *testing.B, bin string, s runSpec) outcome {
	b.Helper()
	var (
		cmd *exec.Cmd
		g   *cgtest.Group
	)
	name, args := bin, s.args()
	sched, err := schedPolicy()
	if err != nil {
		b.Fatal(err)
	}
	if sched == "batch" {
		// chrt sets the policy of the thread that execs the workload; every
		// thread the Go runtime starts inherits it.
		name, args = "chrt", append([]string{"--batch", "0", bin}, args...)
	}
	if s.cgroup {
		g = cgtest.New(b, "snug-bench")
		shieldFromNeighbours(g)
		if s.quota > 0 {
			g.SetCPU(s.quota)
		}
		if s.memMiB > 0 {
			g.SetMemory(int64(s.memMiB) << 20)
		}
		cmd = g.Command(name, args...)
	} else {
		cmd = exec.Command(name, args...)
	}
	cmd.Env = sanitizedEnv()
	if s.peer == "numcpu" {
		cmd.Env = append(cmd.Env, "GODEBUG=containermaxprocs=0")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start workload: %v", err)
	}
	limit := s.warmup + s.window + 90*time.Second
	timer := time.AfterFunc(limit, func() { cmd.Process.Kill() })
	defer timer.Stop()

	var (
		o           outcome
		atStart     cpuStat
		atEnd       cpuStat
		endSeen     bool
		resultLine  string
		protocolErr error
		statErr     error
	)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == wire.PhaseMeasure:
			o.phase = "measure"
			if g != nil {
				atStart, statErr = readCPUStat(g.Dir("cpu"))
			}
		case line == wire.PhaseDone:
			o.phase = "done"
			if g != nil {
				var err error
				atEnd, err = readCPUStat(g.Dir("cpu"))
				statErr = cmp.Or(statErr, err)
				endSeen = true
			}
		case strings.HasPrefix(line, "phase "):
			o.phase = strings.TrimPrefix(line, "phase ")
		case strings.HasPrefix(line, wire.ResultPrefix):
			resultLine = line
		}
	}
	io.Copy(io.Discard, stdout)
	waitErr := cmd.Wait()
	if !timer.Stop() {
		b.Fatalf("workload still running after %v: killed\nstderr:\n%s", limit, stderr.String())
	}
	o.stderr = stderr.String()
	var exitErr *exec.ExitError
	if errors.As(waitErr, &exitErr) {
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			o.killed = true
		}
	}

	if g != nil {
		if !endSeen {
			// The process died inside its window: count to its death.
			var err error
			atEnd, err = readCPUStat(g.Dir("cpu"))
			statErr = cmp.Or(statErr, err)
		}
		if statErr != nil {
			b.Fatalf("reading the cgroup's throttling counters: %v", statErr)
		}
		o.throttledPeriods = atEnd.throttledPeriods - atStart.throttledPeriods
		o.throttledTime = atEnd.throttledTime - atStart.throttledTime
		o.oomKills, _ = readOOMKills(g.Dir("memory"), g.V2())
		o.cgroupPeak, _ = readMemoryPeak(g.Dir("memory"), g.V2())
		if o.killed && o.oomKills == 0 {
			// SIGKILL from the kernel's OOM killer is the only kill the
			// harness does not make itself (its own timeout fails above).
			b.Logf("workload SIGKILLed but the cgroup counted no OOM kill; counting one")
			o.oomKills = 1
		}
	}

	if resultLine != "" {
		protocolErr = wire.Decode(resultLine, &o.res)
		o.hasRes = protocolErr == nil
	}
	switch {
	case o.oomKills > 0 || o.killed:
		// A result, not a failure: the caller decides whether a kill is
		// possible in this case.
	case waitErr != nil:
		b.Fatalf("workload %v: %v\nstderr:\n%s", s.args(), waitErr, o.stderr)
	case !o.hasRes:
		b.Fatalf("workload printed no result (%v)\nstderr:\n%s", protocolErr, o.stderr)
	}
	return o
}

// shieldFromNeighbours gives the workload's cgroup ten times the CPU weight
// of an ordinary process. On a Kubernetes node a pod's CPU request is backed
// by its weight (cpu.shares), and the requests of all pods fit the node, so
// a pod gets the CPU it asked for however busy its neighbours are. The
// shared machines this suite runs on make no such promise (other builds
// and tests run at the same time), and without the weight their load would
// show up as GC pauses and tail latency of every policy alike. The weight
// does not lift the quota, which is what the suite measures.
func shieldFromNeighbours(g *cgtest.Group) {
	if g.V2() {
		g.Write("cpu", "cpu.weight", "1000") // default 100
		return
	}
	g.Write("cpu", "cpu.shares", "10240") // default 1024
}

// cpuStat is the CFS bandwidth part of cpu.stat.
type cpuStat struct {
	throttledPeriods uint64
	throttledTime    time.Duration
}

// readCPUStat reads cpu.stat in dir: nr_throttled and throttled_time (ns,
// v1) or throttled_usec (v2).
func readCPUStat(dir string) (cpuStat, error) {
	data, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return cpuStat{}, err
	}
	return parseCPUStat(data)
}

func parseCPUStat(data []byte) (cpuStat, error) {
	var s cpuStat
	var found bool
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return s, fmt.Errorf("cpu.stat: %q: %w", line, err)
		}
		switch k {
		case "nr_throttled":
			s.throttledPeriods, found = n, true
		case "throttled_time": // v1, nanoseconds
			s.throttledTime = time.Duration(n)
		case "throttled_usec": // v2
			s.throttledTime = time.Duration(n) * time.Microsecond
		}
	}
	if !found {
		return s, errors.New("cpu.stat: no nr_throttled line")
	}
	return s, nil
}

// readOOMKills reads the OOM-kill counter: the oom_kill line of
// memory.oom_control (v1) or memory.events (v2).
func readOOMKills(dir string, v2 bool) (uint64, error) {
	file := "memory.oom_control"
	if v2 {
		file = "memory.events"
	}
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return 0, err
	}
	return parseKeyed(data, "oom_kill")
}

// readMemoryPeak reads the cgroup's peak memory usage: memory.peak (v2,
// Linux 5.19+) or memory.max_usage_in_bytes (v1).
func readMemoryPeak(dir string, v2 bool) (int64, error) {
	file := "memory.max_usage_in_bytes"
	if v2 {
		file = "memory.peak"
	}
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
}

// parseKeyed returns the value of key in a "key value" per line file.
func parseKeyed(data []byte, key string) (uint64, error) {
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if ok && k == key {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %q line", key)
}

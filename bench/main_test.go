package bench

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snug-go/snug/bench/internal/wire"
	"github.com/snug-go/snug/cgroup"
	"github.com/snug-go/snug/internal/cgtest"
	"github.com/snug-go/snug/tune"
)

// The workload's shape. The live heap and the garbage per request set how
// often the collector runs (about 10 cycles a second at the 0.5-CPU quota
// here); the load sets the arrival rate as a share of the quota.
const (
	liveMiB  = 20
	allocKiB = 32
)

var (
	workloadOnce sync.Once
	workloadBin  string
	workloadErr  error
	workloadDir  string

	costOnce sync.Once
	costNs   int64
	costErr  error

	cgroupWhy     string // why real cgroups cannot be made here; "" if they can
	cgroupLogOnce sync.Once
)

func TestMain(m *testing.M) {
	flag.Parse()
	cgroupWhy = cgtest.Skip()
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		// Configuration lines for benchstat and cmd/report: they head the
		// benchmark output and say what machine the numbers are from.
		printConfig()
	}
	code := m.Run()
	if workloadDir != "" {
		os.RemoveAll(workloadDir)
	}
	os.Exit(code)
}

func printConfig() {
	fmt.Printf("kernel: %s\n", kernelRelease())
	fmt.Printf("go: %s\n", runtime.Version())
	fmt.Printf("ncpu: %d\n", runtime.NumCPU())
	if mem := memTotal(); mem > 0 {
		fmt.Printf("memory: %.0f GiB\n", float64(mem)/(1<<30))
	}
	fmt.Printf("cgroup: %s\n", cgroupDescription())
	fmt.Printf("snug-policy: %s\n", tune.DefaultPolicy)
	if load, err := loadFraction(); err == nil {
		fmt.Printf("load: %g of the quota\n", load)
	}
	if sched, err := schedPolicy(); err == nil {
		fmt.Printf("sched: %s\n", sched)
	}
	fmt.Printf("warmup: %v\n", warmup(testing.Short()))
	if w, err := window(testing.Short()); err == nil {
		fmt.Printf("window: %v\n", w)
	}
	if c, err := requestCost(); err == nil {
		fmt.Printf("request-cost: %v\n", time.Duration(c))
	}
}

func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return runtime.GOOS
	}
	return strings.TrimSpace(string(b))
}

func memTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kib, _ := strconv.ParseInt(f[0], 10, 64)
				return kib << 10
			}
		}
	}
	return 0
}

func cgroupDescription() string {
	g, err := cgroup.Open()
	if err != nil {
		return "none (" + err.Error() + ")"
	}
	mode := map[cgroup.Mode]string{
		cgroup.ModeV1:     "v1",
		cgroup.ModeV2:     "v2",
		cgroup.ModeHybrid: "v1 (hybrid: cpu and memory on v1)",
	}[g.Mode()]
	if mode == "" {
		mode = g.Mode().String()
	}
	if cgroupWhy != "" {
		mode += ", not usable by the suite: " + cgroupWhy
	}
	return mode
}

// loadFraction is the share of the quota (or of all CPUs, without one) the
// arrival rate is set to consume: SNUG_BENCH_LOAD, default 0.5. Half the
// quota leaves room for the collector's bursts, as a sized service does.
// Any other value is an error: a run at the default under a name that
// says otherwise would be mislabelled.
func loadFraction() (float64, error) {
	v := os.Getenv("SNUG_BENCH_LOAD")
	if v == "" {
		return 0.5, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f > 0 && f <= 2) {
		return 0, fmt.Errorf("SNUG_BENCH_LOAD=%q: want a share of the quota above 0 and at most 2, such as 0.8", v)
	}
	return f, nil
}

// schedPolicy is the Linux scheduling policy the workload runs under:
// SNUG_BENCH_SCHED, "other" (the default, SCHED_OTHER) or "batch"
// (SCHED_BATCH, which the kernel never lets preempt a running thread on
// wake-up). It exists to measure how much of the GC pause with two Ps is a
// woken runtime thread preempting the one that ends the pause; see the
// package documentation.
func schedPolicy() (string, error) {
	switch v := os.Getenv("SNUG_BENCH_SCHED"); v {
	case "", "other":
		return "other", nil
	case "batch":
		return v, nil
	default:
		return "", fmt.Errorf("SNUG_BENCH_SCHED=%q: want other or batch", v)
	}
}

// window is the measured part of each run: SNUG_BENCH_WINDOW, default 5s,
// or 1s with -short; a value that is not a duration of at least 200ms is
// an error.
func window(short bool) (time.Duration, error) {
	if v := os.Getenv("SNUG_BENCH_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 200*time.Millisecond {
			return 0, fmt.Errorf("SNUG_BENCH_WINDOW=%q: want a duration of at least 200ms, such as 10s", v)
		}
		return d, nil
	}
	if short {
		return time.Second, nil
	}
	return 5 * time.Second, nil
}

// warmup is the part of each run before the window: long enough for every
// peer to settle, the slowest being snug's adaptive policy, whose first
// change comes about 3.2 s after start (a baseline read at the first 1 s
// tick, two calm evaluations, the 200 ms confirmation). Every peer gets the
// same warm-up. With -short (CI) it is 300 ms, and the adaptive policy is
// checked only for ending at one of its two values.
func warmup(short bool) time.Duration {
	if short {
		return 300 * time.Millisecond
	}
	return 4 * time.Second
}

// errNotUnix: the workload uses getrusage and anonymous mmap.
var errNotUnix = errors.New("the workload needs a Unix system")

// buildWorkload builds the workload program once per test process.
func buildWorkload() (string, error) {
	workloadOnce.Do(func() {
		if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
			workloadErr = errNotUnix
			return
		}
		workloadDir, workloadErr = os.MkdirTemp("", "snug-bench-")
		if workloadErr != nil {
			return
		}
		workloadBin = filepath.Join(workloadDir, "workload")
		gotool, err := exec.LookPath("go")
		if err != nil {
			gotool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		cmd := exec.Command(gotool, "build", "-o", workloadBin, "./internal/workload")
		if out, err := cmd.CombinedOutput(); err != nil {
			workloadErr = fmt.Errorf("go build ./internal/workload: %v\n%s", err, out)
		}
	})
	return workloadBin, workloadErr
}

// workload returns the workload program, skipping tb where it cannot run
// and failing it where it does not build.
func workload(tb testing.TB) string {
	tb.Helper()
	bin, err := buildWorkload()
	if errors.Is(err, errNotUnix) {
		tb.Skip(err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// requestCost measures once, outside any cgroup, how much CPU one request
// costs with the collector's share included, so that every peer in a run
// gets the same arrival rate for the same quota. SNUG_BENCH_COST (a
// duration, such as 180us) pins it to compare runs across machines or days.
func requestCost() (int64, error) {
	costOnce.Do(func() {
		if v := os.Getenv("SNUG_BENCH_COST"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				costErr = fmt.Errorf("SNUG_BENCH_COST=%q: want a positive duration such as 180us", v)
				return
			}
			costNs = int64(d)
			return
		}
		bin, err := buildWorkload()
		if err != nil {
			costErr = err
			return
		}
		cmd := exec.Command(bin, "-calibrate", "1s", "-live-mib", strconv.Itoa(liveMiB), "-alloc-kib", strconv.Itoa(allocKiB))
		cmd.Env = sanitizedEnv()
		out, err := cmd.Output()
		if err != nil {
			costErr = fmt.Errorf("calibration: %v", err)
			return
		}
		var c wire.Calibration
		if err := wire.Decode(strings.TrimSpace(string(out)), &c); err != nil {
			costErr = fmt.Errorf("calibration: %w", err)
			return
		}
		if c.Requests < 10 || c.CostNanos <= 0 {
			costErr = fmt.Errorf("calibration served %d requests at %d ns each: nothing to size the load on", c.Requests, c.CostNanos)
			return
		}
		costNs = c.CostNanos
	})
	return costNs, costErr
}

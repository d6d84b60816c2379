package probe

import (
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snug-go/snug/cgroup"
	"github.com/snug-go/snug/internal/cgtest"
)

// The tests below run the cgroup checks against the real kernel: the test
// binary re-runs itself inside a child cgroup with a memory limit or a CPU
// quota (internal/cgtest), and the child asserts what the check reports as
// its own usage grows. They skip where cgroups cannot be made (not root),
// unless SNUG_REQUIRE_CGROUP=1.

const childEnv = "SNUG_PROBE_CGROUP_CHILD"

func runChild(t *testing.T, g *cgtest.Group, mode string) {
	t.Helper()
	cmd := g.Command(os.Args[0], "-test.run=^TestCgroupChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, "GOMAXPROCS=2")
	out, err := cmd.CombinedOutput()
	t.Logf("child output:\n%s", out)
	if err != nil {
		t.Fatalf("child (%s): %v", mode, err)
	}
	if !strings.Contains(string(out), "--- PASS: TestCgroupChild") {
		t.Fatalf("child (%s) did not pass", mode)
	}
}

func TestMemoryHeadroomRealLimit(t *testing.T) {
	g := cgtest.New(t, "probe-mem")
	g.SetMemory(128 << 20)
	runChild(t, g, "memory")
}

func TestCPUThrottlingRealQuota(t *testing.T) {
	g := cgtest.New(t, "probe-cpu")
	g.SetCPU(0.2)
	runChild(t, g, "cpu")
}

// TestCgroupChild is the child's side; it does nothing in a normal run.
func TestCgroupChild(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		t.Skip("runs only as the child of the real-cgroup tests")
	}
	g, err := cgroup.Open()
	if err != nil {
		t.Fatal(err)
	}
	switch mode {
	case "memory":
		childMemory(t, g)
	case "cpu":
		childCPU(t, g)
	default:
		t.Fatalf("unknown mode %q", mode)
	}
}

// childMemory grows its heap in 4 MiB steps inside a 128 MiB cgroup; the
// check (25% headroom) must pass at first and fail before 112 MiB are
// allocated, well before the OOM killer.
func childMemory(t *testing.T, g *cgroup.Group) {
	limits, err := g.Limits()
	if err != nil {
		t.Fatal(err)
	}
	limit, src := limits.MemoryLimit()
	if limit != 128<<20 {
		t.Fatalf("limit %d (%v), want 128 MiB", limit, src)
	}
	c := MemoryHeadroom(g, 0.25)
	if err := run(t, c); err != nil {
		t.Fatalf("at start: %v", err)
	}
	var hold [][]byte
	for allocated := 0; allocated < 112<<20; allocated += 4 << 20 {
		b := make([]byte, 4<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1 // touch every page: charged to the cgroup
		}
		hold = append(hold, b)
		if err := run(t, c); err != nil {
			stats, _ := g.Stats()
			t.Logf("failed after %d MiB allocated, working set %d MiB: %v", (allocated+4<<20)>>20, stats.WorkingSet>>20, err)
			if !strings.Contains(err.Error(), "of the memory limit 128.0 MiB") {
				t.Errorf("message: %v", err)
			}
			runtime.KeepAlive(hold)
			return
		}
	}
	t.Fatal("the check still passed with 112 MiB allocated in a 128 MiB cgroup")
}

// childCPU burns CPU on two goroutines under a 0.2 CPU quota: the kernel
// throttles nearly every 100 ms period, and the check (over 50%) must fail
// within 5 s; then, idle, it must pass again.
func childCPU(t *testing.T, g *cgroup.Group) {
	c := CPUThrottling(g, 0.5)
	if err := run(t, c); err != nil {
		t.Fatalf("first run: %v", err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := 0
			for !stop.Load() {
				x++
			}
			_ = x
		}()
	}
	var failed error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && failed == nil; {
		time.Sleep(1500 * time.Millisecond)
		failed = run(t, c)
	}
	stop.Store(true)
	wg.Wait()
	if failed == nil {
		st, _ := g.Stats()
		t.Fatalf("busy under a 0.2 CPU quota, the check still passes (periods %d, throttled %d)", st.Periods, st.ThrottledPeriods)
	}
	t.Logf("busy: %v", failed)
	// Idle for 2.5 s: the cgroup runs in almost no period, and past 2 s the
	// check calls that idle, not throttled.
	time.Sleep(2500 * time.Millisecond)
	if err := run(t, c); err != nil {
		t.Fatalf("idle: still failing: %v", err)
	}
}

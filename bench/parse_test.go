package bench

import (
	"slices"
	"testing"
	"time"
)

func TestParseCPUStat(t *testing.T) {
	v1 := "nr_periods 41\nnr_throttled 2\nthrottled_time 4367395\nnr_bursts 0\nburst_time 0\n"
	s, err := parseCPUStat([]byte(v1))
	if err != nil || s.throttledPeriods != 2 || s.throttledTime != 4367395*time.Nanosecond {
		t.Errorf("v1: %+v, %v", s, err)
	}
	v2 := "usage_usec 100\nuser_usec 60\nsystem_usec 40\nnr_periods 10\nnr_throttled 3\nthrottled_usec 2500\n"
	s, err = parseCPUStat([]byte(v2))
	if err != nil || s.throttledPeriods != 3 || s.throttledTime != 2500*time.Microsecond {
		t.Errorf("v2: %+v, %v", s, err)
	}
	if _, err := parseCPUStat([]byte("usage_usec 100\n")); err == nil {
		t.Error("cpu.stat without bandwidth lines: no error")
	}
	if _, err := parseCPUStat([]byte("nr_throttled lots\n")); err == nil {
		t.Error("malformed value: no error")
	}
}

func TestParseKeyed(t *testing.T) {
	v1 := "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"
	if n, err := parseKeyed([]byte(v1), "oom_kill"); err != nil || n != 3 {
		t.Errorf("memory.oom_control: %d, %v", n, err)
	}
	v2 := "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n"
	if n, err := parseKeyed([]byte(v2), "oom_kill"); err != nil || n != 1 {
		t.Errorf("memory.events: %d, %v", n, err)
	}
	if _, err := parseKeyed([]byte("oom 2\n"), "oom_kill"); err == nil {
		t.Error("missing key: no error")
	}
}

func TestRounding(t *testing.T) {
	for _, c := range []struct {
		quota                float64
		ncpu                 int
		ceil2, floor1, ceil1 int
	}{
		{0, 2, 2, 2, 2},
		{0.5, 2, 2, 1, 1},
		{1, 2, 2, 1, 1},
		{1.5, 2, 2, 1, 2},
		{1.5, 1, 1, 1, 1},
		{4, 8, 4, 4, 4},
		{2.5, 8, 3, 2, 3},
		{0, 8, 8, 8, 8},
	} {
		if got := ceilMin2(c.quota, c.ncpu); got != c.ceil2 {
			t.Errorf("ceilMin2(%v, %d) = %d, want %d", c.quota, c.ncpu, got, c.ceil2)
		}
		if got := floorMin1(c.quota, c.ncpu); got != c.floor1 {
			t.Errorf("floorMin1(%v, %d) = %d, want %d", c.quota, c.ncpu, got, c.floor1)
		}
		if got := ceilMin1(c.quota, c.ncpu); got != c.ceil1 {
			t.Errorf("ceilMin1(%v, %d) = %d, want %d", c.quota, c.ncpu, got, c.ceil1)
		}
	}
}

func TestQuotas(t *testing.T) {
	for _, c := range []struct {
		ncpu  int
		short bool
		want  []float64
	}{
		{2, false, []float64{0, 0.5, 1, 1.5}},
		{1, false, []float64{0, 0.5, 1}},
		{8, false, []float64{0, 0.5, 1, 1.5, 4}},
		{4, false, []float64{0, 0.5, 1, 1.5, 2}},
		{2, true, []float64{0, 0.5}},
	} {
		if got := quotas(c.ncpu, c.short); !slices.Equal(got, c.want) {
			t.Errorf("quotas(%d, %v) = %v, want %v", c.ncpu, c.short, got, c.want)
		}
	}
}

func TestPeers(t *testing.T) {
	// Every peer has a distinct name and an expectation that some quota
	// can meet: a peer without a known rounding rule would fail its runs.
	seen := map[string]bool{}
	for _, p := range append(cpuPeers(), memoryPeers()...) {
		if p.procs(0.5, 2) < 1 {
			t.Errorf("peer %s has no GOMAXPROCS expectation", p.name)
		}
		seen[p.name] = true
	}
	for _, name := range []string{"numcpu", "runtime", "automaxprocs", "automemlimit", "snug"} {
		if !seen[name] {
			t.Errorf("peer %s missing", name)
		}
	}
	if got := snugMemoryLimit(256 << 20); got != 224<<20 {
		t.Errorf("snugMemoryLimit(256 MiB) = %d, want 224 MiB (256 MiB less the 32 MiB headroom)", got)
	}
}

func TestMedian(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median odd = %v", m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("median even = %v", m)
	}
}

func TestSchedPolicy(t *testing.T) {
	for v, want := range map[string]string{"": "other", "other": "other", "batch": "batch", "fifo": "", "BATCH": ""} {
		t.Setenv("SNUG_BENCH_SCHED", v)
		got, err := schedPolicy()
		if got != want || (err != nil) != (want == "") {
			t.Errorf("SNUG_BENCH_SCHED=%q: %q, %v; want %q", v, got, err, want)
		}
	}
}

// A malformed or out-of-range SNUG_BENCH_WINDOW or SNUG_BENCH_LOAD is an
// error, as SNUG_BENCH_COST and SNUG_BENCH_SCHED are, not a silent run at
// the default: SNUG_BENCH_WINDOW=100ms must not measure 5 s, nor
// SNUG_BENCH_LOAD=80% run at half the quota under a results header that
// only says 0.5.
func TestBenchEnv(t *testing.T) {
	for v, want := range map[string]time.Duration{"": 5 * time.Second, "10s": 10 * time.Second, "200ms": 200 * time.Millisecond, "100ms": 0, "10": 0, "soon": 0} {
		t.Setenv("SNUG_BENCH_WINDOW", v)
		got, err := window(false)
		if got != want || (err != nil) != (want == 0) {
			t.Errorf("SNUG_BENCH_WINDOW=%q: %v, %v; want %v", v, got, err, want)
		}
	}
	t.Setenv("SNUG_BENCH_WINDOW", "")
	if got, err := window(true); got != time.Second || err != nil {
		t.Errorf("short window: %v, %v", got, err)
	}
	for v, want := range map[string]float64{"": 0.5, "0.8": 0.8, "2": 2, "80%": 0, "0": 0, "3": 0, "NaN": 0} {
		t.Setenv("SNUG_BENCH_LOAD", v)
		got, err := loadFraction()
		if got != want || (err != nil) != (want == 0) {
			t.Errorf("SNUG_BENCH_LOAD=%q: %v, %v; want %v", v, got, err, want)
		}
	}
}

package tune

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snug-go/snug/cgroup"
)

func TestProcsFor(t *testing.T) {
	cases := []struct {
		policy   Policy
		cpu      float64 // quota in CPUs, 0: none
		cpus     int
		reserve  float64
		min, max int
		want     int
	}{
		// A fractional quota under one CPU: only the runtime policy
		// rounds up to 2.
		{PolicyRuntime, 0.5, 2, 0, 0, 0, 2},
		{PolicyFloor, 0.5, 2, 0, 0, 0, 1},
		{PolicyCeil, 0.5, 2, 0, 0, 0, 1},
		// Above one CPU: floor and ceil part.
		{PolicyRuntime, 1.5, 4, 0, 0, 0, 2},
		{PolicyFloor, 1.5, 4, 0, 0, 0, 1},
		{PolicyCeil, 1.5, 4, 0, 0, 0, 2},
		{PolicyFloor, 3.9, 8, 0, 0, 0, 3},
		{PolicyCeil, 3.1, 8, 0, 0, 0, 4},
		{PolicyFloor, 100000.0 / 30000, 8, 0, 0, 0, 3},
		// Whole quotas: all agree.
		{PolicyRuntime, 2, 4, 0, 0, 0, 2},
		{PolicyFloor, 2, 4, 0, 0, 0, 2},
		{PolicyCeil, 2, 4, 0, 0, 0, 2},
		{PolicyFloor, 200000.0 / 100000, 4, 0, 0, 0, 2},
		// No quota: the CPUs the process may use.
		{PolicyRuntime, 0, 8, 0, 0, 0, 8},
		{PolicyFloor, 0, 8, 0, 0, 0, 8},
		// Always clamped to the CPUs, even the runtime's minimum of 2.
		{PolicyRuntime, 0.5, 1, 0, 0, 0, 1},
		{PolicyCeil, 6, 4, 0, 0, 0, 4},
		// Reserve comes off before rounding.
		{PolicyFloor, 4, 8, 1.5, 0, 0, 2},
		{PolicyCeil, 4, 8, 1.5, 0, 0, 3},
		{PolicyRuntime, 4, 8, 1.5, 0, 0, 3},
		{PolicyFloor, 0, 8, 0.5, 0, 0, 7},
		{PolicyFloor, 1, 8, 2, 0, 0, 1}, // nothing left: still 1
		{PolicyRuntime, 1, 8, 2, 0, 0, 2},
		// Minimum and maximum.
		{PolicyFloor, 0.5, 4, 0, 2, 0, 2},
		{PolicyFloor, 0.5, 4, 0, 8, 0, 4}, // the CPUs win over the minimum
		{PolicyFloor, 0, 64, 0, 0, 4, 4},
		{PolicyRuntime, 0.5, 4, 0, 0, 1, 1}, // the maximum wins over the policy's 2
		{PolicyFloor, 0, 0, 0, 0, 0, 1},     // no CPU count at all: 1
	}
	for _, c := range cases {
		cfg := procsConfig{policy: c.policy, min: c.min, max: c.max, reserve: c.reserve}
		got, steps := cfg.procsFor(c.cpu, c.cpus)
		if got != c.want {
			t.Errorf("%s quota %v cpus %d reserve %v min %d max %d: %d, want %d (%s)",
				c.policy, c.cpu, c.cpus, c.reserve, c.min, c.max, got, c.want, steps)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	for _, p := range []Policy{PolicyAdaptive, PolicyRuntime, PolicyFloor, PolicyCeil} {
		got, err := ParsePolicy(" " + strings.ToUpper(string(p)) + "\n")
		if err != nil || got != p {
			t.Errorf("ParsePolicy(%q) = %q, %v", p, got, err)
		}
	}
	for _, bad := range []string{"", "automaxprocs", "flor", "2"} {
		if _, err := ParsePolicy(bad); err == nil || !strings.Contains(err.Error(), "adaptive, runtime, floor or ceil") {
			t.Errorf("ParsePolicy(%q): %v", bad, err)
		}
	}
	if !DefaultPolicy.valid() {
		t.Errorf("DefaultPolicy %q is not a policy", DefaultPolicy)
	}
}

func TestMemoryLimitFor(t *testing.T) {
	def := memoryConfig{ratio: DefaultMemoryRatio, headroom: DefaultMemoryHeadroom}
	cases := []struct {
		cfg   memoryConfig
		limit int64
		want  int64
	}{
		{def, 30 * mib, 0},          // under 16 MiB even with half kept: no limit
		{def, 32 * mib, 16 * mib},   // the headroom is capped at half the limit
		{def, 48 * mib, 24 * mib},   //
		{def, 64 * mib, 32 * mib},   // the headroom rule
		{def, 128 * mib, 96 * mib},  //
		{def, 256 * mib, 224 * mib}, //
		{def, 320 * mib, 288 * mib}, // both rules meet
		{def, 512 * mib, 483183820}, // the ratio rule: 0.9 × 512 MiB
		{def, 1 << 30, 966367641},   // 0.9 GiB
		{def, 8 << 30, 7730941132},  // 7.2 GiB
		{memoryConfig{1, 0}, 100 * mib, 100 * mib},
		{memoryConfig{0.5, 0}, 100 * mib, 50 * mib},
		{memoryConfig{0.9, 200 * mib}, 1 << 30, 824 * mib},
	}
	for _, c := range cases {
		got, how := c.cfg.limitFor(c.limit)
		if got != c.want {
			t.Errorf("%+v limit %s: %d (%s), want %d", c.cfg, formatBytes(c.limit), got, how, c.want)
		}
		if got == 0 && !strings.Contains(how, "too small") {
			t.Errorf("no limit without saying why: %q", how)
		}
	}
	// A larger container never gets a smaller limit, and every limit set
	// is at least the minimum and leaves room under the cgroup's.
	prev := int64(0)
	for l := int64(1 * mib); l <= 4096*mib; l += mib / 2 {
		got, _ := def.limitFor(l)
		if got < prev {
			t.Fatalf("limit %s gives %s, less than %s for a smaller one", formatBytes(l), formatBytes(got), formatBytes(prev))
		}
		if got != 0 && (got < MinMemoryLimit || got >= l) {
			t.Fatalf("limit %s gives %s", formatBytes(l), formatBytes(got))
		}
		prev = got
	}
}

func TestParseAndFormatBytes(t *testing.T) {
	good := map[string]int64{"0": 0, "64MiB": 64 * mib, "1GiB": 1 << 30, "512B": 512, "3KiB": 3072,
		"2TiB": 2 << 40, " 7 ": 7, "9223372036854775807": math.MaxInt64}
	for in, want := range good {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "+5", "1.5GiB", "10 MiB", "64MB", "MiB", "8388608TiB", "lots"} {
		if got, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) = %d, want an error", in, got)
		}
	}
	for n, want := range map[int64]string{512: "512 B", 224 * mib: "224 MiB", 483183820: "460.8 MiB",
		3 << 30: "3 GiB", math.MaxInt64: "no limit"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestRuntimeModel(t *testing.T) {
	dir := t.TempDir()
	write := func(file, v string) {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	own := func(cpu float64) cgroup.Limits {
		return cgroup.Limits{CPU: cpu, CPUSource: cgroup.Source{File: "cpu.max"}, CPUs: 4}
	}
	ancestor := func(cpu float64) cgroup.Limits {
		l := own(cpu)
		l.CPUSource.Ancestor = true
		return l
	}
	v2 := runtimeModel{containerMaxProcs: true, updateMaxProcs: true, leafDir: dir, leafV2: true}
	write("cpu.max", "max 100000")
	cases := []struct {
		name string
		m    runtimeModel
		l    cgroup.Limits
		want int
	}{
		{"no quota", v2, own(0), 4},
		{"half a CPU rounds up to 2", v2, own(0.5), 2},
		{"3.2 rounds up", v2, own(3.2), 4},
		{"clamped to CPUs", v2, own(6), 4},
		{"ancestor quota unseen", v2, ancestor(0.5), 4},
		{"containermaxprocs=0", runtimeModel{updateMaxProcs: true}, own(0.5), 4},
	}
	for _, c := range cases {
		if got := c.m.defaultProcs(c.l); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	write("cpu.max", "300000 100000")
	if got := v2.defaultProcs(ancestor(0.5)); got != 3 {
		t.Errorf("a looser leaf quota of 3 under a 0.5 ancestor: %d, want 3 (the runtime reads the leaf)", got)
	}
	v1 := runtimeModel{containerMaxProcs: true, leafDir: dir}
	write("cpu.cfs_quota_us", "-1")
	write("cpu.cfs_period_us", "100000")
	if got := v1.defaultProcs(ancestor(0.5)); got != 4 {
		t.Errorf("v1 leaf without quota: %d, want 4", got)
	}
	write("cpu.cfs_quota_us", "150000")
	if got := v1.defaultProcs(ancestor(0.5)); got != 2 {
		t.Errorf("v1 leaf quota 1.5: %d, want 2", got)
	}

	var m runtimeModel
	m.containerMaxProcs, m.updateMaxProcs = true, true
	m.applyGODEBUG("tlssha1=1,containermaxprocs=0,updatemaxprocs=0")
	if m.containerMaxProcs || m.updateMaxProcs {
		t.Errorf("go 1.24 defaults not applied: %+v", m)
	}
	m.applyGODEBUG("updatemaxprocs=1, containermaxprocs=1")
	if !m.containerMaxProcs || !m.updateMaxProcs {
		t.Errorf("the environment's GODEBUG must win: %+v", m)
	}
}

package main

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func readSample(t *testing.T) (*parsed, []*benchCase) {
	t.Helper()
	f, err := os.Open("testdata/sample.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := parse(f)
	if err != nil {
		t.Fatal(err)
	}
	return p, group(p)
}

func TestParse(t *testing.T) {
	p, cases := readSample(t)
	if got := p.configValue("kernel"); got != "6.1.0-test" {
		t.Errorf("kernel = %q", got)
	}
	if got := p.configValue("snug-policy"); got != "floor" {
		t.Errorf("snug-policy = %q", got)
	}
	if len(p.runs) != 5*9 {
		t.Errorf("%d runs, want 45", len(p.runs))
	}
	if len(cases) != 9 {
		t.Fatalf("%d cases, want 9", len(cases))
	}
	// Sorted: CPU before Memory, peers before snug's.
	if c := cases[0]; c.family != "CPU" || c.policy != "numcpu" || c.quota != "0.5" || c.runs != 5 {
		t.Errorf("first case %+v", c)
	}
	if c := cases[3]; c.policy != "snug" {
		t.Errorf("fourth case is %s, want snug", c.policy)
	}
	rt := find(cases, "0.5", "runtime")
	s := rt.metrics["stw-p99-ns"]
	if s.n != 5 || s.min != 1.3e6 || math.Abs(s.median-1.3e6*1.2) > 1 || math.Abs(s.max-1.3e6*1.4) > 1 {
		t.Errorf("runtime stw-p99 summary %+v", s)
	}

	for _, bad := range []string{
		"",
		"goos: linux\nPASS\n",
		"BenchmarkX-2 1 12 ns/op 5\n",
		"BenchmarkX-2 1 twelve ns/op\n",
	} {
		if _, err := parse(strings.NewReader(bad)); err == nil {
			t.Errorf("parse(%q): no error", bad)
		}
	}
}

func TestMarkdown(t *testing.T) {
	p, cases := readSample(t)
	md := markdown(p, cases, "chart.png")
	for _, want := range []string{
		"Linux 6.1.0-test; go1.26.8; cgroup v1 (hybrid",
		"Each case ran 5 times",
		"| 0.5 | runtime | 2 | 30 µs | 1.6 ms (1.3 ms–1.8 ms) |",
		"| 0.5 | **snug** (default) | 1 |",
		"| quiet | 256 MiB | automemlimit | 5 of 5 runs |",
		// A killed run has no latency: the cell says how many runs it covers.
		"| quiet | 256 MiB | **snug** (default) | 1 of 5 runs | 191 MiB | 50 µs [4 of 5 runs] |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q\n%s", want, md)
		}
	}
	if strings.Contains(md, "e+0") {
		t.Errorf("markdown has an unformatted float:\n%s", md)
	}
	// Goals: the ratio of medians, a U-test verdict, and the OOM goal.
	for _, want := range []string{
		"GC pause p99 under a 0.5-CPU quota: snug 54 µs, runtime 1.6 ms: ratio 0.035 (goal ≤ 0.2): **met**",
		"Request p99, quota 0.5: snug 12 ms, best peer numcpu 9.9 ms (snug/best 1.22); significantly higher (Mann-Whitney p = 0.008, 5 and 5 runs) (goal: no worse than the best peer within noise): **not met**",
		"Memory, quiet: automemlimit OOM-killed (median of 5 runs); snug OOM-killed in 1 of 5 runs (goal: 0): **not met**",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("goals lack %q\n%s", want, md)
		}
	}
}

// With three runs a side no difference can be significant: the report
// must say so rather than call the goal met.
func TestGoalsUndecidedWithFewRuns(t *testing.T) {
	data, err := os.ReadFile("testdata/sample.txt")
	if err != nil {
		t.Fatal(err)
	}
	// The first three passes of the sample.
	passes := strings.SplitAfter(string(data), "ok  \tgithub.com/snug-go/snug/bench\t200.0s\n")
	p, err := parse(strings.NewReader(strings.Join(passes[:3], "")))
	if err != nil {
		t.Fatal(err)
	}
	md := markdown(p, group(p), "")
	if !strings.Contains(md, "too few runs") || !strings.Contains(md, "**undecided**") {
		t.Errorf("three runs a side not called undecided:\n%s", md)
	}
}

func TestMannWhitney(t *testing.T) {
	same := []float64{1, 2, 3, 4, 5}
	if p := mannWhitneyP(same, same); p != 1 {
		t.Errorf("identical samples: p = %v", p)
	}
	// Fully separated samples of 5: the two extreme orderings of 252.
	lo, hi := []float64{1, 2, 3, 4, 5}, []float64{6, 7, 8, 9, 10}
	if p := mannWhitneyP(lo, hi); math.Abs(p-2.0/252) > 1e-12 {
		t.Errorf("separated 5 vs 5: p = %v, want %v", p, 2.0/252)
	}
	if p := mannWhitneyP(hi, lo); math.Abs(p-2.0/252) > 1e-12 {
		t.Errorf("separated, reversed: p = %v", p)
	}
	// Three runs a side can never reach 0.05: the floor is 2/20.
	if p := mannWhitneyP([]float64{1, 2, 3}, []float64{4, 5, 6}); math.Abs(p-0.1) > 1e-12 {
		t.Errorf("separated 3 vs 3: p = %v, want 0.1", p)
	}
	if p := mannWhitneyP(nil, lo); p != 1 {
		t.Errorf("empty: p = %v", p)
	}
	// U over the 6 orderings of xx yy: 0 1 2 2 3 4, doubled.
	d := uDistribution([]float64{1, 2}, []float64{3, 4})
	if want := []float64{1, 0, 1, 0, 2, 0, 1, 0, 1}; !slices.Equal(d, want) {
		t.Errorf("uDistribution(2 vs 2) = %v, want %v", d, want)
	}
}

func TestProcsFor(t *testing.T) {
	for _, c := range []struct {
		policy, quota, snug string
		ncpu, want          int
	}{
		{"numcpu", "0.5", "floor", 2, 2},
		{"runtime", "0.5", "floor", 2, 2},
		{"runtime", "0.5", "floor", 1, 1},
		{"automaxprocs", "1.5", "floor", 2, 1},
		{"snug", "1.5", "floor", 2, 1},
		{"snug", "1.5", "ceil", 2, 2},
		{"snug-ceil", "0.5", "floor", 2, 1},
		{"snug-runtime", "4", "floor", 8, 4},
		{"automemlimit", "none", "floor", 8, 8},
		{"mystery", "1", "floor", 2, -1},
		{"snug", "1", "", 2, -1},
		{"runtime", "lots", "floor", 2, -1},
	} {
		if got := procsFor(c.policy, c.quota, c.ncpu, c.snug); got != c.want {
			t.Errorf("procsFor(%s, %s, %d, %s) = %d, want %d", c.policy, c.quota, c.ncpu, c.snug, got, c.want)
		}
	}
}

func TestFormatNs(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 640: "640 ns", 6144: "6.1 µs", 49152: "49 µs", 1.31072e6: "1.3 ms",
		2.01e8: "201 ms", 2.93e9: "2.93 s", 1e9: "1 s", 1e10: "10 s",
	} {
		if got := formatNs(v); got != want {
			t.Errorf("formatNs(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestRunWritesTableChartAndReadme(t *testing.T) {
	dir := t.TempDir()
	readme := filepath.Join(dir, "README-snippet.md")
	os.WriteFile(readme, []byte("intro\n"+beginMarker+"\nold table\n"+endMarker+"\noutro\n"), 0o644)
	out := filepath.Join(dir, "results")
	if err := run("testdata/sample.txt", out, readme, ""); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(readme)
	s := string(md)
	if strings.Contains(s, "old table") || !strings.HasPrefix(s, "intro\n"+beginMarker) || !strings.HasSuffix(s, endMarker+"\noutro\n") {
		t.Errorf("section not replaced in place:\n%s", s)
	}
	if !strings.Contains(s, "](results/chart.png)") {
		t.Errorf("readme does not link the chart relative to itself:\n%s", s)
	}
	table, err := os.ReadFile(filepath.Join(out, "results.md"))
	if err != nil || !strings.Contains(string(table), "](chart.png)") {
		t.Errorf("results.md: %v", err)
	}

	data, err := os.ReadFile(filepath.Join(out, "chart.png"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1400 || b.Dy() < 600 {
		t.Errorf("chart is %v", b)
	}
	// Every policy of the CPU cases has bars in its colour.
	count := map[string]int{}
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			for name, c := range policyColors {
				if uint8(r>>8) == c.R && uint8(g>>8) == c.G && uint8(b>>8) == c.B {
					count[name]++
				}
			}
		}
	}
	for _, name := range []string{"numcpu", "runtime", "automaxprocs", "snug", "snug-ceil", "snug-runtime"} {
		if count[name] < 500 {
			t.Errorf("policy %s: %d pixels of its colour", name, count[name])
		}
	}

	if err := replaceSection(filepath.Join(out, "results.md"), "x"); err == nil {
		t.Error("replaceSection without markers: no error")
	}
	if err := run("testdata/nonexistent.txt", out, "", ""); err == nil {
		t.Error("missing input: no error")
	}
}

// The GOMAXPROCS column shows what the runs reported when they did (the
// adaptive policy decides during a run), and the rule's value otherwise.
func TestProcsCell(t *testing.T) {
	for _, c := range []struct {
		runs     []float64
		expected int
		want     string
	}{
		{nil, 1, "1"},
		{nil, -1, "?"},
		{[]float64{2, 2, 2, 2}, -1, "2"},
		{[]float64{1, 2, 2, 2}, 1, "2 (1–2)"},
	} {
		bc := &benchCase{metrics: map[string]summary{}}
		if c.runs != nil {
			bc.metrics["gomaxprocs"] = summarize(c.runs)
		}
		if got := procsCell(bc, c.expected); got != c.want {
			t.Errorf("runs %v, expected %d: %q, want %q", c.runs, c.expected, got, c.want)
		}
	}
}

// With ties, the p-value is the exact one of the permutation test over the
// tied ranks (what benchstat computes), not the no-ties distribution with
// U's half-counted ties looked up in it, which is smaller: {1,2,3,4}
// against {4,5,6,7} has only 2 of the 70 splits with a rank sum as low
// (either 4 can be the x), so p = 4/70, not 2/70 (which would pass 0.05).
func TestMannWhitneyTies(t *testing.T) {
	if p := mannWhitneyP([]float64{1, 2, 3, 4}, []float64{4, 5, 6, 7}); math.Abs(p-4.0/70) > 1e-12 {
		t.Errorf("one tie across 4 vs 4: p = %v, want %v", p, 4.0/70)
	}
	// Against a brute force over every split of the pooled values.
	for _, c := range [][2][]float64{
		{{1, 2, 3, 3}, {3, 5, 6, 7}},
		{{1, 1, 1, 1}, {1, 1, 1, 1}},
		{{1, 1, 2, 2, 3}, {2, 3, 3, 4}},
		{{5, 5, 5}, {1, 5, 9, 9, 9}},
		{{1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}},
		{{2, 2}, {1, 1, 3, 3, 3}},
	} {
		x, y := c[0], c[1]
		if p, want := mannWhitneyP(x, y), bruteMannWhitneyP(x, y); math.Abs(p-want) > 1e-12 {
			t.Errorf("%v vs %v: p = %v, want %v", x, y, p, want)
		}
	}
}

// bruteMannWhitneyP is the two-sided exact permutation p-value of U (ties
// half) by enumerating every way to draw len(x) of the pooled values.
func bruteMannWhitneyP(x, y []float64) float64 {
	pool := append(append([]float64{}, x...), y...)
	u2 := func(in func(int) bool) int {
		u := 0
		for i, a := range pool {
			if !in(i) {
				continue
			}
			for j, b := range pool {
				if in(j) {
					continue
				}
				switch {
				case a > b:
					u += 2
				case a == b:
					u++
				}
			}
		}
		return u
	}
	nm := len(x) * len(y)
	abs := func(v int) int { return max(v, -v) }
	obs := abs(u2(func(i int) bool { return i < len(x) }) - nm)
	hits, total := 0, 0
	for mask := 0; mask < 1<<len(pool); mask++ {
		if bitsSet(mask) != len(x) {
			continue
		}
		total++
		if abs(u2(func(i int) bool { return mask&(1<<i) != 0 })-nm) >= obs {
			hits++
		}
	}
	return float64(hits) / float64(total)
}

func bitsSet(v int) int {
	n := 0
	for ; v != 0; v &= v - 1 {
		n++
	}
	return n
}

package main

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// A benchCase is every run of one benchmark name, summarized per metric.
type benchCase struct {
	name     string
	family   string // CPU or Memory
	scenario string
	quota    string
	mem      string
	policy   string
	runs     int
	metrics  map[string]summary
}

// group collects the runs of each benchmark name, in a stable order:
// family, scenario, quota (numerically, "none" last), policy (peers first,
// then snug's).
func group(p *parsed) []*benchCase {
	byName := map[string]*benchCase{}
	values := map[string]map[string][]float64{}
	for _, r := range p.runs {
		c := byName[r.name]
		if c == nil {
			family, _, _ := strings.Cut(strings.TrimPrefix(r.name, "Benchmark"), "/")
			c = &benchCase{name: r.name, family: family, scenario: r.keys["scenario"],
				quota: r.keys["quota"], mem: r.keys["mem"], policy: r.keys["policy"]}
			byName[r.name] = c
			values[r.name] = map[string][]float64{}
		}
		c.runs++
		for unit, v := range r.values {
			values[r.name][unit] = append(values[r.name][unit], v)
		}
	}
	var out []*benchCase
	for name, c := range byName {
		c.metrics = map[string]summary{}
		for unit, v := range values[name] {
			c.metrics[unit] = summarize(v)
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *benchCase) int {
		return cmp.Or(
			cmp.Compare(a.family, b.family),
			cmp.Compare(a.scenario, b.scenario),
			cmp.Compare(quotaOrder(a.quota), quotaOrder(b.quota)),
			cmp.Compare(a.mem, b.mem),
			cmp.Compare(policyOrder(a.policy), policyOrder(b.policy)),
			cmp.Compare(a.policy, b.policy),
		)
	})
	return out
}

func quotaOrder(q string) float64 {
	if v, err := strconv.ParseFloat(q, 64); err == nil {
		return v
	}
	return math.Inf(1) // "none" after every quota
}

// policyOrder puts the peers first, in the order a reader compares them,
// then snug's default and its other policies.
func policyOrder(p string) int {
	order := []string{"numcpu", "runtime", "automaxprocs", "automemlimit", "snug", "snug-adaptive", "snug-floor", "snug-ceil", "snug-runtime"}
	if i := slices.Index(order, p); i >= 0 {
		return i
	}
	return len(order)
}

// formatNs prints nanoseconds in the unit that keeps 2 or 3 digits.
func formatNs(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 1e3:
		return fmt.Sprintf("%.0f ns", v)
	case v < 1e4:
		return fmt.Sprintf("%.1f µs", v/1e3)
	case v < 1e6:
		return fmt.Sprintf("%.0f µs", v/1e3)
	case v < 1e7:
		return fmt.Sprintf("%.1f ms", v/1e6)
	case v < 1e9:
		return fmt.Sprintf("%.0f ms", v/1e6)
	default:
		return strconv.FormatFloat(v/1e9, 'g', 3, 64) + " s"
	}
}

func formatMiB(v float64) string { return fmt.Sprintf("%.0f MiB", v/(1<<20)) }

func formatPlain(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// cell prints a metric's median, and its range over the runs when asked
// and the runs differ; "–" when the case has no such metric (an OOM-killed
// run reports no latency).
func cell(c *benchCase, unit string, format func(float64) string, withRange bool) string {
	s, ok := c.metrics[unit]
	if !ok || s.n == 0 {
		return "–"
	}
	out := format(s.median)
	if withRange && s.n > 1 && s.min != s.max {
		out += " (" + format(s.min) + "–" + format(s.max) + ")"
	}
	if s.n < c.runs {
		out += fmt.Sprintf(" [%d of %d runs]", s.n, c.runs)
	}
	return out
}

// markdown renders the results table, the environment it came from, and
// the goals computed from it.
func markdown(p *parsed, cases []*benchCase, chart string) string {
	var b strings.Builder
	runs := 0
	for _, c := range cases {
		runs = max(runs, c.runs)
	}
	fmt.Fprintf(&b, "Measured on %s: %s CPUs (%s), %s RAM; Linux %s; %s; cgroup %s. ",
		cmp.Or(p.configValue("machine"), "a shared VM"), p.configValue("ncpu"), p.configValue("cpu"),
		p.configValue("memory"), p.configValue("kernel"), p.configValue("go"), p.configValue("cgroup"))
	fmt.Fprintf(&b, "Each case ran %d times (medians, with the range over the runs in parentheses); "+
		"load %s, measured window %s per run, calibrated request cost %s.\n\n",
		runs, p.configValue("load"), p.configValue("window"), p.configValue("request-cost"))
	if chart != "" {
		fmt.Fprintf(&b, "![GC pause p99 and request p99 per policy and CPU quota](%s)\n\n", chart)
	}

	var cpu, mem []*benchCase
	for _, c := range cases {
		switch c.family {
		case "CPU":
			cpu = append(cpu, c)
		case "Memory":
			mem = append(mem, c)
		}
	}
	if len(cpu) > 0 {
		b.WriteString("CPU quotas, steady open-loop load:\n\n")
		b.WriteString("| quota | policy | GOMAXPROCS | GC pause p50 | GC pause p99 | GC pause max | stopping p99 | request p50 | request p99 | request p99.9 | throttled periods | throttled time | GC CPU | peak RSS |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, c := range cpu {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				c.quota, policyLabel(c.policy), procsCell(c, procsFor(c.policy, c.quota, p.ncpu(), p.configValue("snug-policy"))),
				cell(c, "stw-p50-ns", formatNs, false),
				cell(c, "stw-p99-ns", formatNs, true),
				cell(c, "stw-max-ns", formatNs, false),
				cell(c, "stopping-p99-ns", formatNs, false),
				cell(c, "req-p50-ns", formatNs, false),
				cell(c, "req-p99-ns", formatNs, true),
				cell(c, "req-p999-ns", formatNs, true),
				cell(c, "throttled-periods", formatPlain, false),
				cell(c, "throttled-ms", func(v float64) string { return formatPlain(v) + " ms" }, false),
				cell(c, "gc-cpu-pct", func(v float64) string { return fmt.Sprintf("%.0f%%", v) }, false),
				cell(c, "peak-rss-bytes", formatMiB, false))
		}
		b.WriteString("\n")
	}
	if len(mem) > 0 {
		b.WriteString("Memory limits (quota 1 CPU): `burst` holds extra live heap near the limit under load; " +
			"`quiet` releases a burst as traffic stops, then grows memory outside the Go heap:\n\n")
		b.WriteString("| scenario | mem | policy | OOM kills | peak RSS | GC pause p99 | request p99 | request p99.9 | GC CPU |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
		for _, c := range mem {
			kills := "–"
			if s, ok := c.metrics["oom-kills"]; ok {
				k := 0
				for _, v := range s.values {
					if v > 0 {
						k++
					}
				}
				kills = fmt.Sprintf("%d of %d runs", k, s.n)
			}
			fmt.Fprintf(&b, "| %s | %s MiB | %s | %s | %s | %s | %s | %s | %s |\n",
				c.scenario, c.mem, policyLabel(c.policy), kills,
				cell(c, "peak-rss-bytes", formatMiB, false),
				cell(c, "stw-p99-ns", formatNs, true),
				cell(c, "req-p99-ns", formatNs, true),
				cell(c, "req-p999-ns", formatNs, true),
				cell(c, "gc-cpu-pct", func(v float64) string { return fmt.Sprintf("%.0f%%", v) }, false))
		}
		b.WriteString("\n")
	}
	b.WriteString(goals(cpu, mem))
	return b.String()
}

func policyLabel(p string) string {
	if p == "snug" {
		return "**snug** (default)"
	}
	return p
}

func find(cases []*benchCase, quota, policy string) *benchCase {
	for _, c := range cases {
		if c.quota == quota && c.policy == policy {
			return c
		}
	}
	return nil
}

// minRuns is the fewest runs a side for which the Mann-Whitney test can
// call a difference significant at 0.05 (with 3 and 3 runs its smallest
// p-value is 0.1).
const minRuns = 4

// goals checks the targets of the suite against the runs, mechanically, so
// that the verdict is reproducible from the raw output.
func goals(cpu, mem []*benchCase) string {
	var b strings.Builder
	b.WriteString("Goals, computed from these runs by `bench/cmd/report`:\n\n")

	// 1. GC pause p99 of snug's default at most 0.2 × the runtime's, at 0.5 CPU.
	s, r := find(cpu, "0.5", "snug"), find(cpu, "0.5", "runtime")
	if s != nil && r != nil && r.metrics["stw-p99-ns"].median > 0 {
		sv, rv := s.metrics["stw-p99-ns"].median, r.metrics["stw-p99-ns"].median
		ratio := sv / rv
		fmt.Fprintf(&b, "- GC pause p99 under a 0.5-CPU quota: snug %s, runtime %s: ratio %.3f (goal ≤ 0.2): **%s**.\n",
			formatNs(sv), formatNs(rv), ratio, verdict(ratio <= 0.2))
	} else {
		b.WriteString("- GC pause p99 under a 0.5-CPU quota: no snug or runtime case in the input.\n")
	}

	// 2. Request p99 no worse than the best peer's, within noise, per quota.
	var quotas []string
	for _, c := range cpu {
		if !slices.Contains(quotas, c.quota) {
			quotas = append(quotas, c.quota)
		}
	}
	for _, q := range quotas {
		s := find(cpu, q, "snug")
		if s == nil {
			continue
		}
		var best *benchCase
		for _, c := range cpu {
			if c.quota != q || strings.HasPrefix(c.policy, "snug") {
				continue
			}
			if best == nil || c.metrics["req-p99-ns"].median < best.metrics["req-p99-ns"].median {
				best = c
			}
		}
		if best == nil {
			continue
		}
		sv, bv := s.metrics["req-p99-ns"], best.metrics["req-p99-ns"]
		p := mannWhitneyP(sv.values, bv.values)
		var how, result string
		switch {
		case sv.median <= bv.median:
			how, result = "lower or equal", "met"
		case sv.n < minRuns || bv.n < minRuns:
			how, result = fmt.Sprintf("higher, and too few runs to tell noise from a difference (at least %d a side are needed)", minRuns), "undecided"
		case p <= 0.05:
			how, result = "significantly higher", "not met"
		default:
			how, result = "higher but not significantly", "met within noise"
		}
		label := "goal: no worse than the best peer within noise"
		if q != "0.5" {
			label = "informative"
		}
		fmt.Fprintf(&b, "- Request p99, quota %s: snug %s, best peer %s %s (snug/best %.2f); %s (Mann-Whitney p = %.3f, %d and %d runs) (%s): **%s**.\n",
			q, formatNs(sv.median), best.policy, formatNs(bv.median), sv.median/bv.median, how, p, sv.n, bv.n, label, result)
	}

	// 3. Zero OOM kills for snug where automemlimit alone is killed.
	var scenarios []string
	for _, c := range mem {
		if !slices.Contains(scenarios, c.scenario) {
			scenarios = append(scenarios, c.scenario)
		}
	}
	for _, sc := range scenarios {
		var am, sn *benchCase
		for _, c := range mem {
			if c.scenario == sc && c.policy == "automemlimit" {
				am = c
			}
			if c.scenario == sc && c.policy == "snug" {
				sn = c
			}
		}
		if am == nil || sn == nil {
			continue
		}
		amKills, snKills := am.metrics["oom-kills"].median, sn.metrics["oom-kills"]
		if amKills == 0 {
			fmt.Fprintf(&b, "- Memory, %s: automemlimit was not killed (median), so this scenario does not test the goal; snug OOM kills in %s of %d runs.\n",
				sc, formatPlain(sum(snKills.values)), snKills.n)
			continue
		}
		fmt.Fprintf(&b, "- Memory, %s: automemlimit OOM-killed (median of %d runs); snug OOM-killed in %s of %d runs (goal: 0): **%s**.\n",
			sc, am.metrics["oom-kills"].n, formatPlain(sum(snKills.values)), snKills.n, verdict(sum(snKills.values) == 0))
	}
	return b.String()
}

func sum(v []float64) float64 {
	t := 0.0
	for _, x := range v {
		t += x
	}
	return t
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

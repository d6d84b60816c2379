package main

import (
	"math"
	"strconv"
)

// procsFor returns the GOMAXPROCS a policy gives for a quota ("none" or a
// number of CPUs) on ncpu CPUs, by the same rules the suite checks every run
// against (a run whose GOMAXPROCS differs fails), or -1 if unknown or, for
// snug's adaptive policy, decided during the run (runs that report their
// GOMAXPROCS say what it was).
// snugPolicy is the policy "snug" stood for in the runs.
func procsFor(policy, quota string, ncpu int, snugPolicy string) int {
	if ncpu < 1 {
		return -1
	}
	q, err := strconv.ParseFloat(quota, 64)
	if err != nil || q <= 0 {
		if quota == "none" {
			return ncpu
		}
		return -1
	}
	if policy == "snug" {
		policy = "snug-" + snugPolicy
	}
	switch policy {
	case "numcpu":
		return ncpu
	case "runtime", "automemlimit", "snug-runtime":
		return min(ncpu, max(2, int(math.Ceil(q))))
	case "automaxprocs", "snug-floor":
		return min(ncpu, max(1, int(math.Floor(q))))
	case "snug-ceil":
		return min(ncpu, max(1, int(math.Ceil(q))))
	}
	return -1
}

func (p *parsed) ncpu() int {
	n, err := strconv.Atoi(p.configValue("ncpu"))
	if err != nil {
		return 0
	}
	return n
}

func procsLabel(n int) string {
	if n < 1 {
		return "?"
	}
	return strconv.Itoa(n)
}

// procsCell is the GOMAXPROCS column of a case: what its runs reported at
// the end of their windows (the median, and the range when they differ),
// or, for output from before runs reported it, expected.
func procsCell(c *benchCase, expected int) string {
	n, ok := measuredProcs(c)
	if !ok {
		return procsLabel(expected)
	}
	out := procsLabel(n)
	if s := c.metrics["gomaxprocs"]; s.min != s.max {
		out += " (" + procsLabel(int(s.min)) + "–" + procsLabel(int(s.max)) + ")"
	}
	return out
}

// measuredProcs is the median GOMAXPROCS a case's runs ended with, if they
// reported it.
func measuredProcs(c *benchCase) (int, bool) {
	s, ok := c.metrics["gomaxprocs"]
	if !ok || s.n == 0 {
		return 0, false
	}
	return int(s.median), true
}

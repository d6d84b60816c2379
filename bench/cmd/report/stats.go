package main

import (
	"math"
	"slices"
)

// summary is the distribution of one metric over the runs of one case.
type summary struct {
	n                int
	median, min, max float64
	values           []float64
}

func summarize(v []float64) summary {
	if len(v) == 0 {
		return summary{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return summary{n: len(s), median: m, min: s[0], max: s[len(s)-1], values: s}
}

// mannWhitneyP returns the two-sided p-value of the Mann-Whitney U test
// that x and y come from the same distribution, the test benchstat uses to
// call a difference significant. It is exact: the share of every split of
// the pooled values into len(x) and len(y) whose U is at least as far from
// the centre as the observed one, with ties counted as half and tied values
// kept tied in every split (the permutation test over the tied ranks, as
// benchstat computes it; looking a U with ties up in the distribution
// without ties can understate p, e.g. 2/70 instead of 4/70 for one tie in
// 4 against 4). It returns 1 when either sample is empty.
func mannWhitneyP(x, y []float64) float64 {
	n, m := len(x), len(y)
	if n == 0 || m == 0 {
		return 1
	}
	// U counts the pairs where x wins, ties as half: doubled to stay integral.
	u2 := 0
	for _, a := range x {
		for _, b := range y {
			switch {
			case a > b:
				u2 += 2
			case a == b:
				u2++
			}
		}
	}
	dist := uDistribution(x, y)
	total := 0.0
	for _, c := range dist {
		total += c
	}
	// Two-sided: the probability of a U at least as far from the centre.
	centre2 := n * m // doubled centre n*m/2
	dev := abs(u2 - centre2)
	p := 0.0
	for k, c := range dist {
		if abs(k-centre2) >= dev {
			p += c
		}
	}
	return math.Min(1, p/total)
}

func abs(v int) int { return max(v, -v) }

// uDistribution returns how many splits of the pooled values of x and y
// into len(x) and len(y) give each doubled U (ties counted as half) from 0
// to 2*len(x)*len(y).
func uDistribution(x, y []float64) []float64 {
	n, m := len(x), len(y)
	pool := append(slices.Clone(x), y...)
	slices.Sort(pool)
	// f[i][u] is the number of ways to have drawn i x's from the groups of
	// tied values seen so far with doubled U u, over integers.
	f := make([][]float64, n+1)
	for i := range f {
		f[i] = make([]float64, 2*n*m+1)
	}
	f[0][0] = 1
	seen := 0
	for lo := 0; lo < len(pool); {
		hi := lo
		for hi < len(pool) && pool[hi] == pool[lo] {
			hi++
		}
		t := hi - lo // a group of t tied values
		next := make([][]float64, n+1)
		for i := range next {
			next[i] = make([]float64, 2*n*m+1)
		}
		for i := 0; i <= min(n, seen); i++ {
			ysBefore := seen - i
			for u, c := range f[i] {
				if c == 0 {
					continue
				}
				// a of the group are x's: each beats every y before the
				// group and ties with the group's t-a y's.
				for a := 0; a <= min(t, n-i); a++ {
					if t-a > m-ysBefore {
						continue
					}
					next[i+a][u+a*(2*ysBefore+t-a)] += c * binomial(t, a)
				}
			}
		}
		f, seen, lo = next, hi, hi
	}
	return f[n]
}

func binomial(n, k int) float64 {
	c := 1.0
	for i := 1; i <= k; i++ {
		c = c * float64(n-k+i) / float64(i)
	}
	return math.Round(c)
}

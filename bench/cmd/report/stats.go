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
// call a difference significant. It is exact (the distribution of U over
// every split of the pooled ranks), with ties counted as half, which is
// conservative enough for the handful of runs a benchmark has. It returns
// 1 when either sample is empty.
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
	// counts[k] = number of rank splits giving U = k, by the recurrence
	// f(n, m, u) = f(n-1, m, u-m) + f(n, m-1, u), over integers.
	dist := uDistribution(n, m)
	total := 0.0
	for _, c := range dist {
		total += c
	}
	// Two-sided: the probability of a U at least as far from the centre.
	centre2 := n * m // doubled centre n*m/2
	dev := math.Abs(float64(u2 - centre2))
	p := 0.0
	for k, c := range dist {
		if math.Abs(float64(2*k-centre2)) >= dev-1e-9 {
			p += c
		}
	}
	return math.Min(1, p/total)
}

// uDistribution returns how many arrangements of n x's and m y's give each
// U from 0 to n*m.
func uDistribution(n, m int) []float64 {
	// f[i][j] is the distribution for i x's and j y's.
	f := make([][][]float64, n+1)
	for i := range f {
		f[i] = make([][]float64, m+1)
		for j := range f[i] {
			d := make([]float64, i*j+1)
			switch {
			case i == 0 || j == 0:
				d[0] = 1
			default:
				// The largest value is an x (beating all j y's) or a y.
				for u, c := range f[i-1][j] {
					d[u+j] += c
				}
				for u, c := range f[i][j-1] {
					d[u] += c
				}
			}
			f[i][j] = d
		}
	}
	return f[n][m]
}

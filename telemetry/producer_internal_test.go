package telemetry

import (
	"math"
	"reflect"
	"runtime/metrics"
	"testing"
	"time"
)

func TestConvertHistogram(t *testing.T) {
	inf := math.Inf(1)
	for _, tc := range []struct {
		name       string
		buckets    []float64
		counts     []uint64
		wantBounds []float64
		wantCounts []uint64
		wantSum    float64
		ok         bool
	}{{
		name:       "runtime shape: -Inf and +Inf ends",
		buckets:    []float64{-inf, 0, 1, 2, inf},
		counts:     []uint64{0, 3, 1, 2},
		wantBounds: []float64{0, 1, 2},
		wantCounts: []uint64{0, 3, 1, 2},
		wantSum:    3*0.5 + 1*1.5 + 2*2, // midpoints; the open top bucket at its floor
		ok:         true,
	}, {
		name:       "finite top adds an empty overflow bucket",
		buckets:    []float64{-inf, 0, 10, 20},
		counts:     []uint64{0, 1, 1},
		wantBounds: []float64{0, 10, 20},
		wantCounts: []uint64{0, 1, 1, 0},
		wantSum:    5 + 15,
		ok:         true,
	}, {
		name:       "underflow counts at the upper edge",
		buckets:    []float64{-inf, 1, inf},
		counts:     []uint64{2, 0},
		wantBounds: []float64{1},
		wantCounts: []uint64{2, 0},
		wantSum:    2,
		ok:         true,
	}, {
		name:    "mismatched lengths are refused",
		buckets: []float64{0, 1, 2},
		counts:  []uint64{1},
	}, {
		name:    "too few boundaries are refused",
		buckets: []float64{0},
		counts:  nil,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := &metrics.Float64Histogram{Buckets: tc.buckets, Counts: tc.counts}
			dp, ok := convertHistogram(h, time.Now())
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if !reflect.DeepEqual(dp.Bounds, tc.wantBounds) || !reflect.DeepEqual(dp.BucketCounts, tc.wantCounts) {
				t.Errorf("bounds %v counts %v, want %v %v", dp.Bounds, dp.BucketCounts, tc.wantBounds, tc.wantCounts)
			}
			if dp.Sum != tc.wantSum {
				t.Errorf("sum %v, want %v", dp.Sum, tc.wantSum)
			}
			var n uint64
			for _, c := range tc.counts {
				n += c
			}
			if dp.Count != n {
				t.Errorf("count %d, want %d", dp.Count, n)
			}
			// The point must not alias the runtime's counts, which the
			// next metrics.Read overwrites.
			if len(tc.counts) > 0 {
				tc.counts[len(tc.counts)-1] += 100
				if dp.BucketCounts[len(tc.counts)-1] == tc.counts[len(tc.counts)-1] {
					t.Error("BucketCounts aliases the runtime histogram")
				}
			}
		})
	}
}

// TestSumEstimateBound pins what NewProducer's documentation says of the
// estimated Sum, against the runtime's own buckets: a midpoint is within
// 12.5% of any sample in its bucket from 256 ns up, and within 32 ns below.
func TestSumEstimateBound(t *testing.T) {
	for _, h := range histograms {
		s := []metrics.Sample{{Name: h.sample}}
		metrics.Read(s)
		b := s[0].Value.Float64Histogram().Buckets
		for i := 0; i+1 < len(b); i++ {
			lo, hi := b[i], b[i+1]
			if math.IsInf(lo, 0) || math.IsInf(hi, 0) {
				continue
			}
			half := (hi - lo) / 2
			if lo >= 256e-9 {
				if half/lo > 0.125+1e-9 {
					t.Errorf("%s: bucket [%g, %g) midpoint off by up to %.1f%%", h.sample, lo, hi, 100*half/lo)
				}
			} else if half > 32e-9+1e-15 {
				t.Errorf("%s: bucket [%g, %g) midpoint off by up to %g s", h.sample, lo, hi, half)
			}
		}
	}
}

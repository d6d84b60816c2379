package main

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The runtime/metrics the workload reads. None of them stops the world
// (runtime.ReadMemStats would, and would add pauses of its own).
const (
	mPausesGC    = "/sched/pauses/total/gc:seconds"
	mStoppingGC  = "/sched/pauses/stopping/gc:seconds"
	mGCCPU       = "/cpu/classes/gc/total:cpu-seconds"
	mTotalCPU    = "/cpu/classes/total:cpu-seconds"
	mIdleCPU     = "/cpu/classes/idle:cpu-seconds"
	mGOMAXPROCS  = "/sched/gomaxprocs:threads"
	mGOMEMLIMIT  = "/gc/gomemlimit:bytes"
	mGCCycles    = "/gc/cycles/total:gc-cycles"
	mMemoryTotal = "/memory/classes/total:bytes"
)

type snapshot struct {
	pauses, stopping         *metrics.Float64Histogram
	gcCPU, totalCPU, idleCPU float64
	gomaxprocs               int
	gomemlimit               int64
	gcCycles                 uint64
}

func readSnapshot() snapshot {
	s := []metrics.Sample{
		{Name: mPausesGC}, {Name: mStoppingGC}, {Name: mGCCPU}, {Name: mTotalCPU},
		{Name: mIdleCPU}, {Name: mGOMAXPROCS}, {Name: mGOMEMLIMIT}, {Name: mGCCycles},
	}
	metrics.Read(s)
	return snapshot{
		pauses:     s[0].Value.Float64Histogram(),
		stopping:   s[1].Value.Float64Histogram(),
		gcCPU:      s[2].Value.Float64(),
		totalCPU:   s[3].Value.Float64(),
		idleCPU:    s[4].Value.Float64(),
		gomaxprocs: int(s[5].Value.Uint64()),
		gomemlimit: int64(s[6].Value.Uint64()),
		gcCycles:   s[7].Value.Uint64(),
	}
}

// histDelta subtracts two snapshots of a cumulative histogram: what was
// recorded between them. The bucket boundaries of a runtime/metrics
// histogram never change within a process.
func histDelta(after, before *metrics.Float64Histogram) []uint64 {
	d := make([]uint64, len(after.Counts))
	for i := range d {
		d[i] = after.Counts[i] - before.Counts[i]
	}
	return d
}

// bucketQuantile returns the q quantile of the counts over buckets (the
// runtime/metrics layout: len(buckets) == len(counts)+1), as the upper edge
// of the bucket it falls in, so that it never understates a pause. A
// quantile in the last, unbounded bucket is reported as its lower edge.
// q == 1 gives the maximum. It returns the number of samples too.
func bucketQuantile(counts []uint64, buckets []float64, q float64) (seconds float64, n uint64) {
	for _, c := range counts {
		n += c
	}
	if n == 0 {
		return 0, 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen >= rank {
			hi := buckets[i+1]
			if math.IsInf(hi, 1) {
				return buckets[i], n
			}
			return hi, n
		}
	}
	return buckets[len(buckets)-1], n
}

func nanos(seconds float64) int64 { return int64(math.Round(seconds * 1e9)) }

// vmHWM returns the process's peak resident set size from
// /proc/self/status, or 0 where there is no such file.
func vmHWM() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmHWM:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			return 0
		}
		kib, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0
		}
		return kib << 10
	}
	return 0
}

// memorySampler records the largest /memory/classes/total:bytes it sees.
type memorySampler struct {
	peak atomic.Int64
	stop chan struct{}
	wg   sync.WaitGroup
}

func startMemorySampler(every time.Duration) *memorySampler {
	m := &memorySampler{stop: make(chan struct{})}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		s := []metrics.Sample{{Name: mMemoryTotal}}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := int64(s[0].Value.Uint64()); v > m.peak.Load() {
				m.peak.Store(v)
			}
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *memorySampler) close() int64 {
	close(m.stop)
	m.wg.Wait()
	return m.peak.Load()
}

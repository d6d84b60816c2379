package main

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// openLoop issues requests at a fixed rate, whatever happens to the ones
// already in flight: request i is due at start + i/rate and its latency is
// counted from that due time, not from when it was actually sent. A stall
// of the whole process (a stop-the-world pause, a CFS throttle) therefore
// shows up in the latency of every request that fell due during it, instead
// of silently delaying the generator (the coordinated-omission mistake of
// closed-loop load generators).
type openLoop struct {
	svc   *service
	rate  float64 // requests per second
	start time.Time
	n     int // requests scheduled

	lat      []atomic.Int64 // latency of request i in ns; 0 while in flight
	late     []int64        // how late request i was sent: the generator's own delay
	inflight sync.WaitGroup
}

func newOpenLoop(svc *service, rate float64, start time.Time, window time.Duration) *openLoop {
	n := int(rate * window.Seconds())
	return &openLoop{svc: svc, rate: rate, start: start, n: n, lat: make([]atomic.Int64, n), late: make([]int64, n)}
}

// due is when request i should be sent.
func (l *openLoop) due(i int) time.Time {
	return l.start.Add(time.Duration(float64(i) / l.rate * float64(time.Second)))
}

// run sends every request at its due time, each on its own goroutine as an
// HTTP server would serve it, and returns once the last one is sent.
func (l *openLoop) run(seedBase uint64) {
	for i := range l.n {
		at := l.due(i)
		if wait := time.Until(at); wait > 0 {
			time.Sleep(wait)
		}
		l.late[i] = int64(time.Since(at))
		l.inflight.Add(1)
		go func() {
			defer l.inflight.Done()
			l.svc.handle(seedBase + uint64(i))
			l.lat[i].Store(max(int64(time.Since(at)), 1))
		}()
	}
}

// drain waits up to timeout for requests in flight. Those still unfinished
// are given the latency they had reached at the deadline, a lower bound,
// and counted.
func (l *openLoop) drain(timeout time.Duration) (unfinished int) {
	done := make(chan struct{})
	go func() { l.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return 0
	case <-time.After(timeout):
	}
	now := time.Now()
	for i := range l.lat {
		if l.lat[i].CompareAndSwap(0, int64(now.Sub(l.due(i)))) {
			unfinished++
		}
	}
	return unfinished
}

// quantiles returns the latency quantiles qs in ns, and the maximum.
func (l *openLoop) quantiles(qs ...float64) (out []int64, maxNs int64) {
	vals := make([]int64, len(l.lat))
	for i := range l.lat {
		vals[i] = l.lat[i].Load()
	}
	return quantiles(vals, qs...)
}

// sendLateness returns the quantiles qs of how late the generator sent
// each request, and the maximum. The generator is a goroutine woken by a
// timer: when it cannot get a P in time (a stop-the-world, a throttle, one
// P busy with the collector), requests go out late, and that delay is part
// of their latency, as it would be for a request waiting in a socket.
func (l *openLoop) sendLateness(qs ...float64) (out []int64, maxNs int64) {
	return quantiles(slices.Clone(l.late), qs...)
}

func quantiles(vals []int64, qs ...float64) (out []int64, maxNs int64) {
	slices.Sort(vals)
	out = make([]int64, len(qs))
	if len(vals) == 0 {
		return out, 0
	}
	for i, q := range qs {
		// Nearest rank: the smallest value with at least q of the
		// samples at or below it.
		k := int(q*float64(len(vals))+0.999999) - 1
		out[i] = vals[min(max(k, 0), len(vals)-1)]
	}
	return out, vals[len(vals)-1]
}

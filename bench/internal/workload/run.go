package main

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/snug-go/snug/bench/internal/wire"
)

// drainTimeout bounds the wait for requests still in flight at the end of a
// window; those left are counted as unfinished.
const drainTimeout = 2 * time.Second

// measure warms up, runs the scenario's window, and prints the result.
func measure(c config, svc *service, detail string) error {
	if c.warmup > 0 {
		w := newOpenLoop(svc, c.rate, time.Now(), c.warmup)
		w.run(1 << 40)
		w.drain(drainTimeout)
	}

	sampler := startMemorySampler(20 * time.Millisecond)
	fmt.Println(wire.PhaseMeasure)
	before := readSnapshot()
	start := time.Now()
	at := func(frac float64) time.Time { return start.Add(time.Duration(frac * float64(c.duration))) }

	res := wire.Result{Peer: c.peer, Scenario: c.scenario, Rate: c.rate, PeerDetail: detail}
	var load *openLoop
	switch c.scenario {
	case "steady":
		load = newOpenLoop(svc, c.rate, start, c.duration)
		load.run(0)
		res.Unfinished = load.drain(drainTimeout)

	case "burst":
		// A batch job or a traffic spike: a block of live heap near the
		// limit from 20% to 60% of the window, under steady requests.
		done := make(chan struct{})
		go func() {
			defer close(done)
			sleepUntil(at(0.2))
			fmt.Println(wire.PhaseBurst)
			held := buildDocs(rand.New(rand.NewPCG(5, 6)), int64(c.burstMiB)<<20, svc.docBytes)
			sleepUntil(at(0.6))
			runtime.KeepAlive(held)
			fmt.Println(wire.PhaseRelease)
		}()
		load = newOpenLoop(svc, c.rate, start, c.duration)
		load.run(0)
		res.Unfinished = load.drain(drainTimeout)
		<-done

	case "quiet":
		// The burst comes and goes while requests run (10% to 40% of the
		// window); then the service goes quiet, so no allocation triggers
		// a GC, and memory the Go runtime does not manage (a C library,
		// an mmap'd index) grows from 50% to 90% of the window. Freed heap
		// the runtime still holds and the new memory add up against the
		// cgroup's limit.
		held := make(chan []*doc, 1)
		go func() {
			sleepUntil(at(0.1))
			fmt.Println(wire.PhaseBurst)
			held <- buildDocs(rand.New(rand.NewPCG(5, 6)), int64(c.burstMiB)<<20, svc.docBytes)
		}()
		load = newOpenLoop(svc, c.rate, start, time.Duration(0.4*float64(c.duration)))
		load.run(0)
		res.Unfinished = load.drain(drainTimeout)
		runtime.KeepAlive(<-held) // released here, at the end of the traffic
		fmt.Println(wire.PhaseRelease)
		sleepUntil(at(0.5))
		fmt.Println(wire.PhaseOutside)
		n, err := growOutside(int64(c.outsideMiB)<<20, at(0.9))
		if err != nil {
			return err
		}
		res.Outside = n
		sleepUntil(at(1))
	}
	after := readSnapshot()
	fmt.Println(wire.PhaseDone)
	res.HeapPeak = sampler.close()

	res.Requests = load.n
	q, maxNs := load.quantiles(0.5, 0.99, 0.999)
	res.ReqP50, res.ReqP99, res.ReqP999, res.ReqMax = q[0], q[1], q[2], maxNs
	late, _ := load.sendLateness(0.5, 0.99)
	res.SendLateP50, res.SendLateP99 = late[0], late[1]

	pauses := histDelta(after.pauses, before.pauses)
	p50, n := bucketQuantile(pauses, after.pauses.Buckets, 0.5)
	p99, _ := bucketQuantile(pauses, after.pauses.Buckets, 0.99)
	pmax, _ := bucketQuantile(pauses, after.pauses.Buckets, 1)
	res.Pauses = n
	res.STWP50, res.STWP99, res.STWMax = nanos(p50), nanos(p99), nanos(pmax)
	stopping := histDelta(after.stopping, before.stopping)
	s99, _ := bucketQuantile(stopping, after.stopping.Buckets, 0.99)
	smax, _ := bucketQuantile(stopping, after.stopping.Buckets, 1)
	res.StoppingP99, res.StoppingMax = nanos(s99), nanos(smax)
	res.GCCycles = after.gcCycles - before.gcCycles

	if busy := (after.totalCPU - before.totalCPU) - (after.idleCPU - before.idleCPU); busy > 0 {
		res.GCCPUPercent = 100 * (after.gcCPU - before.gcCPU) / busy
	}
	res.GOMAXPROCSStart, res.GOMAXPROCS = before.gomaxprocs, after.gomaxprocs
	res.GOMEMLIMIT = after.gomemlimit
	res.PeakRSS = vmHWM()

	line, err := wire.Encode(res)
	if err != nil {
		return err
	}
	fmt.Println(line)
	return nil
}

func sleepUntil(t time.Time) {
	if d := time.Until(t); d > 0 {
		time.Sleep(d)
	}
}

// calibrate serves requests back to back on one goroutine for d and prints
// the process CPU time each cost, garbage collection included (the
// collector's background workers run on the other Ps and are counted).
func calibrate(svc *service, d time.Duration) error {
	for i := range 200 {
		svc.handle(uint64(i))
	}
	cpu0, err := processCPU()
	if err != nil {
		return err
	}
	end := time.Now().Add(d)
	n := 0
	for time.Now().Before(end) {
		for range 20 {
			svc.handle(uint64(1000 + n))
			n++
		}
	}
	cpu1, err := processCPU()
	if err != nil {
		return err
	}
	cal := wire.Calibration{Requests: n, CPUNanos: int64(cpu1 - cpu0)}
	if n > 0 {
		cal.CostNanos = cal.CPUNanos / int64(n)
	}
	line, err := wire.Encode(cal)
	if err != nil {
		return err
	}
	fmt.Println(line)
	return nil
}

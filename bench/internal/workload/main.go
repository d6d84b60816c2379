// Command workload is the program the benchmarks in package bench run inside
// a cgroup: an in-process service with a live heap of pointerful documents,
// driven by an open-loop request generator, set up at start by one
// container-fitting peer chosen with -peer. It prints the lines of package
// wire on standard output: a phase marker when its measured window starts
// and ends, then a JSON result.
//
// Every peer shares this one binary so that the only difference between two
// runs is the peer: same code, same heap, same arrival rate.
//
// Usage:
//
//	workload -peer runtime -rate 1200 -warmup 1s -duration 5s
//	workload -peer automemlimit -scenario quiet -burst-mib 120 -outside-mib 110 ...
//	workload -calibrate 1s
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

type config struct {
	peer       string
	scenario   string
	rate       float64
	warmup     time.Duration
	duration   time.Duration
	liveMiB    int
	allocKiB   int
	rounds     int
	churn      float64
	burstMiB   int
	outsideMiB int
	calibrate  time.Duration
}

func main() {
	var c config
	flag.StringVar(&c.peer, "peer", "runtime", "container-fitting `policy` to apply at start: numcpu, runtime, automaxprocs, automemlimit, snug, snug-<policy>")
	flag.StringVar(&c.scenario, "scenario", "steady", "steady (requests only), burst (a burst of live heap near the memory limit), quiet (a burst, then idle while memory outside the Go heap grows)")
	flag.Float64Var(&c.rate, "rate", 1000, "request arrival `rate` per second")
	flag.DurationVar(&c.warmup, "warmup", time.Second, "unmeasured warm-up at the same rate")
	flag.DurationVar(&c.duration, "duration", 5*time.Second, "measured window")
	flag.IntVar(&c.liveMiB, "live-mib", 32, "live heap of documents, MiB")
	flag.IntVar(&c.allocKiB, "alloc-kib", 32, "request-scoped objects per request, KiB (with the encoding buffer a request allocates about 3.5 times this)")
	flag.IntVar(&c.rounds, "rounds", 2, "hash passes over each encoded response (CPU work per request)")
	flag.Float64Var(&c.churn, "churn", 0.25, "probability that a request replaces a document")
	flag.IntVar(&c.burstMiB, "burst-mib", 0, "burst and quiet scenarios: live heap added by the burst, MiB")
	flag.IntVar(&c.outsideMiB, "outside-mib", 0, "quiet scenario: anonymous memory mapped outside the Go heap after the burst, MiB")
	flag.DurationVar(&c.calibrate, "calibrate", 0, "if set, measure the CPU cost of one request for this long, print it and exit")
	flag.Parse()

	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "workload:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	// The peer goes first, before the service allocates anything, as it
	// would in a real main.
	detail, stop, err := setupPeer(c.peer)
	if err != nil {
		return err
	}
	defer stop()

	if c.rate <= 0 || c.duration <= 0 || c.liveMiB <= 0 || c.allocKiB <= 0 || c.rounds < 0 {
		return fmt.Errorf("rate, duration, live-mib, alloc-kib must be positive (got %v, %v, %d, %d)", c.rate, c.duration, c.liveMiB, c.allocKiB)
	}
	svc := newService(int64(c.liveMiB)<<20, c.allocKiB<<10, c.rounds, c.churn)
	if c.calibrate > 0 {
		return calibrate(svc, c.calibrate)
	}
	switch c.scenario {
	case "steady", "burst", "quiet":
	default:
		return fmt.Errorf("unknown scenario %q", c.scenario)
	}
	if c.scenario != "steady" && c.burstMiB <= 0 {
		return fmt.Errorf("scenario %s needs -burst-mib", c.scenario)
	}
	return measure(c, svc, detail)
}

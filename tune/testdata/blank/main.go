// Command blank is a program that only blank-imports snug, for the host
// tests of package tune and for the cgroup v2 VM harness (built with
// CGO_ENABLED=0 it is a static binary that runs as a guest's init payload).
//
// It prints one JSON line with what the runtime is set to, then, with
// -every, one more each interval until -for has passed:
//
//	{"unix_nano":…,"gomaxprocs":1,"gomemlimit":234881024,"num_cpu":2,"stw_other":1}
//
// stw_other counts the stop-the-world pauses not made by the GC
// (runtime/metrics /sched/pauses/total/other:seconds): GOMAXPROCS changes,
// whoever makes them.
//
// -setmem and -setprocs make the program set GOMEMLIMIT and GOMAXPROCS
// itself, -after the Tuner started, as an application that knows better
// would. -spin makes it busy from -spinafter on: that many goroutines that
// only compute, so that it uses every P it has.
package main

import (
	"encoding/json"
	"flag"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"

	_ "github.com/snug-go/snug"
)

type report struct {
	UnixNano   int64  `json:"unix_nano"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GOMEMLIMIT int64  `json:"gomemlimit"`
	NumCPU     int    `json:"num_cpu"`
	STWOther   uint64 `json:"stw_other"`
}

func main() {
	every := flag.Duration("every", 0, "report again at this interval")
	total := flag.Duration("for", 0, "keep reporting this long")
	setMem := flag.Int64("setmem", 0, "call debug.SetMemoryLimit with this many bytes")
	setProcs := flag.Int("setprocs", 0, "call runtime.GOMAXPROCS with this")
	after := flag.Duration("after", 0, "wait this long before -setmem and -setprocs")
	spin := flag.Int("spin", 0, "goroutines that keep the CPU busy")
	spinAfter := flag.Duration("spinafter", 0, "wait this long before -spin")
	flag.Parse()

	sample := []metrics.Sample{{Name: "/sched/pauses/total/other:seconds"}}
	out := json.NewEncoder(os.Stdout)
	emit := func() {
		metrics.Read(sample)
		var n uint64
		if sample[0].Value.Kind() == metrics.KindFloat64Histogram {
			for _, c := range sample[0].Value.Float64Histogram().Counts {
				n += c
			}
		}
		out.Encode(report{time.Now().UnixNano(), runtime.GOMAXPROCS(0), debug.SetMemoryLimit(-1), runtime.NumCPU(), n})
	}
	emit()
	start := time.Now()
	if *spin > 0 {
		time.AfterFunc(*spinAfter, func() {
			for range *spin {
				go func() {
					x := uint64(1)
					for {
						x = x*6364136223846793005 + 1442695040888963407
						if x == 0 {
							println(x) // never: keeps the loop from being optimized away
						}
					}
				}()
			}
		})
	}
	set := *setMem > 0 || *setProcs > 0
	for *every > 0 && time.Since(start) < *total {
		time.Sleep(*every)
		if set && time.Since(start) >= *after {
			if *setMem > 0 {
				debug.SetMemoryLimit(*setMem)
			}
			if *setProcs > 0 {
				runtime.GOMAXPROCS(*setProcs)
			}
			set = false
		}
		emit()
	}
}

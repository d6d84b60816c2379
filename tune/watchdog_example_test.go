package tune_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/snug-go/snug/probe"
	"github.com/snug-go/snug/tune"
)

// OnEvent hands the watchdog's events to the program, for example to count
// them in its own metrics or to page someone on a death spiral. The Tuner
// also logs them, unless Quiet.
func ExampleOnEvent() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	t, err := tune.Start(context.Background(),
		tune.Quiet(), // the program logs the events itself
		tune.OnEvent(func(e tune.Event) {
			attrs := append([]slog.Attr{slog.String("kind", string(e.Kind))}, e.Fields...)
			logger.LogAttrs(context.Background(), slog.LevelWarn, e.Message, attrs...)
			if e.Kind == tune.EventFreeOSMemory {
				if freed, ok := e.Field("freed"); ok {
					fmt.Printf("returned %d bytes to the kernel\n", freed.Int64())
				}
			}
		}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer t.Stop()
	// Output:
}

// A Tuner is the SpiralDetector of package probe: its GCDeathSpiral check
// fails liveness while the GC is in a death spiral, and Kubernetes restarts
// the pod. snug.Tuner() is the Tuner the blank import started.
func ExampleTuner_DeathSpiral() {
	t, err := tune.Start(context.Background(), tune.Quiet())
	if err != nil {
		log.Fatal(err)
	}
	defer t.Stop()

	check := probe.GCDeathSpiral(t) // add it to the /livez checks of package health
	fmt.Println(check.Name, check.Kind, check.Func(context.Background()))
	// Output: gc-death-spiral liveness <nil>
}

// The watchdog's thresholds and parts are options; each also has its
// SNUG_WATCHDOG_* variable, which wins.
func ExampleWithDeathSpiral() {
	t, err := tune.Start(context.Background(),
		tune.WithDeathSpiral(0.6, 2*time.Minute), // 60% of the CPU in GC for 2 minutes
		tune.WithFreeOSMemoryAt(0.95),
		tune.WithLongPause(50*time.Millisecond),
		tune.WithoutMemoryOutsideGo(), // a cgo service that sizes its own C heap
	)
	if err != nil {
		log.Fatal(err)
	}
	defer t.Stop()
	// Output:
}

// WithSnapshots writes a flight-recorder trace at each long pause (at most
// one every 5 minutes, 8 files and 64 MiB per process, mode 0600) and a
// heap profile when memory is near the limit and cannot be given back.
func ExampleWithSnapshots() {
	dir := os.TempDir() // in Kubernetes, an emptyDir volume
	t, err := tune.Start(context.Background(), tune.WithSnapshots(dir, tune.SnapshotTrace, tune.SnapshotHeap))
	if err != nil {
		log.Fatal(err)
	}
	defer t.Stop()
	// Later: go tool trace $dir/snug-trace-<pid>-<time>-1.trace

	// Output:
}

// Status.Watchdog holds the last sample's numbers and the counters, for a
// metrics scrape.
func ExampleWatchdogStatus() {
	t, err := tune.Start(context.Background(), tune.Quiet())
	if err != nil {
		log.Fatal(err)
	}
	defer t.Stop()
	w := t.Status().Watchdog
	fmt.Printf("working set %d of %d, outside Go %d (GOMEMLIMIT lowered by %d), GC %.0f%% of the CPU\n",
		w.WorkingSet, w.MemoryLimit, w.OutsideGo, w.OutsideDeducted, 100*w.GCCPU)
	fmt.Printf("%d FreeOSMemory calls returned %d bytes; %d long pauses; events %v\n",
		w.FreeOSMemoryCalls, w.FreedBytes, w.LongPauses, w.Events)
}

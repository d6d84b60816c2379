package tune_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"

	"github.com/snug-go/snug/tune"
)

// Start in main, instead of the blank import of the root package, to choose
// the options in code. The SNUG_* environment variables still override them.
func ExampleStart() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	t, err := tune.Start(ctx,
		tune.WithPolicy(tune.PolicyCeil),
		tune.WithReserveCPUs(0.5), // a sidecar shares the pod's quota
		tune.WithMemoryRatio(0.85),
	)
	if err != nil {
		log.Fatal(err) // an invalid option, or a Tuner already running
	}
	defer t.Stop() // restores GOMAXPROCS and GOMEMLIMIT

	// ... serve until ctx is done ...

	// Output:
}

// Status says what the Tuner decided for each knob, who owns it and why:
// what a debug endpoint or a log line at start would show.
func ExampleTuner_Status() {
	t, err := tune.Start(context.Background(), tune.Quiet())
	if err != nil {
		log.Fatal(err)
	}
	defer t.Stop()

	st := t.Status()
	for _, d := range []tune.Decision{st.MaxProcs, st.MemoryLimit} {
		fmt.Printf("%s=%d owned=%v (%s)\n  %s\n", d.Knob, d.Value, d.Owned, d.Owner, d.Source)
	}
	fmt.Printf("%d evaluations, %d changes, %d stop-the-world pauses\n",
		st.Evaluations, st.Changes, st.StopTheWorlds)
}

// OnChange hands each new decision to the program, for example to record
// it as an event or a metric attribute.
func ExampleOnChange() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	t, err := tune.Start(context.Background(),
		tune.Quiet(), // the program logs the changes itself
		tune.OnChange(func(d tune.Decision) {
			logger.Info("runtime setting", "knob", string(d.Knob), "from", d.Previous, "to", d.Value,
				"owner", string(d.Owner), "why", d.Source)
		}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer t.Stop()
	// Output:
}

// A policy's name is what SNUG_GOMAXPROCS_POLICY takes.
func ExampleParsePolicy() {
	p, err := tune.ParsePolicy("Ceil")
	fmt.Println(p, err)
	_, err = tune.ParsePolicy("max")
	fmt.Println(err)
	fmt.Println(tune.DefaultPolicy)
	// Output:
	// ceil <nil>
	// tune: unknown GOMAXPROCS policy "max" (want adaptive, runtime, floor or ceil)
	// adaptive
}

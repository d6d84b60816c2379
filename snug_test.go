package snug

import (
	"context"
	"errors"
	"testing"

	"github.com/snug-go/snug/tune"
)

// This test binary imports the package, so its init has run: a Tuner must
// be there, holding the process's knobs, and say what it decided.
func TestInitStartedTuner(t *testing.T) {
	tu := Tuner()
	if tu == nil {
		t.Fatal("Tuner() is nil after init")
	}
	st := tu.Status()
	if st.Started.IsZero() || st.MaxProcs.Knob != tune.GOMAXPROCS || st.MemoryLimit.Knob != tune.GOMEMLIMIT ||
		st.MaxProcs.Source == "" || st.MemoryLimit.Source == "" {
		t.Errorf("status after init: %+v", st)
	}
	// It holds the process's slot: a second Tuner is refused until it stops.
	if _, err := tune.Start(context.Background(), tune.Quiet()); st.MaxProcs.Owner != tune.OwnerOff &&
		!errors.Is(err, tune.ErrAlreadyStarted) {
		t.Errorf("a second Start while the init's Tuner runs: %v", err)
	}
	tu.Stop()
	again, err := tune.Start(context.Background(), tune.Quiet())
	if err != nil {
		t.Fatalf("Start after stopping the init's Tuner: %v", err)
	}
	again.Stop()
}

// BenchmarkInit is the init work of the blank import, in a warm process
// (tune's BenchmarkBlankImportInit measures it in fresh processes).
func BenchmarkInit(b *testing.B) {
	Tuner().Stop()
	for b.Loop() {
		startTuner()
		Tuner().Stop()
	}
}

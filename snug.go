package snug

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/snug-go/snug/tune"
)

// started is the Tuner the import started, nil if Start failed.
var started atomic.Pointer[tune.Tuner]

func init() { startTuner() }

// startTuner starts the process's Tuner with the defaults and the
// environment. Whatever goes wrong, the program importing snug must start:
// an error or even a panic is logged, never raised.
func startTuner() {
	defer func() {
		if r := recover(); r != nil {
			slog.Error("snug: could not start; GOMAXPROCS and GOMEMLIMIT left to the runtime", "panic", fmt.Sprint(r))
		}
	}()
	t, err := tune.Start(context.Background())
	if err != nil {
		slog.Error("snug: could not start; GOMAXPROCS and GOMEMLIMIT left to the runtime", "error", err)
		return
	}
	started.Store(t)
}

// Tuner returns the Tuner that importing this package started: its Status
// says what it decided and why, and Stop hands GOMAXPROCS and GOMEMLIMIT
// back (for example before starting a tune.Tuner with other options). It
// is nil only if the start failed, which was logged. With SNUG=off it is a
// Tuner that manages nothing and says so.
func Tuner() *tune.Tuner { return started.Load() }

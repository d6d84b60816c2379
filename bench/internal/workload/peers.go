package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"go.uber.org/automaxprocs/maxprocs"
)

// setupPeer applies the container-fitting policy named by peer, first thing
// in main, the way each library asks to be used. None of the packages
// imported here changes a runtime setting at init: the plain import paths of
// automaxprocs and automemlimit would (that is how they are usually used),
// so their option-taking subpackages are called here instead, at the same
// moment their init would have run. It returns a line for the log and a
// function that stops whatever the peer started.
func setupPeer(peer string) (detail string, stop func(), err error) {
	stop = func() {}
	switch peer {
	case "numcpu":
		// GOMAXPROCS = every CPU, what Go did before 1.25. The runtime's
		// container awareness can only be switched off from outside, by the
		// environment the harness sets; refuse to run mislabelled.
		if !strings.Contains(os.Getenv("GODEBUG"), "containermaxprocs=0") {
			return "", stop, fmt.Errorf("peer numcpu needs GODEBUG=containermaxprocs=0 in the environment")
		}
		return "GODEBUG=containermaxprocs=0", stop, nil
	case "runtime":
		return "Go runtime defaults", stop, nil
	case "automaxprocs":
		var logs []string
		_, err := maxprocs.Set(maxprocs.Logger(func(format string, args ...any) {
			logs = append(logs, fmt.Sprintf(format, args...))
		}))
		if err != nil {
			return "", stop, fmt.Errorf("automaxprocs: %w", err)
		}
		return strings.Join(logs, "; "), stop, nil
	case "automemlimit":
		limit, err := memlimit.Set(
			memlimit.WithProvider(memlimit.FromCgroup),
			memlimit.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))),
		)
		if err != nil {
			return "", stop, fmt.Errorf("automemlimit: %w", err)
		}
		return fmt.Sprintf("automemlimit set GOMEMLIMIT=%d", limit), stop, nil
	case "control-watchdog":
		return setupControlWatchdog()
	}
	if strings.HasPrefix(peer, "snug") {
		return setupSnug(peer)
	}
	return "", stop, fmt.Errorf("unknown peer %q", peer)
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/snug-go/snug/tune"
)

// setupSnug starts snug's tuner as a program would at the top of main.
// "snug" alone is the library's default (tune.DefaultPolicy, whatever it is
// when the workload is built), and "snug-<policy>" forces one policy.
func setupSnug(peer string) (string, func(), error) {
	opts := []tune.Option{tune.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, nil)))}
	if name, ok := strings.CutPrefix(peer, "snug-"); ok {
		p, err := tune.ParsePolicy(name)
		if err != nil {
			return "", func() {}, fmt.Errorf("peer %s: %w", peer, err)
		}
		opts = append(opts, tune.WithPolicy(p))
	} else if peer != "snug" {
		return "", func() {}, fmt.Errorf("unknown peer %q", peer)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t, err := tune.Start(ctx, opts...)
	if err != nil {
		cancel()
		return "", func() {}, fmt.Errorf("peer %s: tune.Start: %w", peer, err)
	}
	st := t.Status()
	detail := st.MaxProcs.Source + "; " + st.MemoryLimit.Source
	return detail, func() { t.Stop(); cancel() }, nil
}

package main

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/snug-go/snug/cgroup"
)

// setupControlWatchdog is not a peer of the benchmark table but a control
// for the quiet scenario: automemlimit's GOMEMLIMIT plus the simplest
// possible watchdog, which returns freed heap to the kernel (a full GC and
// a scavenge, debug.FreeOSMemory) when the cgroup's charge passes 85% of
// its limit: at most once a second, or sooner once the charge has grown by
// a sixteenth of the limit since the last call left it. Without that
// second clause, a call just before the heap was released (it frees
// little) blocked the one that was needed while memory outside the heap
// grew, and the control was killed in about one run in eight.
//
// A test runs it to show that the quiet scenario is survivable by a
// process that watches the cgroup rather than its own heap, so that a peer
// killed there is killed by its design, not by an impossible case.
func setupControlWatchdog() (string, func(), error) {
	limit, err := memlimit.Set(memlimit.WithProvider(memlimit.FromCgroup))
	if err != nil {
		return "", func() {}, fmt.Errorf("control-watchdog: %w", err)
	}
	g, err := cgroup.Open()
	if err != nil {
		return "", func() {}, fmt.Errorf("control-watchdog: %w", err)
	}
	l, err := g.Limits()
	if err != nil || l.MemoryMax <= 0 {
		return "", func() {}, fmt.Errorf("control-watchdog: no memory limit (%v)", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var last time.Time
		var after int64 // the charge the last call left
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			s, err := g.Stats()
			if err != nil || s.MemoryCurrent <= l.MemoryMax*85/100 {
				continue
			}
			if time.Since(last) > time.Second || s.MemoryCurrent > after+l.MemoryMax/16 {
				debug.FreeOSMemory()
				last = time.Now()
				if s, err = g.Stats(); err == nil {
					after = s.MemoryCurrent
				}
			}
		}
	}()
	return fmt.Sprintf("GOMEMLIMIT=%d, FreeOSMemory above 85%% of %d", limit, l.MemoryMax), func() { cancel(); <-done }, nil
}

package tune

import (
	"strconv"
	"testing"
	"time"
)

// Whatever the environment holds, the configuration stays one the Tuner
// can use: no panic, no ratio outside (0, 1], no negative headroom, no
// interval under the minimum, no minimum above the maximum, no policy
// without a name.
func FuzzEnv(f *testing.F) {
	f.Add("off", "quiet", "force", "runtime", "2", "1", "0.5", "0.9", "64MiB", "1s", "4")
	f.Add("", "", "", "", "", "", "", "", "", "", "")
	f.Add("maybe", "loud", "yes", "x", "-1", "1e9", "NaN", "Inf", "1.5GiB", "-1s", "0")
	f.Fuzz(func(t *testing.T, snug, log, procsMode, policy, minP, maxP, reserve, ratio, headroom, interval, goMaxProcs string) {
		env := map[string]string{
			"SNUG": snug, "SNUG_LOG": log, "SNUG_GOMAXPROCS": procsMode, "SNUG_GOMEMLIMIT": procsMode,
			"SNUG_GOMAXPROCS_POLICY": policy, "SNUG_GOMAXPROCS_MIN": minP, "SNUG_GOMAXPROCS_MAX": maxP,
			"SNUG_GOMAXPROCS_RESERVE": reserve, "SNUG_GOMEMLIMIT_RATIO": ratio,
			"SNUG_GOMEMLIMIT_HEADROOM": headroom, "SNUG_INTERVAL": interval, "GOMAXPROCS": goMaxProcs,
		}
		c := defaultConfig()
		c.getenv = func(k string) string { return env[k] }
		e := c.applyEnv()
		if !c.procs.policy.valid() || !(c.memory.ratio > 0 && c.memory.ratio <= 1) || c.memory.headroom < 0 ||
			c.interval < MinInterval || c.procs.reserve < 0 || c.procs.min < 0 || c.procs.max < 0 ||
			(c.procs.min > 0 && c.procs.max > 0 && c.procs.min > c.procs.max) || e.maxProcsEnv < 0 {
			t.Fatalf("environment %q gave an unusable configuration %+v", env, c)
		}
		for _, cpu := range []float64{0, 0.5, 1.5, 64} {
			if n, _ := c.procs.procsFor(cpu, 4); n < 1 || n > 4 {
				t.Fatalf("GOMAXPROCS %d from %+v", n, c.procs)
			}
		}
		for _, l := range []int64{1 << 20, 100 << 20, 1 << 40} {
			if v, _ := c.memory.limitFor(l); v != 0 && (v < MinMemoryLimit || v > l) {
				t.Fatalf("GOMEMLIMIT %d for a limit of %d from %+v", v, l, c.memory)
			}
		}
	})
}

func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"0", "64MiB", "1GiB", "512B", "-1", "1.5GiB", "8388608TiB", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseBytes(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("parseBytes(%q) = %d", s, n)
		}
		// A plain number reads back as itself.
		if m, err := parseBytes(strconv.FormatInt(n, 10)); err != nil || m != n {
			t.Fatalf("%d does not round-trip: %d, %v", n, m, err)
		}
	})
}

// Whatever the SNUG_WATCHDOG_* variables hold, the watchdog's configuration
// stays one it can run with: a FreeOSMemory threshold in [0, 1], a spiral
// share in [0, 1), a spiral window from 1 s to 24 h, no negative pause
// threshold, and snapshots only with a directory to write them to.
func FuzzWatchdogEnv(f *testing.F) {
	f.Add("on", "0.92", "on", "10ms", "0.5", "60s", "trace,heap", "/tmp/snap")
	f.Add("", "", "", "", "", "", "", "")
	f.Add("maybe", "NaN", "x", "-1ms", "1", "0s", "trace,", "")
	f.Add("off", "1e-300", "off", "1ns", "Inf", "25h", "heap", "")
	f.Fuzz(func(t *testing.T, on, free, outside, pause, spiral, window, snapshots, dir string) {
		env := map[string]string{
			"SNUG_WATCHDOG": on, "SNUG_WATCHDOG_FREE": free, "SNUG_WATCHDOG_OUTSIDE": outside,
			"SNUG_WATCHDOG_PAUSE": pause, "SNUG_WATCHDOG_SPIRAL": spiral, "SNUG_WATCHDOG_SPIRAL_WINDOW": window,
			"SNUG_WATCHDOG_SNAPSHOTS": snapshots, "SNUG_WATCHDOG_SNAPSHOT_DIR": dir,
		}
		c := defaultConfig()
		c.getenv = func(k string) string { return env[k] }
		c.applyEnv()
		w := c.watch
		if !(w.freeAt >= 0 && w.freeAt <= 1) || !(w.spiralShare >= 0 && w.spiralShare < 1) ||
			w.spiralWindow < time.Second || w.spiralWindow > 24*time.Hour || w.longPause < 0 ||
			((w.snapshotTrace || w.snapshotHeap) && w.snapshotDir == "") {
			t.Fatalf("environment %q gave an unusable watchdog configuration %+v", env, w)
		}
	})
}

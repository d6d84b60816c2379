package tune

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The GOMEMLIMIT a memory limit L gets is
//
//	min(ratio × L, L − min(headroom, L/2))
//
// so that a large container keeps 10% for what the Go runtime does not
// count and a small one keeps at least the headroom in bytes, but never
// more than half its memory. Below MinMemoryLimit no limit is set at all.
// The result grows with L: a larger container never gets a smaller limit.
const (
	// DefaultMemoryRatio is the share of the cgroup's memory limit given to
	// the Go runtime.
	DefaultMemoryRatio = 0.9

	// DefaultMemoryHeadroom is the least memory, in bytes, left between
	// GOMEMLIMIT and the cgroup limit. GOMEMLIMIT covers only memory the Go
	// runtime maps (heap, goroutine stacks, runtime metadata); the cgroup
	// also charges page cache (to the cgroup that first reads a page: the
	// files the service reads and writes, often its own binary), socket
	// buffers, kernel stacks and page tables of its threads, and memory
	// allocated by C code. A minimal net/http server charges next to none of
	// these (measured here: 6.6 MiB charged while the runtime had 9.2 MiB
	// mapped), but a service that does file I/O, uses cgo or runs hundreds
	// of threads easily charges tens of MiB beyond its heap. 10% of a
	// limit above 320 MiB is more than 32 MiB already.
	DefaultMemoryHeadroom = 32 << 20

	// MinMemoryLimit is the smallest GOMEMLIMIT the Tuner sets. Under a
	// few MiB of heap the GC would run nearly continuously (capped at
	// about half the CPU by its limiter) and the program would still not
	// fit; such a container is better served by no limit and the OOM
	// killer's verdict, which at least says what happened.
	MinMemoryLimit = 16 << 20
)

// memoryConfig is the GOMEMLIMIT part of the configuration.
type memoryConfig struct {
	ratio    float64
	headroom int64
}

// limitFor returns the GOMEMLIMIT for a cgroup memory limit, and how it was
// reached; 0 means the limit is too small to set a useful one.
func (c memoryConfig) limitFor(limit int64) (target int64, how string) {
	ratio := strconv.FormatFloat(c.ratio, 'f', -1, 64)
	byRatio := limit
	if c.ratio < 1 {
		byRatio = int64(float64(limit) * c.ratio)
	}
	headroom := min(c.headroom, limit/2)
	if byHeadroom := limit - headroom; byHeadroom < byRatio {
		target = byHeadroom
		how = fmt.Sprintf("limit %s minus headroom %s", formatBytes(limit), formatBytes(headroom))
		if headroom < c.headroom {
			how += " (half the limit)"
		}
	} else {
		target = byRatio
		how = fmt.Sprintf("limit %s × %s", formatBytes(limit), ratio)
	}
	if target < MinMemoryLimit {
		return 0, fmt.Sprintf("limit %s too small: %s is under the %s minimum",
			formatBytes(limit), formatBytes(target), formatBytes(MinMemoryLimit))
	}
	return target, how
}

// formatBytes prints a byte count in the largest binary unit that keeps it
// readable: "224 MiB", "1.5 GiB", "512 B"; math.MaxInt64 is "no limit".
func formatBytes(n int64) string {
	if n == math.MaxInt64 {
		return "no limit"
	}
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v := float64(n)
	i := 0
	for i < len(units)-1 && (v >= 1024 || v <= -1024) {
		v /= 1024
		i++
	}
	if i == 0 {
		return strconv.FormatInt(n, 10) + " B"
	}
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) + " " + units[i]
}

var errByteCount = errors.New("want a whole number of bytes with an optional unit B, KiB, MiB, GiB or TiB, like 64MiB")

// parseBytes reads a byte count in the syntax of GOMEMLIMIT: a
// non-negative integer with an optional unit suffix B, KiB, MiB, GiB or
// TiB (no space, no decimal point).
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	shift := 0
	for _, u := range []struct {
		suffix string
		shift  int
	}{{"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}, {"B", 0}} {
		if strings.HasSuffix(s, u.suffix) {
			s, shift = strings.TrimSuffix(s, u.suffix), u.shift
			break
		}
	}
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil || s == "" || s[0] == '+' {
		return 0, errByteCount
	}
	if n > math.MaxInt64>>shift {
		return 0, errors.New("byte count overflows int64")
	}
	return int64(n) << shift, nil
}

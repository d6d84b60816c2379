package tune

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// knobMode is what SNUG_GOMAXPROCS or SNUG_GOMEMLIMIT asks for one knob.
type knobMode int

const (
	modeAuto  knobMode = iota // manage the knob unless the Go variable sets it
	modeOff                   // leave the knob alone
	modeForce                 // manage the knob even over the Go variable
)

// envSettings is what the environment decided beyond the options.
type envSettings struct {
	off                bool   // SNUG=off
	offBy              string // the variable and value that said so
	procsMode, memMode knobMode
	maxProcsEnv        int    // a valid GOMAXPROCS variable, 0 if none
	memLimitEnv        string // a non-empty GOMEMLIMIT variable
	warnings           []string
}

// applyEnv reads the environment variables documented in the package
// comment into c. A variable that is set overrides the option of the same
// meaning; one whose value makes no sense is ignored (the option or default
// stands) with a warning that names it, the value and what is accepted.
func (c *config) applyEnv() envSettings {
	getenv := c.getenv
	var e envSettings
	warn := func(name, value, want string) {
		e.warnings = append(e.warnings, fmt.Sprintf("%s=%q ignored: want %s", name, value, want))
	}
	lookup := func(name string) (string, bool) {
		v := strings.TrimSpace(getenv(name))
		return v, v != ""
	}

	if v, ok := lookup("SNUG"); ok {
		switch strings.ToLower(v) {
		case "off", "0", "false", "no":
			e.off, e.offBy = true, "SNUG="+v
		case "on", "1", "true", "yes":
		default:
			warn("SNUG", v, "off or on (snug stays on)")
		}
	}
	if v, ok := lookup("SNUG_LOG"); ok {
		switch strings.ToLower(v) {
		case "quiet", "off":
			c.quiet = true
		case "info", "on":
			c.quiet = false
		default:
			warn("SNUG_LOG", v, "quiet or info")
		}
	}
	mode := func(name string) knobMode {
		v, ok := lookup(name)
		if !ok {
			return modeAuto
		}
		switch strings.ToLower(v) {
		case "auto", "on":
			return modeAuto
		case "off":
			return modeOff
		case "force":
			return modeForce
		}
		warn(name, v, "auto, off or force (auto is used)")
		return modeAuto
	}
	e.procsMode, e.memMode = mode("SNUG_GOMAXPROCS"), mode("SNUG_GOMEMLIMIT")

	if v, ok := lookup("SNUG_GOMAXPROCS_POLICY"); ok {
		if p, err := ParsePolicy(v); err == nil {
			c.procs.policy = p
		} else {
			warn("SNUG_GOMAXPROCS_POLICY", v, "adaptive, floor, runtime or ceil")
		}
	}
	minProcs, maxProcs := c.procs.min, c.procs.max
	procsVar := func(name string, dst *int) {
		if v, ok := lookup(name); ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 1 {
				*dst = n
			} else {
				warn(name, v, "a whole number, 1 or more")
			}
		}
	}
	procsVar("SNUG_GOMAXPROCS_MIN", &minProcs)
	procsVar("SNUG_GOMAXPROCS_MAX", &maxProcs)
	if minProcs > 0 && maxProcs > 0 && minProcs > maxProcs {
		e.warnings = append(e.warnings, fmt.Sprintf(
			"GOMAXPROCS minimum %d above maximum %d ignored: check SNUG_GOMAXPROCS_MIN and SNUG_GOMAXPROCS_MAX",
			minProcs, maxProcs))
	} else {
		c.procs.min, c.procs.max = minProcs, maxProcs
	}
	if v, ok := lookup("SNUG_GOMAXPROCS_RESERVE"); ok {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && !math.IsInf(f, 0) {
			c.procs.reserve = f
		} else {
			warn("SNUG_GOMAXPROCS_RESERVE", v, "a number of CPUs, 0 or more, like 0.5")
		}
	}
	if v, ok := lookup("SNUG_GOMEMLIMIT_RATIO"); ok {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 && f <= 1 {
			c.memory.ratio = f
		} else {
			warn("SNUG_GOMEMLIMIT_RATIO", v, "a ratio greater than 0 and at most 1, like 0.9")
		}
	}
	if v, ok := lookup("SNUG_GOMEMLIMIT_HEADROOM"); ok {
		if n, err := parseBytes(v); err == nil {
			c.memory.headroom = n
		} else {
			warn("SNUG_GOMEMLIMIT_HEADROOM", v, "bytes with an optional unit B, KiB, MiB, GiB or TiB, like 64MiB")
		}
	}
	c.applyWatchdogEnv(lookup, warn)
	if v, ok := lookup("SNUG_INTERVAL"); ok {
		if d, err := time.ParseDuration(v); err == nil && d >= MinInterval {
			c.interval = d
		} else {
			warn("SNUG_INTERVAL", v, "a duration of at least "+MinInterval.String()+", like 1s")
		}
	}

	// The Go runtime's own variables, read as the runtime reads them: it
	// takes GOMAXPROCS only as a positive integer and ignores anything
	// else, and it refuses to start with a malformed GOMEMLIMIT, so a
	// non-empty one here is valid ("off" included).
	if v := getenv("GOMAXPROCS"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 32); err == nil && n > 0 {
			e.maxProcsEnv = int(n)
		} else {
			e.warnings = append(e.warnings, fmt.Sprintf(
				"GOMAXPROCS=%q is not a positive whole number: the Go runtime ignores it, and so does snug", v))
		}
	}
	if v := getenv("GOMEMLIMIT"); v != "" {
		e.memLimitEnv = v
	}
	return e
}

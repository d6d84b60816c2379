package tune

import (
	"bytes"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/snug-go/snug/cgroup"
)

// runtimeModel predicts the GOMAXPROCS the Go runtime picks by itself, so
// that the Tuner calls runtime.GOMAXPROCS only when its own choice differs,
// and otherwise leaves the runtime in charge.
//
// Since Go 1.25 the runtime's default is
//
//	min(usable CPUs, max(2, ceil(quota / period)))
//
// where quota and period come from the process's own cgroup only (its
// ancestors are not read), and the runtime re-checks it at most once a
// second from sysmon. GODEBUG=containermaxprocs=0 drops the quota from the
// formula and GODEBUG=updatemaxprocs=0 stops the re-checks; both are the
// default for a main module whose go line is 1.24 or older.
type runtimeModel struct {
	containerMaxProcs bool // the runtime reads the cgroup quota
	updateMaxProcs    bool // the runtime follows changes by itself

	// The process's own cgroup directory in the cpu hierarchy, and whether
	// it is a v2 one, to read the quota the runtime reads when the
	// effective limit comes from an ancestor. "" when unknown.
	leafDir string
	leafV2  bool
	files   [2]*os.File // quota (or cpu.max) and period, opened on first read
	buf     [2][64]byte
}

func newRuntimeModel(g *cgroup.Group) runtimeModel {
	m := runtimeModel{containerMaxProcs: true, updateMaxProcs: true}
	// The default GODEBUG the linker recorded (from the main module's go
	// line and //go:debug directives), then the environment, which wins.
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "DefaultGODEBUG" {
				m.applyGODEBUG(s.Value)
			}
		}
	}
	m.applyGODEBUG(os.Getenv("GODEBUG"))
	if g != nil {
		if dir := g.Paths()["cpu"]; dir != "" {
			m.leafDir = dir
			_, err := os.Stat(filepath.Join(dir, "cpu.max"))
			m.leafV2 = err == nil
		}
	}
	return m
}

// applyGODEBUG applies the settings of a GODEBUG list ("k=v,k=v") that
// change the runtime's GOMAXPROCS default.
func (m *runtimeModel) applyGODEBUG(list string) {
	for kv := range strings.SplitSeq(list, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		switch k {
		case "containermaxprocs":
			m.containerMaxProcs = v != "0"
		case "updatemaxprocs":
			m.updateMaxProcs = v != "0"
		}
	}
}

// defaultProcs is the runtime's own GOMAXPROCS for the limits l.
func (m *runtimeModel) defaultProcs(l cgroup.Limits) int {
	procs := max(l.CPUs, 1)
	if !m.containerMaxProcs {
		return procs
	}
	quota := l.CPU
	if quota > 0 && l.CPUSource.Ancestor {
		// The effective quota is an ancestor's: the runtime sees only the
		// process's own cgroup, which may have a looser quota or none.
		quota = m.leafQuota()
	}
	if quota > 0 {
		if r := int(max(math.Ceil(quota), 2)); r < procs {
			procs = r
		}
	}
	return procs
}

// leafQuota reads the CPU quota of the process's own cgroup the way the
// runtime does (internal/runtime/cgroup): cpu.max on v2,
// cpu.cfs_quota_us / cpu.cfs_period_us on v1. 0 means no quota, or a file
// that could not be read, which the runtime also takes for no quota. The
// files stay open (a cgroup file is regenerated at each read from offset
// 0), which makes a read a single pread of about a microsecond.
func (m *runtimeModel) leafQuota() float64 {
	if m.leafDir == "" {
		return 0
	}
	if m.leafV2 {
		data, ok := m.read(0, "cpu.max")
		if !ok {
			return 0
		}
		q, p, ok := bytes.Cut(data, []byte(" "))
		if !ok || string(q) == "max" {
			return 0
		}
		return ratio(q, p)
	}
	q, ok1 := m.read(0, "cpu.cfs_quota_us")
	p, ok2 := m.read(1, "cpu.cfs_period_us")
	if !ok1 || !ok2 {
		return 0
	}
	return ratio(q, p)
}

// read returns the trimmed content of a leaf file, opening it on first use
// into slot i.
func (m *runtimeModel) read(i int, name string) ([]byte, bool) {
	if m.files[i] == nil {
		f, err := os.Open(filepath.Join(m.leafDir, name))
		if err != nil {
			return nil, false
		}
		m.files[i] = f
	}
	n, err := m.files[i].ReadAt(m.buf[i][:], 0)
	if err != nil && err != io.EOF {
		return nil, false
	}
	return bytes.TrimSpace(m.buf[i][:n]), true
}

// close closes the leaf files.
func (m *runtimeModel) close() {
	for i, f := range m.files {
		if f != nil {
			f.Close()
			m.files[i] = nil
		}
	}
}

func ratio(quota, period []byte) float64 {
	q, err1 := strconv.ParseInt(string(bytes.TrimSpace(quota)), 10, 64)
	p, err2 := strconv.ParseInt(string(bytes.TrimSpace(period)), 10, 64)
	if err1 != nil || err2 != nil || q <= 0 || p <= 0 {
		return 0
	}
	return float64(q) / float64(p)
}

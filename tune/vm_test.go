//go:build linux

package tune

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/snug-go/snug/internal/vmtest"
)

// The blank import on a real cgroup v2 kernel (qemu, see internal/vmtest):
// testdata/blank runs in cgroups made by the guest script, and each run's
// JSON lines and log come back tagged with the case's name.
const vmScript = `
cg=/sys/fs/cgroup
inside() { sh -c 'd=$1; shift; echo $$ > $d/cgroup.procs && exec "$@"' sh "$@"; }
tag() { while IFS= read -r l; do echo "$1 $l"; done; }

mkdir $cg/leaf && echo "50000 100000" > $cg/leaf/cpu.max && echo 268435456 > $cg/leaf/memory.max
inside $cg/leaf /t/blank 2>&1 | tag leaf
inside $cg/leaf env GOMAXPROCS=2 GOMEMLIMIT=100MiB /t/blank 2>&1 | tag env
inside $cg/leaf env SNUG=off /t/blank 2>&1 | tag off

mkdir $cg/p && echo "+cpu +memory" > $cg/p/cgroup.subtree_control
echo "50000 100000" > $cg/p/cpu.max && echo 134217728 > $cg/p/memory.max
mkdir $cg/p/c && echo 536870912 > $cg/p/c/memory.max
inside $cg/p/c /t/blank 2>&1 | tag parent
inside $cg/p/c env SNUG=off /t/blank 2>&1 | tag parent-off

mkdir $cg/high && echo 536870912 > $cg/high/memory.max && echo 268435456 > $cg/high/memory.high
inside $cg/high /t/blank 2>&1 | tag high

/t/blank 2>&1 | tag root

mkdir $cg/live && echo "50000 100000" > $cg/live/cpu.max && echo 268435456 > $cg/live/memory.max
inside $cg/live /t/blank -every=50ms -for=6s > /tmp/live.out 2>&1 &
sleep 1
SNUG=off /t/blank | tag stamp
echo "max 100000" > $cg/live/cpu.max && echo 536870912 > $cg/live/memory.max
wait
tag live < /tmp/live.out
`

type vmLine struct {
	GOMAXPROCS int   `json:"gomaxprocs"`
	GOMEMLIMIT int64 `json:"gomemlimit"`
	UnixNano   int64 `json:"unix_nano"`
}

func TestBlankImportInVM(t *testing.T) {
	vmtest.Require(t)
	bin := buildProgram(t, "testdata/blank")
	out, code := vmtest.Run(t, vmtest.Guest{
		Files:   map[string]string{"/t/blank": bin},
		Script:  vmScript,
		CPUs:    2,
		Timeout: 3 * time.Minute,
	})
	if code != 0 {
		t.Fatalf("guest script exit %d:\n%s", code, out)
	}
	reports := map[string][]vmLine{}
	logs := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		name, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if strings.HasPrefix(rest, "{") {
			var r vmLine
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			reports[name] = append(reports[name], r)
		} else {
			logs[name] += rest + "\n"
		}
	}
	first := func(name string) vmLine {
		if len(reports[name]) == 0 {
			t.Fatalf("case %s reported nothing:\n%s", name, out)
		}
		return reports[name][0]
	}
	for _, c := range []struct {
		name     string
		procs    int
		memlimit int64
		log      string // a piece the case's log must hold
	}{
		{"leaf", 1, 224 << 20, "cpu.max 50000 100000 at /leaf"},
		{"env", 2, 100 << 20, "environment"},
		{"off", 2, math.MaxInt64, ""},
		{"parent", 1, 96 << 20, "(ancestor)"},
		{"parent-off", 2, math.MaxInt64, ""},
		{"high", 2, 224 << 20, "memory.high 268435456 at /high"},
		{"root", 2, math.MaxInt64, ""},
	} {
		r := first(c.name)
		if r.GOMAXPROCS != c.procs || r.GOMEMLIMIT != c.memlimit {
			t.Errorf("%s: GOMAXPROCS %d GOMEMLIMIT %d, want %d and %d; log:\n%s",
				c.name, r.GOMAXPROCS, r.GOMEMLIMIT, c.procs, c.memlimit, logs[c.name])
		}
		if c.log != "" && !strings.Contains(logs[c.name], c.log) {
			t.Errorf("%s: log does not mention %q:\n%s", c.name, c.log, logs[c.name])
		}
	}

	// The live case: limits raised while it runs are followed within 2 s
	// of the write (stamped by a fresh process just before it).
	live, stamp := reports["live"], first("stamp")
	if len(live) == 0 || live[0].GOMAXPROCS != 1 || live[0].GOMEMLIMIT != 224<<20 {
		t.Fatalf("live at start: %+v", live)
	}
	var procsAt, memAt int64
	for _, r := range live {
		if r.UnixNano < stamp.UnixNano {
			continue
		}
		if procsAt == 0 && r.GOMAXPROCS == 2 {
			procsAt = r.UnixNano
		}
		if memAt == 0 && r.GOMEMLIMIT == 483183820 {
			memAt = r.UnixNano
		}
	}
	if procsAt == 0 || memAt == 0 {
		t.Fatalf("resize not followed (GOMAXPROCS seen %v, GOMEMLIMIT seen %v):\n%s", procsAt != 0, memAt != 0, logs["live"])
	}
	procsLag, memLag := time.Duration(procsAt-stamp.UnixNano), time.Duration(memAt-stamp.UnixNano)
	t.Logf("in the VM: GOMEMLIMIT followed after %v, GOMAXPROCS after %v", memLag.Round(time.Millisecond), procsLag.Round(time.Millisecond))
	if procsLag > 2*time.Second || memLag > 2*time.Second {
		t.Errorf("resize followed after %v (GOMAXPROCS) and %v (GOMEMLIMIT), want within 2 s", procsLag, memLag)
	}
}

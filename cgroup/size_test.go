//go:build linux

package cgroup_test

import (
	"fmt"
	"testing"

	"github.com/snug-go/snug/internal/sizetest"
)

// Importing package cgroup may add at most 1 MiB to a stripped minimal
// net/http server (issue 2's budget). It reuses the standard library's
// strconv, strings, os and syscall, which net/http links anyway.
func TestBinarySize(t *testing.T) {
	base := sizetest.Stripped(t, fmt.Sprintf(sizetest.HTTPServer, "", ""))
	with := sizetest.Stripped(t, fmt.Sprintf(sizetest.HTTPServer,
		`"github.com/snug-go/snug/cgroup"`, `if g, err := cgroup.Open(); err == nil { g.Limits(); g.Stats() }`))
	t.Logf("stripped net/http server: %d bytes; with package cgroup: %d bytes (+%d)", base, with, with-base)
	if with-base > 1<<20 {
		t.Errorf("package cgroup adds %d bytes, budget 1 MiB", with-base)
	}
}

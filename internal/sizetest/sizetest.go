// Package sizetest measures what importing a package adds to a user's
// binary: it builds small programs the way a service is shipped (stripped:
// -ldflags="-s -w") and reports their sizes, for tests that hold the
// library to its weight budgets.
package sizetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// HTTPServer is a minimal net/http server; imports are added to it by
// Program. Every weight budget is measured against it, since that is the
// smallest realistic service.
const HTTPServer = `package main

import (
	"net/http"
	%s
)

func main() {
	%s
	http.ListenAndServe("127.0.0.1:0", nil)
}
`

// Stripped builds the program src (a main package) inside this module, so
// that it can import the module's packages, and returns the size in bytes of
// the stripped binary. It skips the test under -short: a cold build of
// net/http takes tens of seconds on a small machine.
func Stripped(t testing.TB, src string) int64 {
	t.Helper()
	if testing.Short() {
		t.Skip("binary size builds are slow; skipped with -short")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "prog")
	cmd := exec.Command("go", "build", "-ldflags=-s -w", "-o", out, filepath.Join(dir, "main.go"))
	cmd.Dir = moduleRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func moduleRoot(t testing.TB) string {
	b, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(b)))
}

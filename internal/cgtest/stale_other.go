//go:build !linux

package cgtest

import "testing"

// removeStale does nothing: the harness makes cgroups only on Linux, and
// New skips elsewhere before reaching it.
func removeStale(t testing.TB, parents []string) {}

// nameSuffix is empty: there is no stale cleanup to keep names out of.
func nameSuffix() string { return "" }

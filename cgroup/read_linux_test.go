package cgroup

import (
	"errors"
	"os"
	"path/filepath"
	"runtime/metrics"
	"testing"
)

// TestReadBoundedBound checks readBounded at its bound: a file of exactly
// max bytes is read whole, one byte more is refused, and refusing a large
// file allocates about the bound, not append's growth past it.
func TestReadBoundedBound(t *testing.T) {
	const max = 1 << 20
	dir := t.TempDir()
	write := func(name string, size int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if data, err := readBounded(write("exact", max), max); err != nil || len(data) != max {
		t.Fatalf("file of %d bytes, bound %d: read %d bytes, error %v; want all of it", max, max, len(data), err)
	}
	if _, err := readBounded(write("over", max+1), max); !errors.Is(err, errTooLarge) {
		t.Fatalf("file of %d bytes, bound %d: error %v, want %v", max+1, max, err, errTooLarge)
	}

	big := write("big", 8*max)
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	// Doubling from 16 KiB to the bound allocates just over 2×max in
	// all; append's 1.25× growth past 256 KiB allocated about 5×max. The
	// count is the process's: the least of three tries leaves out what
	// tests running in parallel allocate.
	allocated := uint64(1 << 62)
	for range 3 {
		metrics.Read(sample)
		before := sample[0].Value.Uint64()
		if _, err := readBounded(big, max); !errors.Is(err, errTooLarge) {
			t.Fatalf("file of %d bytes, bound %d: error %v, want %v", 8*max, max, err, errTooLarge)
		}
		metrics.Read(sample)
		allocated = min(allocated, sample[0].Value.Uint64()-before)
	}
	if allocated > 5*max/2 {
		t.Errorf("refusing a %d-byte file with bound %d allocated %d bytes, want at most %d", 8*max, max, allocated, 5*max/2)
	}
	t.Logf("refusing a %d-byte file with bound %d allocated %d bytes", 8*max, max, allocated)
}

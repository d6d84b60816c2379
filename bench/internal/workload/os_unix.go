//go:build unix

package main

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

// processCPU is the user and system CPU time of the whole process.
func processCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// growOutside maps size bytes of anonymous memory, which the Go runtime
// neither sees nor counts against GOMEMLIMIT, and touches it page by page,
// evenly until deadline, so that the resident set grows the way a C
// library's arena or a filling mmap'd buffer does. The mapping is kept until
// the process exits. It returns how much it touched.
func growOutside(size int64, deadline time.Time) (int64, error) {
	if size <= 0 {
		return 0, nil
	}
	mem, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return 0, fmt.Errorf("mmap %d bytes: %w", size, err)
	}
	outside = mem
	page := os.Getpagesize()
	pages := len(mem) / page
	start := time.Now()
	span := time.Until(deadline)
	const step = 5 * time.Millisecond
	touched := 0
	for touched < pages {
		// Pages that should be resident by now.
		due := pages
		if elapsed := time.Since(start); span > 0 && elapsed < span {
			due = int(float64(pages) * float64(elapsed) / float64(span))
		}
		for ; touched < due; touched++ {
			mem[touched*page] = 1
		}
		if touched < pages {
			time.Sleep(step)
		}
	}
	return int64(touched) * int64(page), nil
}

// outside keeps the mapping reachable for the life of the process.
var outside []byte

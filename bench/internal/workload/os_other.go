//go:build !unix

package main

import (
	"errors"
	"time"
)

var errNotUnix = errors.New("the workload needs a Unix system (getrusage, anonymous mmap)")

func processCPU() (time.Duration, error) { return 0, errNotUnix }

func growOutside(int64, time.Time) (int64, error) { return 0, errNotUnix }

//go:build linux

package cgroup_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/snug-go/snug/cgroup"
)

// Open the process's cgroup once and read its effective limits whenever a
// decision depends on them.
func ExampleOpen() {
	g, err := cgroup.Open()
	if errors.Is(err, cgroup.ErrNoCgroup) || errors.Is(err, cgroup.ErrUnsupported) {
		fmt.Println("no cgroup: the machine's resources are the limit")
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	l, err := g.Limits()
	if err != nil {
		log.Print(err) // l still holds what could be read
	}
	if l.CPU > 0 {
		fmt.Printf("CPU quota %.2f CPUs, from %v\n", l.CPU, l.CPUSource)
	}
}

// A Kubernetes pod on a cgroup v2 node, read from a copy of its files: the CPU
// limit is on the pod's cgroup, above the container's, and memory.high is the
// tighter memory limit.
func ExampleWithRoot() {
	g, err := cgroup.Open(cgroup.WithRoot("testdata/k8s-v2"))
	if err != nil {
		log.Fatal(err)
	}
	l, err := g.Limits()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("mode:", l.Mode)
	fmt.Println("cpu:", l.CPU, "from", l.CPUSource)
	fmt.Println("cpus:", l.CPUs)
	limit, src := l.MemoryLimit()
	fmt.Println("memory:", limit>>20, "MiB from", src.File)
	fmt.Println("swap allowed:", !l.NoSwap)
	// Output:
	// mode: v2
	// cpu: 2.5 from cpu.max 250000 100000 at /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod7f3c.slice (ancestor)
	// cpus: 8
	// memory: 768 MiB from memory.high
	// swap allowed: false
}

// Stats are counters: subtract two snapshots for a rate.
func ExampleGroup_Stats() {
	g, err := cgroup.Open()
	if err != nil {
		return
	}
	s, err := g.Stats()
	if err != nil {
		log.Print(err)
	}
	l, _ := g.Limits()
	if limit, _ := l.MemoryLimit(); limit > 0 {
		fmt.Printf("working set at %.0f%% of the limit\n", 100*float64(s.WorkingSet)/float64(limit))
	}
	if s.Periods > 0 {
		fmt.Printf("throttled in %d of %d periods\n", s.ThrottledPeriods, s.Periods)
	}
}

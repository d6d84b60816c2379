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

// Watch memory often at little cost: one small read each time, and Stats,
// whose memory.stat the kernel generates at each read, only once the usage
// comes near the limit. Compare the usage with the limit only when both are
// the same cgroup's: under a pod-level limit that is the pod's usage,
// siblings included.
func ExampleGroup_MemoryLimitCurrent() {
	g, err := cgroup.Open()
	if err != nil {
		return
	}
	l, _ := g.Limits()
	limit, src := l.MemoryLimit()
	if limit <= 0 {
		return
	}
	usage, cg, err := g.MemoryLimitCurrent()
	if err != nil || cg != src.Cgroup {
		return // no usage for that limit's cgroup: Stats would say why
	}
	if float64(usage) >= 0.9*float64(limit) {
		s, _ := g.Stats()
		fmt.Printf("working set %d of the %d limit (usage %d, page cache included)\n", s.MemoryLimitWorkingSet, limit, s.MemoryLimitCurrent)
	}
}

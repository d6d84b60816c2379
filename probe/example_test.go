package probe_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"time"

	"github.com/snug-go/snug/cgroup"
	"github.com/snug-go/snug/health"
	"github.com/snug-go/snug/probe"
)

func Example() {
	c := probe.Check{
		Name:    "queue",
		Kind:    probe.Readiness,
		Timeout: 200 * time.Millisecond,
		Func: func(ctx context.Context) error {
			if backlog := 12_000; backlog > 10_000 {
				return fmt.Errorf("backlog of %d jobs, over 10000", backlog)
			}
			return nil
		},
	}
	fmt.Println(c.Name, c.Kind, c.Func(context.Background()))
	// Output: queue readiness backlog of 12000 jobs, over 10000
}

func ExampleFunc() {
	c := probe.Func("warm-cache", probe.Startup, func(ctx context.Context) error { return nil })
	fmt.Println(c.Name, c.Kind)
	// Output: warm-cache startup
}

func ExampleStandard() {
	g, _ := cgroup.Open()             // nil without a cgroup: the memory check is left out
	var watchdog probe.SpiralDetector // the GC watchdog of package tune
	h := health.New(health.Config{})
	if err := h.Add(probe.Standard(g, watchdog)...); err != nil {
		panic(err)
	}
	for _, c := range probe.Standard(g, watchdog) {
		fmt.Println(c.Name, c.Kind)
	}
}

func ExampleGoroutines() {
	c := probe.Goroutines(1)
	fmt.Println(c.Name, c.Kind)
	fmt.Println(c.Func(context.Background()) != nil)
	// Output:
	// goroutines liveness
	// true
}

func ExampleMemoryHeadroom() {
	g, err := cgroup.Open()
	if err != nil {
		return // not in a cgroup
	}
	h := health.New(health.Config{})
	h.Add(probe.MemoryHeadroom(g, probe.DefaultMemoryHeadroom))
	// Output:
}

func ExampleCPUThrottling() {
	g, err := cgroup.Open()
	if err != nil {
		return
	}
	// Opt in: fail readiness while throttled in more than 80% of the CFS
	// periods since the last probe.
	h := health.New(health.Config{})
	h.Add(probe.CPUThrottling(g, 0.8))
	// Output:
}

func ExampleGCDeathSpiral() {
	spiraling := probe.SpiralFunc(func() (bool, string) {
		return true, "GC used 48% of CPU for the last 60 s with the heap at its limit"
	})
	c := probe.GCDeathSpiral(spiraling)
	fmt.Println(c.Name, c.Kind, c.Func(context.Background()))
	// Output: gc-death-spiral liveness GC used 48% of CPU for the last 60 s with the heap at its limit
}

func ExampleTCPDial() {
	c := probe.TCPDial("envoy", "127.0.0.1:15000")
	c.Timeout = 100 * time.Millisecond
	fmt.Println(c.Name, c.Kind)
	// Output: envoy readiness
}

func ExampleHTTPGet() {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	c := probe.HTTPGet("sidecar", "http://127.0.0.1:15021/healthz/ready", client)
	fmt.Println(c.Name, c.Kind)
	// Output: sidecar readiness
}

func ExampleSQLPing() {
	var db *sql.DB // from sql.Open
	c := probe.SQLPing("db", db)
	fmt.Println(c.Name, c.Kind)
	// Output: db readiness
}

func ExampleDNSResolve() {
	c := probe.DNSResolve("dns", "localhost")
	fmt.Println(c.Name, c.Kind, c.Func(context.Background()))
	// Output: dns readiness <nil>
}

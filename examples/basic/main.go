// Command basic prints what snug discovers about the container it runs in:
// the cgroup layout, each effective limit with the file it came from, the
// current usage, and what the runtime does by itself.
//
//	go run ./examples/basic
//
// Run it inside a container (or a cgroup with limits) to see the limits it
// finds on ancestors, which the Go runtime's own detection misses.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"text/tabwriter"

	"github.com/snug-go/snug/cgroup"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "basic:", err)
		os.Exit(1)
	}
}

func run() error {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	defer w.Flush()

	g, err := cgroup.Open()
	switch {
	case errors.Is(err, cgroup.ErrNoCgroup), errors.Is(err, cgroup.ErrUnsupported):
		fmt.Fprintf(w, "cgroup\t%v: nothing limits this process beyond the machine\n", err)
		return nil
	case err != nil:
		return err
	}
	defer g.Close()

	fmt.Fprintf(w, "cgroup mode\t%v\n", g.Mode())
	paths := g.Paths()
	names := make([]string, 0, len(paths))
	for k := range paths {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(w, "  %s\t%s\n", k, paths[k])
	}

	l, err := g.Limits()
	if err != nil {
		fmt.Fprintf(w, "warning\t%v\n", err)
	}
	fmt.Fprintln(w, "\nLIMIT\tVALUE\tFROM")
	fmt.Fprintf(w, "cpu quota\t%s\t%v\n", cpus(l.CPU), l.CPUSource)
	fmt.Fprintf(w, "usable cpus\t%d\t%v\n", l.CPUs, l.CPUsSource)
	fmt.Fprintf(w, "memory.max\t%s\t%v\n", limit(l.MemoryMax), l.MemoryMaxSource)
	fmt.Fprintf(w, "memory.high\t%s\t%v\n", limit(l.MemoryHigh), l.MemoryHighSource)
	swap := limit(l.SwapMax)
	if l.NoSwap {
		swap = "none allowed"
	}
	fmt.Fprintf(w, "swap\t%s\t%v\n", swap, l.SwapMaxSource)
	pids := "no limit"
	if l.PidsMax > 0 {
		pids = strconv.FormatInt(l.PidsMax, 10)
	}
	fmt.Fprintf(w, "pids.max\t%s\t%v\n", pids, l.PidsMaxSource)

	s, err := g.Stats()
	if err != nil {
		fmt.Fprintf(w, "warning\t%v\n", err)
	}
	fmt.Fprintln(w, "\nUSAGE\tVALUE")
	fmt.Fprintf(w, "memory in use\t%s (working set %s, anon %s, page cache %s)\n",
		bytes(s.MemoryCurrent), bytes(s.WorkingSet), bytes(s.Anon), bytes(s.File))
	fmt.Fprintf(w, "cpu time\t%v (throttled %d of %d periods, %v)\n",
		s.CPUUsage, s.ThrottledPeriods, s.Periods, s.ThrottledTime)
	if s.MemoryPressure.Valid {
		fmt.Fprintf(w, "pressure avg10\tcpu %.2f%%  memory %.2f%%  io %.2f%%\n",
			s.CPUPressure.Some.Avg10, s.MemoryPressure.Some.Avg10, s.IOPressure.Some.Avg10)
	}

	fmt.Fprintln(w, "\nRUNTIME\tVALUE")
	fmt.Fprintf(w, "GOMAXPROCS\t%d (NumCPU %d)\n", runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Fprintf(w, "GOMEMLIMIT\t%s\n", limit(debug.SetMemoryLimit(-1)))
	decide(w)

	return nil
}

func cpus(v float64) string {
	if v == 0 {
		return "no limit"
	}
	return strconv.FormatFloat(v, 'f', -1, 64) + " CPUs"
}

func bytes(v int64) string {
	switch {
	case v <= 0:
		return "0"
	case v >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(v)/(1<<30))
	default:
		return fmt.Sprintf("%.1f MiB", float64(v)/(1<<20))
	}
}

func limit(v int64) string {
	if v <= 0 || v >= 1<<62 {
		return "no limit"
	}
	return bytes(v)
}

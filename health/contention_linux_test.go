package health

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuMeter measures how much CPU other processes used while the load test
// ran: the machine is shared (other tests, other packages' tests run in
// parallel by go test), and a latency bound of a few tens of milliseconds
// means nothing while another process holds the cores.
type cpuMeter struct {
	start      time.Time
	busy, self time.Duration
	ok         bool
}

func startCPUMeter() *cpuMeter {
	m := &cpuMeter{start: time.Now()}
	m.busy, m.self, m.ok = sampleCPU()
	return m
}

// othersShare returns the share of the machine's CPU time (all cores) that
// other processes used since start, or -1 if it cannot tell.
func (m *cpuMeter) othersShare() float64 {
	busy, self, ok := sampleCPU()
	if !m.ok || !ok {
		return -1
	}
	wall := time.Since(m.start)
	others := (busy - m.busy) - (self - m.self)
	return max(0, float64(others)/float64(wall*time.Duration(runtime.NumCPU())))
}

// sampleCPU returns the machine's busy CPU time from /proc/stat and this
// process's from getrusage.
func sampleCPU() (busy, self time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, 0, false
	}
	var jiffies int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest time is already counted in user
			break
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		jiffies += n
	}
	const clockTick = 100 // USER_HZ, 100 on every Linux architecture Go supports
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, false
	}
	self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return time.Duration(jiffies) * time.Second / clockTick, self, true
}

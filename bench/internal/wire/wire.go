// Package wire is what the benchmark harness and the workload it runs agree
// on: the lines the workload prints on its standard output and the JSON
// result it ends with. It imports nothing that could change the workload's
// runtime settings.
package wire

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Lines the workload writes to standard output, one per line, in this order.
// The harness snapshots the cgroup's counters when it reads PhaseMeasure and
// PhaseDone, so that throttling is counted over the measured window only.
const (
	PhaseMeasure = "phase measure" // the warm-up is over; the window starts
	PhaseDone    = "phase done"    // the window is over; the result follows
	ResultPrefix = "result "       // followed by the Result as JSON
)

// Lines the memory scenarios write when they change phase, so that the
// harness can say in which phase a process was OOM-killed.
const (
	PhaseBurst   = "phase burst"   // the burst of live heap is being built
	PhaseRelease = "phase release" // the burst is released
	PhaseOutside = "phase outside" // memory outside the Go heap is growing
)

// Result is what one workload run measured inside its window. Durations are
// in nanoseconds so that the JSON stays exact and unit-free.
type Result struct {
	Peer     string `json:"peer"`
	Scenario string `json:"scenario"`

	// GOMAXPROCS at the start and at the end of the window, read from
	// /sched/gomaxprocs:threads; GOMEMLIMIT from /gc/gomemlimit:bytes.
	GOMAXPROCS      int   `json:"gomaxprocs"`
	GOMAXPROCSStart int   `json:"gomaxprocs_start"`
	GOMEMLIMIT      int64 `json:"gomemlimit"`
	// PeerDetail is what the peer's setup reported (automaxprocs' log line,
	// the limit automemlimit set, snug's decision), for the log.
	PeerDetail string `json:"peer_detail,omitempty"`

	// Open-loop requests: how many were scheduled in the window, how many
	// had not finished when the drain timed out (counted with the latency
	// they had reached, a lower bound), and the latency distribution
	// measured from each request's scheduled start.
	Rate       float64 `json:"rate"`
	Requests   int     `json:"requests"`
	Unfinished int     `json:"unfinished"`
	ReqP50     int64   `json:"req_p50_ns"`
	ReqP99     int64   `json:"req_p99_ns"`
	ReqP999    int64   `json:"req_p999_ns"`
	ReqMax     int64   `json:"req_max_ns"`
	// SendLateP50 and SendLateP99 are how late the generator itself sent
	// requests (a diagnostic: it is included in the latencies above).
	SendLateP50 int64 `json:"send_late_p50_ns"`
	SendLateP99 int64 `json:"send_late_p99_ns"`

	// GC stop-the-world pauses in the window, from the deltas of
	// /sched/pauses/total/gc:seconds (whole pause, stopping included) and
	// /sched/pauses/stopping/gc:seconds (only the time to stop the world).
	// Quantiles are the upper edge of the histogram bucket they fall in:
	// up to 25% above the true value, never below it.
	Pauses      uint64 `json:"pauses"`
	STWP50      int64  `json:"stw_p50_ns"`
	STWP99      int64  `json:"stw_p99_ns"`
	STWMax      int64  `json:"stw_max_ns"`
	StoppingP99 int64  `json:"stopping_p99_ns"`
	StoppingMax int64  `json:"stopping_max_ns"`
	GCCycles    uint64 `json:"gc_cycles"`

	// GCCPUPercent is the GC's share of the CPU time the process's Ps were
	// busy in the window: /cpu/classes/gc/total over /cpu/classes/total
	// minus /cpu/classes/idle. Dividing by the total alone would make the
	// figure depend on GOMAXPROCS (the total is GOMAXPROCS × wall time).
	GCCPUPercent float64 `json:"gc_cpu_pct"`

	// PeakRSS is VmHWM from /proc/self/status at the end of the run: the
	// most resident memory the process ever had, heap, stacks and mmap'd
	// memory alike. HeapPeak is the largest /memory/classes/total:bytes
	// (everything the Go runtime mapped) seen by the sampler.
	PeakRSS  int64 `json:"peak_rss_bytes"`
	HeapPeak int64 `json:"go_memory_peak_bytes"`
	// Outside is how much anonymous memory the quiet scenario mapped and
	// touched outside the Go heap.
	Outside int64 `json:"outside_bytes"`
}

// Calibration is what the workload prints in calibration mode: the CPU time
// one request costs, garbage collection included.
type Calibration struct {
	Requests  int   `json:"requests"`
	CPUNanos  int64 `json:"cpu_ns"`
	CostNanos int64 `json:"cost_ns"`
}

// Encode returns the result line for v.
func Encode(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("wire: encode result: %w", err)
	}
	return ResultPrefix + string(b), nil
}

// Decode parses a result line into v.
func Decode(line string, v any) error {
	rest, ok := strings.CutPrefix(line, ResultPrefix)
	if !ok {
		return fmt.Errorf("wire: not a result line: %.80q", line)
	}
	if err := json.Unmarshal([]byte(rest), v); err != nil {
		return fmt.Errorf("wire: decode result: %w", err)
	}
	return nil
}

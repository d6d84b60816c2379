// Command watchdog is a program for the host tests and experiments of the
// GC watchdog of package tune. It blank-imports snug (so the watchdog runs
// as a service gets it, configured by SNUG_* variables), logs through a
// JSON slog handler on stderr (the watchdog's events are log lines with an
// "event" key), and prints a JSON report on stdout every -every:
//
//	{"unix_nano":…,"phase":"mmap","gomemlimit":…,"working_set":…,"spiraling":false,…}
//
// Modes (-mode):
//
//   - burst: allocate -burst bytes of heap, drop it (no GC runs after), then
//     grow anonymous mmap'd memory (not Go's) by -step every -pause up to
//     -mmap, touching every page, then idle until -for has passed. The
//     shape of a service that bursts, goes quiet, and whose non-Go memory
//     then grows: with only GOMEMLIMIT, the kernel OOM-kills it.
//   - leak: keep -live bytes of small pointerful objects, churn garbage,
//     and leak -rate bytes a second on top, for -for: a slow leak under
//     GOMEMLIMIT, which ends in a GC death spiral.
//   - gc: -workers goroutines allocate garbage as fast as they can over a
//     -live heap of pointerful objects, for -for: GC-heavy, for long pauses
//     under a small CPU quota.
//   - steady: keep -live bytes and churn garbage, for -for: a healthy
//     program, for the working set it reaches at its limit.
//   - file: read a -file of -filesize bytes over and over, for -for: page
//     cache that must not shrink the Go heap.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/snug-go/snug"
	"github.com/snug-go/snug/probe"
)

type report struct {
	UnixNano        int64            `json:"unix_nano"`
	Phase           string           `json:"phase"`
	GOMEMLIMIT      int64            `json:"gomemlimit"`
	GOMAXPROCS      int              `json:"gomaxprocs"`
	HeapLive        uint64           `json:"heap_live"`
	GoHeld          int64            `json:"go_held"`
	WorkingSet      int64            `json:"working_set"`
	MemoryLimit     int64            `json:"memory_limit"`
	OutsideGo       int64            `json:"outside_go"`
	OutsideDeducted int64            `json:"outside_deducted"`
	GCCPU           float64          `json:"gc_cpu"`
	LastPauseNS     int64            `json:"last_pause_ns"`
	LongPauses      uint64           `json:"long_pauses"`
	FreeCalls       uint64           `json:"free_calls"`
	Freed           int64            `json:"freed"`
	Spiraling       bool             `json:"spiraling"`
	Reason          string           `json:"reason"`
	Probe           string           `json:"probe"`
	Events          map[string]int64 `json:"events"`
	Samples         uint64           `json:"samples"`
	Mapped          int64            `json:"mapped"`
	Err             string           `json:"err,omitempty"`
}

var phase atomic.Value

func main() {
	mode := flag.String("mode", "steady", "burst, leak, gc, steady or file")
	total := flag.Duration("for", 10*time.Second, "how long to run")
	every := flag.Duration("every", 250*time.Millisecond, "report interval")
	burst := flag.Int64("burst", 200<<20, "burst: heap bytes to allocate and drop")
	mmapTotal := flag.Int64("mmap", 120<<20, "burst: bytes of anonymous mmap to grow to")
	step := flag.Int64("step", 16<<20, "burst: bytes per mmap step")
	pause := flag.Duration("pause", 2*time.Second, "burst: time between mmap steps")
	live := flag.Int64("live", 64<<20, "leak, gc, steady: live heap bytes")
	rate := flag.Int64("rate", 4<<20, "leak: bytes leaked per second")
	churn := flag.Int64("churn", 0, "leak, steady: bytes of garbage a second (0: as fast as it can)")
	workers := flag.Int("workers", 2, "gc: allocating goroutines")
	file := flag.String("file", "", "file: the file to read")
	fileSize := flag.Int64("filesize", 128<<20, "file: its size")
	flag.Parse()

	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	phase.Store("start")
	var mapped atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), *total)
	defer cancel()

	check := probe.GCDeathSpiral(snug.Tuner())
	out := json.NewEncoder(os.Stdout)
	samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	emit := func() {
		metrics.Read(samples)
		st := snug.Tuner().Status()
		w := st.Watchdog
		r := report{UnixNano: time.Now().UnixNano(), Phase: phase.Load().(string),
			GOMEMLIMIT: debug.SetMemoryLimit(-1), GOMAXPROCS: runtime.GOMAXPROCS(0),
			HeapLive: samples[0].Value.Uint64(), GoHeld: w.GoHeld, WorkingSet: w.WorkingSet,
			MemoryLimit: w.MemoryLimit, OutsideGo: w.OutsideGo, OutsideDeducted: w.OutsideDeducted,
			GCCPU: w.GCCPU, LastPauseNS: int64(w.LastPause), LongPauses: w.LongPauses,
			FreeCalls: w.FreeOSMemoryCalls, Freed: w.FreedBytes, Spiraling: w.Spiraling,
			Reason: w.SpiralReason, Events: map[string]int64{}, Samples: w.Samples, Mapped: mapped.Load()}
		if err := check.Func(context.Background()); err != nil {
			r.Probe = err.Error()
		}
		for k, v := range w.Events {
			r.Events[string(k)] = int64(v)
		}
		if w.Err != nil {
			r.Err = w.Err.Error()
		}
		out.Encode(r)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(*every)
		defer tick.Stop()
		for {
			emit()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()

	switch *mode {
	case "burst":
		runBurst(ctx, *burst, *mmapTotal, *step, *pause, &mapped)
	case "leak":
		runLeak(ctx, *live, *rate, *churn)
	case "gc":
		runGC(ctx, *live, *workers)
	case "steady":
		runLeak(ctx, *live, 0, *churn)
	case "file":
		runFile(ctx, *file, *fileSize, *live)
	default:
		slog.Error("unknown mode " + *mode)
		os.Exit(2)
	}
	<-ctx.Done()
	wg.Wait()
	phase.Store("done")
	emit()
}

var sink [][]byte

func runBurst(ctx context.Context, burst, total, step int64, pause time.Duration, mapped *atomic.Int64) {
	phase.Store("burst")
	for n := int64(0); n < burst; n += 1 << 20 {
		b := make([]byte, 1<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		sink = append(sink, b)
	}
	time.Sleep(200 * time.Millisecond)
	sink = nil // dropped; nothing allocates enough for a GC to run after this
	phase.Store("quiet")
	time.Sleep(pause)
	phase.Store("mmap")
	var regions [][]byte
	for mapped.Load() < total {
		m, err := syscall.Mmap(-1, 0, int(step), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			slog.Error("mmap", "error", err)
			os.Exit(3)
		}
		for i := 0; i < len(m); i += 4096 {
			m[i] = 1
		}
		regions = append(regions, m)
		mapped.Add(step)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
	}
	phase.Store("mapped")
	runtime.KeepAlive(regions)
}

// node is a small pointerful object: what maps, trees and request state
// are made of, and what makes marking cost.
type node struct {
	next  *node
	other *node
	pad   [6]uint64
}

const nodeSize = 64

func makeList(bytes int64) *node {
	var head *node
	for n := int64(0); n < bytes; n += nodeSize {
		head = &node{next: head, other: head}
	}
	return head
}

func runLeak(ctx context.Context, live, rate, churn int64) {
	phase.Store("live")
	keep := makeList(live)
	var leaked []*node
	if rate > 0 {
		phase.Store("leak")
	} else {
		phase.Store("steady")
	}
	start := time.Now()
	var leakedBytes, garbage int64
	for ctx.Err() == nil {
		// Garbage: short-lived lists, as requests make; at -churn bytes a
		// second, or as fast as it can.
		if churn > 0 {
			if want := int64(time.Since(start).Seconds() * float64(churn)); garbage >= want {
				time.Sleep(time.Millisecond)
				continue
			}
		}
		for i := 0; i < 16; i++ {
			_ = makeList(16 << 10)
		}
		garbage += 16 * 16 << 10
		if rate > 0 {
			want := int64(time.Since(start).Seconds() * float64(rate))
			for leakedBytes < want {
				leaked = append(leaked, makeList(64<<10))
				leakedBytes += 64 << 10
			}
		}
	}
	runtime.KeepAlive(keep)
	runtime.KeepAlive(leaked)
}

func runGC(ctx context.Context, live int64, workers int) {
	phase.Store("gc")
	keep := makeList(live)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				g := makeList(256 << 10)
				_ = g
			}
		}()
	}
	wg.Wait()
	runtime.KeepAlive(keep)
}

func runFile(ctx context.Context, path string, size, live int64) {
	phase.Store("write")
	f, err := os.Create(path)
	if err != nil {
		slog.Error("create", "error", err)
		os.Exit(3)
	}
	buf := make([]byte, 1<<20)
	for n := int64(0); n < size; n += int64(len(buf)) {
		f.Write(buf)
	}
	f.Close()
	keep := makeList(live)
	phase.Store("read")
	for ctx.Err() == nil {
		f, err := os.Open(path)
		if err != nil {
			break
		}
		for {
			if _, err := f.Read(buf); err != nil {
				break
			}
		}
		f.Close()
		for i := 0; i < 16; i++ {
			_ = makeList(16 << 10)
		}
	}
	runtime.KeepAlive(keep)
}

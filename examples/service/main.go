// Command service is a small HTTP service with all of snug in it: the blank
// import that fits GOMAXPROCS and GOMEMLIMIT to the container, /livez and
// /readyz for the kubelet, OpenTelemetry metrics (a Prometheus /metrics by
// default, OTLP when the standard OTEL_* variables say so), a demo endpoint
// that allocates so that there is garbage collection to watch, and a
// graceful drain on SIGTERM.
//
//	go run ./examples/service
//	curl localhost:8080/work?mib=64
//	curl localhost:8080/metrics
//	curl 'localhost:8080/readyz?verbose'
//
// It listens on -addr: :8080 by default, or :$PORT when PORT is set to a
// port number (another value is reported and ignored); -addr, when given,
// wins over PORT. At start it prints what it decided: GOMAXPROCS and
// GOMEMLIMIT with the cgroup files behind them, the exporters, and the
// resource. examples/k8s runs it in Kubernetes.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"time"

	"github.com/snug-go/snug"
	"github.com/snug-go/snug/cgroup"
	"github.com/snug-go/snug/health"
	"github.com/snug-go/snug/probe"
	"github.com/snug-go/snug/telemetry"
	"github.com/snug-go/snug/telemetry/export"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		os.Exit(1)
	}
}

// defaultAddr is :$PORT when PORT is a port number, else :8080.
func defaultAddr() string {
	if p := os.Getenv("PORT"); p != "" {
		if n, err := strconv.Atoi(p); err == nil && n > 0 && n < 65536 {
			return ":" + p
		}
		// The message names no address: an -addr flag, parsed later, may
		// override the default.
		fmt.Fprintf(os.Stderr, "service: PORT=%q is not a port number: ignored\n", p)
	}
	return ":8080"
}

func run(args []string) error {
	fs := flag.NewFlagSet("service", flag.ContinueOnError)
	addr := fs.String("addr", defaultAddr(), "address to listen on")
	drainDelay := fs.Duration("drain-delay", health.DefaultDrainDelay,
		"how long to keep serving after SIGTERM with readiness failing; shorten it by what a preStop sleep already waits")
	grace := fs.Duration("grace-period", health.DefaultGracePeriod,
		"terminationGracePeriodSeconds less the preStop hook's time")
	warmUp := fs.Duration("warm-up", time.Second, "simulated start-up work before the service reports ready")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			// -h asked for the usage, which fs has printed: not a
			// failure (flag.ExitOnError exits 0 here too).
			return nil
		}
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	serveGrace, flush := shutdownTimes(*grace)

	// The blank import of snug started the Tuner at init; say what it did.
	// Each Source names its knob first ("GOMAXPROCS 2: ...").
	tuner := snug.Tuner()
	if tuner != nil {
		st := tuner.Status()
		fmt.Println(st.MaxProcs.Source)
		fmt.Println(st.MemoryLimit.Source)
	}

	// The cgroup, opened once for the health checks and the metrics.
	var reader probe.CgroupReader // stays a nil interface without a cgroup
	cg, err := cgroup.Open()
	switch {
	case err == nil:
		defer cg.Close()
		reader = cg
		fmt.Printf("cgroup %v\n", cg.Mode())
	case errors.Is(err, cgroup.ErrNoCgroup), errors.Is(err, cgroup.ErrUnsupported):
		fmt.Printf("cgroup none: %v\n", err)
	default:
		log.Warn("cgroup unreadable: no memory-headroom check, no container metrics", "error", err)
	}

	// Health: the standard checks, and readiness held back until warm-up
	// ends. The Tuner's GC watchdog is the death-spiral detector: without
	// it, liveness has no check for a heap stuck at GOMEMLIMIT. (A nil
	// Tuner, when snug did not start, leaves that check out.)
	h := health.New(health.Config{WaitForReady: true})
	if err := h.Add(probe.Standard(reader, tuner)...); err != nil {
		return err
	}

	// Metrics: exporters from the environment, the Tuner's decisions and
	// the checks' results among them.
	topts := []telemetry.Option{telemetry.WithTuner(tuner), telemetry.WithHealth(h)}
	if cg != nil {
		topts = append(topts, telemetry.WithCgroup(cg))
	} else {
		topts = append(topts, telemetry.WithCgroup(nil))
	}
	metricsHandler := http.NotFoundHandler()
	p, err := export.Setup(context.Background(), export.WithServiceName("snug-example"), export.WithTelemetry(topts...))
	if err != nil {
		log.Warn("metrics off", "error", err)
	} else {
		fmt.Println(p)
		metricsHandler = p.Handler()
		defer func() {
			// Flush what OTLP has not sent yet, within a bound: the
			// kubelet's SIGKILL does not wait.
			ctx, cancel := context.WithTimeout(context.Background(), flush)
			defer cancel()
			if err := p.Shutdown(ctx); err != nil {
				log.Warn("metrics shutdown", "error", err)
			}
		}()
	}

	mux := http.NewServeMux()
	h.Install(mux)
	mux.Handle("GET /metrics", metricsHandler)
	mux.HandleFunc("GET /work", work)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "snug example service: /work?mib=N, /metrics, /livez, /readyz?verbose")
	})

	srv := &http.Server{
		Addr:              *addr,
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() {
		time.Sleep(*warmUp)
		h.MarkReady()
	}()
	fmt.Printf("listening on %s: /work /metrics /livez /readyz /healthz\n", *addr)
	err = health.ServeAndDrain(context.Background(), srv, h, &health.DrainOptions{
		DrainDelay:  *drainDelay,
		GracePeriod: serveGrace,
	})
	if err != nil {
		return err
	}
	fmt.Println("drained; bye")
	return nil
}

// metricsFlush bounds the flush of the metrics at exit: OTLP's last push
// must not wait for an unreachable collector until the kubelet's SIGKILL.
const metricsFlush = 3 * time.Second

// shutdownTimes splits the grace period (zero or less meaning
// health.DefaultGracePeriod) between ServeAndDrain and the metrics flush
// that follows it. Both count against the kubelet's SIGKILL, and
// ServeAndDrain keeps only one second for what comes after it: given the
// whole grace period, it could finish requests in flight until a second
// before SIGKILL, and the flush would then be killed half-way. The flush
// takes at most a quarter of a short grace period.
func shutdownTimes(grace time.Duration) (serve, flush time.Duration) {
	if grace <= 0 {
		grace = health.DefaultGracePeriod
	}
	flush = min(metricsFlush, grace/4)
	return grace - flush, flush
}

// maxWorkMiB bounds one /work request: the demo must not be a way to
// OOM-kill the service.
const maxWorkMiB = 256

// work allocates mib MiB (default 16) in 64 KiB pieces, keeping at most
// 4 MiB alive at a time, so that the rest is garbage for the GC to collect,
// and reports what the runtime did meanwhile.
func work(w http.ResponseWriter, r *http.Request) {
	mib := 16
	if v := r.URL.Query().Get("mib"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxWorkMiB {
			http.Error(w, fmt.Sprintf("mib must be a whole number from 1 to %d", maxWorkMiB), http.StatusBadRequest)
			return
		}
		mib = n
	}
	samples := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(samples)
	cycles0, allocs0 := samples[0].Value.Uint64(), samples[1].Value.Uint64()
	start := time.Now()

	const piece = 64 << 10
	live := make([][]byte, 4<<20/piece)
	for i := 0; i < mib<<20/piece; i++ {
		b := make([]byte, piece)
		b[i%piece] = byte(i)
		live[i%len(live)] = b
	}
	runtime.KeepAlive(live)

	metrics.Read(samples)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"mib":       mib,
		"allocated": samples[1].Value.Uint64() - allocs0,
		"gc_cycles": samples[0].Value.Uint64() - cycles0,
		"took":      time.Since(start).String(),
	})
}

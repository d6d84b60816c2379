package health

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snug-go/snug/probe"
)

// The load test: probe requests at a fixed rate on loopback, through a real
// http.Server and real HTTP clients, while one readiness check hangs
// (ignoring its context) for 2 s in the middle. It checks that every
// response comes within the deadline plus a margin, that liveness is not
// affected, that the goroutine count stays bounded (requests wait for the
// one hung run; they start no runs of their own), and that nothing is left
// running afterwards.

type loadConfig struct {
	rate      int           // requests per second
	duration  time.Duration // of the whole run
	hangAt    time.Duration // when the check starts hanging
	hangFor   time.Duration
	timeout   time.Duration // the handler's deadline
	clients   int           // connections, each paced open-loop
	pathCycle []string
}

func defaultLoad() loadConfig {
	c := loadConfig{
		rate:     2000,
		duration: 10 * time.Second,
		hangAt:   3 * time.Second,
		hangFor:  2 * time.Second,
		timeout:  DefaultTimeout,
		clients:  1200,
		// What kubelets send: mostly /readyz and /livez.
		pathCycle: []string{"/readyz", "/livez", "/readyz", "/livez", "/healthz", "/readyz?verbose", "/readyz/dep", "/livez/goroutines"},
	}
	if v, err := strconv.Atoi(os.Getenv("SNUG_LOAD_RATE")); err == nil && v > 0 {
		c.rate = v
	}
	return c
}

type sample struct {
	at      time.Duration // since the start of the run, when sent
	latency time.Duration
	status  int
	path    string
	err     error
}

type loadResult struct {
	cfg                 loadConfig
	samples             []sample
	baseGoroutines      int
	maxGoroutines       int
	maxRuns             int64 // check-running goroutines, at most
	maxServerConcurrent int64 // requests inside the handler, at most
	late                int   // requests sent more than 100 ms late
	wall                time.Duration
	othersCPU           float64         // share of the machine other processes used, -1 if unknown
	server              []time.Duration // time in the handler, sorted
}

func (r *loadResult) latencies(filter func(sample) bool) []time.Duration {
	var ls []time.Duration
	for _, s := range r.samples {
		if s.err == nil && (filter == nil || filter(s)) {
			ls = append(ls, s.latency)
		}
	}
	slices.Sort(ls)
	return ls
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

func runLoad(tb testing.TB, cfg loadConfig) *loadResult {
	tb.Helper()
	runtime.GC()
	res := &loadResult{cfg: cfg, baseGoroutines: runtime.NumGoroutine()}

	var start time.Time // written before startedAt is closed
	startedAt := make(chan struct{})
	hang := func(ctx context.Context) error {
		<-startedAt
		since := time.Since(start)
		if since >= cfg.hangAt && since < cfg.hangAt+cfg.hangFor {
			time.Sleep(cfg.hangAt + cfg.hangFor - since) // ignores ctx: the worst case
		}
		return nil
	}
	h := New(Config{Timeout: cfg.timeout})
	if err := h.Add(
		probe.Goroutines(1_000_000),
		probe.Func("fast", probe.Both, func(context.Context) error { return nil }),
		probe.Func("dep", probe.Readiness, hang),
	); err != nil {
		tb.Fatal(err)
	}

	var inHandler, maxInHandler atomic.Int64
	mux := http.NewServeMux()
	h.Install(mux)
	total := int(float64(cfg.rate) * cfg.duration.Seconds())
	serverLatencies := make([]time.Duration, total+100)
	var served atomic.Int64
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		begin := time.Now()
		n := inHandler.Add(1)
		for m := maxInHandler.Load(); n > m && !maxInHandler.CompareAndSwap(m, n); m = maxInHandler.Load() {
		}
		mux.ServeHTTP(w, r)
		inHandler.Add(-1)
		if i := served.Add(1) - 1; int(i) < len(serverLatencies) {
			serverLatencies[i] = time.Since(begin)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: counted}
	go srv.Serve(ln)
	base := "http://" + ln.Addr().String()

	transport := &http.Transport{MaxIdleConnsPerHost: cfg.clients, MaxConnsPerHost: cfg.clients, IdleConnTimeout: time.Minute}
	client := &http.Client{Transport: transport, Timeout: time.Second} // the kubelet's timeoutSeconds

	// Sample the goroutine count and the runs in flight every 5 ms.
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if n := runtime.NumGoroutine(); n > res.maxGoroutines {
				res.maxGoroutines = n
			}
			if n := activeRuns.Load(); n > res.maxRuns {
				res.maxRuns = n
			}
			select {
			case <-stopSampling:
				return
			case <-t.C:
			}
		}
	}()

	// Each client sends one request every period, open-loop: at fixed
	// times, staggered across clients, late only if its previous response
	// was later than a period.
	samples := make([]sample, total)
	var late atomic.Int64
	var wg sync.WaitGroup
	meter := startCPUMeter()
	start = time.Now().Add(50 * time.Millisecond)
	close(startedAt)
	for c := range cfg.clients {
		wg.Go(func() {
			for i := c; i < total; i += cfg.clients {
				slot := time.Duration(i) * time.Second / time.Duration(cfg.rate)
				if d := time.Until(start.Add(slot)); d > 0 {
					time.Sleep(d)
				} else if -d > 100*time.Millisecond {
					late.Add(1)
				}
				path := cfg.pathCycle[i%len(cfg.pathCycle)]
				req, _ := http.NewRequest(http.MethodGet, base+path, nil)
				req.Header.Set("User-Agent", "kube-probe/1.31")
				req.Header.Set("Accept", "*/*")
				sent := time.Now()
				resp, err := client.Do(req)
				s := sample{at: sent.Sub(start), path: path, err: err}
				if err == nil {
					_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, kubeletMaxBody))
					resp.Body.Close()
					s.status, s.err = resp.StatusCode, err
				}
				s.latency = time.Since(sent)
				samples[i] = s
			}
		})
	}
	wg.Wait()
	res.wall = time.Since(start)
	res.othersCPU = meter.othersShare()
	res.samples = samples
	res.late = int(late.Load())
	res.maxServerConcurrent = maxInHandler.Load()
	res.server = serverLatencies[:min(int(served.Load()), len(serverLatencies))]
	slices.Sort(res.server)

	close(stopSampling)
	<-sampled
	transport.CloseIdleConnections()
	srv.Close()
	return res
}

// check asserts the load test's claims; slack is the margin over the
// deadline allowed for each response. timing false skips the claims about
// time (latency, client timeouts), for a machine too busy to judge them.
func (r *loadResult) check(tb testing.TB, slack time.Duration, timing bool) {
	tb.Helper()
	cfg := r.cfg
	bound := cfg.timeout + slack
	var errs, over, livezFailed, readyzDuringHang, readyzFailedDuringHang int
	var worst sample
	for _, s := range r.samples {
		if s.err != nil {
			errs++
			if errs <= 5 && timing {
				tb.Errorf("request %s at %v: %v", s.path, s.at, s.err)
			}
			continue
		}
		if s.latency > bound {
			over++
			if s.latency > worst.latency {
				worst = s
			}
		}
		if s.path == "/livez" && s.status != 200 {
			livezFailed++
		}
		// Requests sent well inside the hang window must see it.
		if s.path == "/readyz" && s.at > cfg.hangAt+100*time.Millisecond && s.at < cfg.hangAt+cfg.hangFor-100*time.Millisecond {
			readyzDuringHang++
			if s.status == 503 {
				readyzFailedDuringHang++
			}
		}
	}
	if errs > 0 && timing {
		tb.Errorf("%d of %d requests failed", errs, len(r.samples))
	}
	if over > 0 && timing {
		tb.Errorf("%d of %d responses took longer than the deadline %v + %v; worst %v for %s sent at %v",
			over, len(r.samples), cfg.timeout, slack, worst.latency, worst.path, worst.at)
	}
	if livezFailed > 0 {
		tb.Errorf("%d /livez probes failed: a hanging readiness check must not affect liveness", livezFailed)
	}
	if readyzDuringHang == 0 || readyzFailedDuringHang < readyzDuringHang && timing {
		tb.Errorf("during the hang %d of %d /readyz probes failed, want all", readyzFailedDuringHang, readyzDuringHang)
	}
	// One run per check at most, whatever the number of waiting requests.
	if r.maxRuns > 3 {
		tb.Errorf("%d check runs at once, want at most 3 (one per check)", r.maxRuns)
	}
	// Goroutines: per connection, the client's worker, its transport's
	// read and write loops, the server's connection goroutine and its
	// background reader; plus the runs. A handler that started a goroutine
	// per check per request would add thousands during the hang.
	if limit := r.baseGoroutines + 5*cfg.clients + 100; r.maxGoroutines > limit {
		tb.Errorf("goroutines peaked at %d, over %d (base %d + 5 per connection)", r.maxGoroutines, limit, r.baseGoroutines)
	}
}

func (r *loadResult) summary() string {
	all := r.latencies(nil)
	hang := r.latencies(func(s sample) bool {
		return s.at >= r.cfg.hangAt && s.at < r.cfg.hangAt+r.cfg.hangFor && (s.path == "/readyz" || s.path == "/healthz")
	})
	return fmt.Sprintf("%d requests in %v (%.0f/s), %d clients; latency p50 %v p99 %v max %v (in the handler: p99 %v max %v); during the hang (readyz/healthz) p50 %v max %v; goroutines base %d max %d; runs max %d; handler concurrency max %d; sent >100ms late %d; other processes' CPU %.0f%%",
		len(r.samples), r.wall.Round(time.Millisecond), float64(len(r.samples))/r.wall.Seconds(), r.cfg.clients,
		quantile(all, 0.5), quantile(all, 0.99), quantile(all, 1), quantile(r.server, 0.99), quantile(r.server, 1),
		quantile(hang, 0.5), quantile(hang, 1),
		r.baseGoroutines, r.maxGoroutines, r.maxRuns, r.maxServerConcurrent, r.late, 100*r.othersCPU)
}

// TestLoadHangingCheck: 2,000 probes/s for 10 s while one check hangs for
// 2 s. Every response must come within the deadline + 50 ms (the issue's
// bound), liveness must stay green, readiness must fail during the hang,
// goroutines must stay bounded and none may be left after.
//
// Generous where it must be, and no further. The 50 ms margin holds on a
// machine that this test has to itself. The test measures the CPU that
// other processes use meanwhile (go test runs packages in parallel; shared
// machines run other people's benchmarks): over a tenth of the machine,
// the margin becomes 250 ms, which still fails a handler that waits for
// the hung check (2 s) or serializes requests; over 40% it becomes 750 ms
// (a CI run with qemu guests of another package beside it used 62% and
// saw 2 of 20,000 responses at 760-780 ms), which fails those handlers
// still; over 70%, latency cannot be judged at all (responses were seen
// to take 1.8 s then) and only the claims that do not depend on time are
// checked (the log says so). Under the race detector, which slows
// everything several times, the rate is a quarter and the margin 250 ms.
// SNUG_LOAD_SLACK sets the margin and forces the timing checks. Skipped
// with -short.
func TestLoadHangingCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("10-second load test: skipped with -short")
	}
	cfg := defaultLoad()
	slack := 50 * time.Millisecond
	if raceEnabled {
		cfg.rate /= 4
		cfg.clients /= 4
		slack = 250 * time.Millisecond
	}
	base := runtime.NumGoroutine()
	r := runLoad(t, cfg)
	t.Log(r.summary())
	timing := true
	switch {
	case r.othersCPU > 0.7:
		t.Logf("other processes used %.0f%% of the machine during the run: latency not judged", 100*r.othersCPU)
		timing = false
	case r.othersCPU > 0.4 && slack < 750*time.Millisecond:
		t.Logf("other processes used %.0f%% of the machine during the run: margin widened to 750ms", 100*r.othersCPU)
		slack = 750 * time.Millisecond
	case r.othersCPU > 0.1 && slack < 250*time.Millisecond:
		t.Logf("other processes used %.0f%% of the machine during the run: margin widened to 250ms", 100*r.othersCPU)
		slack = 250 * time.Millisecond
	}
	if d, err := time.ParseDuration(os.Getenv("SNUG_LOAD_SLACK")); err == nil {
		slack, timing = d, true
	}
	r.check(t, slack, timing)
	// Nothing left behind: the hung run returned when the hang ended.
	waitGoroutines(t, base)
	if n := activeRuns.Load(); n != 0 {
		t.Errorf("%d check runs still active", n)
	}
}

// BenchmarkLoadHangingCheck runs the load test once per iteration (use
// -benchtime 1x) and reports its figures: latency percentiles over all
// responses and over the /readyz and /healthz responses during the hang,
// the peak goroutine count over the baseline, and the achieved rate.
func BenchmarkLoadHangingCheck(b *testing.B) {
	cfg := defaultLoad()
	var r *loadResult
	for b.Loop() {
		r = runLoad(b, cfg)
	}
	b.Log(r.summary())
	all := r.latencies(nil)
	hang := r.latencies(func(s sample) bool {
		return s.at >= cfg.hangAt && s.at < cfg.hangAt+cfg.hangFor && (s.path == "/readyz" || s.path == "/healthz")
	})
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(quantile(all, 0.5)), "p50-ms")
	b.ReportMetric(ms(quantile(all, 0.99)), "p99-ms")
	b.ReportMetric(ms(quantile(all, 1)), "max-ms")
	b.ReportMetric(ms(quantile(r.server, 0.99)), "handler-p99-ms")
	b.ReportMetric(ms(quantile(r.server, 1)), "handler-max-ms")
	b.ReportMetric(ms(quantile(hang, 0.5)), "hang-p50-ms")
	b.ReportMetric(ms(quantile(hang, 1)), "hang-max-ms")
	b.ReportMetric(float64(r.maxGoroutines), "max-goroutines")
	b.ReportMetric(float64(r.maxGoroutines-r.baseGoroutines), "max-goroutines-over-base")
	b.ReportMetric(float64(r.maxRuns), "max-check-runs")
	b.ReportMetric(float64(len(r.samples))/r.wall.Seconds(), "req/s")
	b.ReportMetric(0, "ns/op") // one op is the whole 10-second run: its ns/op means nothing
	over := 0
	for _, l := range all {
		if l > cfg.timeout+50*time.Millisecond {
			over++
		}
	}
	b.ReportMetric(float64(over), "over-deadline+50ms")
	livezFailed, clientErrors := 0, 0
	for _, s := range r.samples {
		switch {
		case s.err != nil:
			clientErrors++ // the 1 s kubelet timeout, on a starved machine
		case s.path == "/livez" && s.status != 200:
			livezFailed++
		}
	}
	b.ReportMetric(float64(livezFailed), "livez-not-200")
	b.ReportMetric(float64(clientErrors), "client-errors")
	b.ReportMetric(100*r.othersCPU, "others-cpu-%")
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/snug-go/snug/cgroup"
	"github.com/snug-go/snug/health"
	"github.com/snug-go/snug/internal/promtest"
)

// The test runs the service for real: this test binary, re-executed with
// runEnv set, is the service process; the test talks to it over loopback,
// has a real Prometheus server scrape it when one is installed, and stops
// it with SIGTERM as the kubelet would.

const runEnv = "SNUG_EXAMPLE_SERVICE_ARGS"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(runEnv); ok {
		if err := run(strings.Fields(args)); err != nil {
			fmt.Fprintln(os.Stderr, "service:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// syncBuffer collects a child's output while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// client bounds every request: a service that accepts and never answers
// must fail the test, not hang it.
var client = &http.Client{Timeout: 5 * time.Second}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// inCgroup reports whether the service will have container metrics and
// the memory-headroom check: not on macOS, nor without cgroups.
func inCgroup() bool {
	g, err := cgroup.Open()
	if err != nil {
		return false
	}
	g.Close()
	return true
}

func TestService(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the test stops the service with SIGTERM, which Windows cannot send")
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	base := "http://" + addr
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	env := []string{runEnv + "=-addr " + addr + " -warm-up 500ms -drain-delay 1s -grace-period 5s"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OTEL_") && !strings.HasPrefix(kv, "K8S_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "OTEL_SERVICE_NAME=snug-example-test", "K8S_NAMESPACE_NAME=test")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// exited is closed when the process has been waited for; waitErr is
	// its result.
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	defer func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("service output:\n%s", out.String())
		}
	}()

	// Alive at once; ready only after the warm-up.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if code, _ := get(t, base+"/livez"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/livez not 200 within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	sawUnready := false
	for {
		code, _ := get(t, base+"/readyz")
		if code == 503 {
			sawUnready = true
		}
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz not 200 within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !sawUnready {
		t.Error("/readyz was never 503 during the 500 ms warm-up")
	}
	// Liveness has the standard checks, the GC watchdog's among them: a
	// service stuck collecting garbage at its memory limit must be
	// restarted.
	if code, body := get(t, base+"/livez?verbose"); code != 200 || !strings.Contains(body, "[+]gc-death-spiral ok") || !strings.Contains(body, "[+]goroutines ok") {
		t.Errorf("/livez?verbose: %d\n%s", code, body)
	}

	// The demo endpoint makes garbage, and refuses nonsense.
	code, body := get(t, base+"/work?mib=64")
	var w struct {
		MiB       int    `json:"mib"`
		Allocated uint64 `json:"allocated"`
		GCCycles  uint64 `json:"gc_cycles"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &w) != nil || w.Allocated < 64<<20 || w.GCCycles < 1 {
		t.Errorf("/work?mib=64: %d %s", code, body)
	}
	for _, bad := range []string{"0", "-1", "x", "257", "99999999999999999999"} {
		if code, _ := get(t, base+"/work?mib="+url.QueryEscape(bad)); code != 400 {
			t.Errorf("/work?mib=%s: %d, want 400", bad, code)
		}
	}

	// /metrics has every kind of series.
	code, body = get(t, base+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	wants := []string{
		"go_goroutine_count{", "go_memory_gc_pause_duration_seconds_bucket{",
		`snug_health_status{`, `snug_health_check="goroutines"`, `snug_tune_gomaxprocs{`, `snug_event_source="tune"`,
		`service_name="snug-example-test"`, `k8s_namespace_name="test"`,
	}
	if inCgroup() {
		wants = append(wants, "container_memory_working_set_bytes{")
	}
	for _, want := range wants {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	// The start-up lines say what was decided, as the README shows them:
	// each Decision's Source, which names its knob first.
	for _, want := range []string{"GOMAXPROCS ", "GOMEMLIMIT ", "telemetry: prometheus", "listening on " + addr} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("start-up output has no %q", want)
		}
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == f[1] {
			t.Errorf("start-up line names %s twice: %q", f[0], line)
		}
	}

	scrapeWithPrometheus(t, addr)

	// SIGTERM: readiness fails at once, liveness stays, requests are still
	// served during the drain delay, then the process exits cleanly.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sawDraining := false
	for i := 0; i < 40; i++ {
		rc, _ := get(t, base+"/readyz")
		lc, _ := get(t, base+"/livez")
		if rc == 503 && lc == 200 {
			sawDraining = true
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !sawDraining {
		t.Error("never saw /readyz 503 with /livez 200 after SIGTERM")
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("service exited with %v", waitErr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("service still running 10 s after SIGTERM with a 1 s drain and a 5 s grace period")
	}
	if !strings.Contains(out.String(), "drained; bye") {
		t.Error("no clean-exit line")
	}
}

// scrapeWithPrometheus has a real Prometheus server scrape the service and
// checks a Go runtime series, a container series and a health-check series
// through its query API. It skips without a prometheus binary, unless
// SNUG_REQUIRE_PROMETHEUS=1.
func scrapeWithPrometheus(t *testing.T, target string) {
	t.Helper()
	bin := promtest.Binary(t)
	if bin == "" {
		t.Log("no prometheus binary: the real-scrape part is skipped")
		return
	}
	server := promtest.Start(t, bin, target, "service")
	server.WaitUp(t)
	query := server.Query
	type series struct {
		q      string
		lo, hi float64
	}
	checks := []series{
		{`go_goroutine_count{job="service"}`, 3, 10000},
		{`go_memory_gc_pause_duration_seconds_count{job="service"}`, 2, 1e9},
		{`snug_health_status{job="service",snug_health_check="goroutines",snug_health_kind="liveness"}`, 1, 1},
	}
	if inCgroup() {
		checks = append(checks,
			series{`container_memory_working_set_bytes{job="service"}`, 1 << 20, 1 << 50},
			series{`snug_health_status{job="service",snug_health_check="memory-headroom"}`, 1, 1})
	}
	for _, c := range checks {
		v, ok := query(c.q)
		if !ok {
			t.Errorf("%s: no result", c.q)
		} else if v < c.lo || v > c.hi {
			t.Errorf("%s = %v, want within [%v, %v]", c.q, v, c.lo, c.hi)
		}
	}
}

// TestShutdownTimes: the drain and the metrics flush after it fit in the
// grace period together, so that the flush is not cut by SIGKILL.
func TestShutdownTimes(t *testing.T) {
	for _, c := range []struct{ grace, want time.Duration }{
		{0, health.DefaultGracePeriod},
		{-time.Second, health.DefaultGracePeriod},
		{25 * time.Second, 25 * time.Second},
		{2 * time.Second, 2 * time.Second},
		{10 * time.Minute, 10 * time.Minute},
	} {
		serve, flush := shutdownTimes(c.grace)
		if serve <= 0 || flush <= 0 || flush > metricsFlush || serve+flush != c.want {
			t.Errorf("shutdownTimes(%v) = %v, %v: want both positive, the flush at most %v, and %v in all",
				c.grace, serve, flush, metricsFlush, c.want)
		}
	}
}

// TestHelp: -h prints the usage and is not an error, as with the flag
// package's ExitOnError.
func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "-help"} {
		if err := run([]string{arg}); err != nil {
			t.Errorf("run(%s) = %v, want nil", arg, err)
		}
	}
}

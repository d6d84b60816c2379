package telemetry_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/snug-go/snug/health"
	"github.com/snug-go/snug/probe"
	"github.com/snug-go/snug/telemetry"
	"github.com/snug-go/snug/tune"
)

// TestWithTuner reads a real Tuner's decisions and counts.
func TestWithTuner(t *testing.T) {
	tu, err := tune.Start(context.Background(), tune.Quiet(), tune.WithInterval(20*time.Millisecond))
	if err != nil {
		t.Skipf("tune.Start: %v", err)
	}
	defer tu.Stop()
	reader := setup(t, telemetry.WithCgroup(nil), telemetry.WithTuner(tu), telemetry.WithTuner(nil))
	// Let the Tuner re-read the limits a few times.
	for deadline := time.Now().Add(5 * time.Second); tu.Status().Running && tu.Status().Evaluations < 2 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	st := tu.Status()
	s := collect(t, reader)

	key := "snug.tune.gomaxprocs{snug.tune.owner=" + string(st.MaxProcs.Owner) + "}"
	if v := s.must(t, key).value; v != float64(runtime.GOMAXPROCS(0)) || v != float64(st.MaxProcs.Value) {
		t.Errorf("%s = %v; GOMAXPROCS %d, Status %d", key, v, runtime.GOMAXPROCS(0), st.MaxProcs.Value)
	}
	if v := s.must(t, "snug.events{snug.event.source=tune,snug.event=evaluations}").value; v < float64(st.Evaluations) || (st.Running && v < 2) {
		t.Errorf("tune evaluations %v, Status said %d before the collection", v, st.Evaluations)
	}
	s.must(t, "snug.events{snug.event.source=tune,snug.event=changes}")
	s.must(t, "snug.events{snug.event.source=tune,snug.event=stop_the_world}")
}

// TestWithHealth reads a real health.Handler's latest results after the
// kubelet's probes ran its checks.
func TestWithHealth(t *testing.T) {
	h := health.New(health.Config{})
	if err := h.Add(
		probe.Func("db", probe.Readiness, func(context.Context) error { time.Sleep(2 * time.Millisecond); return nil }),
		probe.Func("cache", probe.Liveness, func(context.Context) error { return errors.New("down") }),
	); err != nil {
		t.Fatal(err)
	}
	reader := setup(t, telemetry.WithCgroup(nil), telemetry.WithHealth(h), telemetry.WithHealth(nil))

	// No check has run: nothing to report yet.
	for k := range collect(t, reader) {
		if len(k) > 11 && k[:11] == "snug.health" {
			t.Errorf("%s before any probe", k)
		}
	}
	for _, path := range []string{"/readyz", "/livez"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	s := collect(t, reader)
	if v := s.must(t, "snug.health.status{snug.health.check=db,snug.health.kind=readiness}").value; v != 1 {
		t.Errorf("db status %v", v)
	}
	if v := s.must(t, "snug.health.duration{snug.health.check=db,snug.health.kind=readiness}").value; v < 0.002 || v > 1 {
		t.Errorf("db duration %v s for a 2 ms check", v)
	}
	if v := s.must(t, "snug.health.status{snug.health.check=cache,snug.health.kind=liveness}").value; v != 0 {
		t.Errorf("cache status %v", v)
	}
}

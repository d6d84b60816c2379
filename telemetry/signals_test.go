package telemetry_test

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/snug-go/snug/telemetry"
)

// TestSignals checks the tuner, event and health metrics, and that each
// collection calls the functions afresh.
func TestSignals(t *testing.T) {
	var calls atomic.Int64
	var passing atomic.Bool
	passing.Store(true)
	reader := setup(t, telemetry.WithCgroup(nil),
		telemetry.WithDecisions(func(dst []telemetry.Decision) []telemetry.Decision {
			calls.Add(1)
			return append(dst,
				telemetry.Decision{Setting: telemetry.GOMAXPROCS, Value: 1, Owner: "snug"},
				telemetry.Decision{Setting: telemetry.GOMEMLIMIT, Value: 230 << 20, Owner: "env"},
				telemetry.Decision{Setting: telemetry.GOGC, Value: 150},
				telemetry.Decision{Setting: "GODEBUG", Value: 7, Owner: "snug"}, // unknown: left out
			)
		}),
		// A second function adds to the first; no limit is left out.
		telemetry.WithDecisions(func(dst []telemetry.Decision) []telemetry.Decision {
			return append(dst, telemetry.Decision{Setting: telemetry.GOMEMLIMIT, Value: math.MaxInt64, Owner: "nolimit"})
		}),
		telemetry.WithEvents(func(dst []telemetry.Event) []telemetry.Event {
			// More names than the attribute cache holds: all reported.
			for i := 0; i < 300; i++ {
				dst = append(dst, telemetry.Event{Source: "watchdog", Name: fmt.Sprint("e", i), Count: uint64(i)})
			}
			return dst
		}),
		telemetry.WithChecks(func(dst []telemetry.CheckResult) []telemetry.CheckResult {
			return append(dst, telemetry.CheckResult{Name: "db", Kind: "readiness", Passing: passing.Load(), Duration: 1500 * time.Microsecond})
		}),
	)

	s := collect(t, reader)
	want := map[string]float64{
		"snug.tune.gomaxprocs{snug.tune.owner=snug}": 1,
		"snug.tune.gomemlimit{snug.tune.owner=env}":  230 << 20,
		"snug.tune.gogc": 150,
		"snug.events{snug.event.source=watchdog,snug.event=e0}":                 0,
		"snug.events{snug.event.source=watchdog,snug.event=e299}":               299,
		"snug.health.status{snug.health.check=db,snug.health.kind=readiness}":   1,
		"snug.health.duration{snug.health.check=db,snug.health.kind=readiness}": 0.0015,
	}
	for k, v := range want {
		if got := s.must(t, k).value; got != v {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	for k := range s {
		if strings.HasPrefix(k, "snug.tune.") && !strings.Contains("snug.tune.gomaxprocs{snug.tune.owner=snug} snug.tune.gomemlimit{snug.tune.owner=env} snug.tune.gogc", k) {
			t.Errorf("unexpected %s", k)
		}
	}
	n := 0
	for k := range s {
		if len(k) > 11 && k[:11] == "snug.events" {
			n++
		}
	}
	if n != 300 {
		t.Errorf("%d event series, want 300", n)
	}

	passing.Store(false)
	s = collect(t, reader)
	if got := s.must(t, "snug.health.status{snug.health.check=db,snug.health.kind=readiness}").value; got != 0 {
		t.Errorf("status %v after the check started failing", got)
	}
	for k := range s {
		if strings.Contains(k, "nolimit") {
			t.Errorf("%s reported for no limit", k)
		}
	}
	if calls.Load() != 2 {
		t.Errorf("decisions called %d times in 2 collections", calls.Load())
	}
}

// TestUnregister: Register starts no goroutine, and after Unregister the
// callbacks no longer report.
func TestUnregister(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	before := runtime.NumGoroutine()
	reg, err := telemetry.Register(telemetry.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	collect(t, reader).must(t, "go.goroutine.count")
	// Fewer is fine: a previous test's goroutine may have ended meanwhile.
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Register and a collection, %d before", n, before)
	}
	if err := reg.Unregister(); err != nil {
		t.Fatal(err)
	}
	if err := reg.Unregister(); err != nil {
		t.Errorf("second Unregister: %v", err)
	}
	if s := collect(t, reader); len(s) != 0 {
		t.Errorf("%d points after Unregister", len(s))
	}
}

package prom_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/snug-go/snug/telemetry/prom"
)

func TestHistogramsOptional(t *testing.T) {
	for _, tc := range []struct {
		opts []prom.Option
		want bool
	}{{nil, true}, {[]prom.Option{prom.WithoutRuntimeHistograms()}, false}} {
		exp, err := prom.New(tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
		rec := httptest.NewRecorder()
		exp.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
		if got := strings.Contains(rec.Body.String(), "go_schedule_duration_seconds_bucket"); got != tc.want {
			t.Errorf("histograms served: %v, want %v", got, tc.want)
		}
		mp.Shutdown(t.Context())
	}
}

// TestTwoExportersDoNotCollide: each Exporter has its own registry, so two
// in one process (two MeterProviders) do not fail to register.
func TestTwoExportersDoNotCollide(t *testing.T) {
	for i := 0; i < 2; i++ {
		exp, err := prom.New()
		if err != nil {
			t.Fatalf("exporter %d: %v", i, err)
		}
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
		defer mp.Shutdown(t.Context())
		rec := httptest.NewRecorder()
		exp.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Code != 200 {
			t.Errorf("exporter %d: status %d", i, rec.Code)
		}
	}
}

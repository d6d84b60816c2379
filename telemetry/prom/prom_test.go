package prom_test

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
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

// TestScrapeErrorsReachErrorHandler: a series the exporter cannot serve (a
// label value that is not UTF-8, as a request path can be) is left out of
// the scrape, and the reason goes to the OpenTelemetry error handler rather
// than nowhere.
func TestScrapeErrorsReachErrorHandler(t *testing.T) {
	var mu sync.Mutex
	var errs []string
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		mu.Lock()
		errs = append(errs, err.Error())
		mu.Unlock()
	}))
	t.Cleanup(func() {
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { t.Logf("otel: %v", err) }))
	})

	exp, err := prom.New(prom.WithoutRuntimeHistograms())
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	defer mp.Shutdown(t.Context())
	c, err := mp.Meter("test").Int64Counter("app.requests")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(t.Context(), 1, metric.WithAttributes(attribute.String("path", "/ok")))
	c.Add(t.Context(), 1, metric.WithAttributes(attribute.String("path", "/bad\xff")))

	rec := httptest.NewRecorder()
	exp.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `path="/ok"`) {
		t.Fatalf("status %d, body without the good series:\n%s", rec.Code, rec.Body.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(strings.Join(errs, "\n"), "UTF-8") {
		t.Errorf("the dropped series was not reported to the error handler; it got %q", errs)
	}
}

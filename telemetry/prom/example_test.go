package prom_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/snug-go/snug/telemetry"
	"github.com/snug-go/snug/telemetry/prom"
)

// Serve snug's metrics at /metrics on the service's own mux.
func ExampleNew() {
	exp, err := prom.New()
	if err != nil {
		log.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	if _, err := telemetry.Register(telemetry.WithMeterProvider(mp)); err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", exp)

	// What a scraper gets:
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "# TYPE go_memory_used_bytes") || strings.HasPrefix(line, "# TYPE go_memory_gc_pause_duration_seconds") {
			fmt.Println(line)
		}
	}
	// Output:
	// # TYPE go_memory_gc_pause_duration_seconds histogram
	// # TYPE go_memory_used_bytes gauge
}

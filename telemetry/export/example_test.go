package export_test

import (
	"context"
	"log"
	"net/http"
	"time"

	"github.com/snug-go/snug/telemetry"
	"github.com/snug-go/snug/telemetry/export"
)

// Set up metrics from the environment, serve /metrics, and flush on the
// way out.
func ExampleSetup() {
	ctx := context.Background()
	p, err := export.Setup(ctx,
		export.WithServiceName("checkout"), // unless OTEL_SERVICE_NAME says otherwise
		export.WithTelemetry(telemetry.WithChecks(func(dst []telemetry.CheckResult) []telemetry.CheckResult {
			return append(dst, telemetry.CheckResult{Name: "db", Kind: "readiness", Passing: true})
		})),
	)
	if err != nil {
		log.Printf("metrics off: %v", err)
	} else {
		log.Print(p) // telemetry: prometheus on the handler (OTEL_METRICS_EXPORTER unset); service.name=checkout ...
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			p.Shutdown(ctx)
		}()
	}

	mux := http.NewServeMux()
	if p != nil {
		mux.Handle("/metrics", p.Handler())
	}
	srv := &http.Server{Addr: ":8080", Handler: mux}
	_ = srv // srv.ListenAndServe() in a real service
}

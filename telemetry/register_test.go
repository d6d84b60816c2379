package telemetry_test

import (
	"context"
	"runtime"
	"strings"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/snug-go/snug/telemetry"
)

// A second Register on the same MeterProvider would report every value
// twice (the SDK adds up what two callbacks observe for one series): it is
// refused until the first is unregistered, and the values stay right.
func TestRegisterTwiceRefused(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	first, err := telemetry.Register(telemetry.WithMeterProvider(mp), telemetry.WithCgroup(nil))
	if err != nil {
		t.Fatal(err)
	}
	second, err := telemetry.Register(telemetry.WithMeterProvider(mp), telemetry.WithCgroup(nil))
	if err == nil || !strings.Contains(err.Error(), "already registered") {
		second.Unregister()
		t.Fatalf("second Register on one provider: %v, want refused", err)
	}
	if v := collect(t, reader).must(t, "go.processor.limit").value; v != float64(runtime.GOMAXPROCS(0)) {
		t.Errorf("go.processor.limit = %v with GOMAXPROCS %d", v, runtime.GOMAXPROCS(0))
	}

	// Another provider is another matter, and after Unregister the same
	// one takes a new Register.
	other := sdkmetric.NewMeterProvider()
	defer other.Shutdown(context.Background())
	r, err := telemetry.Register(telemetry.WithMeterProvider(other), telemetry.WithCgroup(nil))
	if err != nil {
		t.Fatalf("Register on another provider: %v", err)
	}
	r.Unregister()
	if err := first.Unregister(); err != nil {
		t.Fatal(err)
	}
	again, err := telemetry.Register(telemetry.WithMeterProvider(mp), telemetry.WithCgroup(nil))
	if err != nil {
		t.Fatalf("Register after Unregister: %v", err)
	}
	again.Unregister()
}

// Package otlptest runs the OpenTelemetry Collector's OTLP receiver in the
// test process, on loopback, so that tests check what snug exports over
// OTLP/HTTP and OTLP/gRPC against the reference implementation of the
// protocol rather than against a mock.
//
// It is a module of its own (see go.mod) so that the Collector, which is
// large, stays out of snug's dependencies. `go test ./...` at the root of
// the repository does not enter it; run it from this directory:
//
//	cd internal/otlptest && go test ./...
package otlptest

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
)

// Receiver is a running OTLP receiver and what it received.
type Receiver struct {
	// HTTPEndpoint and GRPCEndpoint are URLs for OTEL_EXPORTER_OTLP_ENDPOINT
	// ("http://127.0.0.1:port"): plain text, loopback.
	HTTPEndpoint, GRPCEndpoint string
	// Sink holds every batch of metrics received, with the request
	// metadata (headers) in its contexts.
	Sink *consumertest.MetricsSink
}

// Start runs a receiver with both protocols on free loopback ports until
// the test ends.
func Start(t testing.TB) *Receiver {
	t.Helper()
	factory := otlpreceiver.NewFactory()
	cfg := factory.CreateDefaultConfig().(*otlpreceiver.Config)
	grpcPort, httpPort := freePort(t), freePort(t)
	grpc := cfg.Protocols.GRPC.GetOrInsertDefault()
	grpc.NetAddr.Endpoint = "127.0.0.1:" + strconv.Itoa(grpcPort)
	grpc.IncludeMetadata = true
	http := cfg.Protocols.HTTP.GetOrInsertDefault()
	http.ServerConfig.NetAddr.Endpoint = "127.0.0.1:" + strconv.Itoa(httpPort)
	http.ServerConfig.IncludeMetadata = true
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}

	sink := new(consumertest.MetricsSink)
	rcv, err := factory.CreateMetrics(context.Background(), receivertest.NewNopSettings(factory.Type()), cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := rcv.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rcv.Shutdown(ctx); err != nil {
			t.Errorf("receiver shutdown: %v", err)
		}
	})
	return &Receiver{
		HTTPEndpoint: "http://127.0.0.1:" + strconv.Itoa(httpPort),
		GRPCEndpoint: "http://127.0.0.1:" + strconv.Itoa(grpcPort),
		Sink:         sink,
	}
}

// freePort returns a loopback port nothing listens on at the moment. The
// receiver does not report the port it bound, so it cannot be given ":0".
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

package telemetry_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestWeight proves what each package links, with the go command's own
// dependency list: the instruments link no exporter, and the Prometheus
// handler links no OTLP and no gRPC. The binary sizes these lead to are in
// telemetry/README-snippet.md.
func TestWeight(t *testing.T) {
	gocmd, err := exec.LookPath("go")
	if err != nil {
		gocmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	deps := func(pkg string) []string {
		out, err := exec.Command(gocmd, "list", "-deps", pkg).Output()
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				t.Fatalf("go list -deps %s: %v\n%s", pkg, err, ee.Stderr)
			}
			t.Skipf("cannot run go list: %v", err)
		}
		return strings.Fields(string(out))
	}
	forbid := func(pkg string, prefixes ...string) {
		list := deps(pkg)
		if len(list) < 10 {
			t.Fatalf("go list -deps %s: only %d packages, the check would prove nothing", pkg, len(list))
		}
		for _, d := range list {
			for _, p := range prefixes {
				if strings.HasPrefix(d, p) {
					t.Errorf("%s links %s", pkg, d)
				}
			}
		}
	}
	// A sanity check that the prefixes match what the exporters do link.
	for _, want := range []string{"google.golang.org/grpc", "go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp", "github.com/prometheus/client_golang/prometheus"} {
		found := false
		for _, d := range deps("github.com/snug-go/snug/telemetry/export") {
			found = found || d == want
		}
		if !found {
			t.Errorf("telemetry/export does not link %s: the forbidden prefixes below test nothing", want)
		}
	}

	forbid("github.com/snug-go/snug/telemetry",
		"go.opentelemetry.io/otel/exporters/",
		"go.opentelemetry.io/proto/",
		"google.golang.org/grpc",
		"google.golang.org/protobuf",
		"github.com/prometheus/",
	)
	forbid("github.com/snug-go/snug/telemetry/prom",
		"go.opentelemetry.io/otel/exporters/otlp",
		"go.opentelemetry.io/proto/",
		"google.golang.org/grpc",
	)
}

package export

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
)

// Kubernetes puts nothing about the pod in a container's environment by
// itself; the manifest maps the downward API to these variables (see
// examples/k8s), and Setup turns each one that is set into the resource
// attribute of the OpenTelemetry semantic conventions:
//
//	K8S_POD_NAME        metadata.name          k8s.pod.name
//	K8S_POD_UID         metadata.uid           k8s.pod.uid
//	K8S_NAMESPACE_NAME  metadata.namespace     k8s.namespace.name
//	K8S_NODE_NAME       spec.nodeName          k8s.node.name
//	K8S_CONTAINER_NAME  (a literal value)      k8s.container.name
var k8sEnv = [...]struct{ env, attr string }{
	{"K8S_POD_NAME", "k8s.pod.name"},
	{"K8S_POD_UID", "k8s.pod.uid"},
	{"K8S_NAMESPACE_NAME", "k8s.namespace.name"},
	{"K8S_NODE_NAME", "k8s.node.name"},
	{"K8S_CONTAINER_NAME", "k8s.container.name"},
}

// maxAttrValue bounds an attribute taken from the environment: Kubernetes
// names are at most 253 characters.
const maxAttrValue = 253

// buildResource describes the process: the SDK's defaults (service.name
// "unknown_service:<executable>", telemetry.sdk.*), the host name and Go
// version, the service name given to Setup, the container ID and the
// Kubernetes attributes found here, and finally OTEL_RESOURCE_ATTRIBUTES
// and OTEL_SERVICE_NAME, which override everything before them.
func buildResource(ctx context.Context, serviceName, root string, getenv func(string) string, warn func(error)) *resource.Resource {
	var kvs []attribute.KeyValue
	if serviceName != "" {
		kvs = append(kvs, attribute.String("service.name", serviceName))
	}
	if id := containerID(root, getenv("KUBERNETES_SERVICE_HOST") != ""); id != "" {
		kvs = append(kvs, attribute.String("container.id", id))
	}
	for _, k := range k8sEnv {
		v := strings.TrimSpace(getenv(k.env))
		if v == "" {
			continue
		}
		if !printable(v) {
			warn(fmt.Errorf("export: %s is not a printable name of at most %d characters: ignored", k.env, maxAttrValue))
			continue
		}
		kvs = append(kvs, attribute.String(k.attr, v))
	}

	r, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithProcessRuntimeName(),
		resource.WithProcessRuntimeVersion(),
		resource.WithAttributes(kvs...),
		resource.WithFromEnv(),
	)
	if err != nil {
		// A partial resource is still the best description there is; the
		// usual cause is a malformed OTEL_RESOURCE_ATTRIBUTES.
		warn(fmt.Errorf("export: resource: %w", err))
		if r == nil {
			r = resource.NewSchemaless(kvs...)
		}
	}
	merged, err := resource.Merge(resource.Default(), r)
	if err != nil && !errors.Is(err, resource.ErrSchemaURLConflict) {
		warn(fmt.Errorf("export: resource: %w", err))
	}
	if merged == nil {
		return r
	}
	return merged
}

func printable(s string) bool {
	if len(s) > maxAttrValue {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

package export

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// The container ID that container runtimes give a container (Docker,
// containerd, CRI-O, Podman) is 64 hexadecimal digits, and it shows in the
// cgroup paths the runtime makes for the container:
//
//	/docker/<id>                                  Docker, cgroupfs driver
//	/system.slice/docker-<id>.scope               Docker, systemd driver
//	/kubepods/burstable/pod<uid>/<id>             Kubernetes, cgroupfs driver
//	/kubepods.slice/.../cri-containerd-<id>.scope containerd, systemd driver
//	/kubepods.slice/...slice:cri-containerd:<id>  containerd, systemd driver, v1 naming
//	/kubepods.slice/.../crio-<id>.scope           CRI-O
//	/machine.slice/libpod-<id>.scope              Podman
//	/ecs/<task>/<id>                              Amazon ECS on EC2
//
// A process sees its cgroup path in /proc/self/cgroup, unless it runs in a
// private cgroup namespace (the default with cgroup v2), where its path is
// "/". Then the ID may still show in /proc/self/mountinfo: Docker and
// Podman bind-mount /etc/hostname, /etc/hosts and /etc/resolv.conf from
// a directory named after the container (/var/lib/docker/containers/<id>/,
// .../overlay-containers/<id>/userdata/). Under Kubernetes those files
// belong to the pod's sandbox, not to the container, so the mountinfo
// fallback is not used when KUBERNETES_SERVICE_HOST is set: a wrong ID is
// worse than none.

// containerID finds the calling process's container ID, or "".
func containerID(root string, inKubernetes bool) string {
	if data, err := readSmall(filepath.Join(root, "proc/self/cgroup")); err == nil {
		if id := idFromProcCgroup(data); id != "" {
			return id
		}
	}
	if data, err := readSmall(filepath.Join(root, "proc/self/mountinfo")); err == nil {
		return idFromMountinfo(data, inKubernetes)
	}
	return ""
}

// readSmall reads a /proc file of at most 4 MiB: mountinfo on a busy node
// has thousands of lines; one larger than that is not worth parsing for an
// attribute.
func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 4<<20))
}

// idFromProcCgroup scans the lines "hierarchy:controllers:path" of
// /proc/self/cgroup for a container ID in a path.
func idFromProcCgroup(data []byte) string {
	for _, line := range bytes.Split(data, []byte("\n")) {
		parts := strings.SplitN(string(line), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if id := idFromCgroupPath(parts[2]); id != "" {
			return id
		}
	}
	return ""
}

// idFromCgroupPath looks for a container ID in the path's elements, the
// deepest first: a container's own cgroup is below its pod's.
func idFromCgroupPath(p string) string {
	elems := strings.Split(p, "/")
	for i := len(elems) - 1; i >= 0; i-- {
		if id := idFromElement(elems[i]); id != "" {
			return id
		}
	}
	return ""
}

// idFromElement recognises one cgroup path element that names a container.
func idFromElement(e string) string {
	// containerd's systemd driver on v1: "<slice>:cri-containerd:<id>".
	if i := strings.LastIndexByte(e, ':'); i >= 0 {
		if isID(e[i+1:]) {
			return e[i+1:]
		}
		return ""
	}
	e = strings.TrimSuffix(e, ".scope")
	for _, prefix := range [...]string{"", "docker-", "cri-containerd-", "crio-", "libpod-", "containerd-"} {
		if rest, ok := strings.CutPrefix(e, prefix); ok && isID(rest) {
			return rest
		}
	}
	// "crio-conmon-<id>.scope" is CRI-O's monitor process, not the
	// container, and matches nothing above on purpose.
	return ""
}

// idFromMountinfo looks at the root field (the fourth) of each mount: first
// for a cgroup mount whose root is a container's cgroup (a cgroup namespace
// shared with the host shows it), then, outside Kubernetes, for a bind
// mount from a container runtime's per-container directory.
func idFromMountinfo(data []byte, inKubernetes bool) string {
	var fromFiles string
	for _, line := range bytes.Split(data, []byte("\n")) {
		fields := strings.Fields(string(line))
		if len(fields) < 5 {
			continue
		}
		root, fstype := fields[3], ""
		for i, f := range fields {
			if f == "-" && i+1 < len(fields) {
				fstype = fields[i+1]
				break
			}
		}
		if fstype == "cgroup" || fstype == "cgroup2" {
			if id := idFromCgroupPath(root); id != "" {
				return id
			}
			continue
		}
		if fromFiles == "" && !inKubernetes {
			fromFiles = idFromRuntimeDir(root)
		}
	}
	return fromFiles
}

// idFromRuntimeDir finds "containers/<id>" or "overlay-containers/<id>" in
// a path: Docker's /var/lib/docker/containers/<id>/hostname and Podman's
// .../overlay-containers/<id>/userdata/hostname. containerd's
// "sandboxes/<id>" names a pod sandbox and is not matched.
func idFromRuntimeDir(p string) string {
	elems := strings.Split(p, "/")
	for i := 0; i+1 < len(elems); i++ {
		if (elems[i] == "containers" || elems[i] == "overlay-containers") && isID(elems[i+1]) {
			return elems[i+1]
		}
	}
	return ""
}

func isID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

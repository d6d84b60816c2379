package export

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	id1 = "3c5fd3c8a1e2b4d6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e"
	id2 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

// The /proc/self/cgroup lines below follow the layouts container runtimes
// make; each fixture holds one container's ID, and where there is a second
// 64-hex string (a pod sandbox, a conmon scope) it is the wrong answer.
func TestIDFromProcCgroup(t *testing.T) {
	for _, tc := range []struct {
		name, cgroup, want string
	}{
		{"docker cgroupfs v1", "12:memory:/docker/" + id1 + "\n11:cpu,cpuacct:/docker/" + id1 + "\n1:name=systemd:/docker/" + id1 + "\n", id1},
		{"docker systemd v2", "0::/system.slice/docker-" + id1 + ".scope\n", id1},
		{"kubernetes cgroupfs v1", "4:memory:/kubepods/burstable/pod5a3e1c2b-1111-2222-3333-444455556666/" + id1 + "\n", id1},
		{"containerd systemd v2", "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5a3e1c2b_1111.slice/cri-containerd-" + id1 + ".scope\n", id1},
		{"containerd systemd v1 colon naming", "10:cpuset:/system.slice/containerd.service/kubepods-besteffort-pod1.slice:cri-containerd:" + id1 + "\n", id1},
		{"crio v2", "0::/kubepods.slice/kubepods-pod1.slice/crio-" + id1 + ".scope\n", id1},
		{"crio conmon is not the container", "0::/kubepods.slice/kubepods-pod1.slice/crio-conmon-" + id2 + ".scope\n", ""},
		{"podman", "0::/machine.slice/libpod-" + id1 + ".scope/container\n", id1},
		{"ecs on ec2", "9:perf_event:/ecs/55091c13b8ad4b0fa4d1d4c45f0a6b3e/" + id1 + "\n", id1},
		{"deepest element wins", "0::/docker/" + id2 + "/nested/" + id1 + "\n", id1},
		{"cgroup namespace: nothing", "0::/\n", ""},
		{"host systemd session: nothing", "0::/user.slice/user-1000.slice/session-2.scope\n", ""},
		{"too short", "0::/docker/" + id1[:63] + "\n", ""},
		{"upper case is not an ID", "0::/docker/" + strings.ToUpper(id1) + "\n", ""},
		{"garbage", "no colons here\n::\n\x00\x01\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := idFromProcCgroup([]byte(tc.cgroup)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestIDFromMountinfo(t *testing.T) {
	// Docker on cgroup v2 with a private cgroup namespace: the ID is only
	// in the bind mounts of /etc/resolv.conf, /etc/hostname, /etc/hosts.
	docker := "" +
		"1398 1297 0:129 / / rw,relatime master:667 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/X\n" +
		"1406 1398 0:134 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw,nsdelegate\n" +
		"1407 1398 254:1 /var/lib/docker/containers/" + id1 + "/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/vda1 rw\n" +
		"1408 1398 254:1 /var/lib/docker/containers/" + id1 + "/hostname /etc/hostname rw,relatime - ext4 /dev/vda1 rw\n" +
		"1409 1398 254:1 /var/lib/docker/containers/" + id1 + "/hosts /etc/hosts rw,relatime - ext4 /dev/vda1 rw\n"
	// /var/lib/docker on its own file system: the root field starts below it.
	dockerOwnFS := "1408 1398 254:17 /containers/" + id1 + "/hostname /etc/hostname rw - xfs /dev/vdb rw\n"
	podman := "900 800 0:50 /containers/storage/overlay-containers/" + id1 + "/userdata/hostname /etc/hostname rw - tmpfs tmpfs rw\n"
	// Kubernetes with containerd: /etc/hostname comes from the pod sandbox.
	k8s := "" +
		"2001 1990 0:140 / /sys/fs/cgroup ro - cgroup2 cgroup rw\n" +
		"2002 1990 254:1 /var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/" + id2 + "/hostname /etc/hostname rw - ext4 /dev/vda1 rw\n" +
		"2003 1990 254:1 /var/lib/kubelet/pods/5a3e1c2b-1111-2222-3333-444455556666/containers/app/0a1b2c3d /dev/termination-log rw - ext4 /dev/vda1 rw\n"
	// CRI-O under Kubernetes: overlay-containers/<sandbox>: not trusted there.
	crioK8s := "3001 2990 0:60 /overlay-containers/" + id2 + "/userdata/hostname /etc/hostname rw - tmpfs tmpfs rw\n"
	// A cgroup namespace shared with the host: the cgroup mount's root is
	// the container's own cgroup.
	cgroupRoot := "1406 1398 0:134 /kubepods.slice/kubepods-pod1.slice/cri-containerd-" + id1 + ".scope /sys/fs/cgroup ro - cgroup2 cgroup rw\n"

	for _, tc := range []struct {
		name, mountinfo string
		inK8s           bool
		want            string
	}{
		{"docker v2", docker, false, id1},
		{"docker, own file system", dockerOwnFS, false, id1},
		{"podman", podman, false, id1},
		{"kubernetes sandbox is not the container", k8s, true, ""},
		{"kubernetes sandbox, even if not told kubernetes", k8s, false, ""},
		{"cri-o under kubernetes is not trusted", crioK8s, true, ""},
		{"cgroup mount root", cgroupRoot, true, id1},
		{"empty", "", false, ""},
		{"short lines", "1 2 3\n\n-\n", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := idFromMountinfo([]byte(tc.mountinfo), tc.inK8s); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestContainerIDFiles reads the files through a root, /proc/self/cgroup
// first, mountinfo second.
func TestContainerIDFiles(t *testing.T) {
	write := func(files map[string]string) string {
		root := t.TempDir()
		for name, content := range files {
			p := filepath.Join(root, name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return root
	}
	root := write(map[string]string{
		"proc/self/cgroup":    "0::/\n",
		"proc/self/mountinfo": "1408 1398 254:1 /var/lib/docker/containers/" + id2 + "/hostname /etc/hostname rw - ext4 /dev/vda1 rw\n",
	})
	if got := containerID(root, false); got != id2 {
		t.Errorf("from mountinfo: %q", got)
	}
	root = write(map[string]string{
		"proc/self/cgroup":    "0::/system.slice/docker-" + id1 + ".scope\n",
		"proc/self/mountinfo": "1408 1398 254:1 /var/lib/docker/containers/" + id2 + "/hostname /etc/hostname rw - ext4 /dev/vda1 rw\n",
	})
	if got := containerID(root, false); got != id1 {
		t.Errorf("cgroup path first: %q", got)
	}
	if got := containerID(t.TempDir(), false); got != "" {
		t.Errorf("no files: %q", got)
	}
	// This machine: the test may or may not run in a container; whatever
	// is found must be an ID.
	if got := containerID("/", os.Getenv("KUBERNETES_SERVICE_HOST") != ""); got != "" && !isID(got) {
		t.Errorf("host: %q", got)
	}
}

func FuzzContainerID(f *testing.F) {
	f.Add("0::/docker/"+id1+"\n", "1 2 3:4 /containers/"+id2+"/hostname /etc/hostname rw - ext4 x rw\n")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, cgroup, mountinfo string) {
		for _, id := range []string{idFromProcCgroup([]byte(cgroup)), idFromMountinfo([]byte(mountinfo), false)} {
			if id != "" && (!isID(id) || !strings.Contains(cgroup+mountinfo, id)) {
				t.Fatalf("returned %q, not an ID from the input", id)
			}
		}
	})
}

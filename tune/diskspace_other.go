//go:build !linux

package tune

import "errors"

// diskSpace cannot tell free space here, and a snapshot that might fill the
// disk is not taken. The watchdog runs only with a cgroup, on Linux; the
// statfs of the other Unix systems differs (OpenBSD names its fields
// F_bavail, NetBSD and Solaris have no syscall.Statfs), and a "unix"
// build of diskspace_linux.go broke the build of tune there.
func diskSpace(dir string) (avail, total int64, err error) {
	return 0, 0, errors.New("free disk space unknown on this system")
}

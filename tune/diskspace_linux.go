package tune

import (
	"os"
	"syscall"
)

// diskSpace reports the bytes available to unprivileged writers and the
// size of the file system holding dir, so that snapshots never fill it.
func diskSpace(dir string) (avail, total int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, &os.PathError{Op: "statfs", Path: dir, Err: err}
	}
	return int64(st.Bavail) * int64(st.Bsize), int64(st.Blocks) * int64(st.Bsize), nil
}

//go:build !unix

package tune

import "errors"

// diskSpace cannot tell free space here, and a snapshot that might fill the
// disk is not taken.
func diskSpace(dir string) (avail, total int64, err error) {
	return 0, 0, errors.New("free disk space unknown on this system")
}

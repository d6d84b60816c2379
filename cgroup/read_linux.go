package cgroup

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"unsafe"
)

// The limit and counter files are re-read on every Limits and Stats call.
// os.ReadFile would allocate a *os.File, a path copy and a buffer each time;
// these raw syscalls on a NUL-terminated path prepared at Open and a buffer
// owned by the Group allocate nothing.

// fileBufSize bounds every limit or counter file we read. memory.stat is the
// largest (about 2 KiB on v1 with its total_* lines); anything that fills
// the buffer is not a cgroup file we understand.
const fileBufSize = 32 << 10

var atFDCWD = -100 // AT_FDCWD; a var because a negative constant cannot become uintptr

// cpath is a path prepared for raw syscalls.
type cpath struct {
	name string // for errors and Sources
	z    []byte // name plus a NUL byte
}

func newCPath(name string) cpath {
	return cpath{name: name, z: append([]byte(name), 0)}
}

// read reads the whole file into buf and returns the filled part. An error
// is a *FileError.
func (p cpath) read(buf []byte) ([]byte, error) {
	fd, _, errno := syscall.Syscall6(syscall.SYS_OPENAT, uintptr(atFDCWD),
		uintptr(unsafe.Pointer(&p.z[0])), syscall.O_RDONLY|syscall.O_CLOEXEC, 0, 0, 0)
	if errno != 0 {
		return nil, &FileError{Path: p.name, Err: errno}
	}
	n := 0
	for {
		if n == len(buf) {
			syscall.Close(int(fd))
			return nil, &FileError{Path: p.name, Err: errTooLarge}
		}
		r, _, errno := syscall.Syscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&buf[n])), uintptr(len(buf)-n))
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 {
			syscall.Close(int(fd))
			return nil, &FileError{Path: p.name, Err: errno}
		}
		if r == 0 {
			break
		}
		n += int(r)
	}
	syscall.Close(int(fd))
	return buf[:n], nil
}

var errTooLarge = errors.New("file too large")

// exists reports whether the file is there to be read at Open time.
func (p cpath) exists() bool {
	_, err := os.Stat(p.name)
	return err == nil
}

// readBounded reads a file of /proc that is read once, refusing one larger
// than max: a mountinfo of many megabytes (thousands of mounts on a busy
// node) is real, one of gigabytes is an attack or a bug.
func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &FileError{Path: path, Err: unwrapPathError(err)}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, &FileError{Path: path, Err: unwrapPathError(err)}
	}
	if int64(len(data)) > max {
		return nil, &FileError{Path: path, Err: fmt.Errorf("%w (over %d bytes)", errTooLarge, max)}
	}
	return data, nil
}

// unwrapPathError drops *fs.PathError's own copy of the path, since
// FileError carries it.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

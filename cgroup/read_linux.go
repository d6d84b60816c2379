package cgroup

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// The limit and counter files are re-read on every Limits and Stats call,
// up to once a second for the life of the process. On the machines we
// measured, an open+read+close of a cgroup file costs 6 to 12 µs and a
// pread on a descriptor kept open about 1 µs, so each file is opened once
// and re-read at offset 0 (cgroup files are generated afresh at offset 0).
// The raw syscalls on a NUL-terminated path prepared at Open and a buffer
// owned by the Group allocate nothing.

// fileBufSize bounds every limit or counter file we read. memory.stat is the
// largest (about 2 KiB on v1 with its total_* lines); anything that fills
// the buffer is not a cgroup file we understand.
const fileBufSize = 32 << 10

var atFDCWD = -100 // AT_FDCWD; a var because a negative constant cannot become uintptr

// cfile is an interface file, opened when Open plans it (or, after a
// failure, at the next read) and kept open.
type cfile struct {
	name string // for errors
	z    []byte // name plus a NUL byte
	fd   int    // -1 until opened
}

// fileSet owns the descriptors of a Group, apart from it so that a cleanup
// can close them when the Group is garbage collected.
type fileSet struct{ files []*cfile }

func newCFile(name string) *cfile {
	return &cfile{name: name, z: append([]byte(name), 0), fd: -1}
}

func (s *fileSet) add(f *cfile) { s.files = append(s.files, f) }

func (s *fileSet) closeAll() {
	for _, f := range s.files {
		f.close()
	}
}

func (f *cfile) close() {
	if f.fd >= 0 {
		syscall.Close(f.fd)
		f.fd = -1
	}
}

// open opens the file. O_NONBLOCK changes nothing for a cgroup file or any
// regular file, but a FIFO put in a file's place (a bind mount over it)
// would otherwise block the open until a writer came, for good during a
// blank import's init; opened, a FIFO fails the read with ESPIPE instead.
// An open a signal interrupts is made again, as package os does.
func (f *cfile) open() syscall.Errno {
	for {
		fd, _, errno := syscall.Syscall6(syscall.SYS_OPENAT, uintptr(atFDCWD),
			uintptr(unsafe.Pointer(&f.z[0])), syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0, 0, 0)
		if errno == syscall.EINTR {
			continue
		}
		if errno == 0 {
			f.fd = int(fd)
		}
		return errno
	}
}

// read reads the whole file into buf and returns the filled part. An error
// is a *FileError. A descriptor that went stale (the cgroup was removed:
// ENODEV) is reopened once, so a file that is gone reports ENOENT.
func (f *cfile) read(buf []byte) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		if f.fd < 0 {
			if errno := f.open(); errno != 0 {
				return nil, &FileError{Path: f.name, Err: errno}
			}
		}
		n, errno := f.pread(buf)
		if errno == 0 {
			if n == len(buf) {
				return nil, &FileError{Path: f.name, Err: errTooLarge}
			}
			return buf[:n], nil
		}
		f.close()
		if attempt > 0 {
			return nil, &FileError{Path: f.name, Err: errno}
		}
	}
}

// pread fills buf from offset 0 in one read. A cgroup file's content is
// generated whole at the read that starts at offset 0, and a regular file
// (a fixture) is read whole up to len(buf) too, so a short read is the end
// of the file; only an interrupted read is repeated.
func (f *cfile) pread(buf []byte) (int, syscall.Errno) {
	for {
		// syscall.Pread passes the 64-bit offset as each architecture's
		// ABI wants it (split in two, and register-aligned on 32-bit ARM).
		n, err := syscall.Pread(f.fd, buf, 0)
		switch {
		case err == nil:
			return n, 0
		case err == syscall.EINTR:
			continue
		}
		errno, ok := err.(syscall.Errno) // it always is
		if !ok {
			errno = syscall.EIO
		}
		return 0, errno
	}
}

var errTooLarge = errors.New("file too large")

// exists reports whether a file is there to be read at Open time.
func exists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

// readBounded reads a file of /proc that is read once, refusing one larger
// than max: a mountinfo of many megabytes (thousands of mounts on a busy
// node) is real, one of gigabytes is an attack or a bug.
func readBounded(path string, max int64) ([]byte, error) {
	// Opened as a cfile, with raw system calls, not os.Open: these files
	// are pollable, and os.Open would start the runtime's network poller
	// for them during the blank import's init (an epoll instance, an
	// eventfd, and a registration and removal per file). With the
	// cfile's O_NONBLOCK a FIFO put in their place does not block the
	// program's start for a writer: with none it reads as an empty file
	// (which parses as no cgroup lines, or no cgroup mounts), and with
	// one that has not written it fails with EAGAIN.
	f := newCFile(path)
	if errno := f.open(); errno != 0 {
		return nil, &FileError{Path: path, Err: errno}
	}
	defer f.close()
	// The kernel generates these files at each read call, and reports their
	// size as 0: start with room for a typical mountinfo, so that most take
	// one read and the one that says end of file (io.ReadAll starts at 512
	// bytes and needed half a dozen calls).
	data := make([]byte, 0, 16<<10)
	for {
		if len(data) == cap(data) {
			// Double, and once that reaches the bound go to one byte
			// past it, which is enough to know the file is over it: a
			// file over 16 MiB then costs about 32 MiB in all, not the
			// 80 MiB of append's growth by quarters and the reads to
			// fill each step.
			size := 2 * int64(cap(data))
			if size >= max {
				size = max + 1
			}
			grown := make([]byte, len(data), size)
			copy(grown, data)
			data = grown
		}
		n, err := syscall.Read(f.fd, data[len(data):cap(data)])
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return nil, &FileError{Path: path, Err: err}
		case n == 0:
			return data, nil
		}
		data = data[:len(data)+n]
		if int64(len(data)) > max {
			return nil, &FileError{Path: path, Err: fmt.Errorf("%w (over %d bytes)", errTooLarge, max)}
		}
	}
}

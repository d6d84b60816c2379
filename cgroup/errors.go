package cgroup

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNoCgroup means the process has no cgroup filesystem to read: no
	// cgroup mount in mountinfo, or /proc/self/cgroup names none that is
	// mounted. It is a normal state (bare metal, some sandboxes), not a
	// failure; callers usually fall back to the machine's resources.
	ErrNoCgroup = errors.New("cgroup: no cgroup filesystem for this process")

	// ErrUnsupported is returned on systems without Linux cgroups.
	ErrUnsupported = errors.New("cgroup: not supported on this operating system")
)

// FileError is a file that could not be read or whose content made no sense.
// It unwraps to the underlying error, so errors.Is(err, fs.ErrPermission)
// and errors.Is(err, fs.ErrNotExist) work through it.
type FileError struct {
	Path string // the path that was read, as opened
	Err  error  // the cause: a syscall.Errno, or what was wrong with the content
}

// Error names the file and the cause: "cgroup: <path>: permission denied".
func (e *FileError) Error() string { return "cgroup: " + e.Path + ": " + e.Err.Error() }

// Unwrap returns Err, for errors.Is and errors.As.
func (e *FileError) Unwrap() error { return e.Err }

// errSyntax is wrapped by FileError for content that does not parse.
var errSyntax = errors.New("unexpected content")

func syntaxError(path, format string, args ...any) error {
	return &FileError{Path: path, Err: fmt.Errorf("%w: "+format, append([]any{errSyntax}, args...)...)}
}

// FailedFile reports whether err, as Limits or Stats return it, concerns a
// file with one of the given base names ("cpu.stat", "memory.max"). Limits
// and Stats return what they could read along with an error joining one
// FileError per file they could not; a caller that uses only some fields
// asks with this whether those fields are sound. An error that is not a
// FileError could concern any file and counts as naming all of them.
func FailedFile(err error, names ...string) bool {
	if err == nil {
		return false
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, inner := range joined.Unwrap() {
			if FailedFile(inner, names...) {
				return true
			}
		}
		return false
	}
	var fe *FileError
	if !errors.As(err, &fe) {
		return true
	}
	base := fe.Path
	if i := strings.LastIndexByte(base, '/'); i >= 0 {
		base = base[i+1:]
	}
	for _, n := range names {
		if base == n {
			return true
		}
	}
	return false
}

package cgroup

import (
	"errors"
	"fmt"
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
	Err  error
}

func (e *FileError) Error() string { return "cgroup: " + e.Path + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// errSyntax is wrapped by FileError for content that does not parse.
var errSyntax = errors.New("unexpected content")

func syntaxError(path, format string, args ...any) error {
	return &FileError{Path: path, Err: fmt.Errorf("%w: "+format, append([]any{errSyntax}, args...)...)}
}

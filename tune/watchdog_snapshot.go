package tune

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"time"
)

// The free space a snapshot must leave on its file system: a tenth of it,
// and never less than minFreeDisk. A pod's emptyDir shares the node's disk,
// and a node short of disk evicts pods.
const minFreeDisk = 256 << 20

// snapshotter writes trace and heap-profile snapshots into a directory,
// within a cooldown per kind, a count and a byte budget, never leaving the
// file system short of space. Only the Tuner's goroutine uses it (and
// Start and Stop).
type snapshotter struct {
	dir        string
	cooldown   time.Duration
	maxFiles   int
	budget     int64 // bytes left
	recorder   *trace.FlightRecorder
	heap       bool
	files      int
	last       map[Snapshot]time.Time
	recorderOn bool
}

func newSnapshotter(c watchdogConfig, interval time.Duration) *snapshotter {
	if c.snapshotDir == "" || !(c.snapshotTrace || c.snapshotHeap) {
		return nil
	}
	s := &snapshotter{dir: c.snapshotDir, cooldown: c.snapshotCooldown, maxFiles: c.snapshotMax,
		budget: c.snapshotBudget, heap: c.snapshotHeap, last: map[Snapshot]time.Time{}}
	if c.snapshotTrace {
		// The window must still hold a pause when the watchdog sees it,
		// up to one interval later: keep at least two intervals, and a
		// few seconds in any case. MaxBytes bounds the memory it holds
		// and the size of a file.
		s.recorder = trace.NewFlightRecorder(trace.FlightRecorderConfig{
			MinAge:   max(2*interval+time.Second, 5*time.Second),
			MaxBytes: uint64(min(c.snapshotBudget/4, 16<<20)),
		})
	}
	return s
}

// start starts the flight recorder; an error (another flight recorder is
// running in the process) is returned for the log, and trace snapshots are
// then skipped.
func (s *snapshotter) start() error {
	if s == nil || s.recorder == nil {
		return nil
	}
	if err := s.recorder.Start(); err != nil {
		s.recorder = nil
		return fmt.Errorf("trace snapshots off: %w", err)
	}
	s.recorderOn = true
	return nil
}

// stop stops the flight recorder and its goroutines.
func (s *snapshotter) stop() {
	if s != nil && s.recorder != nil && s.recorderOn {
		s.recorder.Stop()
		s.recorderOn = false
	}
}

// take writes a snapshot of kind k if the limits allow, and returns the
// file's path, or "" and why not ("" when the kind is off).
func (s *snapshotter) take(k Snapshot, now time.Time) (path string, err error) {
	if s == nil {
		return "", nil
	}
	var write func(io.Writer) error
	switch k {
	case SnapshotTrace:
		if s.recorder == nil {
			return "", nil
		}
		write = func(w io.Writer) error { _, err := s.recorder.WriteTo(w); return err }
	case SnapshotHeap:
		if !s.heap {
			return "", nil
		}
		write = func(w io.Writer) error { return pprof.Lookup("heap").WriteTo(w, 0) }
	default:
		return "", nil
	}
	if last := s.last[k]; !last.IsZero() && now.Sub(last) < s.cooldown {
		return "", fmt.Errorf("%s snapshot skipped: the last was %v ago", k, now.Sub(last).Round(time.Second))
	}
	if s.files >= s.maxFiles {
		return "", fmt.Errorf("%s snapshot skipped: %d files written, the most per process", k, s.files)
	}
	if s.budget <= 0 {
		return "", fmt.Errorf("%s snapshot skipped: the byte budget is spent", k)
	}
	// The most this file may take: what is left of the budget, and no
	// more than the file system can spare.
	allowed := s.budget
	avail, total, err := diskSpace(s.dir)
	if err != nil {
		return "", fmt.Errorf("%s snapshot skipped: %w", k, err)
	}
	floor := max(total/10, minFreeDisk)
	allowed = min(allowed, avail-floor)
	if allowed <= 0 {
		return "", fmt.Errorf("%s snapshot skipped: %s free on %s, under the %s kept free", k,
			formatBytes(avail), s.dir, formatBytes(floor))
	}

	s.last[k] = now
	ext := ".trace"
	if k == SnapshotHeap {
		ext = ".pprof"
	}
	name := "snug-" + string(k) + "-" + strconv.Itoa(os.Getpid()) + "-" + now.UTC().Format("20060102T150405.000") +
		"-" + strconv.Itoa(s.files+1) + ext
	path = filepath.Join(s.dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("%s snapshot: %w", k, err)
	}
	lw := &limitedWriter{w: f, left: allowed}
	werr := write(lw)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	s.files++
	s.budget -= lw.written
	if werr != nil {
		os.Remove(path)
		s.budget += lw.written // nothing stays on disk
		return "", fmt.Errorf("%s snapshot to %s: %w", k, path, werr)
	}
	return path, nil
}

var errSnapshotTooBig = errors.New("over the snapshot byte budget or the disk space it may use")

// limitedWriter fails a write that would pass left bytes, so that a
// snapshot never takes more than it was allowed.
type limitedWriter struct {
	w       io.Writer
	left    int64
	written int64
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.left {
		return 0, errSnapshotTooBig
	}
	n, err := l.w.Write(p)
	l.left -= int64(n)
	l.written += int64(n)
	return n, err
}

//go:build !linux

package cgroup

// Group is the calling process's cgroup. Off Linux there is none: Open
// returns ErrUnsupported.
type Group struct {
	mode Mode
}

func open(options) (*Group, error) { return nil, ErrUnsupported }

func (g *Group) limits() (Limits, error)  { return Limits{}, ErrUnsupported }
func (g *Group) stats() (Stats, error)    { return Stats{}, ErrUnsupported }
func (g *Group) paths() map[string]string { return nil }

func (g *Group) memoryLimitCurrent() (int64, string, error) { return 0, "", ErrUnsupported }
func (g *Group) close()                                     {}

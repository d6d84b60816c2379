package cgroup

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"time"
)

// The parsers in this file are pure functions over file contents, shared by
// every platform so that they can be fuzzed anywhere. The ones on the
// Limits() path take []byte and do not allocate.

// procCgroupLine is one line of /proc/self/cgroup:
// "hierarchy-ID:controller-list:cgroup-path".
type procCgroupLine struct {
	controllers []string // empty for the unified (v2) hierarchy
	path        string
}

// maxCgroupPath bounds a cgroup path in /proc/self/cgroup: the kernel
// writes it into a PATH_MAX (4096) buffer and fails the read with
// ENAMETOOLONG rather than write a longer one. A longer path is not the
// kernel's, and each of its levels becomes a directory path as long as the
// level is deep (newHierarchy), so one of a megabyte would take gigabytes.
const maxCgroupPath = 4096 - 1

// parseProcCgroup parses /proc/self/cgroup. The path is everything after the
// second colon: cgroup paths may themselves contain colons.
func parseProcCgroup(data []byte) ([]procCgroupLine, error) {
	var out []procCgroupLine
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" {
			continue
		}
		id, rest, ok1 := strings.Cut(line, ":")
		ctrls, path, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 || id == "" || !strings.HasPrefix(path, "/") {
			return nil, errors.New("malformed line " + quoteShort(line))
		}
		if len(path) > maxCgroupPath {
			return nil, errors.New("cgroup path longer than the kernel writes (" +
				strconv.Itoa(len(path)) + " bytes) in line " + quoteShort(line))
		}
		var l procCgroupLine
		l.path = path
		if ctrls != "" {
			l.controllers = strings.Split(ctrls, ",")
		} else if id != "0" {
			return nil, errors.New("empty controller list in line " + quoteShort(line))
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, errors.New("no cgroup lines")
	}
	return out, nil
}

// mount is a cgroup or cgroup2 line of /proc/self/mountinfo.
type mount struct {
	root       string   // the cgroup this mount shows at its mount point
	mountPoint string   // where it is mounted
	v2         bool     // fstype cgroup2
	options    []string // super options: the v1 controllers ("cpu", "name=systemd")
	// covered: another mount hides this one, so that paths under its mount
	// point lead elsewhere (see coveredMounts).
	covered bool
}

// parseMountinfo returns the cgroup mounts of a mountinfo file. Lines of other
// file systems (nsfs, overlay, …) are skipped wherever they are. A line is
//
//	36 35 98:0 /root /mnt rw,noatime master:1 - cgroup cgroup rw,cpu
//
// with any number (zero included) of optional fields before the "-".
func parseMountinfo(data []byte) ([]mount, error) {
	var out []mount
	var all []mountNode
	var cgroupNode []int // index in all of each mount in out
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" {
			continue
		}
		fields := strings.Fields(line)
		sep := -1
		for i := 6; i < len(fields); i++ {
			if fields[i] == "-" {
				sep = i
				break
			}
		}
		if len(fields) < 6 || sep < 0 || sep+2 >= len(fields) {
			return nil, errors.New("malformed line " + quoteShort(line))
		}
		fstype := fields[sep+1]
		id, _ := strconv.ParseUint(fields[0], 10, 64)
		parent, _ := strconv.ParseUint(fields[1], 10, 64)
		node := mountNode{id: id, parent: parent, mountPoint: fields[4]} // escaped: compared only with each other
		all = append(all, node)
		if fstype != "cgroup" && fstype != "cgroup2" {
			continue
		}
		m := mount{
			root:       unescapeOctal(fields[3]),
			mountPoint: unescapeOctal(fields[4]),
			v2:         fstype == "cgroup2",
		}
		if sep+3 < len(fields) {
			m.options = strings.Split(fields[sep+3], ",")
		}
		out = append(out, m)
		cgroupNode = append(cgroupNode, len(all)-1)
	}
	covered := coveredMounts(all)
	for i := range out {
		out[i].covered = covered(cgroupNode[i])
	}
	return out, nil
}

// mountNode is any line of mountinfo: its mount ID, its parent's, and
// where it is mounted.
type mountNode struct {
	id, parent uint64
	mountPoint string
}

// coveredMounts returns a function telling whether mount i is hidden by
// another, judged from mount and parent IDs rather than from the order of
// the lines (which is not the order of mounting: a root mount can be
// listed after its children). Mount M is hidden when
//
//   - another mount is stacked on it: a child of M with the same mount
//     point (a container's cgroup bind-mounted over the host's hierarchy);
//   - a sibling, mounted on the same parent at a directory above M's mount
//     point, covers it (M, had it come second, would be that sibling's child);
//   - or the place M is attached to is itself hidden: its parent, unless M
//     is the mount stacked on that parent (a new tmpfs stacked on
//     /sys/fs/cgroup hides every hierarchy mounted on the old one).
//
// IDs that do not parse are 0 and match nothing useful; a cycle of
// parents, which no kernel writes, ends the walk.
func coveredMounts(all []mountNode) func(i int) bool {
	byID := make(map[uint64]int, len(all))
	children := make(map[uint64][]int, len(all))
	for i, n := range all {
		byID[n.id] = i
		if n.parent != n.id {
			children[n.parent] = append(children[n.parent], i)
		}
	}
	stackedOn := func(i int) bool {
		for _, c := range children[all[i].id] {
			if c != i && all[c].mountPoint == all[i].mountPoint {
				return true
			}
		}
		return false
	}
	// attached reports whether mount i's mount point leads to i or to a
	// mount stacked on it: i is hidden by nothing but its own stack.
	const (
		unknown = iota
		walking
		yes
		no
	)
	state := make([]uint8, len(all))
	var attached func(i int) bool
	attached = func(i int) bool {
		switch state[i] {
		case yes:
			return true
		case no:
			return false
		case walking:
			return true // a cycle: judge by what was found so far
		}
		state[i] = walking
		m := all[i]
		ok := true
		for _, s := range children[m.parent] {
			if s != i && all[s].mountPoint != m.mountPoint && under(m.mountPoint, all[s].mountPoint) {
				ok = false
				break
			}
		}
		if p, found := byID[m.parent]; ok && found && p != i {
			if all[p].mountPoint == m.mountPoint {
				ok = attached(p) // stacked on p: p's place must be reachable
			} else {
				ok = attached(p) && !stackedOn(p)
			}
		}
		state[i] = no
		if ok {
			state[i] = yes
		}
		return ok
	}
	return func(i int) bool { return !attached(i) || stackedOn(i) }
}

// unescapeOctal undoes the kernel's escaping of space, tab, newline and
// backslash in mountinfo paths (\040, \011, \012, \134). A malformed escape
// is kept as it is.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			v := (s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0')
			b.WriteByte(v)
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

func quoteShort(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return "\"" + s + "\""
}

// maxUnlimited: v1 reports "no limit" as the largest page-aligned int64
// (9223372036854771712); anything at or above 2^62 bytes is no limit in
// practice, and treating it as one keeps callers away from overflow.
const maxUnlimited = 1 << 62

// parseLimit parses a single-value limit file: a decimal number, "max"
// (v2), or -1 (v1 "no limit"). It returns 0 for no limit.
func parseLimit(b []byte) (int64, bool) {
	b = bytes.TrimSpace(b)
	if string(b) == "max" || string(b) == "-1" {
		return 0, true
	}
	v, ok := parseUint(b)
	if !ok {
		return 0, false
	}
	if v >= maxUnlimited {
		return 0, true
	}
	return int64(v), true
}

// parseUint parses a non-negative decimal without allocating, refusing
// overflow past 2^63-1.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<63-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// parseInt parses an optionally negative decimal.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	v, ok := parseUint(b)
	if !ok {
		return 0, false
	}
	if neg {
		return -int64(v), true
	}
	return int64(v), true
}

// parseCPUMax parses v2 cpu.max, "$MAX $PERIOD" where $MAX may be "max"
// (and the period may be omitted). It returns quota and period in
// microseconds; quota 0 means no limit.
func parseCPUMax(b []byte) (quota, period int64, ok bool) {
	b = bytes.TrimSpace(b)
	q, p, hasPeriod := bytes.Cut(b, []byte{' '})
	period = 100000
	if hasPeriod {
		v, ok := parseUint(bytes.TrimSpace(p))
		if !ok || v == 0 || v > 1<<40 {
			return 0, 0, false
		}
		period = int64(v)
	}
	if string(q) == "max" {
		return 0, period, true
	}
	v, ok := parseUint(q)
	if !ok {
		return 0, 0, false
	}
	return int64(v), period, true
}

// countCPUList counts the CPUs of a list such as "0-3,8,10-11" (cpuset files,
// /sys/devices/system/cpu/online). An empty list counts 0. The kernel
// writes its lists in ascending order without overlaps, however they were
// written to it; a list that repeats or goes back ("0,0,0", "4-7,2") would
// count a CPU twice, and is refused.
func countCPUList(b []byte) (int, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return 0, true
	}
	n := 0
	var next uint64 // the least CPU the next item may start at
	for len(b) > 0 {
		var item []byte
		item, b, _ = bytes.Cut(b, []byte{','})
		lo, hi, isRange := bytes.Cut(item, []byte{'-'})
		a, ok := parseUint(lo)
		if !ok || a > 1<<20 {
			return 0, false
		}
		z := a
		if isRange {
			if z, ok = parseUint(hi); !ok || z < a || z > 1<<20 {
				return 0, false
			}
		}
		if a < next {
			return 0, false
		}
		next = z + 1
		n += int(z-a) + 1
	}
	return n, true
}

// forEachKV calls fn for each "key value" line of a flat keyed file
// (memory.stat, cpu.stat, memory.events, memory.oom_control). Lines that do
// not have that shape are skipped: kernels add keys, and we only look up the
// ones we know.
func forEachKV(b []byte, fn func(key []byte, val int64)) {
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		k, v, ok := bytes.Cut(line, []byte{' '})
		if !ok {
			continue
		}
		if n, ok := parseInt(bytes.TrimSpace(v)); ok {
			fn(k, n)
		}
	}
}

// kvLine returns the value bytes of key in a flat keyed file.
func kvLine(b []byte, key string) ([]byte, bool) {
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		k, v, ok := bytes.Cut(line, []byte{' '})
		if ok && string(k) == key {
			return bytes.TrimSpace(v), true
		}
	}
	return nil, false
}

// parsePressure parses a PSI file:
//
//	some avg10=0.00 avg60=0.00 avg300=0.00 total=0
//	full avg10=0.00 avg60=0.00 avg300=0.00 total=0
//
// The "full" line is absent for cpu on older kernels.
func parsePressure(b []byte) (Pressure, bool) {
	var p Pressure
	seen := false
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		kind, rest, _ := bytes.Cut(line, []byte{' '})
		var pl *PressureLine
		switch string(kind) {
		case "some":
			pl = &p.Some
		case "full":
			pl = &p.Full
		case "":
			continue
		default:
			return Pressure{}, false
		}
		for len(rest) > 0 {
			var field []byte
			field, rest, _ = bytes.Cut(rest, []byte{' '})
			k, v, ok := bytes.Cut(field, []byte{'='})
			if !ok {
				return Pressure{}, false
			}
			switch string(k) {
			case "avg10", "avg60", "avg300":
				f, ok := parseFixed2(v)
				if !ok {
					return Pressure{}, false
				}
				switch string(k) {
				case "avg10":
					pl.Avg10 = f
				case "avg60":
					pl.Avg60 = f
				default:
					pl.Avg300 = f
				}
			case "total":
				us, ok := parseUint(v)
				if !ok {
					return Pressure{}, false
				}
				pl.Total = usec(us)
			}
		}
		seen = true
	}
	p.Valid = seen
	return p, seen
}

// parseFixed2 parses the kernel's "12.34" percentages without strconv, which
// would allocate on error paths and is slower for this fixed shape.
func parseFixed2(b []byte) (float64, bool) {
	ip, fp, _ := bytes.Cut(b, []byte{'.'})
	i, ok := parseUint(ip)
	if !ok || i > 1000 {
		return 0, false
	}
	var frac uint64
	div := 1.0
	for _, c := range fp {
		if c < '0' || c > '9' || div > 1e9 {
			return 0, false
		}
		frac = frac*10 + uint64(c-'0')
		div *= 10
	}
	f := float64(i) + float64(frac)/div
	return f, true
}

// usec converts a kernel microsecond counter, saturating instead of
// overflowing time.Duration.
func usec(v uint64) time.Duration {
	if v > uint64(1<<63-1)/1000 {
		return 1<<63 - 1
	}
	return time.Duration(v) * time.Microsecond
}

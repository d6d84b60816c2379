package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// A benchRun is one benchmark result line: one workload run of one case.
type benchRun struct {
	name   string             // full name without the -GOMAXPROCS suffix
	keys   map[string]string  // key=value parts of the name: quota, policy, mem, scenario
	values map[string]float64 // unit → value
}

// parsed is a whole `go test -bench` output, possibly several concatenated.
type parsed struct {
	config map[string][]string // key → distinct values, in order seen
	runs   []benchRun
}

var (
	// A configuration line: "key: value", key lower case without spaces.
	configLine = regexp.MustCompile(`^([a-z][^\s:A-Z]*):\s*(.*)$`)
	// A benchmark line: name, iterations, then value/unit pairs.
	benchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+(\d+)\s+(.*)$`)
)

// parse reads benchmark output in the Go benchmark format. Lines that are
// neither configuration nor results (logs, PASS, ok) are skipped.
func parse(r io.Reader) (*parsed, error) {
	p := &parsed{config: map[string][]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), " \t\r")
		if m := benchLine.FindStringSubmatch(line); m != nil {
			rn, err := parseRun(m[1], m[4])
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", lineNo, err)
			}
			p.runs = append(p.runs, rn)
			continue
		}
		if m := configLine.FindStringSubmatch(line); m != nil && !strings.HasPrefix(line, "ok") {
			k, v := m[1], strings.TrimSpace(m[2])
			if !contains(p.config[k], v) {
				p.config[k] = append(p.config[k], v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(p.runs) == 0 {
		return nil, fmt.Errorf("no benchmark results in the input")
	}
	return p, nil
}

func parseRun(name, rest string) (benchRun, error) {
	rn := benchRun{name: name, keys: map[string]string{}, values: map[string]float64{}}
	for _, part := range strings.Split(name, "/")[1:] {
		if k, v, ok := strings.Cut(part, "="); ok {
			rn.keys[k] = v
		}
	}
	f := strings.Fields(rest)
	if len(f)%2 != 0 {
		return rn, fmt.Errorf("%s: odd number of value/unit fields", name)
	}
	for i := 0; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return rn, fmt.Errorf("%s: value %q: %w", name, f[i], err)
		}
		rn.values[f[i+1]] = v
	}
	return rn, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// configValue joins the distinct values seen for key.
func (p *parsed) configValue(key string) string {
	return strings.Join(p.config[key], " / ")
}

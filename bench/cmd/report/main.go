// Command report turns the output of the benchmark suite in package bench
// into the README's results: a Markdown table with the environment the
// numbers come from and the goals checked against them, and a PNG chart of
// GC pause p99 and request p99 per policy and CPU quota.
//
// Usage:
//
//	go test -run '^$' -bench . -benchtime 1x -count 5 ./bench > results.txt
//	go run ./bench/cmd/report -in results.txt -out bench/results -readme bench/README-snippet.md
//
// It writes results.md and chart.png into -out, and, with -readme, replaces
// the part of that file between the lines
//
//	<!-- bench-results:begin -->
//	<!-- bench-results:end -->
//
// with the same table. Several outputs concatenated (one per -count=1 pass,
// which spreads the machine's noise over every case) read as one run.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
)

const (
	beginMarker = "<!-- bench-results:begin -->"
	endMarker   = "<!-- bench-results:end -->"
)

func main() {
	in := flag.String("in", "-", "benchmark output to read (- for standard input)")
	out := flag.String("out", "bench/results", "directory for results.md and chart.png")
	readme := flag.String("readme", "", "Markdown file whose results section to replace (optional)")
	chartRef := flag.String("chart-ref", "", "how -readme refers to the chart (default: its path relative to the -readme file)")
	flag.Parse()
	if err := run(*in, *out, *readme, *chartRef); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(in, out, readme, chartRef string) error {
	var r io.Reader = os.Stdin
	if in != "-" {
		f, err := os.Open(in)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	p, err := parse(r)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	cases := group(p)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}

	footer := fmt.Sprintf("%s CPUs (%s), Linux %s, %s, cgroup %s; bars: median of %d runs, whiskers: min-max",
		p.configValue("ncpu"), p.configValue("cpu"), p.configValue("kernel"), p.configValue("go"),
		p.configValue("cgroup"), maxRuns(cases))
	var buf bytes.Buffer
	if err := png.Encode(&buf, chart(cases, footer, func(policy, quota string) int {
		for _, c := range cases {
			if n, ok := measuredProcs(c); ok && c.family == "CPU" && c.policy == policy && c.quota == quota {
				return n
			}
		}
		return procsFor(policy, quota, p.ncpu(), p.configValue("snug-policy"))
	})); err != nil {
		return fmt.Errorf("encode chart: %w", err)
	}
	chartPath := filepath.Join(out, "chart.png")
	if err := os.WriteFile(chartPath, buf.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "results.md"), []byte(markdown(p, cases, "chart.png")), 0o644); err != nil {
		return err
	}
	if readme == "" {
		return nil
	}
	if chartRef == "" {
		rel, err := filepath.Rel(filepath.Dir(readme), chartPath)
		if err != nil {
			return err
		}
		chartRef = filepath.ToSlash(rel)
	}
	return replaceSection(readme, markdown(p, cases, chartRef))
}

func maxRuns(cases []*benchCase) int {
	n := 0
	for _, c := range cases {
		n = max(n, c.runs)
	}
	return n
}

// replaceSection rewrites the part of file between the markers.
func replaceSection(file, section string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	s := string(data)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	if i < 0 || j < i {
		return errors.New(file + ": no " + beginMarker + " … " + endMarker + " section to replace")
	}
	s = s[:i+len(beginMarker)] + "\n" + section + s[j:]
	return os.WriteFile(file, []byte(s), 0o644)
}

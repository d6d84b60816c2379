// Package promtest runs a real Prometheus server for tests: it scrapes one
// target on loopback every second, keeps its data in the test's temporary
// directory, answers queries through its HTTP API, and is stopped when the
// test ends. CI installs Debian's prometheus package and sets
// SNUG_REQUIRE_PROMETHEUS=1, so that a missing binary fails instead of
// skipping.
package promtest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Binary returns the prometheus binary to run ($SNUG_PROMETHEUS, then PATH),
// or "" when there is none and SNUG_REQUIRE_PROMETHEUS is not 1; with it
// set, a missing binary fails t.
func Binary(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("SNUG_PROMETHEUS"), "prometheus", "/usr/bin/prometheus"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("SNUG_REQUIRE_PROMETHEUS") == "1" {
		t.Fatal("no prometheus binary and SNUG_REQUIRE_PROMETHEUS=1 (apt-get install prometheus, or .ci/prometheus-setup)")
	}
	return ""
}

// Server is a running Prometheus that scrapes one job.
type Server struct {
	api    string
	job    string
	exited chan error
	mu     sync.Mutex
	logs   []byte
}

// Start runs bin scraping target (host:port, path /metrics) as job every
// second, and stops it when the test ends, logging its output if the test
// failed.
func Start(t testing.TB, bin, target, job string) *Server {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	config := fmt.Sprintf("global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"+
		"scrape_configs:\n  - job_name: %s\n    static_configs: [{targets: ['%s']}]\n", job, target)
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &Server{api: fmt.Sprintf("127.0.0.1:%d", freePort(t)), job: job, exited: make(chan error, 1)}
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+s.api, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = s, s
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-s.exited
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", s.log())
		}
	})
	return s
}

func (s *Server) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logs = append(s.logs, p...)
	return len(p), nil
}

func (s *Server) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.logs)
}

// WaitUp waits until Prometheus has scraped the target successfully
// (up == 1), failing t after a minute or if Prometheus exits.
func (s *Server) WaitUp(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case err := <-s.exited:
			t.Fatalf("prometheus exited: %v\n%s", err, s.log())
		default:
		}
		if v, ok := s.Query(`up{job="` + s.job + `"}`); ok && v == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus did not scrape job %s within a minute", s.job)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Query evaluates an instant query and returns the first result's value;
// ok is false when the query failed or found no series.
func (s *Server) Query(q string) (float64, bool) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + s.api + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Data   struct{ Result []struct{ Value [2]any } }
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Status != "success" || len(r.Data.Result) == 0 {
		return 0, false
	}
	str, _ := r.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(str, 64)
	return v, err == nil
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

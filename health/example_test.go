package health_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/snug-go/snug/health"
	"github.com/snug-go/snug/probe"
)

// fetch GETs url and prints the status and body, as a kubelet would see them.
func fetch(url string) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("User-Agent", "kube-probe/1.31")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 10<<10))
	fmt.Printf("%d %s\n", resp.StatusCode, body)
}

// A service with the standard checks and a database, its probes on the
// application's own mux, and a graceful shutdown on SIGTERM.
func Example() {
	var db probe.Pinger // your *sql.DB

	h := health.New(health.Config{WaitForReady: true})
	if err := h.Add(probe.Standard(nil, nil)...); err != nil { // pass cgroup.Open() and the tune watchdog
		log.Fatal(err)
	}
	if err := h.Add(probe.SQLPing("db", db)); err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Install(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello\n") })

	go func() {
		// ... load caches, connect ...
		h.MarkReady()
	}()
	srv := &http.Server{Addr: ":8080", Handler: mux}
	if err := health.ServeAndDrain(context.Background(), srv, h, nil); err != nil {
		log.Print(err)
	}
}

func ExampleNew() {
	h := health.New(health.Config{Timeout: 300 * time.Millisecond})
	h.Add(probe.Func("cache", probe.Readiness, func(context.Context) error { return nil }))
	srv := httptest.NewServer(h)
	defer srv.Close()

	fetch(srv.URL + "/readyz")
	fetch(srv.URL + "/readyz?verbose")
	// Output:
	// 200 ok
	// 200 [+]cache ok
	// [+]shutdown ok
	// readyz check passed
}

func ExampleHandler_Add() {
	h := health.New(health.Config{})
	err := h.Add(
		probe.Goroutines(10_000),
		probe.Func("queue", probe.Readiness, func(context.Context) error {
			return errors.New("backlog of 12000 jobs, over 10000")
		}),
	)
	fmt.Println(err)
	fmt.Println(h.Add(probe.Func("queue", probe.Liveness, nil)))
	srv := httptest.NewServer(h)
	defer srv.Close()

	fetch(srv.URL + "/readyz")
	fetch(srv.URL + "/readyz/queue")
	fetch(srv.URL + "/livez")
	// Output:
	// <nil>
	// health: adding check "queue": a check with this name is already registered
	// 503 [-]queue failed: reason withheld
	// [+]shutdown ok
	// readyz check failed
	//
	// 503 [-]queue failed: backlog of 12000 jobs, over 10000
	//
	// 200 ok
}

func ExampleHandler_Install() {
	h := health.New(health.Config{})
	mux := http.NewServeMux()
	h.Install(mux) // or h.Install(http.DefaultServeMux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	fetch(srv.URL + "/livez")
	fetch(srv.URL + "/healthz?verbose")
	// Output:
	// 200 ok
	// 200 [+]shutdown ok
	// healthz check passed
}

// With ?exclude, a probe skips checks; names that match nothing are
// reported in a warning line.
func ExampleHandler_ServeHTTP() {
	h := health.New(health.Config{})
	h.Add(probe.Func("db", probe.Readiness, func(context.Context) error { return errors.New("refused") }))
	srv := httptest.NewServer(h)
	defer srv.Close()

	fetch(srv.URL + "/readyz?exclude=db&exclude=dbb&verbose")

	req, _ := http.NewRequest("GET", srv.URL+"/readyz/db", nil)
	req.Header.Set("Accept", "application/json")
	resp, _ := http.DefaultClient.Do(req)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("%d %.79s...\n", resp.StatusCode, body)
	// Output:
	// 200 [+]db excluded: ok
	// [+]shutdown ok
	// warn: some health checks cannot be excluded: no matches for "dbb"
	// readyz check passed
	//
	// 503 {"status":"failed","checks":[{"name":"db","kind":"readiness","status":"failed",...
}

func ExampleHandler_MarkReady() {
	h := health.New(health.Config{WaitForReady: true})
	srv := httptest.NewServer(h)
	defer srv.Close()

	fetch(srv.URL + "/readyz/startup")
	h.MarkReady()
	fetch(srv.URL + "/readyz/startup")
	// Output:
	// 503 [-]startup failed: starting: waiting for MarkReady or for the startup checks to pass
	//
	// 200 ok
}

func ExampleHandler_MarkShuttingDown() {
	h := health.New(health.Config{})
	srv := httptest.NewServer(h)
	defer srv.Close()

	h.MarkShuttingDown()
	fetch(srv.URL + "/readyz?verbose")
	fetch(srv.URL + "/livez")
	// Output:
	// 503 [-]shutdown failed: process is shutting down
	// readyz check failed
	//
	// 200 ok
}

func ExampleHandler_StartBackground() {
	h := health.New(health.Config{})
	h.Add(probe.Check{
		Name:    "report-store",
		Kind:    probe.Readiness,
		Timeout: 5 * time.Second, // longer than a probe may wait: fine in background mode
		Func:    func(ctx context.Context) error { return nil },
	})
	stop := h.StartBackground(10*time.Second, 35*time.Second)
	defer stop()

	srv := httptest.NewServer(h)
	defer srv.Close()
	fetch(srv.URL + "/readyz/report-store")
	// Output:
	// 200 ok
}

func ExampleHandler_Results() {
	h := health.New(health.Config{})
	h.Add(probe.Func("db", probe.Readiness, func(context.Context) error { return errors.New("refused") }))
	srv := httptest.NewServer(h)
	defer srv.Close()
	fetch(srv.URL + "/readyz/db")

	for _, r := range h.Results() {
		// Export r.Name, r.OK(), r.Duration as metrics.
		fmt.Println(r.Name, r.Kind, r.OK(), r.Err)
	}
	// Output:
	// 503 [-]db failed: refused
	//
	// db readiness false refused
}

func ExampleServeAndDrain() {
	h := health.New(health.Config{})
	mux := http.NewServeMux()
	h.Install(mux)
	srv := &http.Server{Addr: "127.0.0.1:0", Handler: mux}

	// In a pod with terminationGracePeriodSeconds: 60 and no preStop hook:
	// keep serving 10 s after SIGTERM, then give requests up to 49 s.
	go func() {
		time.Sleep(100 * time.Millisecond)
		h.MarkShuttingDown() // what SIGTERM does; shown here so the example ends
	}()
	err := health.ServeAndDrain(context.Background(), srv, h, &health.DrainOptions{
		DrainDelay:  200 * time.Millisecond, // 10 * time.Second in the pod above
		GracePeriod: 60 * time.Second,
	})
	fmt.Println(err)
	// Output:
	// <nil>
}

package health

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/snug-go/snug/probe"
)

// benchHandler has n fast checks of each kind.
func benchHandler(b *testing.B, n int) *Handler {
	h := New(Config{})
	for i := range n {
		mustAdd(b, h,
			probe.Func(fmt.Sprintf("live-%d", i), probe.Liveness, pass),
			probe.Func(fmt.Sprintf("ready-%d", i), probe.Readiness, pass),
		)
	}
	return h
}

type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkServeReadyz is the handler's own cost for one /readyz probe with
// five fast readiness checks: each run in its own goroutine.
func BenchmarkServeReadyz(b *testing.B) {
	for _, path := range []string{"/readyz", "/readyz?verbose", "/readyz/ready-0"} {
		b.Run(path, func(b *testing.B) {
			h := benchHandler(b, 5)
			req := httptest.NewRequest("GET", path, nil)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
		})
	}
}

// BenchmarkServeReadyzBackground: in background mode a probe only reads
// results.
func BenchmarkServeReadyzBackground(b *testing.B) {
	h := benchHandler(b, 5)
	stop := h.StartBackground(time.Hour, time.Hour)
	defer stop()
	time.Sleep(10 * time.Millisecond) // the first runs
	req := httptest.NewRequest("GET", "/readyz", nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

// BenchmarkServeReadyzParallel: concurrent probes sharing runs.
func BenchmarkServeReadyzParallel(b *testing.B) {
	h := benchHandler(b, 5)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest("GET", "/readyz", nil).WithContext(context.Background())
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			h.ServeHTTP(w, req)
		}
	})
}

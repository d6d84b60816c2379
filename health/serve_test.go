//go:build unix

package health

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/snug-go/snug/probe"
)

type served struct {
	base string
	errc chan error
	srv  *http.Server
}

// returned waits for ServeAndDrain to return nil; why says what failed
// when it does not within 10 s.
func (s served) returned(t *testing.T, why string) {
	t.Helper()
	select {
	case err := <-s.errc:
		if err != nil {
			t.Fatalf("ServeAndDrain: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal(why)
	}
}

// startDrainServer runs ServeAndDrain on a loopback port with an app path
// /slow that takes the time given in its ?d= parameter, and waits until
// the server answers /readyz.
func startDrainServer(t *testing.T, ctx context.Context, h *Handler, opts DrainOptions) served {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Install(mux)
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		slowEntered.Add(1)
		d, _ := time.ParseDuration(r.URL.Query().Get("d"))
		select {
		case <-time.After(d):
			io.WriteString(w, "done")
		case <-r.Context().Done(): // Close cut the connection
		}
	})
	srv := &http.Server{Handler: mux}
	opts.Listener = ln
	s := served{base: "http://" + ln.Addr().String(), errc: make(chan error, 1), srv: srv}
	go func() { s.errc <- ServeAndDrain(ctx, srv, h, &opts) }()
	k := newKubeletProbe()
	waitFor(t, func() bool { r, err := k.do("GET", s.base+"/readyz"); return err == nil && r.status == 200 })
	return s
}

// slowEntered counts the requests that reached /slow's handler.
var slowEntered atomic.Int64

// slowGet starts a request to /slow on its own connection and returns a
// channel with its outcome.
func slowGet(base string, d time.Duration) <-chan string {
	out := make(chan string, 1)
	go func() {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get(base + "/slow?d=" + d.String())
		if err != nil {
			out <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out <- resp.Status + " " + string(b)
	}()
	return out
}

// TestShutdownOnSIGTERM sends this process a real SIGTERM while a real
// http.Server serves: during the drain delay /readyz answers 503 and
// /livez 200, requests in flight and new ones complete, and then the
// server stops and ServeAndDrain returns nil.
func TestShutdownOnSIGTERM(t *testing.T) {
	// os/signal starts one goroutine for good at its first use: count it in.
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR2)
	signal.Stop(c)
	base := runtime.NumGoroutine()
	h := New(Config{})
	mustAdd(t, h, probe.Func("alive", probe.Liveness, pass), probe.Func("db", probe.Readiness, pass))
	const drain = time.Second
	s := startDrainServer(t, context.Background(), h, DrainOptions{DrainDelay: drain, GracePeriod: 10 * time.Second})
	k := newKubeletProbe()

	inFlight := slowGet(s.base, 1500*time.Millisecond)
	time.Sleep(100 * time.Millisecond) // let it reach the handler
	sent := time.Now()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, h.ShuttingDown)

	// During the drain delay: readiness fails, liveness passes, new requests
	// are served.
	var duringDrain <-chan string
	probes := 0
	for time.Since(sent) < drain*8/10 {
		r := k.get(t, s.base+"/readyz?verbose")
		if r.status != 503 || r.body != "[+]db ok\n[-]shutdown failed: process is shutting down\nreadyz check failed\n" {
			t.Fatalf("/readyz during drain: %d %q", r.status, r.body)
		}
		if r := k.get(t, s.base+"/livez"); r.status != 200 || r.body != "ok" {
			t.Fatalf("/livez during drain: %d %q", r.status, r.body)
		}
		if duringDrain == nil {
			duringDrain = slowGet(s.base, 200*time.Millisecond)
		}
		probes++
		time.Sleep(50 * time.Millisecond)
	}
	if probes < 3 {
		t.Errorf("only %d probe rounds during the drain delay", probes)
	}

	if got := <-inFlight; got != "200 OK done" {
		t.Errorf("request in flight at SIGTERM: %s", got)
	}
	if got := <-duringDrain; got != "200 OK done" {
		t.Errorf("request started during the drain delay: %s", got)
	}
	s.returned(t, "ServeAndDrain did not return")
	if d := time.Since(sent); d < drain {
		t.Errorf("returned %v after SIGTERM, before the %v drain delay", d, drain)
	}
	// The server is gone.
	if _, err := k.do("GET", s.base+"/livez"); err == nil {
		t.Error("server still answers after ServeAndDrain returned")
	}
	waitGoroutines(t, base)
}

func TestShutdownTriggers(t *testing.T) {
	t.Run("MarkShuttingDown", func(t *testing.T) {
		h := New(Config{})
		s := startDrainServer(t, context.Background(), h, DrainOptions{DrainDelay: 50 * time.Millisecond})
		h.MarkShuttingDown()
		if err := <-s.errc; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("context", func(t *testing.T) {
		h := New(Config{})
		ctx, cancel := context.WithCancel(context.Background())
		s := startDrainServer(t, ctx, h, DrainOptions{DrainDelay: -1})
		cancel()
		if err := <-s.errc; err != nil {
			t.Fatal(err)
		}
		if !h.ShuttingDown() {
			t.Error("readiness not failed")
		}
	})
	t.Run("second signal cuts the drain short", func(t *testing.T) {
		h := New(Config{})
		s := startDrainServer(t, context.Background(), h, DrainOptions{DrainDelay: time.Hour, Signals: []os.Signal{syscall.SIGUSR1}})
		start := time.Now()
		syscall.Kill(os.Getpid(), syscall.SIGUSR1)
		waitFor(t, h.ShuttingDown)
		syscall.Kill(os.Getpid(), syscall.SIGUSR1)
		s.returned(t, "a second signal did not end the drain delay")
		if time.Since(start) > 5*time.Second {
			t.Error("too slow")
		}
	})
	t.Run("server closed elsewhere", func(t *testing.T) {
		h := New(Config{})
		s := startDrainServer(t, context.Background(), h, DrainOptions{})
		s.srv.Close()
		if err := <-s.errc; err != nil {
			t.Fatal(err)
		}
		if !h.ShuttingDown() {
			t.Error("readiness not failed")
		}
	})
}

func TestShutdownPastGracePeriod(t *testing.T) {
	h := New(Config{})
	// Grace 1.3 s less the 1 s exit margin and 100 ms of drain: Shutdown
	// gets about 200 ms, and the request needs 3 s.
	s := startDrainServer(t, context.Background(), h, DrainOptions{DrainDelay: 100 * time.Millisecond, GracePeriod: 1300 * time.Millisecond})
	inFlight := slowGet(s.base, 3*time.Second)
	time.Sleep(100 * time.Millisecond)
	h.MarkShuttingDown()
	err := <-s.errc
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "requests still in flight") {
		t.Fatalf("err = %v", err)
	}
	if got := <-inFlight; !strings.HasPrefix(got, "error: ") {
		t.Errorf("request cut by Close: %s", got)
	}
}

// A drain delay longer than the grace period allows is cut to half of what
// the grace period leaves: the server shuts down, and ServeAndDrain returns,
// before the kubelet's SIGKILL would come.
func TestDrainDelayFitsGracePeriod(t *testing.T) {
	h := New(Config{})
	const grace = 2 * time.Second // (2 s - 1 s exit margin) / 2: a 500 ms delay
	s := startDrainServer(t, context.Background(), h, DrainOptions{DrainDelay: 10 * time.Second, GracePeriod: grace})
	start := time.Now()
	h.MarkShuttingDown()
	select {
	case err := <-s.errc:
		if err != nil {
			t.Fatal(err)
		}
		// An uncut delay would take 10 s.
		if took := time.Since(start); took >= grace {
			t.Errorf("ServeAndDrain took %v, past the %v grace period", took, grace)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("the 10 s drain delay was not cut to fit the 2 s grace period")
	}
}

func TestServeAndDrainErrors(t *testing.T) {
	h := New(Config{})
	err := ServeAndDrain(context.Background(), &http.Server{Addr: "256.0.0.1:bad"}, h, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "health: listening for the server: ") {
		t.Errorf("bad address: %v", err)
	}
	if err := ServeAndDrain(context.Background(), nil, h, nil); err == nil {
		t.Error("nil server accepted")
	}
	if err := ServeAndDrain(context.Background(), &http.Server{}, nil, nil); err == nil {
		t.Error("nil handler accepted")
	}
}

// TestServeAndDrainTLS: a TLSConfig that provides certificates in any of
// the ways http.Server.ServeTLS accepts is served over TLS, not plain HTTP.
func TestServeAndDrainTLS(t *testing.T) {
	ts := httptest.NewTLSServer(http.NotFoundHandler()) // for its certificate and a client that trusts it
	defer ts.Close()
	cert := ts.TLS.Certificates[0]
	for name, cfg := range map[string]*tls.Config{
		"Certificates":   {Certificates: []tls.Certificate{cert}},
		"GetCertificate": {GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }},
		"GetConfigForClient": {GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return &tls.Config{Certificates: []tls.Certificate{cert}}, nil
		}},
	} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			h := New(Config{})
			mux := http.NewServeMux()
			h.Install(mux)
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() {
				errc <- ServeAndDrain(ctx, &http.Server{Handler: mux, TLSConfig: cfg}, h, &DrainOptions{Listener: ln, DrainDelay: -1})
			}()
			resp, err := ts.Client().Get("https://" + ln.Addr().String() + "/livez")
			if err == nil {
				resp.Body.Close()
			}
			cancel()
			if err != nil || resp.StatusCode != 200 {
				t.Errorf("GET over TLS: %v", err)
			}
			if err := <-errc; err != nil {
				t.Error(err)
			}
		})
	}
}

// TestFirstSignalAfterOtherTrigger: when MarkShuttingDown (from a preStop
// HTTP hook, say) or the cancellation of ctx (signal.NotifyContext on the
// same SIGTERM) started the drain, the kubelet's SIGTERM is the first
// signal ServeAndDrain sees, not a second one: the drain delay goes on.
// Only another signal cuts it short.
func TestFirstSignalAfterOtherTrigger(t *testing.T) {
	for _, trigger := range []string{"MarkShuttingDown", "context"} {
		t.Run(trigger, func(t *testing.T) {
			// seen also keeps SIGUSR1 from killing the test binary when
			// ServeAndDrain has stopped catching it.
			seen := make(chan os.Signal, 4)
			signal.Notify(seen, syscall.SIGUSR1)
			defer signal.Stop(seen)
			h := New(Config{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s := startDrainServer(t, ctx, h, DrainOptions{DrainDelay: time.Hour, GracePeriod: 3 * time.Hour, Signals: []os.Signal{syscall.SIGUSR1}})
			if trigger == "context" {
				cancel()
			} else {
				h.MarkShuttingDown()
			}
			// Keep-alive off: ServeAndDrain is past step 1, in the drain
			// delay.
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			waitFor(t, func() bool {
				resp, err := client.Get(s.base + "/livez")
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.Close
			})
			syscall.Kill(os.Getpid(), syscall.SIGUSR1)
			<-seen // delivered to every channel, ServeAndDrain's too
			select {
			case err := <-s.errc:
				t.Fatalf("one signal after %s ended the 1 h drain delay: ServeAndDrain returned %v", trigger, err)
			case <-time.After(500 * time.Millisecond):
			}
			if r := newKubeletProbe().get(t, s.base+"/livez"); r.status != 200 {
				t.Errorf("/livez during the drain delay: %d %q", r.status, r.body)
			}
			syscall.Kill(os.Getpid(), syscall.SIGUSR1)
			s.returned(t, "a second signal did not end the drain delay")
		})
	}
}

// ServeAndDrain closes the Listener it is given, also when it refuses its
// arguments: the caller handed it over.
func TestServeAndDrainBadArgumentsCloseListener(t *testing.T) {
	for _, c := range []struct {
		name string
		srv  *http.Server
		h    *Handler
	}{{"nil server", nil, New(Config{})}, {"nil handler", &http.Server{}, nil}} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := ServeAndDrain(context.Background(), c.srv, c.h, &DrainOptions{Listener: ln}); err == nil {
			t.Errorf("%s: no error", c.name)
		}
		ln.(*net.TCPListener).SetDeadline(time.Now()) // open: Accept times out at once
		if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
			ln.Close()
			t.Errorf("%s: the listener is still open (Accept: %v)", c.name, err)
		}
	}
}

// A signal while Shutdown waits for a request in flight, after the one that
// started the shutdown, closes it at once: someone pressing Ctrl-C again
// is not held until the grace period runs out. Only one signal still
// waits, as the kubelet sends only one.
func TestSignalDuringShutdownCloses(t *testing.T) {
	seen := make(chan os.Signal, 4)
	signal.Notify(seen, syscall.SIGUSR1)
	defer signal.Stop(seen)
	h := New(Config{})
	s := startDrainServer(t, context.Background(), h, DrainOptions{DrainDelay: -1, GracePeriod: 3 * time.Hour, Signals: []os.Signal{syscall.SIGUSR1}})
	entered := slowEntered.Load()
	inFlight := slowGet(s.base, time.Hour)
	waitFor(t, func() bool { return slowEntered.Load() > entered }) // in flight
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	<-seen
	// Shutdown has closed the listener: ServeAndDrain is in step 3.
	waitFor(t, func() bool {
		c, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case err := <-s.errc:
		t.Fatalf("one signal ended the wait for a request in flight: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	select {
	case err := <-s.errc:
		if err == nil || !strings.Contains(err.Error(), "cut short by another signal") {
			t.Errorf("err = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a second signal did not cut Shutdown's wait")
	}
	if got := <-inFlight; !strings.HasPrefix(got, "error: ") {
		t.Errorf("request in flight: %s, want it cut", got)
	}
}

// failingCloseListener is a listener whose Close fails after closing.
type failingCloseListener struct{ net.Listener }

func (l failingCloseListener) Close() error {
	l.Listener.Close()
	return errors.New("close failed")
}

// When Shutdown completes but the listener's Close failed, the error says
// so and does not claim requests were still in flight.
func TestShutdownListenerCloseError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := New(Config{})
	errc := make(chan error, 1)
	go func() {
		errc <- ServeAndDrain(context.Background(), &http.Server{Handler: http.NewServeMux()}, h,
			&DrainOptions{Listener: failingCloseListener{ln}, DrainDelay: -1, GracePeriod: time.Hour})
	}()
	waitFor(t, func() bool { // serving: the server tracks the listener
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	h.MarkShuttingDown()
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "closing the listener: close failed") || strings.Contains(err.Error(), "in flight") {
			t.Errorf("err = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeAndDrain did not return")
	}
}

package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Defaults of DrainOptions, chosen against Kubernetes' termination flow
// (see ServeAndDrain).
const (
	// DefaultDrainDelay is how long the server keeps serving after the
	// termination signal. Removing a terminating pod from a Service reaches
	// kube-proxy on every node, ingress controllers and cloud load
	// balancers in one to a few seconds in most clusters; until then they
	// still send new connections, which must not be refused. 5 s covers
	// that with room, and leaves most of the default 30 s grace period to
	// finish requests in flight.
	DefaultDrainDelay = 5 * time.Second

	// DefaultGracePeriod is Kubernetes' default
	// terminationGracePeriodSeconds.
	DefaultGracePeriod = 30 * time.Second

	// exitMargin is kept back from the grace period for what the process
	// does after ServeAndDrain returns (closing databases, flushing logs
	// and telemetry) before the kubelet's SIGKILL.
	exitMargin = 1 * time.Second
)

// DrainOptions configures ServeAndDrain. The zero value serves on srv.Addr,
// drains for 5 s after SIGTERM or SIGINT, and assumes a 30 s grace period.
type DrainOptions struct {
	// Listener, if not nil, is served instead of listening on srv.Addr.
	// ServeAndDrain closes it.
	Listener net.Listener

	// DrainDelay is how long to keep serving, with readiness failing,
	// between the signal and http.Server.Shutdown. Zero means
	// DefaultDrainDelay; a negative value means no delay. If the pod has a
	// preStop hook that already sleeps while endpoints are removed, this
	// delay adds to it: shorten it. It never takes more than half of the
	// grace period less one second, so that Shutdown keeps the other half
	// to finish requests in flight and the process can still exit before
	// SIGKILL (a 3 s grace period gives a 1 s delay).
	DrainDelay time.Duration

	// GracePeriod is the time the kubelet leaves between SIGTERM and
	// SIGKILL: terminationGracePeriodSeconds less the time the preStop hook
	// takes, since both count against it. Zero means DefaultGracePeriod.
	// Shutdown gets what remains after the drain delay, less one second for
	// the process to exit.
	GracePeriod time.Duration

	// Signals start the shutdown. Nil means SIGTERM (what the kubelet
	// sends) and os.Interrupt (Ctrl-C). A second signal during the drain
	// delay cuts it short; one after that, while Shutdown waits for the
	// requests in flight, closes them at once.
	Signals []os.Signal
}

// ServeAndDrain serves srv until a termination signal, the cancellation of
// ctx, or a call to h.MarkShuttingDown, and then shuts it down the way
// Kubernetes expects:
//
//  1. Readiness fails at once (h.MarkShuttingDown: /readyz answers 503,
//     "[-]shutdown failed"), liveness stays green, and keep-alive is
//     turned off so that clients reconnect, and so leave, sooner.
//  2. The server keeps serving for the drain delay (5 s by default):
//     clients that have not yet seen the pod leave the Service's endpoints
//     still send requests, and they are served.
//  3. srv.Shutdown stops accepting and waits for the requests in flight,
//     within what remains of the grace period less one second (24 s with
//     the defaults). If they have not finished by then, or if a further
//     signal comes meanwhile (Ctrl-C pressed again), srv.Close cuts them
//     and ServeAndDrain returns an error saying so.
//
// ServeAndDrain returns nil after a clean shutdown, or the error that
// stopped the server otherwise. It serves TLS if srv.TLSConfig has a
// certificate (Certificates, GetCertificate or GetConfigForClient).
// Handlers that outlive Shutdown (hijacked connections, WebSockets) must
// be told to stop with srv.RegisterOnShutdown.
//
// The Kubernetes timeline, from the moment a pod is deleted:
//
//	t=0  The API server marks the pod Terminating. In parallel:
//	     - the EndpointSlice controller drops the pod from its Services'
//	       ready endpoints, and kube-proxy, ingress controllers and load
//	       balancers catch up over the next seconds, sending new
//	       connections meanwhile;
//	     - the kubelet runs the preStop hook, if any, then sends SIGTERM.
//	SIGTERM  ServeAndDrain fails readiness and keeps serving: step 1-2.
//	+5 s     Shutdown: no new connections, in-flight requests finish: step 3.
//	t=terminationGracePeriodSeconds (default 30 s, counted from t=0,
//	     preStop included): SIGKILL, whatever is still running.
//
// A failing readiness probe does not itself remove a terminating pod from
// endpoints (deletion does that); it tells the load balancers that probe
// the pod directly, and it makes the pod's state plain to anyone looking.
// Liveness stays green so that the kubelet does not restart a container
// that is stopping on purpose.
func ServeAndDrain(ctx context.Context, srv *http.Server, h *Handler, opts *DrainOptions) error {
	var o DrainOptions
	if opts != nil {
		o = *opts
	}
	if o.DrainDelay == 0 {
		o.DrainDelay = DefaultDrainDelay
	}
	if o.DrainDelay < 0 {
		o.DrainDelay = 0
	}
	if o.GracePeriod <= 0 {
		o.GracePeriod = DefaultGracePeriod
	}
	// A delay that runs past the grace period would end in SIGKILL with
	// requests in flight and the program's own cleanup never run.
	o.DrainDelay = min(o.DrainDelay, max(o.GracePeriod-exitMargin, 0)/2)
	if len(o.Signals) == 0 {
		o.Signals = []os.Signal{syscall.SIGTERM, os.Interrupt}
	}
	if srv == nil || h == nil {
		if o.Listener != nil {
			o.Listener.Close() // ours to close, as on every other path
		}
		return errors.New("health: ServeAndDrain needs a server and a handler")
	}

	// Catch the signals before serving, so that no signal can arrive
	// between the first request and the handler's installation and kill
	// the process with the default action.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, o.Signals...)
	defer signal.Stop(sigs)

	ln := o.Listener
	if ln == nil {
		addr := srv.Addr
		if addr == "" {
			addr = ":http"
		}
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("health: listening for the server: %w", err)
		}
	}
	served := make(chan error, 1)
	go func() {
		// The same test as http.Server.ServeTLS's for a certificate: a
		// TLS server whose config provides one only per client must not
		// be served in plain HTTP.
		if c := srv.TLSConfig; c != nil && (len(c.Certificates) > 0 || c.GetCertificate != nil || c.GetConfigForClient != nil) {
			served <- srv.ServeTLS(ln, "", "")
		} else {
			served <- srv.Serve(ln)
		}
	}()

	var cause string
	signalled := false // a signal started the shutdown
	select {
	case err := <-served:
		// Someone else shut the server down, or it failed.
		h.MarkShuttingDown()
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("health: serving: %w", err)
	case s := <-sigs:
		cause, signalled = "signal "+s.String(), true
	case <-ctx.Done():
		cause = "context done"
	case <-h.shutdown:
		cause = "MarkShuttingDown"
	}
	began := time.Now()

	// 1. Fail readiness; keep serving.
	h.MarkShuttingDown()
	srv.SetKeepAlivesEnabled(false)

	// 2. Drain delay. A second signal cuts it short; a server that stops on
	// its own ends it too. After MarkShuttingDown or ctx (a preStop HTTP
	// hook, signal.NotifyContext on the same SIGTERM), the kubelet's
	// SIGTERM is the first signal, the one the drain is for: only another
	// one cuts it short.
	if o.DrainDelay > 0 {
		t := time.NewTimer(o.DrainDelay)
	drain:
		for {
			select {
			case <-t.C:
				break drain
			case <-sigs:
				if signalled {
					break drain
				}
				signalled = true
			case err := <-served:
				t.Stop()
				if errors.Is(err, http.ErrServerClosed) {
					return nil
				}
				return fmt.Errorf("health: serving during the drain delay (after %s): %w", cause, err)
			}
		}
		t.Stop()
	}

	// 3. Shutdown within the remaining grace period. A signal now, after
	// the one the drain was for, is someone who will not wait for the
	// requests in flight (Ctrl-C pressed again): close them at once rather
	// than hold the process until the grace period runs out.
	budget := o.GracePeriod - time.Since(began) - exitMargin
	sctx, cancel := context.WithTimeout(context.Background(), max(budget, 0))
	defer cancel()
	cut, stop, watched := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-sigs:
				if signalled {
					close(cut)
					cancel()
					return
				}
				signalled = true
			case <-stop:
				return
			}
		}
	}()
	err := srv.Shutdown(sctx)
	close(stop)
	<-watched
	if err != nil {
		srv.Close()
		<-served
		select {
		case <-cut:
			if errors.Is(err, context.Canceled) { // not a listener's error that came first
				return fmt.Errorf("health: shutdown after %s: cut short by another signal, requests in flight closed: %w", cause, err)
			}
		default:
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("health: shutdown after %s: requests still in flight after %v, closed: %w",
				cause, roundDuration(max(budget, 0)), err)
		}
		// The requests finished; Shutdown reports the listener's Close.
		return fmt.Errorf("health: shutdown after %s: closing the listener: %w", cause, err)
	}
	if serr := <-served; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("health: serving: %w", serr)
	}
	return nil
}

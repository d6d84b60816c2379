// Package health serves a service's checks to the kubelet's probes, in the
// format of the Kubernetes API server's own /livez and /readyz, and shuts
// the service down the way Kubernetes expects.
//
// # Usage
//
//	h := health.New(health.Config{WaitForReady: true})
//	h.Add(probe.Standard(cg, watchdog)...)
//	h.Add(probe.SQLPing("db", db))
//	mux := http.NewServeMux()
//	h.Install(mux)
//	mux.Handle("/", app)
//	go func() { warmUp(); h.MarkReady() }()
//	srv := &http.Server{Addr: ":8080", Handler: mux}
//	err := health.ServeAndDrain(ctx, srv, h, nil) // returns after SIGTERM and a graceful shutdown
//
// with, in the pod spec:
//
//	livenessProbe:  {httpGet: {path: /livez, port: 8080}}
//	readinessProbe: {httpGet: {path: /readyz, port: 8080}}
//
// # Endpoints
//
//	/livez            the Liveness checks (and Both)
//	/readyz           the Readiness checks (and Both), the Startup checks,
//	                  "startup" (with Config.WaitForReady) and "shutdown"
//	/healthz          all of them: liveness and readiness together, for people
//	/livez/<check>    one check, with its error text on failure
//	/readyz/<check>   (and /healthz/<check>) likewise
//
// Only GET and HEAD are allowed (405 otherwise). An unknown check is 404.
// The endpoint is found wherever it is in the path, so the handler also
// works under a prefix (/debug/readyz).
//
// # Query parameters
//
//	?verbose          list every check ([+]/[-] lines) with failures' error
//	                  text; ?verbose=false or =0 turns it off again
//	?exclude=<check>  skip a check (repeatable); names that match no check
//	                  are listed in a "warn:" line, as the API server does
//
// A check's own path ignores exclude. Malformed query pairs are ignored,
// as url.Values does.
//
// # Formats and status codes
//
// Success is 200; any failure is 503 Service Unavailable (the API server
// uses 500; the kubelet treats anything outside 200-399 as a failure).
//
//	GET /readyz                   200  ok
//	GET /readyz?verbose           200  [+]db ok
//	                                   [+]shutdown ok
//	                                   readyz check passed
//	GET /readyz  (db failing)     503  [+]memory-headroom ok
//	                                   [-]db failed: reason withheld
//	                                   [+]shutdown ok
//	                                   readyz check failed
//	GET /readyz?verbose (idem)    503  ... [-]db failed: dial tcp 10.0.0.7:5432: connect: connection refused ...
//	GET /readyz/db                503  [-]db failed: dial tcp 10.0.0.7:5432: connect: connection refused
//	GET /readyz/db  (passing)     200  ok
//
// The plain aggregate withholds error texts: probe endpoints are often
// reachable by more people than the service's logs, and an error text can
// name internal hosts. ?verbose and a check's own path show them.
//
// A request with "Accept: application/json" gets the same content as JSON:
//
//	{"status":"failed","checks":[
//	  {"name":"db","kind":"readiness","status":"failed","durationSeconds":0.0012},
//	  {"name":"shutdown","kind":"readiness","status":"ok"}]}
//
// "status" is "ok", "failed" or "excluded"; "error" appears under the same
// rules as in text; "note" says why a check was not run (liveness grace
// period, passed at startup). The checks are always listed.
//
// Bodies stay under 8 KiB, below the 10 KiB the kubelet reads: error texts
// are cut (256 bytes per line in an aggregate, 4 KiB on a check's own
// path) and made single-line, and if there are too many checks the last
// are summarized in one line.
//
// # Running checks
//
// A request runs the checks it needs in parallel and waits for them until
// its deadline, Config.Timeout (500 ms by default: well below the
// kubelet's 1 s timeoutSeconds), less a fifth (at most 100 ms) kept for
// writing the response. A check still running then fails ("timed out"); its result is
// never an older one that passed. Requests
// share runs: while a check runs, other requests wait for the same run
// rather than starting their own (single flight), so probes against a
// dependency that hangs cannot pile up goroutines: each check has at most
// one run, and so one goroutine, at a time. A run that finishes after its
// deadline counts as failed even if the check returned nil. A check that
// panics fails with the panic's value as its error; the process goes on.
//
// In background mode (StartBackground) checks run on an interval instead,
// and requests read their latest results: a result older than a maximum
// age is a failure.
//
// Results returns each check's latest result and duration, for telemetry.
//
// # Startup and shutdown
//
// With Config.WaitForReady, readiness fails until the application calls
// MarkReady or its Startup checks have passed. Config.LivenessGrace excuses
// liveness checks for a while after start.
//
// MarkShuttingDown makes readiness fail at once, through the "shutdown"
// check, while liveness stays green. ServeAndDrain does it on SIGTERM and
// then runs the rest of a graceful shutdown; its documentation gives the
// Kubernetes timeline and the defaults.
package health

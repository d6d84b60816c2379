package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// The dependency checks below are readiness checks. Before adding one, read
// the package documentation on dependencies: a dependency that all replicas
// share (a database, another service) takes every replica out of service at
// once when it fails, and the Service then refuses all connections. Prefer
// checking dependencies that are this replica's own (a sidecar, a local
// proxy, a per-pod cache), and report shared ones through metrics and
// errors instead.

// TCPDial returns a readiness check that passes when a TCP connection to
// address ("host:port") can be opened. The connection is closed at once.
//
// Use it for a dependency that speaks no protocol you can ping cheaply, such
// as a local proxy sidecar.
func TCPDial(name, address string) Check {
	return Check{
		Name: name,
		Kind: Readiness,
		Func: func(ctx context.Context) error {
			var d net.Dialer
			conn, err := d.DialContext(ctx, "tcp", address)
			if err != nil {
				return err // *net.OpError already says "dial tcp <address>: ..."
			}
			return conn.Close()
		},
	}
}

// maxDrainBody is how much of a response body HTTPGet reads (and throws
// away) so that the connection can be reused. The kubelet reads 10 KiB.
const maxDrainBody = 10 << 10

// HTTPGet returns a readiness check that passes when a GET of rawURL answers
// with a status from 200 to 399, the statuses the kubelet counts as success.
// client sends the request; nil means http.DefaultClient, which follows up
// to 10 redirects. Give a client with its own transport for TLS settings or
// headers, and no Timeout: the check's context bounds the request.
//
// Use it for a dependency with a health endpoint of its own. Errors show the
// URL without its password.
func HTTPGet(name, rawURL string, client *http.Client) Check {
	return Check{
		Name: name,
		Kind: Readiness,
		Func: func(ctx context.Context) error {
			c := client
			if c == nil {
				c = http.DefaultClient
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
			if err != nil {
				shown := redact(rawURL)
				if shown != rawURL {
					// The parse error quotes the URL, or the part of it
					// that it rejects, which can be the password itself.
					return fmt.Errorf("GET %s: invalid URL", shown)
				}
				return fmt.Errorf("GET %s: %w", shown, err)
			}
			resp, err := c.Do(req)
			if err != nil {
				return err // *url.Error redacts the password itself
			}
			defer resp.Body.Close()
			io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrainBody))
			if resp.StatusCode < 200 || resp.StatusCode > 399 {
				return fmt.Errorf("GET %s: %s", redact(rawURL), resp.Status)
			}
			return nil
		},
	}
}

// redact hides the password of a URL. A URL that url.Parse rejects can
// still hold one (a password with an unescaped '%' or '/' is a common
// reason for the rejection), so everything between "://" and the last '@'
// of such a URL is hidden.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err == nil {
		return u.Redacted()
	}
	scheme, rest, ok := strings.Cut(rawURL, "://")
	at := strings.LastIndex(rest, "@")
	if !ok || at < 0 {
		return rawURL
	}
	return scheme + "://xxxxx" + rest[at:]
}

// Pinger is anything with a PingContext method, such as *sql.DB, *sql.Conn
// or a driver's client.
type Pinger interface {
	PingContext(ctx context.Context) error
}

var errNilPinger = errors.New("no database configured")

// SQLPing returns a readiness check that passes when db.PingContext returns
// nil. With *sql.DB, a ping takes a pooled connection, or opens one, and
// makes one round trip to the server.
//
// Use it when this replica cannot serve anything without the database and
// other replicas might still reach it (see the note on shared dependencies
// in the package documentation).
func SQLPing(name string, db Pinger) Check {
	return Check{
		Name: name,
		Kind: Readiness,
		Func: func(ctx context.Context) error {
			if isNil(db) {
				return errNilPinger
			}
			return db.PingContext(ctx)
		},
	}
}

// DNSResolve returns a readiness check that passes when host resolves to
// at least one address with net.DefaultResolver.
//
// Use it when a replica's resolver can break on its own (a node-local DNS
// cache, a sidecar that rewrites DNS), for a host the replica needs.
func DNSResolve(name, host string) Check {
	return Check{
		Name: name,
		Kind: Readiness,
		Func: func(ctx context.Context) error {
			addrs, err := net.DefaultResolver.LookupHost(ctx, host)
			if err != nil {
				return err // *net.DNSError already names the host
			}
			if len(addrs) == 0 {
				return fmt.Errorf("lookup %s: no addresses", host)
			}
			return nil
		},
	}
}

package health

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// kubeletProbe does what the kubelet's HTTP prober does (pkg/probe/http):
// a GET with "User-Agent: kube-probe/<major>.<minor>" and "Accept: */*", a
// 1 s timeout (timeoutSeconds: 1, the default), redirects followed only to
// the same host, and at most 10 KiB of the body read. Success is a status
// from 200 to 399.
type kubeletProbe struct {
	client *http.Client
	accept string // overrides "*/*" when set
}

const kubeletMaxBody = 10 << 10

func newKubeletProbe() *kubeletProbe {
	return &kubeletProbe{client: &http.Client{
		Timeout: time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			if req.URL.Host != via[0].URL.Host {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}}
}

type probeResponse struct {
	status  int
	body    string
	header  http.Header
	elapsed time.Duration
	// truncated is true when the body was longer than the kubelet reads.
	truncated bool
}

func (r probeResponse) success() bool { return r.status >= 200 && r.status < 400 }

func (k *kubeletProbe) get(t testing.TB, rawURL string) probeResponse {
	t.Helper()
	r, err := k.do(http.MethodGet, rawURL)
	if err != nil {
		t.Fatalf("probe %s: %v", rawURL, err)
	}
	return r
}

func (k *kubeletProbe) do(method, rawURL string) (probeResponse, error) {
	if _, err := url.Parse(rawURL); err != nil {
		return probeResponse{}, err
	}
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		return probeResponse{}, err
	}
	req.Header.Set("User-Agent", "kube-probe/1.31")
	accept := "*/*"
	if k.accept != "" {
		accept = k.accept
	}
	req.Header.Set("Accept", accept)
	start := time.Now()
	resp, err := k.client.Do(req)
	if err != nil {
		return probeResponse{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, kubeletMaxBody+1))
	elapsed := time.Since(start)
	if err != nil {
		return probeResponse{}, err
	}
	r := probeResponse{status: resp.StatusCode, header: resp.Header, elapsed: elapsed}
	if len(body) > kubeletMaxBody {
		r.truncated = true
		body = body[:kubeletMaxBody]
	}
	r.body = string(body)
	return r, nil
}

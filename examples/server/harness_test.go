package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy"
)

const adminKey = "test-admin-key"

// harness is the example server started in-process on a loopback port,
// with a client that reaches it under any host name.
type harness struct {
	t      *testing.T
	srv    *server
	ts     *httptest.Server
	rdb    redis.UniversalClient
	mini   *miniredis.Miniredis
	mode   tenancy.Identification
	multi  bool
	port   string
	public string // PUBLIC_URL
	client *http.Client
	// scheme is PUBLIC_URL's, and roots trust the server's certificate
	// when it is https (startTLS).
	scheme string
	roots  *x509.CertPool
}

// start runs the server with cfg completed by the harness: Redis, the
// listen address and PUBLIC_URL, and a quiet logger.
func start(t *testing.T, rdb redis.UniversalClient, mini *miniredis.Miniredis, cfg config) *harness {
	t.Helper()
	return startWith(t, rdb, mini, cfg, false)
}

// startTLS is start over https, with PUBLIC_URL https://localhost:<port>
// and a certificate of localhost, *.localhost and 127.0.0.1 that the
// harness's clients trust. MCP clients accept http only on a loopback
// name or address, which acme.localhost is not by their rule, so the
// subdomain mode of a real client's login needs it.
func startTLS(t *testing.T, rdb redis.UniversalClient, mini *miniredis.Miniredis, cfg config) *harness {
	t.Helper()
	return startWith(t, rdb, mini, cfg, true)
}

func startWith(t *testing.T, rdb redis.UniversalClient, mini *miniredis.Miniredis, cfg config, useTLS bool) *harness {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	h := &harness{t: t, ts: ts, rdb: rdb, mini: mini, multi: cfg.Tenancy.MultiTenant, mode: cfg.Tenancy.Identification, scheme: "http"}
	_, h.port, _ = net.SplitHostPort(ts.Listener.Addr().String())
	h.public = "http://127.0.0.1:" + h.port
	if useTLS {
		cert, roots := localhostCert(t)
		ts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		h.scheme, h.roots = "https", roots
		h.public = "https://localhost:" + h.port
	}
	cfg.ListenAddr = ts.Listener.Addr().String()
	cfg.PublicURL = h.public
	cfg.Tenancy.Redis = rdb
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	} else {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	srv, err := newServer(cfg)
	require.NoError(t, err)
	h.srv = srv
	ts.Config.Handler = srv
	if useTLS {
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(func() {
		srv.closeSessions()
		ts.Close()
		srv.Close()
	})
	// Every host name leads to the test server, as *.localhost leads to
	// the loopback interface: the Host header still names the tenant.
	addr := ts.Listener.Addr().String()
	h.client = &http.Client{
		Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}, TLSClientConfig: &tls.Config{RootCAs: h.roots}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       20 * time.Second,
	}
	t.Cleanup(h.client.CloseIdleConnections)
	return h
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// base returns the base URL of a tenant's routes in the harness's mode.
func (h *harness) base(id string) string {
	switch {
	case !h.multi || h.mode == tenancy.ByHeader:
		return h.public
	case h.mode == tenancy.ByPath:
		return h.public + "/" + id
	}
	return h.scheme + "://" + id + ".localhost:" + h.port
}

// mcpURL and metadataURL are the URLs the server must give out for a
// tenant in the harness's identification mode.
func (h *harness) mcpURL(id string) string { return h.base(id) + "/mcp" }

func (h *harness) metadataURL(id string) string {
	switch {
	case !h.multi || h.mode == tenancy.ByHeader:
		return h.public + "/.well-known/oauth-protected-resource"
	case h.mode == tenancy.ByPath:
		return h.public + "/.well-known/oauth-protected-resource/" + id + "/mcp"
	}
	return h.base(id) + "/.well-known/oauth-protected-resource"
}

// request builds a request to a tenant's route; in header mode it names
// the tenant in X-Tenant-ID. id "" builds a request without a tenant.
func (h *harness) request(method, id, url string, body any, header ...string) *http.Request {
	h.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(h.t, err)
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, r)
	require.NoError(h.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if id != "" && h.multi && h.mode == tenancy.ByHeader {
		req.Header.Set("X-Tenant-ID", id)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req
}

// answer is a response with its body read.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(a.body, &m), "body: %s", a.body)
	return m
}

func (h *harness) do(req *http.Request) answer {
	h.t.Helper()
	resp, err := h.client.Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	return answer{status: resp.StatusCode, header: resp.Header, body: body}
}

// admin calls the admin API.
func (h *harness) admin(method, path string, body any) answer {
	h.t.Helper()
	req := h.request(method, "", h.public+"/admin/tenants"+path, body, "X-Admin-API-Key", adminKey)
	return h.do(req)
}

// connect opens an MCP session to tenant id with the SDK's client,
// sending token (if any) on every request.
func (h *harness) connect(ctx context.Context, id, token string) (*mcp.ClientSession, error) {
	hc := &http.Client{Transport: &addHeaders{next: h.client.Transport, set: h.tenantHeaders(id, token)}}
	c := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil)
	return c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: h.mcpURL(id), HTTPClient: hc, MaxRetries: -1}, nil)
}

func (h *harness) tenantHeaders(id, token string) http.Header {
	hd := http.Header{}
	if token != "" {
		hd.Set("Authorization", "Bearer "+token)
	}
	if h.multi && h.mode == tenancy.ByHeader {
		hd.Set("X-Tenant-ID", id)
	}
	return hd
}

// addHeaders is a RoundTripper that sets headers on every request.
type addHeaders struct {
	next http.RoundTripper
	set  http.Header
}

func (a *addHeaders) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range a.set {
		r.Header[k] = v
	}
	return a.next.RoundTrip(r)
}

// initialize is the body of an MCP initialize request.
const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`

// mcpPost posts a JSON-RPC body to a tenant's MCP endpoint.
func (h *harness) mcpPost(id, token, session, body string) answer {
	h.t.Helper()
	req := h.request(http.MethodPost, id, h.mcpURL(id), body, "Accept", "application/json, text/event-stream")
	for k, v := range h.tenantHeaders(id, token) {
		req.Header[k] = v
	}
	if session != "" {
		req.Header.Set(sessionHeader, session)
	}
	return h.do(req)
}

// localhostCert returns a self-signed certificate of localhost,
// *.localhost and 127.0.0.1, and a pool that trusts it.
func localhostCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost", "*.localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}

// keys returns the keys matching pattern.
func (h *harness) keys(pattern string) []string {
	h.t.Helper()
	var all []string
	ctx := context.Background()
	iter := h.rdb.Scan(ctx, 0, pattern, 100).Iterator()
	for iter.Next(ctx) {
		all = append(all, iter.Val())
	}
	require.NoError(h.t, iter.Err())
	return all
}

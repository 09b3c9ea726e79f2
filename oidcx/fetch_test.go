package oidcx

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/tenant"
)

// recordingTransport records the URL of every request that reaches it, and
// serves it with h in-process.
type recordingTransport struct {
	h    http.Handler
	mu   sync.Mutex
	urls []string
}

func (t *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.mu.Lock()
	t.urls = append(t.urls, r.URL.String())
	t.mu.Unlock()
	return handlerTransport{t.h}.RoundTrip(r)
}

func (t *recordingTransport) sent() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.urls...)
}

// Every hop of every fetch passes the provider URL rule: a provider that
// redirects discovery or its JWKS to the cloud metadata address, or names
// such a jwks_uri, gets no request sent there. Before the check, the
// verifier's client followed any redirect.
func TestEveryHopIsChecked(t *testing.T) {
	const issuer = "https://idp.example"
	redirect := func(to string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, http.StatusFound) }
	}
	discovery := func(jwksURI string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "jwks_uri": jwksURI})
		}
	}
	chain := func(w http.ResponseWriter, r *http.Request) { // /hop/1 -> /hop/11 -> /hop/111 ...
		http.Redirect(w, r, r.URL.Path+"1", http.StatusFound)
	}
	tests := []struct {
		name      string
		discovery http.HandlerFunc
		jwks      http.HandlerFunc
		forbidden string // a prefix no request may have
	}{
		{"discovery redirected to the metadata service", redirect("http://169.254.169.254/latest/meta-data/iam"), nil, "http://169.254.169.254"},
		{"JWKS redirected to the metadata service over https", nil, redirect("https://169.254.169.254/latest/meta-data/"), "https://169.254.169.254"},
		{"JWKS redirected to loopback", nil, redirect("http://127.0.0.1:8080/admin/tenants"), "http://127.0.0.1"},
		{"JWKS redirected to https on localhost", nil, redirect("https://localhost/admin"), "https://localhost"},
		{"JWKS redirected to http", nil, redirect("http://idp.example/jwks"), "http://idp.example"},
		{"jwks_uri on a link-local address", discovery("https://[fe80::1]/keys"), nil, "https://[fe80::1]"},
		{"jwks_uri on loopback", discovery("https://127.0.0.1/keys"), nil, "https://127.0.0.1"},
		{"endless redirects", nil, redirect(issuer + "/hop/"), "https://idp.example/hop/111111"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.Handle("/.well-known/openid-configuration", orDefault(tt.discovery, discovery(issuer+"/jwks")))
			mux.Handle("/jwks", orDefault(tt.jwks, func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write(jwksOf(jose.JSONWebKey{Key: &testKey().PublicKey, KeyID: "k1"}))
			}))
			mux.HandleFunc("/hop/", chain)
			rt := &recordingTransport{h: mux}
			v, err := New(Config{Transport: rt})
			require.NoError(t, err)
			acme := &tenant.Tenant{ID: "acme", OIDC: tenant.OIDC{Issuer: issuer, Audience: "aud"}}

			_, err = v.Verify(t.Context(), acme, forgedToken(issuer, "aud", "k1"))
			assert.ErrorIs(t, err, ErrProviderUnavailable)
			assert.ErrorIs(t, err, ErrProviderURL)
			for _, u := range rt.sent() {
				assert.False(t, strings.HasPrefix(u, tt.forbidden), "request sent to %s", u)
			}
		})
	}
}

func orDefault(h, def http.HandlerFunc) http.HandlerFunc {
	if h != nil {
		return h
	}
	return def
}

// A provider on the loopback interface is used only when the host opts
// in: without it, a tenant's issuer on 127.0.0.1 gets no request at all.
func TestLoopbackProviderNeedsOptIn(t *testing.T) {
	idp := newHostileIdP(t)
	acme := idp.tenant("acme")
	token := idp.token(idp.claims(acme))

	v, err := New(Config{})
	require.NoError(t, err)
	_, err = v.Verify(t.Context(), acme, token)
	assert.ErrorIs(t, err, ErrProviderUnavailable)
	assert.ErrorIs(t, err, ErrProviderURL)
	assert.Zero(t, idp.fetches.Load())

	v, err = New(Config{InsecureAllowLoopback: true})
	require.NoError(t, err)
	_, err = v.Verify(t.Context(), acme, token)
	assert.NoError(t, err)
}

func TestCheckProviderURL(t *testing.T) {
	strict, err := New(Config{})
	require.NoError(t, err)
	loose, err := New(Config{InsecureAllowLoopback: true})
	require.NoError(t, err)
	for _, tt := range []struct {
		url           string
		strict, loose bool
	}{
		{"https://auth.acme.com", true, true},
		{"https://auth.acme.com:8443/realms/acme", true, true},
		{"https://10.1.2.3/realms/acme", true, true}, // on-premise
		{"https://192.168.1.10:9443", true, true},
		{"http://auth.acme.com", false, false},
		{"http://127.0.0.1:9000", false, true},
		{"https://127.0.0.1:9000", false, true},
		{"https://127.9.9.9", false, true},
		{"http://localhost:8080", false, true},
		{"https://LOCALHOST.", false, true},
		{"https://idp.localhost", false, true},
		{"http://[::1]:9000", false, true},
		{"https://[::ffff:127.0.0.1]", false, true},
		{"https://169.254.169.254/latest/meta-data/", false, false},
		{"https://[fe80::1]", false, false},
		{"https://0.0.0.0", false, false},
		{"https://2130706433", false, false},
		{"https://auth.acme.com:0", false, false},
		{"ftp://auth.acme.com", false, false},
	} {
		err := strict.CheckProviderURL(tt.url)
		assert.Equal(t, tt.strict, err == nil, "%s: %v", tt.url, err)
		if err != nil {
			assert.ErrorIs(t, err, ErrProviderURL)
		}
		err = loose.CheckProviderURL(tt.url)
		assert.Equal(t, tt.loose, err == nil, "with loopback allowed, %s: %v", tt.url, err)
	}
}

// The default transport checks the address it connects to, whatever name
// led there: a DNS name can point at loopback or at the metadata service.
func TestDialRefusesAddresses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()

	strict := newTransport(false, nil)
	_, err := strict.DialContext(t.Context(), "tcp", addr)
	assert.ErrorIs(t, err, errAddressRefused)
	_, err = strict.DialContext(t.Context(), "tcp", "169.254.169.254:80")
	assert.ErrorIs(t, err, errAddressRefused, "refused before any connection is tried")

	conn, err := newTransport(true, nil).DialContext(t.Context(), "tcp", addr)
	require.NoError(t, err, "loopback allowed")
	_ = conn.Close()
}

// A proxy is the operator's choice, connected to wherever it is (here on
// loopback, which providers may not be); the provider behind it is the
// proxy's to reach.
func TestDialAllowsTheProxy(t *testing.T) {
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("via the proxy"))
	}))
	t.Cleanup(proxy.Close)
	proxyURL, err := url.Parse(proxy.URL)
	require.NoError(t, err)
	client := &http.Client{Transport: newTransport(false, http.ProxyURL(proxyURL))}
	resp, err := client.Get("http://idp.example/jwks")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, "via the proxy", string(body))

	client = &http.Client{Transport: newTransport(false, nil)}
	_, err = client.Get(proxy.URL)
	assert.ErrorIs(t, err, errAddressRefused, "the same address, not as the proxy")
}

func TestRefusedAddr(t *testing.T) {
	for addr, want := range map[string]string{
		"169.254.169.254":        "link-local",
		"fe80::1":                "link-local",
		"::ffff:169.254.169.254": "link-local",
		"0.0.0.0":                "unspecified",
		"::":                     "unspecified",
		"224.0.0.1":              "link-local",
		"239.1.2.3":              "multicast",
		"ff02::1":                "link-local",
		"ff05::1":                "multicast",
		"127.0.0.1":              "loopback",
		"::1":                    "loopback",
		"10.0.0.1":               "",
		"192.168.0.1":            "",
		"172.16.0.1":             "",
		"fd00::1":                "",
		"93.184.216.34":          "",
	} {
		assert.Equal(t, want, refusedAddr(netip.MustParseAddr(addr), false), addr)
	}
	assert.Equal(t, "", refusedAddr(netip.MustParseAddr("127.0.0.1"), true))
	assert.Equal(t, "link-local", refusedAddr(netip.MustParseAddr("169.254.169.254"), true))
}

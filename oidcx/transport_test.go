package oidcx

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/httpx"
	"github.com/seedmcp/tenancy/tenant"
)

// A provider cannot make the verifier buffer an unbounded answer, neither
// in discovery (read by go-oidc) nor in the JWKS.
func TestProviderAnswersAreBounded(t *testing.T) {
	huge := `{"issuer":"x","pad":"` + strings.Repeat("a", maxJWKSSize) + `"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(huge))
	}))
	t.Cleanup(srv.Close)
	v, err := New(Config{InsecureAllowLoopback: true})
	require.NoError(t, err)

	for name, oidc := range map[string]tenant.OIDC{
		"discovery": {Issuer: srv.URL, Audience: "aud"},
		"jwks":      {Issuer: srv.URL, Audience: "aud", JWKSURI: srv.URL + "/jwks"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), &tenant.Tenant{ID: name, OIDC: oidc}, forgedToken(srv.URL, "aud", ""))
			assert.ErrorIs(t, err, ErrProviderUnavailable)
			assert.ErrorContains(t, err, "too large")
		})
	}
}

func TestLimitedBodyAtLimit(t *testing.T) {
	b := httpx.LimitBody(nopCloser{strings.NewReader("abc")}, 3, errBodyTooLarge)
	buf := make([]byte, 10)
	n, err := b.Read(buf)
	assert.Equal(t, 3, n)
	assert.NoError(t, err)
	_, err = b.Read(buf)
	assert.Equal(t, "EOF", err.Error(), "a body exactly at the limit is fine")
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }

// A provider's answer is bounded as a whole, its header as well as its
// body: an answer whose header passes maxHeaderBytes is refused, in
// discovery and in the JWKS, however valid what follows it; a header of
// the usual size is read.
func TestProviderHeadersAreBounded(t *testing.T) {
	pad := strings.Repeat("a", 4000)
	for _, c := range []struct {
		name, path string
		header     int // bytes of padding
		ok         bool
	}{
		{"discovery, 2 MiB", "/.well-known/openid-configuration", 2 << 20, false},
		{"jwks, 2 MiB", "/jwks", 2 << 20, false},
		{"jwks, 48 KiB", "/jwks", 48 << 10, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newHostileIdP(t)
			answer := func(w http.ResponseWriter, r *http.Request) {
				for range c.header / len(pad) {
					w.Header().Add("X-Pad", pad)
				}
				w.Header().Set("Content-Type", "application/json")
				if c.path == "/jwks" {
					_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{p.publicJWK()}})
					return
				}
				_ = json.NewEncoder(w).Encode(map[string]string{"issuer": p.issuer(), "jwks_uri": p.issuer() + "/jwks"})
			}
			if c.path == "/jwks" {
				p.setJWKS(answer)
			} else {
				p.setDiscovery(answer)
			}
			v := newTestVerifier(t, Config{})
			tn := p.tenant("acme")
			_, err := v.Verify(t.Context(), tn, p.token(p.claims(tn)))
			if c.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrProviderUnavailable, "an answer with %d bytes of header was read", c.header)
			assert.Equal(t, 1, p.requests(c.path))
		})
	}
}

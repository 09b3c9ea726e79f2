package oidcx

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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

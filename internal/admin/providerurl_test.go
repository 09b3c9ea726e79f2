package admin

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/oidcx"
)

// A provider URL the token verifier would refuse is a 400 when the tenant
// is written, on create and on PATCH; without a rule configured the
// tenant rules alone apply.
func TestProviderURLRule(t *testing.T) {
	v, err := oidcx.New(oidcx.Config{})
	require.NoError(t, err)
	withRule := func(c *Config) { c.ProviderURL = v.CheckProviderURL }
	loopback := `{"id":"lo","name":"Lo","oidc":{"issuer":"http://127.0.0.1:9000","audience":"a"}}`

	f := newFixture(t, withRule)
	w := f.do(t, req{method: "POST", path: "/admin/tenants", body: loopback})
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Contains(t, w.Body.String(), "oidc.issuer")
	w = f.do(t, req{method: "GET", path: "/admin/tenants/lo"})
	assert.Equal(t, http.StatusNotFound, w.Code, "not stored")

	f.create(t, acme)
	for _, patch := range []string{
		`{"oidc":{"jwksUri":"https://localhost/keys"}}`,
		`{"oidc":{"tokenUrl":"https://[::1]:8443/token"}}`,
		`{"oidc":{"issuer":"https://idp.localhost"}}`,
		`{"oidc":{"revocationUrl":"https://127.0.0.1/revoke"}}`,
	} {
		w = f.do(t, req{method: "PATCH", path: "/admin/tenants/acme", body: patch, contentType: "application/merge-patch+json"})
		assert.Equal(t, http.StatusBadRequest, w.Code, patch)
		assert.Contains(t, w.Body.String(), "loopback", patch)
	}
	w = f.do(t, req{method: "GET", path: "/admin/tenants/acme"})
	assert.False(t, strings.Contains(w.Body.String(), "localhost"), "unchanged: %s", w.Body.String())

	f = newFixture(t)
	w = f.do(t, req{method: "POST", path: "/admin/tenants", body: loopback})
	assert.Equal(t, http.StatusCreated, w.Code, "no rule configured: the tenant rules allow http on loopback")
}

package tenancy

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAdminRefusesSharedIssuerAndAudience: two tenants that trust the same
// OIDC issuer for the same audience would accept each other's tokens, so
// the admin API refuses the second with 409, on create and on PATCH.
func TestAdminRefusesSharedIssuerAndAudience(t *testing.T) {
	s := newService(t, Config{Redis: fakeRedis(t), MultiTenant: true, Identification: ByHeader, AdminAPIKey: "k3y"})
	admin := func(method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("X-Admin-API-Key", "k3y")
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.Admin().ServeHTTP(rec, req)
		return rec
	}
	const oidc = `"oidc":{"issuer":"https://idp.example.com","audience":"seed"}`
	require.Equal(t, 201, admin("POST", "/admin/tenants", `{"id":"acme","name":"ACME",`+oidc+`}`).Code)

	rec := admin("POST", "/admin/tenants", `{"id":"beta","name":"Beta",`+oidc+`}`)
	assert.Equal(t, 409, rec.Code, rec.Body.String())
	assert.Equal(t, 404, admin("GET", "/admin/tenants/beta", "").Code, "the refused tenant was not created")

	require.Equal(t, 201, admin("POST", "/admin/tenants", `{"id":"beta","name":"Beta","oidc":{"issuer":"https://idp.example.com","audience":"seed-beta"}}`).Code)
	rec = admin("PATCH", "/admin/tenants/beta", `{"oidc":{"audience":"seed"}}`)
	assert.Equal(t, 409, rec.Code, rec.Body.String())
	rec = admin("GET", "/admin/tenants/beta", "")
	assert.Contains(t, rec.Body.String(), `"audience":"seed-beta"`, "the refused PATCH changed nothing")

	// Once acme moves to another audience, beta may take the pair.
	require.Equal(t, 200, admin("PATCH", "/admin/tenants/acme", `{"oidc":{"audience":"seed-acme"}}`).Code)
	assert.Equal(t, 200, admin("PATCH", "/admin/tenants/beta", `{"oidc":{"audience":"seed"}}`).Code)
}

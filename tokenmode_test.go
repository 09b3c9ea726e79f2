package tenancy

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// countingBackend counts the issuer lookups of its tenant registry.
type countingBackend struct {
	store.Backend
	lookups *atomic.Int64
}

func (b countingBackend) Tenants() store.Tenants {
	return countingTenants{b.Backend.Tenants(), b.lookups}
}

func (b countingBackend) Mark(ctx context.Context, mark string) error {
	return b.Backend.(store.Marker).Mark(ctx, mark)
}

type countingTenants struct {
	store.Tenants
	lookups *atomic.Int64
}

func (c countingTenants) LookupIssuer(ctx context.Context, issuer, audience string) (string, error) {
	c.lookups.Add(1)
	return c.Tenants.(store.IssuerLookup).LookupIssuer(ctx, issuer, audience)
}

// TestTokenMode serves two tenants of one identity provider, told apart
// by the audience of their tokens, on one URL without any tenant in it.
func TestTokenMode(t *testing.T) {
	ctx := context.Background()
	idp := oidctest.New(t)
	var lookups atomic.Int64
	mem := memstore.New(memstore.Config{})
	cfg := Config{Store: countingBackend{mem.Backend(), &lookups}, MultiTenant: true, Identification: ByToken}
	cfg.OIDC.InsecureAllowLoopback = true // the test provider listens on 127.0.0.1
	s := newService(t, cfg)
	waitSubscribed(t, s)
	for _, id := range []string{"acme", "beta", "gone"} {
		_, err := s.Store().Tenants().Create(ctx, &tenant.Tenant{ID: id, Name: id, Status: tenant.StatusActive, OIDC: idp.OIDC("mcp-" + id)})
		require.NoError(t, err)
	}
	urls, err := s.URLs("https://seed.example.com")
	require.NoError(t, err)
	bearer, err := oidcx.Bearer(oidcx.BearerConfig{Verifier: s.Verifier(), URLs: urls})
	require.NoError(t, err)
	h := s.Middleware(bearer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tn, _ := tenant.FromContext(r.Context())
		c, _ := oidcx.ClaimsFromContext(r.Context())
		_, _ = w.Write([]byte(tn.ID + " " + c.Subject))
	})))
	call := func(token string) (int, string) {
		var header []string
		if token != "" {
			header = []string{"Authorization", "Bearer " + token}
		}
		rec := get(h, "seed.example.com", "/mcp", header...)
		return rec.Code, rec.Body.String()
	}

	code, body := call(idp.Token(idp.Claims("mcp-acme", "alice")))
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, "acme alice", body)
	code, body = call(idp.Token(idp.Claims("mcp-beta", "bob")))
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, "beta bob", body)
	claims := idp.Claims("mcp-acme", "carol")
	claims["aud"] = []string{"https://userinfo.example", "mcp-acme"}
	code, body = call(idp.Token(claims))
	assert.Equal(t, http.StatusOK, code, "the tenant's audience among others: %s", body)

	// A token that names acme's pair but is not signed by acme's provider
	// picks acme, then fails acme's verification.
	code, _ = call(idp.NoneToken(idp.Claims("mcp-acme", "mallory")))
	assert.Equal(t, http.StatusUnauthorized, code)
	code, _ = call(idp.HS256Token(idp.Claims("mcp-acme", "mallory")))
	assert.Equal(t, http.StatusUnauthorized, code)

	missing := `{"error":"Missing tenant identifier"}`
	invalid := `{"error":"Invalid tenant identifier"}`
	code, body = call("")
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, missing, body, "no token, no tenant")

	before := lookups.Load()
	for _, bad := range []string{"not-a-jwt", "a.b.c", "x.eyJpc3MiOjF9.y", strings.Repeat("a", 20000)} {
		code, body = call(bad)
		assert.Equal(t, http.StatusBadRequest, code, bad[:min(len(bad), 20)])
		assert.Equal(t, invalid, body)
	}
	assert.Equal(t, before, lookups.Load(), "a malformed token costs no store read")

	// A pair nobody trusts is read once, then remembered.
	unknown := idp.Token(idp.Claims("mcp-nobody", "eve"))
	for range 5 {
		code, body = call(unknown)
		assert.Equal(t, http.StatusBadRequest, code)
		assert.Equal(t, missing, body)
	}
	assert.Equal(t, before+1, lookups.Load(), "one read for five requests of an unknown pair")

	// The pair of a suspended tenant answers exactly like an unknown one.
	gone, err := s.Store().Tenants().Get(ctx, "gone")
	require.NoError(t, err)
	gone.Status = tenant.StatusSuspended
	_, err = s.Store().Tenants().Update(ctx, gone)
	require.NoError(t, err)
	require.NoError(t, s.Sync(ctx))
	code, body = call(idp.Token(idp.Claims("mcp-gone", "dave")))
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, missing, body)

	// A pair that moves to another tenant follows at once on an event.
	acme, err := s.Store().Tenants().Get(ctx, "acme")
	require.NoError(t, err)
	acme.OIDC.Audience = "mcp-acme-2"
	_, err = s.Store().Tenants().Update(ctx, acme)
	require.NoError(t, err)
	require.NoError(t, s.Sync(ctx))
	code, _ = call(idp.Token(idp.Claims("mcp-acme", "alice")))
	assert.Equal(t, http.StatusBadRequest, code, "the old pair names nobody any more")
	code, body = call(idp.Token(idp.Claims("mcp-acme-2", "alice")))
	assert.Equal(t, http.StatusOK, code, body)
}

// TestTokenModeNeedsIssuerLookup: a store whose registry cannot look up
// issuers is refused at New, not per request.
func TestTokenModeNeedsIssuerLookup(t *testing.T) {
	_, err := New(Config{Store: plainBackend{hidden{memstore.New(memstore.Config{}).Backend()}}, MultiTenant: true,
		Identification: ByToken, Logger: quiet})
	assert.ErrorContains(t, err, "store.IssuerLookup")
}

func TestTokenModeFromEnv(t *testing.T) {
	c, err := ConfigFrom(env(map[string]string{"TENANT_IDENTIFICATION": "token", "MULTI_TENANT_ENABLED": "true"}))
	require.NoError(t, err)
	assert.Equal(t, ByToken, c.Identification)
	c.Store = memstore.New(memstore.Config{}).Backend()
	c.Logger = quiet
	s := newService(t, c)
	urls, err := s.URLs("https://seed.example.com")
	require.NoError(t, err)
	assert.Equal(t, "https://seed.example.com/mcp", urls.Resource(httptest.NewRequest("GET", "/mcp", nil), &tenant.Tenant{ID: "acme"}), "one URL for every tenant")
}

// TestTokenModeForgedPayload: a forged token (alg none) that names a
// tenant's issuer and audience picks that tenant, as any token naming the
// pair does, and is then refused by the tenant's bearer check; picking the
// tenant gives it nothing. The same token naming an unknown pair has no
// tenant.
func TestTokenModeForgedPayload(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	forged := func(aud string) string {
		return enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(`{"iss":"https://idp.example","aud":"`+aud+`","sub":"admin"}`)) + "."
	}
	s := newService(t, Config{Store: memstore.New(memstore.Config{}).Backend(), MultiTenant: true, Identification: ByToken})
	_, err := s.Store().Tenants().Create(context.Background(), &tenant.Tenant{ID: "acme", Name: "acme", Status: tenant.StatusActive,
		OIDC: tenant.OIDC{Issuer: "https://idp.example", Audience: "x"}})
	require.NoError(t, err)
	require.NoError(t, s.Sync(context.Background()))

	rec := get(s.Middleware(whoami), "x", "/mcp", "Authorization", "Bearer "+forged("x"))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "acme /mcp", rec.Body.String(), "the pair picks its tenant, signature unchecked")

	urls, err := s.URLs("https://seed.example.com")
	require.NoError(t, err)
	bearer, err := oidcx.Bearer(oidcx.BearerConfig{Verifier: s.Verifier(), URLs: urls})
	require.NoError(t, err)
	rec = get(s.Middleware(bearer(whoami)), "x", "/mcp", "Authorization", "Bearer "+forged("x"))
	assert.Equal(t, http.StatusUnauthorized, rec.Code, "the tenant's bearer check refuses the forgery")

	rec = get(s.Middleware(whoami), "x", "/mcp", "Authorization", "Bearer "+forged("y"))
	assert.Equal(t, http.StatusBadRequest, rec.Code, "an unknown pair, forged or not")
}

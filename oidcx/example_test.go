package oidcx_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/tenant"
)

// withTenant stands in for the tenant middleware: it puts the tenant in the
// request context.
func withTenant(t *tenant.Tenant, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(tenant.NewContext(r.Context(), t)))
	})
}

func ExampleBearer() {
	idp := oidctest.NewServer()
	defer idp.Close()
	acme := &tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive, OIDC: idp.OIDC("seed-mcp-acme")}

	v, _ := oidcx.New(oidcx.Config{InsecureAllowLoopback: true}) // the test provider listens on 127.0.0.1
	urls, _ := oidcx.SubdomainURLs("https://seed.example.com", "seed.example.com")
	auth, _ := oidcx.Bearer(oidcx.BearerConfig{Verifier: v, URLs: urls})
	mcp := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := oidcx.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "hello %s of %s", claims.Subject, claims.TenantID)
	})
	h := withTenant(acme, auth(mcp))

	// Without a token: a challenge naming the tenant's metadata.
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "https://acme.seed.example.com/mcp", nil))
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))

	// With a token of the tenant's provider.
	r := httptest.NewRequest(http.MethodPost, "https://acme.seed.example.com/mcp", nil)
	r.Header.Set("Authorization", "Bearer "+idp.Token(idp.Claims("seed-mcp-acme", "alice")))
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	body, _ := io.ReadAll(w.Body)
	fmt.Println(w.Code, string(body))
	// Output:
	// 401 Bearer resource_metadata="https://acme.seed.example.com/.well-known/oauth-protected-resource"
	// 200 hello alice of acme
}

func ExampleMetadataHandler() {
	acme := &tenant.Tenant{
		ID: "acme", Name: "ACME", Status: tenant.StatusActive,
		OIDC: tenant.OIDC{Issuer: "https://auth.acme.com", Audience: "seed-mcp-acme"},
	}
	// Path mode: every tenant under one host, told apart by the first
	// path segment.
	urls, _ := oidcx.PathURLs("https://seed.example.com")
	meta, _ := oidcx.MetadataHandler(oidcx.MetadataConfig{URLs: urls})

	r := httptest.NewRequest(http.MethodGet, "https://seed.example.com/.well-known/oauth-protected-resource/acme/mcp", nil)
	w := httptest.NewRecorder()
	withTenant(acme, meta).ServeHTTP(w, r)
	fmt.Println(w.Body.String())
	fmt.Println(urls.Metadata(r, acme))
	// Output:
	// {"resource":"https://seed.example.com/acme/mcp","authorization_servers":["https://auth.acme.com"],"bearer_methods_supported":["header"]}
	// https://seed.example.com/.well-known/oauth-protected-resource/acme/mcp
}

func ExampleVerifier_Verify() {
	idp := oidctest.NewServer()
	defer idp.Close()
	acme := &tenant.Tenant{ID: "acme", OIDC: idp.OIDC("seed-mcp-acme")}
	globex := &tenant.Tenant{ID: "globex", OIDC: idp.OIDC("seed-mcp-globex")}

	v, _ := oidcx.New(oidcx.Config{InsecureAllowLoopback: true}) // the test provider listens on 127.0.0.1
	claims := idp.Claims("seed-mcp-acme", "alice")
	claims["scope"] = "tools:read tools:call"
	token := idp.Token(claims)

	c, err := v.Verify(context.Background(), acme, token)
	fmt.Println(c.Subject, c.Scopes, err)
	_, err = v.Verify(context.Background(), globex, token)
	fmt.Println(errors.Is(err, oidcx.ErrInvalidToken))
	// Output:
	// alice [tools:read tools:call] <nil>
	// true
}

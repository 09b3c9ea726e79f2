package oidcx_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/tenant"
)

// The verification benchmarks measure a warm cache: the tenant's verifier
// and keys are in memory, no network call is made. BenchmarkVerify has two
// cases per algorithm: "fresh" verifies the token in full every time (the
// verified-token cache is off), "repeated" sends the same token again, as
// an MCP client does with every request, and is served from memory.
// Compare "fresh" with BenchmarkGoOIDC (the same token through a bare
// go-oidc verifier) for the cost of the per-tenant lookup, the strict
// parse and the claims this package decodes.

func benchToken(b *testing.B, alg string) (*oidctest.Server, *tenant.Tenant, string) {
	idp := oidctest.New(b)
	acme := &tenant.Tenant{ID: "acme", OIDC: idp.OIDC("seed-mcp-acme")}
	claims := idp.Claims("seed-mcp-acme", "alice")
	claims["scope"] = "tools:read tools:call"
	return idp, acme, idp.TokenAlg(alg, claims)
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{oidctest.RS256, oidctest.ES256} {
		for _, c := range []struct {
			name    string
			entries int
		}{{"fresh", -1}, {"repeated", 0}} {
			b.Run(alg+"/"+c.name, func(b *testing.B) {
				_, acme, token := benchToken(b, alg)
				v, err := oidcx.New(oidcx.Config{InsecureAllowLoopback: true, TokenCacheEntries: c.entries})
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				if _, err := v.Verify(ctx, acme, token); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := v.Verify(ctx, acme, token); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkGoOIDC(b *testing.B) {
	for _, alg := range []string{oidctest.RS256, oidctest.ES256} {
		b.Run(alg, func(b *testing.B) {
			idp, acme, token := benchToken(b, alg)
			ctx := context.Background()
			v := oidc.NewVerifier(acme.OIDC.Issuer, oidc.NewRemoteKeySet(ctx, idp.JWKSURL()), &oidc.Config{
				ClientID:             acme.OIDC.Audience,
				SupportedSigningAlgs: []string{oidc.RS256, oidc.ES256},
			})
			if _, err := v.Verify(ctx, token); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyParallel verifies tokens of many tenants from all CPUs at
// once: the cache lock is the only state they share.
func BenchmarkVerifyParallel(b *testing.B) {
	idp := oidctest.New(b)
	v, err := oidcx.New(oidcx.Config{InsecureAllowLoopback: true})
	if err != nil {
		b.Fatal(err)
	}
	const n = 64
	tenants := make([]*tenant.Tenant, n)
	tokens := make([]string, n)
	for i := range n {
		aud := "aud-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		tenants[i] = &tenant.Tenant{ID: aud, OIDC: idp.OIDC(aud)}
		tokens[i] = idp.TokenAlg(oidctest.ES256, idp.Claims(aud, "alice"))
		if _, err := v.Verify(context.Background(), tenants[i], tokens[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := v.Verify(context.Background(), tenants[i%n], tokens[i%n]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkBearer runs the whole middleware over a bare handler.
func BenchmarkBearer(b *testing.B) {
	_, acme, token := benchToken(b, oidctest.ES256)
	v, err := oidcx.New(oidcx.Config{InsecureAllowLoopback: true})
	if err != nil {
		b.Fatal(err)
	}
	urls, err := oidcx.SubdomainURLs("https://seed.example.com", "seed.example.com")
	if err != nil {
		b.Fatal(err)
	}
	auth, err := oidcx.Bearer(oidcx.BearerConfig{Verifier: v, URLs: urls})
	if err != nil {
		b.Fatal(err)
	}
	h := auth(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest(http.MethodPost, "https://acme.seed.example.com/mcp", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	r = r.WithContext(tenant.NewContext(r.Context(), acme))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		b.Fatal(w.Code)
	}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

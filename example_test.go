package tenancy_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/seedmcp/tenancy"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/tenant"
)

// ExampleNew wires a multi-tenant server in header mode: the admin API, the
// protected-resource metadata and an endpoint behind the tenant middleware
// and the tenant's own bearer check.
func ExampleNew() {
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	idp := oidctest.NewServer() // acme's identity provider
	defer idp.Close()

	cfg := tenancy.Config{
		Redis:          redis.NewClient(&redis.Options{Addr: m.Addr()}),
		MultiTenant:    true,
		Identification: tenancy.ByHeader,
		Logger:         slog.New(slog.DiscardHandler),
	}
	cfg.OIDC.InsecureAllowLoopback = true // the test provider listens on 127.0.0.1
	svc, err := tenancy.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()

	urls, err := svc.URLs("https://seed.example.com")
	if err != nil {
		log.Fatal(err)
	}
	bearer, err := oidcx.Bearer(oidcx.BearerConfig{Verifier: svc.Verifier(), URLs: urls})
	if err != nil {
		log.Fatal(err)
	}
	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, _ := tenant.FromContext(r.Context())
		claims, _ := oidcx.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "tenant %s, subject %s", t.ID, claims.Subject)
	})
	mux := http.NewServeMux()
	mux.Handle("/admin/", svc.Admin())
	mux.Handle("/mcp", svc.Middleware(bearer(whoami)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	_, err = svc.Store().Tenants().Create(context.Background(), &tenant.Tenant{
		ID: "acme", Name: "ACME", Status: tenant.StatusActive, OIDC: idp.OIDC("seed-mcp-acme"),
	})
	if err != nil {
		log.Fatal(err)
	}

	call := func(id, token string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/mcp", nil)
		req.Header.Set("X-Tenant-ID", id)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.StatusCode, string(body))
	}
	call("acme", idp.Token(idp.Claims("seed-mcp-acme", "alice")))
	call("globex", idp.Token(idp.Claims("seed-mcp-acme", "alice")))
	call("ACME", "")
	// Output:
	// 200 tenant acme, subject alice
	// 404 {"error":"Tenant not found or inactive"}
	// 400 {"error":"Invalid tenant identifier"}
}

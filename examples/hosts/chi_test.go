package hosts_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// whoami is the host's own handler: it names the request's tenant and
// caller.
func whoami(w http.ResponseWriter, r *http.Request) {
	t, _ := tenant.FromContext(r.Context())
	claims, _ := oidcx.ClaimsFromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"tenant": t.ID, "subject": claims.Subject, "path": r.URL.Path})
}

// glue begins: chi

// newChiHost serves each tenant's routes at <public>/<tenant>/..., on a chi
// router that also serves tenant-less routes (the admin API, /healthz).
//
// In path mode chi needs two things a ServeMux does not:
//   - the tenant's router goes in with Handle("/*", …), not Mount: chi routes
//     a router mounted with Mount on the path it cut for it, which still
//     holds the tenant segment, while a router reached through Handle routes
//     on the request's path, from which the middleware took the segment;
//   - MetadataRoute's pattern ends in "/" in path mode, a subtree for a
//     ServeMux; chi needs "*" after it.
func newChiHost(svc *tenancy.Service, publicURL string) (http.Handler, error) {
	urls, err := svc.URLs(publicURL)
	if err != nil {
		return nil, err
	}
	bearer, err := oidcx.Bearer(oidcx.BearerConfig{Verifier: svc.Verifier(), URLs: urls})
	if err != nil {
		return nil, err
	}
	meta, err := oidcx.MetadataHandler(oidcx.MetadataConfig{URLs: urls})
	if err != nil {
		return nil, err
	}
	app := chi.NewRouter() // one tenant's routes, mounted once: /whoami, not /{tenant}/whoami
	app.Use(bearer)
	app.Get("/whoami", whoami)

	r := chi.NewRouter()
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	r.Mount("/admin", svc.Admin())
	pattern, metaHandler := svc.MetadataRoute(meta)
	if strings.HasSuffix(pattern, "/") {
		pattern += "*"
	}
	r.Handle(pattern, metaHandler)
	r.Handle("/*", svc.Middleware(app))
	return r, nil
}

// glue ends: chi

// newPathService is the Service in path mode on the in-memory store, with
// acme and globex, each trusting its own audience at idp.
func newPathService(t *testing.T, idp *oidctest.Server) *tenancy.Service {
	t.Helper()
	svc, err := tenancy.New(tenancy.Config{
		Store:          memstore.New(memstore.Config{}).Backend(),
		MultiTenant:    true,
		Identification: tenancy.ByPath,
		AdminAPIKey:    "operator-key",
		OIDC:           oidcx.Config{InsecureAllowLoopback: true}, // the test provider listens on 127.0.0.1
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	for _, id := range []string{"acme", "globex"} {
		_, err := svc.Store().Tenants().Create(t.Context(), &tenant.Tenant{
			ID: id, Name: id, Status: tenant.StatusActive, OIDC: idp.OIDC("api-" + id),
		})
		require.NoError(t, err)
	}
	require.NoError(t, svc.Sync(t.Context()))
	return svc
}

// get sends a request with an optional bearer token and returns the status
// and the body.
func get(t *testing.T, method, url, token string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func TestChiHostPathMode(t *testing.T) {
	idp := oidctest.New(t)
	svc := newPathService(t, idp)
	srv := httptest.NewUnstartedServer(nil)
	h, err := newChiHost(svc, "http://"+srv.Listener.Addr().String())
	require.NoError(t, err)
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)

	acmeToken := idp.Token(idp.Claims("api-acme", "alice"))
	globexToken := idp.Token(idp.Claims("api-globex", "bob"))

	// Each tenant at its own path, its routes seeing the path without it.
	code, body := get(t, "GET", srv.URL+"/acme/whoami", acmeToken)
	require.Equal(t, http.StatusOK, code, body)
	assert.JSONEq(t, `{"tenant":"acme","subject":"alice","path":"/whoami"}`, body)
	code, body = get(t, "GET", srv.URL+"/globex/whoami", globexToken)
	require.Equal(t, http.StatusOK, code, body)
	assert.JSONEq(t, `{"tenant":"globex","subject":"bob","path":"/whoami"}`, body)

	// A token of one tenant is refused by the other, whose metadata the
	// challenge names.
	req, err := http.NewRequest("GET", srv.URL+"/globex/whoami", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+acmeToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("WWW-Authenticate"),
		`resource_metadata="`+srv.URL+`/.well-known/oauth-protected-resource/globex/mcp"`)

	// The metadata route, under chi's "*".
	code, body = get(t, "GET", srv.URL+"/.well-known/oauth-protected-resource/acme/mcp", "")
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"resource":"`+srv.URL+`/acme/mcp"`)
	assert.Contains(t, body, `"authorization_servers":["`+idp.Issuer()+`"]`)

	// Unknown tenants, and routes that need none.
	code, unknown := get(t, "GET", srv.URL+"/initech/whoami", acmeToken)
	assert.Equal(t, http.StatusNotFound, code)
	assert.JSONEq(t, `{"error":"Tenant not found or inactive"}`, unknown)
	code, body = get(t, "GET", srv.URL+"/.well-known/oauth-protected-resource/initech/mcp", "")
	assert.Equal(t, http.StatusNotFound, code)
	assert.Equal(t, unknown, body)
	code, body = get(t, "GET", srv.URL+"/healthz", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok", body)
	code, _ = get(t, "GET", srv.URL+"/admin/tenants/acme", "", tenancy.AdminKeyHeader, "operator-key")
	assert.Equal(t, http.StatusOK, code, "the admin API under chi's Mount")

	// Suspended through the admin API, acme answers like an unknown tenant
	// at once, on its routes and its metadata; globex goes on.
	req, err = http.NewRequest("PATCH", srv.URL+"/admin/tenants/acme", strings.NewReader(`{"status":"suspended"}`))
	require.NoError(t, err)
	req.Header.Set(tenancy.AdminKeyHeader, "operator-key")
	req.Header.Set("Content-Type", "application/merge-patch+json")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	code, body = get(t, "GET", srv.URL+"/acme/whoami", acmeToken)
	assert.Equal(t, http.StatusNotFound, code)
	assert.Equal(t, unknown, body)
	code, body = get(t, "GET", srv.URL+"/.well-known/oauth-protected-resource/acme/mcp", "")
	assert.Equal(t, http.StatusNotFound, code)
	assert.Equal(t, unknown, body)
	code, _ = get(t, "GET", srv.URL+"/globex/whoami", globexToken)
	assert.Equal(t, http.StatusOK, code)
}

// TestChiWirings shows which chi wirings of path mode work: the tenant
// middleware in front of the tenant's router, on a route of the root
// router or of a group, or around the whole router; and which do not: a
// router mounted with Mount behind the middleware, which chi routes on the
// path its parent cut for it, tenant segment included, so that every
// tenant route is 404; and a prefix, whose first segment the path
// resolver takes for the tenant.
func TestChiWirings(t *testing.T) {
	idp := oidctest.New(t)
	svc := newPathService(t, idp)
	newApp := func() chi.Router {
		app := chi.NewRouter()
		app.Get("/whoami", func(w http.ResponseWriter, r *http.Request) {
			tn, _ := tenant.FromContext(r.Context())
			_, _ = io.WriteString(w, tn.ID+" "+r.URL.Path)
		})
		return app
	}
	tests := []struct {
		name   string
		router func() http.Handler
		path   string
		code   int
		body   string
	}{
		{"Handle /*", func() http.Handler {
			r := chi.NewRouter()
			r.Handle("/*", svc.Middleware(newApp()))
			return r
		}, "/acme/whoami", 200, "acme /whoami"},
		{"Use on the root router", func() http.Handler {
			r := chi.NewRouter()
			r.Use(svc.Middleware)
			r.Get("/whoami", newApp().ServeHTTP)
			return r
		}, "/acme/whoami", 200, "acme /whoami"},
		{"With on a group's route", func() http.Handler {
			r := chi.NewRouter()
			r.With(svc.Middleware).Handle("/{tenant}/*", newApp())
			return r
		}, "/acme/whoami", 200, "acme /whoami"},
		{"around the whole router", func() http.Handler {
			return svc.Middleware(newApp())
		}, "/acme/whoami", 200, "acme /whoami"},
		{"a Mount behind the middleware is 404", func() http.Handler {
			r := chi.NewRouter()
			r.Mount("/", svc.Middleware(newApp()))
			return r
		}, "/acme/whoami", 404, "404 page not found"},
		{"Mount after With is 404", func() http.Handler {
			r := chi.NewRouter()
			r.With(svc.Middleware).Mount("/", newApp())
			return r
		}, "/acme/whoami", 404, "404 page not found"},
		{"under a prefix, the prefix is the tenant", func() http.Handler {
			r := chi.NewRouter()
			r.Handle("/t/*", svc.Middleware(newApp()))
			return r
		}, "/t/acme/whoami", 404, `{"error":"Tenant not found or inactive"}`},
		{"under a prefix cut by StripPrefix", func() http.Handler {
			r := chi.NewRouter()
			r.Handle("/t/*", http.StripPrefix("/t", svc.Middleware(newApp())))
			return r
		}, "/t/acme/whoami", 200, "acme /whoami"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.router().ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
			assert.Equal(t, tt.code, rec.Code)
			assert.Equal(t, tt.body, strings.TrimSpace(rec.Body.String()))
		})
	}
}

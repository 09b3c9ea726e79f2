package oidcx_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/tenant"
)

var acmeCorp = &tenant.Tenant{
	ID: "acme-corp", Name: "ACME", Status: tenant.StatusActive,
	Domain: "mcp.acme.com",
	OIDC:   tenant.OIDC{Issuer: "https://auth.acme.com", Audience: "seed-mcp-acme"},
}

func TestURLsPerMode(t *testing.T) {
	subdomain, err := oidcx.SubdomainURLs("http://localhost:8080", "localhost")
	require.NoError(t, err)
	subdomainTLS, err := oidcx.SubdomainURLs("https://seed.example.com/", "Seed.Example.com.")
	require.NoError(t, err)
	path, err := oidcx.PathURLs("https://seed.example.com/")
	require.NoError(t, err)
	header, err := oidcx.HeaderURLs("http://127.0.0.1:8080")
	require.NoError(t, err)
	custom, err := oidcx.PathURLs("https://seed.example.com")
	require.NoError(t, err)
	custom.Path = "/api/mcp"

	tests := []struct {
		name     string
		urls     oidcx.URLs
		host     string // of the request
		resource string
		metadata string
	}{
		{"subdomain", subdomain, "acme-corp.localhost:8080",
			"http://acme-corp.localhost:8080/mcp",
			"http://acme-corp.localhost:8080/.well-known/oauth-protected-resource"},
		{"subdomain, default port", subdomainTLS, "acme-corp.seed.example.com",
			"https://acme-corp.seed.example.com/mcp",
			"https://acme-corp.seed.example.com/.well-known/oauth-protected-resource"},
		{"subdomain, custom domain", subdomainTLS, "MCP.acme.com.",
			"https://mcp.acme.com/mcp",
			"https://mcp.acme.com/.well-known/oauth-protected-resource"},
		{"path", path, "seed.example.com",
			"https://seed.example.com/acme-corp/mcp",
			"https://seed.example.com/.well-known/oauth-protected-resource/acme-corp/mcp"},
		{"path, custom MCP path", custom, "seed.example.com",
			"https://seed.example.com/acme-corp/api/mcp",
			"https://seed.example.com/.well-known/oauth-protected-resource/acme-corp/api/mcp"},
		{"header", header, "127.0.0.1:8080",
			"http://127.0.0.1:8080/mcp",
			"http://127.0.0.1:8080/.well-known/oauth-protected-resource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Host = tt.host
			assert.Equal(t, tt.resource, tt.urls.Resource(r, acmeCorp))
			assert.Equal(t, tt.metadata, tt.urls.Metadata(r, acmeCorp))
		})
	}
}

func TestURLsValidate(t *testing.T) {
	for _, bad := range []string{"", "localhost:8080", "ftp://x", "https://", "https://x/?q=1", "https://u@x", "https://x/#f"} {
		_, err := oidcx.PathURLs(bad)
		assert.Error(t, err, bad)
		_, err = oidcx.HeaderURLs(bad)
		assert.Error(t, err, bad)
		_, err = oidcx.SubdomainURLs(bad, "localhost")
		assert.Error(t, err, bad)
	}
	for _, bad := range []string{"", "localhost:8080", "a/b"} {
		_, err := oidcx.SubdomainURLs("http://localhost", bad)
		assert.Error(t, err, bad)
	}
}

// In every mode the metadata document served at the metadata URL names as
// its resource exactly the URL of the tenant's MCP endpoint, the URL a
// client connects to.
func TestMetadataPerMode(t *testing.T) {
	modes := []struct {
		name string
		urls func() (*oidcx.ModeURLs, error)
		// the URL of the MCP endpoint and of the metadata, as a client sees them
		mcp, metadata string
	}{
		{"subdomain", func() (*oidcx.ModeURLs, error) { return oidcx.SubdomainURLs("http://localhost:8080", "localhost") },
			"http://acme-corp.localhost:8080/mcp", "http://acme-corp.localhost:8080/.well-known/oauth-protected-resource"},
		{"path", func() (*oidcx.ModeURLs, error) { return oidcx.PathURLs("http://localhost:8080") },
			"http://localhost:8080/acme-corp/mcp", "http://localhost:8080/.well-known/oauth-protected-resource/acme-corp/mcp"},
		{"header", func() (*oidcx.ModeURLs, error) { return oidcx.HeaderURLs("http://localhost:8080") },
			"http://localhost:8080/mcp", "http://localhost:8080/.well-known/oauth-protected-resource"},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			urls, err := m.urls()
			require.NoError(t, err)
			h, err := oidcx.MetadataHandler(oidcx.MetadataConfig{URLs: urls})
			require.NoError(t, err)

			r := httptest.NewRequest(http.MethodGet, m.metadata, nil)
			r = r.WithContext(tenant.NewContext(r.Context(), acmeCorp))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			require.Equal(t, http.StatusOK, w.Code)
			assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
			assert.Equal(t, "*", w.Header().Get("Access-Control-Allow-Origin"))
			assert.JSONEq(t, `{
				"resource": "`+m.mcp+`",
				"authorization_servers": ["https://auth.acme.com"],
				"bearer_methods_supported": ["header"]
			}`, w.Body.String())

			var doc oidcx.ResourceMetadata
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &doc))
			mcp := httptest.NewRequest(http.MethodPost, m.mcp, nil)
			assert.Equal(t, mcp.URL.String(), doc.Resource, "byte-identical to the endpoint URL")
			assert.Equal(t, m.metadata, urls.Metadata(r, acmeCorp), "the challenge points at this document")
		})
	}
}

func TestMetadataOverrides(t *testing.T) {
	urls, err := oidcx.HeaderURLs("https://seed.example.com")
	require.NoError(t, err)
	h, err := oidcx.MetadataHandler(oidcx.MetadataConfig{
		URLs: urls,
		AuthorizationServers: func(_ *http.Request, t *tenant.Tenant) []string {
			return []string{"https://seed.example.com/oauth/" + t.ID}
		},
		ScopesSupported: []string{"mcp"},
	})
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/.well-known/oauth-protected-resource", nil)
	r = r.WithContext(tenant.NewContext(r.Context(), acmeCorp))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.JSONEq(t, `{
		"resource": "https://seed.example.com/mcp",
		"authorization_servers": ["https://seed.example.com/oauth/acme-corp"],
		"bearer_methods_supported": ["header"],
		"scopes_supported": ["mcp"]
	}`, w.Body.String())
}

func TestMetadataHandlerAnswers(t *testing.T) {
	urls, err := oidcx.HeaderURLs("https://seed.example.com")
	require.NoError(t, err)
	h, err := oidcx.MetadataHandler(oidcx.MetadataConfig{URLs: urls})
	require.NoError(t, err)
	serve := func(method string, tn *tenant.Tenant) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/.well-known/oauth-protected-resource", nil)
		if tn != nil {
			r = r.WithContext(tenant.NewContext(r.Context(), tn))
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	w := serve(http.MethodHead, acmeCorp)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Empty(t, w.Body.String())
	assert.Equal(t, http.StatusNoContent, serve(http.MethodOptions, acmeCorp).Code)
	w = serve(http.MethodPost, acmeCorp)
	assert.Equal(t, http.StatusMethodNotAllowed, w.Code)
	assert.Equal(t, "GET, HEAD, OPTIONS", w.Header().Get("Allow"))
	assert.Equal(t, http.StatusInternalServerError, serve(http.MethodGet, nil).Code)

	bare := &tenant.Tenant{ID: "bare", Name: "bare", Status: tenant.StatusActive}
	assert.JSONEq(t, `{"resource":"https://seed.example.com/mcp","bearer_methods_supported":["header"]}`,
		serve(http.MethodGet, bare).Body.String(), "no authorization server to name")

	_, err = oidcx.MetadataHandler(oidcx.MetadataConfig{})
	assert.Error(t, err)
}

// TestMetadataPathMode: in path mode the handler serves the document of
// its resource's path only, whether the tenant's segment is still in the
// path or a middleware took it out, and 404 for another path.
func TestMetadataPathMode(t *testing.T) {
	urls, err := oidcx.PathURLs("http://localhost:8080")
	require.NoError(t, err)
	urls.Path = "/v2/mcp"
	h, err := oidcx.MetadataHandler(oidcx.MetadataConfig{URLs: urls})
	require.NoError(t, err)
	for path, want := range map[string]int{
		oidcx.WellKnownPath + "/acme-corp/v2/mcp":     http.StatusOK,
		oidcx.WellKnownPath + "/v2/mcp":               http.StatusOK, // the tenant's segment taken out
		oidcx.WellKnownPath:                           http.StatusOK,
		oidcx.WellKnownPath + "/acme-corp/mcp":        http.StatusNotFound,
		oidcx.WellKnownPath + "/globex/v2/mcp":        http.StatusNotFound, // another tenant's document
		oidcx.WellKnownPath + "/acme-corp/v2/mcp/x":   http.StatusNotFound,
		oidcx.WellKnownPath + "/acme-corp/v2/%6Dcp":   http.StatusNotFound,
		oidcx.WellKnownPath + "/acme-corp/v2/mcp%2F.": http.StatusNotFound,
	} {
		r := httptest.NewRequest(http.MethodGet, "http://localhost:8080"+path, nil)
		r = r.WithContext(tenant.NewContext(r.Context(), acmeCorp))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		assert.Equal(t, want, w.Code, path)
		if want == http.StatusNotFound {
			assert.Equal(t, `{"error":"Not found"}`, w.Body.String(), path)
		}
	}
}

package tenancy

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

func TestMetadataRoute(t *testing.T) {
	const public = "https://seed.example.com"
	tests := []struct {
		name    string
		cfg     Config
		pattern string
		host    string
		path    string
		header  []string
		status  int
		body    string // the error body, or "" to check the resource
		want    string
	}{
		{"subdomain", Config{MultiTenant: true, BaseDomain: "seed.example.com"}, oidcx.WellKnownPath,
			"acme.seed.example.com", oidcx.WellKnownPath, nil, 200, "", "https://acme.seed.example.com/mcp"},
		{"header", Config{MultiTenant: true, Identification: ByHeader}, oidcx.WellKnownPath,
			"seed.example.com", oidcx.WellKnownPath, []string{"X-Tenant-ID", "acme"}, 200, "", public + "/mcp"},
		{"single tenant", Config{}, oidcx.WellKnownPath,
			"seed.example.com", oidcx.WellKnownPath, nil, 200, "", public + "/mcp"},
		{"path", Config{MultiTenant: true, Identification: ByPath}, oidcx.WellKnownPath + "/",
			"seed.example.com", oidcx.WellKnownPath + "/acme/mcp", nil, 200, "", public + "/acme/mcp"},
		{"path, unknown tenant", Config{MultiTenant: true, Identification: ByPath}, oidcx.WellKnownPath + "/",
			"seed.example.com", oidcx.WellKnownPath + "/globex/mcp", nil, 404, `{"error":"Tenant not found or inactive"}`, ""},
		{"path, escaped ID", Config{MultiTenant: true, Identification: ByPath}, oidcx.WellKnownPath + "/",
			"seed.example.com", oidcx.WellKnownPath + "/%61cme/mcp", nil, 400, `{"error":"Invalid tenant identifier"}`, ""},
		{"path, encoded slash", Config{MultiTenant: true, Identification: ByPath}, oidcx.WellKnownPath + "/",
			"seed.example.com", oidcx.WellKnownPath + "/ac%2Fme/mcp", nil, 400, `{"error":"Invalid tenant identifier"}`, ""},
		{"path, other resource", Config{MultiTenant: true, Identification: ByPath}, oidcx.WellKnownPath + "/",
			"seed.example.com", oidcx.WellKnownPath + "/acme/other", nil, 404, `{"error":"Not found"}`, ""},
		{"path, nested", Config{MultiTenant: true, Identification: ByPath}, oidcx.WellKnownPath + "/",
			"seed.example.com", oidcx.WellKnownPath + "/acme/x/mcp", nil, 404, `{"error":"Not found"}`, ""},
		{"path, no tenant", Config{MultiTenant: true, Identification: ByPath}, oidcx.WellKnownPath + "/",
			"seed.example.com", oidcx.WellKnownPath + "/mcp", nil, 404, `{"error":"Not found"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Redis = fakeRedis(t)
			cfg.Default = tenant.Tenant{OIDC: tenant.OIDC{Issuer: "https://auth.example.com", Audience: "seed"}}
			s := newService(t, cfg)
			createTenant(t, s, "acme", func(tn *tenant.Tenant) {
				tn.OIDC = tenant.OIDC{Issuer: "https://auth.example.com", Audience: "seed-acme"}
			})
			urls, err := s.URLs(public)
			require.NoError(t, err)
			meta, err := oidcx.MetadataHandler(oidcx.MetadataConfig{URLs: urls, Logger: quiet})
			require.NoError(t, err)
			pattern, h := s.MetadataRoute(meta)
			assert.Equal(t, tt.pattern, pattern)
			mux := http.NewServeMux()
			mux.Handle(pattern, h)

			req := httptest.NewRequest(http.MethodGet, "http://"+tt.host+tt.path, nil)
			for i := 0; i+1 < len(tt.header); i += 2 {
				req.Header.Set(tt.header[i], tt.header[i+1])
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			require.Equal(t, tt.status, rec.Code, rec.Body.String())
			if tt.body != "" {
				assert.Equal(t, tt.body, rec.Body.String())
				return
			}
			var doc struct {
				Resource string `json:"resource"`
			}
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &doc))
			assert.Equal(t, tt.want, doc.Resource)
		})
	}
}

// TestMetadataRouteCustomPath: in path mode, an MCP endpoint at another
// path than /mcp (ModeURLs.Path) finds its document at the URL its bearer
// challenges name, and the document of any other path is 404.
func TestMetadataRouteCustomPath(t *testing.T) {
	const public = "https://seed.example.com"
	s := newService(t, Config{Redis: fakeRedis(t), MultiTenant: true, Identification: ByPath})
	createTenant(t, s, "acme", func(tn *tenant.Tenant) {
		tn.OIDC = tenant.OIDC{Issuer: "https://auth.example.com", Audience: "seed-acme"}
	})
	urls, err := s.URLs(public)
	require.NoError(t, err)
	urls.Path = "/api/v1/mcp"
	meta, err := oidcx.MetadataHandler(oidcx.MetadataConfig{URLs: urls, Logger: quiet})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle(s.MetadataRoute(meta))
	get := func(target string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		return rec
	}

	challenge := urls.Metadata(httptest.NewRequest(http.MethodGet, public+"/acme/api/v1/mcp", nil), &tenant.Tenant{ID: "acme"})
	assert.Equal(t, public+oidcx.WellKnownPath+"/acme/api/v1/mcp", challenge)
	rec := get(challenge)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var doc oidcx.ResourceMetadata
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &doc))
	assert.Equal(t, public+"/acme/api/v1/mcp", doc.Resource)

	for target, want := range map[string]string{
		public + oidcx.WellKnownPath + "/acme/mcp":          `{"error":"Not found"}`,
		public + oidcx.WellKnownPath + "/acme/api/v1/mcp/x": `{"error":"Not found"}`,
		public + oidcx.WellKnownPath + "/acme/api/v1":       `{"error":"Not found"}`,
		public + oidcx.WellKnownPath + "/globex/api/v1/mcp": `{"error":"Tenant not found or inactive"}`,
		public + oidcx.WellKnownPath + "/acme/api/v1/%6dcp": `{"error":"Not found"}`,
	} {
		rec := get(target)
		assert.Equal(t, http.StatusNotFound, rec.Code, target)
		assert.Equal(t, want, rec.Body.String(), target)
		assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"), target)
	}
}

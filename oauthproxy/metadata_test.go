package oauthproxy_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/oauthproxy"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
)

// TestMetadataLocations fetches the metadata everywhere a client looks
// for it, in each mode, and finds one document naming the tenant.
func TestMetadataLocations(t *testing.T) {
	for _, m := range modes {
		t.Run(string(m), func(t *testing.T) {
			h := newHarness(t, m, memBackend)
			h.addTenant("acme", oidctest.New(t), "")
			h.addTenant("acme-corp", oidctest.New(t), "")
			var locations []string
			switch m {
			case byPath:
				locations = []string{
					h.public + oauthproxy.MetadataPath + "/acme",
					h.public + oauthproxy.OpenIDConfigurationPath + "/acme",
					h.public + "/acme" + oauthproxy.OpenIDConfigurationPath,
					h.public + "/acme" + oauthproxy.MetadataPath,
				}
			default:
				locations = []string{h.base("acme") + oauthproxy.MetadataPath, h.base("acme") + oauthproxy.OpenIDConfigurationPath}
			}
			c := h.client("acme")
			issuer := h.base("acme")
			for _, u := range locations {
				a := must(t)(c.Get(u))
				require.Equal(t, http.StatusOK, a.status, "%s: %s", u, a.body)
				assert.Equal(t, "*", a.header.Get("Access-Control-Allow-Origin"))
				doc := a.json(t)
				assert.Equal(t, issuer, doc["issuer"], u)
				assert.Equal(t, issuer+"/oauth/authorize", doc["authorization_endpoint"])
				assert.Equal(t, issuer+"/oauth/token", doc["token_endpoint"])
				assert.Equal(t, issuer+"/oauth/register", doc["registration_endpoint"])
				assert.Equal(t, issuer+"/oauth/revoke", doc["revocation_endpoint"])
				assert.Equal(t, []any{"S256"}, doc["code_challenge_methods_supported"])
				assert.Equal(t, []any{"authorization_code", "refresh_token"}, doc["grant_types_supported"])
				assert.Equal(t, []any{"openid", "profile"}, doc["scopes_supported"])
				assert.Equal(t, true, doc["authorization_response_iss_parameter_supported"])
			}
			if m != byPath {
				return
			}
			for _, tc := range []struct {
				path   string
				status int
			}{
				{oauthproxy.MetadataPath + "/%61cme", http.StatusBadRequest}, // escaped: malformed, never "acme"
				{oauthproxy.MetadataPath + "/nobody", http.StatusNotFound},
				{oauthproxy.MetadataPath + "/acme/x", http.StatusNotFound},
				{oauthproxy.MetadataPath + "/", http.StatusNotFound},
				{oauthproxy.OpenIDConfigurationPath + "/ACME", http.StatusBadRequest},
			} {
				a := must(t)(c.Get(h.public + tc.path))
				assert.Equal(t, tc.status, a.status, "%s: %s", tc.path, a.body)
			}
			a := must(t)(c.Get(h.public + oauthproxy.MetadataPath + "/acme-corp"))
			require.Equal(t, http.StatusOK, a.status)
			assert.Equal(t, h.base("acme-corp"), a.json(t)["issuer"], "a tenant whose ID extends another's is its own")
		})
	}
}

func TestMetadataRoutesRewrite(t *testing.T) {
	var seen []string
	rec := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.URL.Path+" "+r.URL.RawPath)
	})
	id := func(next http.Handler) http.Handler { return next }
	routes := oauthproxy.MetadataRoutes(rec, id, true)
	require.Len(t, routes, 2)
	mux := http.NewServeMux()
	for _, rt := range routes {
		mux.Handle(rt.Pattern, rt.Handler)
	}
	for _, p := range []string{oauthproxy.MetadataPath + "/acme", oauthproxy.OpenIDConfigurationPath + "/acme", oauthproxy.MetadataPath + "/%61cme"} {
		u, err := url.Parse("http://x" + p)
		require.NoError(t, err)
		mux.ServeHTTP(nopWriter{}, &http.Request{Method: http.MethodGet, URL: u, Host: "x"})
	}
	assert.Equal(t, []string{
		"/acme" + oauthproxy.MetadataPath + " ",
		"/acme" + oauthproxy.OpenIDConfigurationPath + " ",
		"/acme" + oauthproxy.MetadataPath + " /%61cme" + oauthproxy.MetadataPath,
	}, seen)

	plain := oauthproxy.MetadataRoutes(rec, id, false)
	assert.Equal(t, oauthproxy.MetadataPath, plain[0].Pattern)
	assert.Equal(t, oauthproxy.OpenIDConfigurationPath, plain[1].Pattern)
}

type nopWriter struct{}

func (nopWriter) Header() http.Header         { return http.Header{} }
func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (nopWriter) WriteHeader(int)             {}

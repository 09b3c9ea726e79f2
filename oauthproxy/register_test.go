package oauthproxy_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/oauthproxy"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/tenant"
)

func registerRaw(t *testing.T, h *harness, id, contentType, body string) *answer {
	t.Helper()
	return must(t)(h.client(id).Post(h.base(id)+oauthproxy.RegisterPath, contentType, strings.NewReader(body)))
}

func TestRegistration(t *testing.T) {
	h := newHarness(t, byPath, memBackend, func(c *oauthproxy.Config) { c.RegistrationsPerMinute = -1 })
	h.addTenant("acme", oidctest.New(t), "")

	a := registerRaw(t, h, "acme", "application/json",
		`{"client_name":"Claude","redirect_uris":["http://127.0.0.1:3000/cb","https://app.example/cb"],"x-extension":{"kept":true}}`)
	require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
	m := a.json(t)
	assert.Regexp(t, `^mcp-[a-z2-7]{26}$`, m["client_id"])
	assert.NotZero(t, m["client_id_issued_at"])
	assert.Equal(t, "none", m["token_endpoint_auth_method"])
	assert.Equal(t, []any{"authorization_code"}, m["grant_types"], "RFC 7591's default")
	assert.Equal(t, []any{"code"}, m["response_types"])
	assert.Equal(t, map[string]any{"kept": true}, m["x-extension"], "unknown members are kept")
	assert.NotContains(t, m, "client_secret")
	assert.Equal(t, "*", a.header.Get("Access-Control-Allow-Origin"))

	uris := func(n int, size int) string {
		list := make([]string, n)
		for i := range list {
			u := fmt.Sprintf("https://app.example/cb%d/", i)
			list[i] = u + strings.Repeat("a", max(0, size-len(u)))
		}
		b, _ := json.Marshal(list)
		return `{"redirect_uris":` + string(b) + `}`
	}
	for _, tc := range []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"ten URIs", uris(10, 100), http.StatusCreated, ""},
		{"URIs of 2 KiB as the body allows", uris(7, 2048), http.StatusCreated, ""},
		{"eleven URIs", uris(11, 30), http.StatusBadRequest, "invalid_redirect_uri"},
		{"a URI over 2 KiB", uris(1, 2049), http.StatusBadRequest, "invalid_redirect_uri"},
		{"no URI", `{"client_name":"x"}`, http.StatusBadRequest, "invalid_redirect_uri"},
		{"http elsewhere", `{"redirect_uris":["http://app.example/cb"]}`, http.StatusBadRequest, "invalid_redirect_uri"},
		{"http on ::1", `{"redirect_uris":["http://[::1]:8080/cb"]}`, http.StatusCreated, ""},
		{"http on localhost", `{"redirect_uris":["http://localhost/cb"]}`, http.StatusCreated, ""},
		{"custom scheme", `{"redirect_uris":["cursor://callback"]}`, http.StatusBadRequest, "invalid_redirect_uri"},
		{"fragment", `{"redirect_uris":["https://app.example/cb#x"]}`, http.StatusBadRequest, "invalid_redirect_uri"},
		{"user info", `{"redirect_uris":["https://u:p@app.example/cb"]}`, http.StatusBadRequest, "invalid_redirect_uri"},
		{"raw markup", `{"redirect_uris":["https://app.example/cb?<x>"]}`, http.StatusBadRequest, "invalid_redirect_uri"},
		{"relative", `{"redirect_uris":["/cb"]}`, http.StatusBadRequest, "invalid_redirect_uri"},
		{"member in another case", `{"Redirect_URIs":["https://evil.example/cb"],"redirect_uris":["https://app.example/cb"]}`, http.StatusBadRequest, "invalid_client_metadata"},
		{"only the other case", `{"REDIRECT_URIS":["https://app.example/cb"]}`, http.StatusBadRequest, "invalid_client_metadata"},
		{"secret client", `{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"client_secret_basic"}`, http.StatusBadRequest, "invalid_client_metadata"},
		{"implicit", `{"redirect_uris":["https://app.example/cb"],"grant_types":["implicit"]}`, http.StatusBadRequest, "invalid_client_metadata"},
		{"response type", `{"redirect_uris":["https://app.example/cb"],"response_types":["token"]}`, http.StatusBadRequest, "invalid_client_metadata"},
		{"name with a right-to-left override", `{"redirect_uris":["https://app.example/cb"],"client_name":"Claude\u202etxt.exe"}`, http.StatusBadRequest, "invalid_client_metadata"},
		{"name with a newline", `{"redirect_uris":["https://app.example/cb"],"client_name":"a\nb"}`, http.StatusBadRequest, "invalid_client_metadata"},
		{"long name", `{"redirect_uris":["https://app.example/cb"],"client_name":"` + strings.Repeat("n", 201) + `"}`, http.StatusBadRequest, "invalid_client_metadata"},
		{"javascript client_uri", `{"redirect_uris":["https://app.example/cb"],"client_uri":"javascript:alert(1)"}`, http.StatusBadRequest, "invalid_client_metadata"},
		{"bad scope", `{"redirect_uris":["https://app.example/cb"],"scope":"a  b"}`, http.StatusBadRequest, "invalid_client_metadata"},
		{"not JSON", `{"redirect_uris":`, http.StatusBadRequest, "invalid_client_metadata"},
		{"two values", `{"redirect_uris":["https://app.example/cb"]} {}`, http.StatusBadRequest, "invalid_client_metadata"},
		{"an array", `[]`, http.StatusBadRequest, "invalid_client_metadata"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := registerRaw(t, h, "acme", "application/json", tc.body)
			require.Equal(t, tc.status, a.status, "%s", a.body)
			if tc.code != "" {
				assert.Equal(t, tc.code, a.json(t)["error"])
			}
		})
	}

	t.Run("body over 16 KiB", func(t *testing.T) {
		body := `{"redirect_uris":["https://app.example/cb"],"client_name":"x","pad":"` + strings.Repeat("p", 16<<10) + `"}`
		a := registerRaw(t, h, "acme", "application/json", body)
		assert.Equal(t, http.StatusRequestEntityTooLarge, a.status)
		assert.Equal(t, "invalid_client_metadata", a.json(t)["error"])
	})
	t.Run("not JSON content", func(t *testing.T) {
		a := registerRaw(t, h, "acme", "text/plain", `{"redirect_uris":["https://app.example/cb"]}`)
		assert.Equal(t, http.StatusUnsupportedMediaType, a.status)
	})
	t.Run("preflight", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodOptions, h.base("acme")+oauthproxy.RegisterPath, nil)
		require.NoError(t, err)
		a := must(t)(h.client("acme").Do(req))
		assert.Equal(t, http.StatusNoContent, a.status)
		assert.Contains(t, a.header.Get("Access-Control-Allow-Methods"), "POST")
	})
}

func TestRegistrationLimits(t *testing.T) {
	h := newHarness(t, byPath, memBackend, func(c *oauthproxy.Config) { c.RegistrationsPerMinute = 3 })
	h.addTenant("acme", oidctest.New(t), "", func(tt *tenant.Tenant) { tt.Limits.MaxClients = 2 })
	h.addTenant("globex", oidctest.New(t), "")
	body := `{"redirect_uris":["https://app.example/cb"]}`

	assert.Equal(t, http.StatusCreated, registerRaw(t, h, "acme", "application/json", body).status)
	assert.Equal(t, http.StatusCreated, registerRaw(t, h, "acme", "application/json", body).status)
	a := registerRaw(t, h, "acme", "application/json", body)
	assert.Equal(t, http.StatusForbidden, a.status, "maxClients")
	assert.JSONEq(t, `{"error":"access_denied"}`, string(a.body))

	a = registerRaw(t, h, "acme", "application/json", body)
	assert.Equal(t, http.StatusTooManyRequests, a.status, "the fourth from one address in a minute")
	assert.NotEmpty(t, a.header.Get("Retry-After"))
	assert.Equal(t, "too_many_requests", a.json(t)["error"])

	assert.Equal(t, http.StatusCreated, registerRaw(t, h, "globex", "application/json", body).status,
		"another tenant has its own count")
}

package oidcx_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/tenant"
)

// whoami answers the subject of the token, or "anonymous".
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if c, ok := oidcx.ClaimsFromContext(r.Context()); ok {
		_, _ = w.Write([]byte(c.TenantID + ":" + c.Subject))
		return
	}
	_, _ = w.Write([]byte("anonymous"))
})

type bearerFixture struct {
	idp     *oidctest.Server
	acme    *tenant.Tenant
	handler http.Handler
	logs    *bytes.Buffer
}

func newBearerFixture(t *testing.T, cfg oidcx.BearerConfig) *bearerFixture {
	t.Helper()
	idp := oidctest.New(t)
	urls, err := oidcx.SubdomainURLs("https://seed.example.com", "seed.example.com")
	require.NoError(t, err)
	if cfg.Verifier == nil {
		cfg.Verifier = newVerifier(t, nil)
	}
	cfg.URLs = urls
	logs := &bytes.Buffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	mw, err := oidcx.Bearer(cfg)
	require.NoError(t, err)
	return &bearerFixture{idp: idp, acme: newTenant("acme", idp), handler: mw(whoami), logs: logs}
}

// do sends a request for tenant tn (none when nil) with the given
// Authorization header values.
func (f *bearerFixture) do(tn *tenant.Tenant, authorization ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "https://acme.seed.example.com/mcp", nil)
	for _, a := range authorization {
		r.Header.Add("Authorization", a)
	}
	if tn != nil {
		r = r.WithContext(tenant.NewContext(r.Context(), tn))
	}
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	return w
}

const acmeMetadata = "https://acme.seed.example.com/.well-known/oauth-protected-resource"

func TestBearerAnswers(t *testing.T) {
	f := newBearerFixture(t, oidcx.BearerConfig{})
	valid := tokenFor(f.idp, f.acme, "alice")
	expired := f.idp.Claims(f.acme.OIDC.Audience, "alice")
	expired["exp"] = time.Now().Add(-time.Hour).Unix()

	noError := `Bearer resource_metadata="` + acmeMetadata + `"`
	invalidToken := `Bearer resource_metadata="` + acmeMetadata + `", error="invalid_token"`
	invalidRequest := `Bearer resource_metadata="` + acmeMetadata + `", error="invalid_request"`
	tests := []struct {
		name          string
		authorization []string
		status        int
		challenge     string
		body          string
	}{
		{"valid", []string{"Bearer " + valid}, 200, "", "acme:alice"},
		{"scheme in lower case", []string{"bearer " + valid}, 200, "", "acme:alice"},
		{"scheme in upper case", []string{"BEARER " + valid}, 200, "", "acme:alice"},
		{"no header", nil, 401, noError, `{"error":"unauthorized"}`},
		{"other scheme", []string{"Basic YWxpY2U6c2VjcmV0"}, 401, noError, `{"error":"unauthorized"}`},
		{"scheme sharing a prefix", []string{"Bearerish " + valid}, 401, noError, `{"error":"unauthorized"}`},
		{"expired", []string{"Bearer " + f.idp.Token(expired)}, 401, invalidToken, `{"error":"invalid_token"}`},
		{"not a JWT", []string{"Bearer abc"}, 401, invalidToken, `{"error":"invalid_token"}`},
		{"oversized", []string{"Bearer " + strings.Repeat("a", oidcx.DefaultMaxTokenSize+1)}, 401, invalidToken, `{"error":"invalid_token"}`},
		{"scheme alone", []string{"Bearer"}, 400, invalidRequest, `{"error":"invalid_request"}`},
		{"empty token", []string{"Bearer "}, 400, invalidRequest, `{"error":"invalid_request"}`},
		{"two spaces", []string{"Bearer  " + valid}, 200, "", "acme:alice"}, // 1*SP
		{"tab", []string{"Bearer\t" + valid}, 401, noError, `{"error":"unauthorized"}`},
		{"trailing space", []string{"Bearer " + valid + " "}, 400, invalidRequest, `{"error":"invalid_request"}`},
		{"two tokens", []string{"Bearer " + valid + " " + valid}, 400, invalidRequest, `{"error":"invalid_request"}`},
		{"outside token68", []string{"Bearer " + valid + "!"}, 400, invalidRequest, `{"error":"invalid_request"}`},
		{"padding inside", []string{"Bearer ab=cd"}, 400, invalidRequest, `{"error":"invalid_request"}`},
		{"two headers", []string{"Bearer " + valid, "Bearer " + valid}, 400, invalidRequest, `{"error":"invalid_request"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(f.acme, tt.authorization...)
			assert.Equal(t, tt.status, w.Code)
			assert.Equal(t, tt.body, w.Body.String())
			if tt.status == 200 {
				assert.Empty(t, w.Header().Values("WWW-Authenticate"))
				return
			}
			assert.Equal(t, []string{tt.challenge}, w.Header().Values("WWW-Authenticate"))
			assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
			assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
			assert.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))
		})
	}
}

func TestBearerIgnoresQueryToken(t *testing.T) {
	f := newBearerFixture(t, oidcx.BearerConfig{})
	r := httptest.NewRequest(http.MethodGet, "/mcp?access_token="+tokenFor(f.idp, f.acme, "alice"), nil)
	r = r.WithContext(tenant.NewContext(r.Context(), f.acme))
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	assert.Equal(t, http.StatusUnauthorized, w.Code)
}

func TestBearerTenantsStayApart(t *testing.T) {
	f := newBearerFixture(t, oidcx.BearerConfig{})
	other := oidctest.New(t)
	globex := newTenant("globex", other)
	w := f.do(globex, "Bearer "+tokenFor(f.idp, f.acme, "alice"))
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.Equal(t, `Bearer resource_metadata="https://globex.seed.example.com/.well-known/oauth-protected-resource", error="invalid_token"`,
		w.Header().Get("WWW-Authenticate"))
}

func TestBearerNoTenant(t *testing.T) {
	f := newBearerFixture(t, oidcx.BearerConfig{})
	w := f.do(nil, "Bearer "+tokenFor(f.idp, f.acme, "alice"))
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.Equal(t, `{"error":"server_error"}`, w.Body.String())
	assert.Contains(t, f.logs.String(), "without a tenant")
}

func TestBearerTenantWithoutOIDC(t *testing.T) {
	bare := &tenant.Tenant{ID: "bare", Name: "bare", Status: tenant.StatusActive}
	challenge := `Bearer resource_metadata="https://bare.seed.example.com/.well-known/oauth-protected-resource"`

	t.Run("refused", func(t *testing.T) {
		f := newBearerFixture(t, oidcx.BearerConfig{})
		w := f.do(bare)
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.Equal(t, challenge, w.Header().Get("WWW-Authenticate"))
		w = f.do(bare, "Bearer abc")
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.Equal(t, challenge+`, error="invalid_token"`, w.Header().Get("WWW-Authenticate"))
	})
	t.Run("InsecureAllowAnonymous", func(t *testing.T) {
		f := newBearerFixture(t, oidcx.BearerConfig{InsecureAllowAnonymous: true})
		for _, auth := range [][]string{nil, {"Bearer abc"}} {
			w := f.do(bare, auth...)
			assert.Equal(t, http.StatusOK, w.Code)
			assert.Equal(t, "anonymous", w.Body.String())
		}
	})
}

func TestBearerInsecureAllowAnonymous(t *testing.T) {
	f := newBearerFixture(t, oidcx.BearerConfig{InsecureAllowAnonymous: true})
	w := f.do(f.acme)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "anonymous", w.Body.String())

	w = f.do(f.acme, "Bearer "+tokenFor(f.idp, f.acme, "alice"))
	assert.Equal(t, "acme:alice", w.Body.String(), "a presented token is still verified")

	w = f.do(f.acme, "Bearer abc")
	assert.Equal(t, http.StatusUnauthorized, w.Code, "and refused when invalid")
}

func TestBearerProviderDown(t *testing.T) {
	clk := &clock{}
	f := newBearerFixture(t, oidcx.BearerConfig{Verifier: newVerifier(t, clk)})
	token := tokenFor(f.idp, f.acme, "alice")
	f.idp.SetDown(true)

	for range 2 {
		w := f.do(f.acme, "Bearer "+token)
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		assert.Equal(t, `{"error":"temporarily_unavailable"}`, w.Body.String())
		assert.Equal(t, "1", w.Header().Get("Retry-After"))
		assert.Empty(t, w.Header().Get("WWW-Authenticate"))
	}
	assert.Equal(t, 1, f.idp.DiscoveryRequests())
	assert.Contains(t, f.logs.String(), "unavailable")
}

// With the tenant's provider down, a token that is not a JWT is still a
// 401 with the usual challenge, not a 503.
func TestBearerMalformedTokenWhileProviderDown(t *testing.T) {
	f := newBearerFixture(t, oidcx.BearerConfig{})
	f.idp.SetDown(true)
	w := f.do(f.acme, "Bearer not-a-jwt")
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.Equal(t, `{"error":"invalid_token"}`, w.Body.String())
	assert.Equal(t, `Bearer resource_metadata="`+acmeMetadata+`", error="invalid_token"`, w.Header().Get("WWW-Authenticate"))
	assert.Equal(t, 0, f.idp.DiscoveryRequests())
}

func TestBearerValidatesConfig(t *testing.T) {
	v := newVerifier(t, nil)
	urls, err := oidcx.HeaderURLs("https://seed.example.com")
	require.NoError(t, err)
	_, err = oidcx.Bearer(oidcx.BearerConfig{URLs: urls})
	assert.Error(t, err)
	_, err = oidcx.Bearer(oidcx.BearerConfig{Verifier: v})
	assert.Error(t, err)
}

func TestChallenge(t *testing.T) {
	assert.Equal(t, `Bearer resource_metadata="https://a.example/x"`, oidcx.Challenge("https://a.example/x", ""))
	assert.Equal(t, `Bearer resource_metadata="https://a.example/x", error="invalid_token"`,
		oidcx.Challenge("https://a.example/x", "invalid_token"))
	assert.Equal(t, `Bearer resource_metadata="a\"b\\c"`, oidcx.Challenge(`a"b\c`, ""))
}

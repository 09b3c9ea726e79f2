package oauthproxy

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// The fixtures of the fuzz targets: a tenant whose provider is a canned
// transport (no network), one registered client, one code and one refresh
// token whose secrets the seeds know.
const (
	fuzzClient   = "mcp-fuzzclient"
	fuzzRedirect = "http://127.0.0.1:5000/cb"
	fuzzCode     = "seed-code"
	fuzzRefresh  = "seed-refresh"
	// RFC 7636 appendix B.
	fuzzVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	fuzzChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

var fuzzTenant = &tenant.Tenant{
	ID: "acme", Name: "ACME", Status: tenant.StatusActive,
	OIDC: tenant.OIDC{
		Issuer: "https://idp.example", Audience: "mcp", ClientID: "proxy",
		AuthorizationURL: "https://idp.example/authorize", TokenURL: "https://idp.example/token",
		RevocationURL: "https://idp.example/revoke",
	},
}

// cannedProvider answers every token request with new tokens.
type cannedProvider struct{}

func (cannedProvider) RoundTrip(r *http.Request) (*http.Response, error) {
	body := `{"access_token":"at","token_type":"Bearer","expires_in":60,"refresh_token":"rt-new"}`
	return &http.Response{
		StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: r,
	}, nil
}

// fuzzProxy returns a proxy on fresh stores holding the fixtures.
func fuzzProxy(tb testing.TB) *Proxy {
	s := memstore.New(memstore.Config{})
	urls, err := oidcx.PathURLs("https://seed.example.com")
	if err != nil {
		tb.Fatal(err)
	}
	p, err := New(Config{
		Clients: s.Clients(), Grants: s.Grants(), URLs: urls, Transport: cannedProvider{},
		Logger: slog.New(slog.DiscardHandler), RegistrationsPerMinute: -1,
	})
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Tenants().Create(ctx, &tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive}); err != nil {
		tb.Fatal(err)
	}
	c := &store.Client{ClientID: fuzzClient, RedirectURIs: []string{fuzzRedirect, "https://app.example/cb?x=1"},
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"}, TokenEndpointAuthMethod: "none"}
	if err := s.Clients().Register(ctx, "acme", c, 0); err != nil {
		tb.Fatal(err)
	}
	g := codeGrant{ClientID: fuzzClient, RedirectURI: fuzzRedirect, RedirectGiven: true, Challenge: fuzzChallenge, Refresh: true,
		Token: tokenResult{AccessToken: "at", TokenType: "Bearer", RefreshToken: "rt"}}
	if err := p.putGrant(ctx, "acme", store.GrantCode, fuzzCode, &g, time.Minute); err != nil {
		tb.Fatal(err)
	}
	if err := p.putGrant(ctx, "acme", store.GrantRefresh, fuzzRefresh, &refreshBinding{ClientID: fuzzClient}, time.Hour); err != nil {
		tb.Fatal(err)
	}
	return p
}

func serve(p *Proxy, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	p.ServeHTTP(w, r.WithContext(tenant.NewContext(r.Context(), fuzzTenant)))
	return w
}

var tokenErrors = map[string]bool{
	"invalid_request": true, "invalid_client": true, "invalid_grant": true, "unauthorized_client": true,
	"unsupported_grant_type": true, "invalid_scope": true, "invalid_target": true,
	"temporarily_unavailable": true, "server_error": true,
}

// FuzzToken sends arbitrary form bodies to the token endpoint. Whatever
// the body: no panic; an RFC 6749 answer that no cache keeps; tokens only
// for the exact code, client, redirect URI and verifier the code was
// issued for, or for the refresh token's own client.
func FuzzToken(f *testing.F) {
	good := url.Values{"grant_type": {"authorization_code"}, "code": {fuzzCode}, "client_id": {fuzzClient},
		"redirect_uri": {fuzzRedirect}, "code_verifier": {fuzzVerifier}}
	f.Add(good.Encode())
	f.Add(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {fuzzRefresh}, "client_id": {fuzzClient}}.Encode())
	f.Add(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {fuzzRefresh}, "client_id": {"mcp-other"}}.Encode())
	f.Add(good.Encode() + "&code=" + fuzzCode)
	f.Add(strings.Replace(good.Encode(), "code_verifier=d", "code_verifier=e", 1))
	f.Add("grant_type=authorization_code&code=%zz")
	f.Add("grant_type=password&username=a&password=b")
	f.Add("")
	f.Add(";;;&&&==")
	f.Fuzz(func(t *testing.T, body string) {
		// Fresh stores each time: a code the fuzzer redeems is gone.
		q := fuzzProxy(t)
		r := httptest.NewRequest(http.MethodPost, "https://seed.example.com/oauth/token", strings.NewReader(body))
		r.URL.Path = TokenPath
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := serve(q, r)
		if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("Cache-Control %q", cc)
		}
		var answer map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil {
			t.Fatalf("status %d, body not JSON: %q", w.Code, w.Body.String())
		}
		form, _ := url.ParseQuery(body)
		switch w.Code {
		case http.StatusOK:
			if answer["access_token"] != "at" {
				t.Fatalf("200 without the token: %v", answer)
			}
			ok := form.Get("client_id") == fuzzClient && len(form["client_id"]) == 1 &&
				(form.Get("grant_type") == "authorization_code" && form.Get("code") == fuzzCode &&
					form.Get("code_verifier") == fuzzVerifier && (!form.Has("redirect_uri") || form.Get("redirect_uri") == fuzzRedirect) ||
					form.Get("grant_type") == "refresh_token" && form.Get("refresh_token") == fuzzRefresh)
			if !ok {
				t.Fatalf("tokens for %q", body)
			}
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge,
			http.StatusServiceUnavailable, http.StatusInternalServerError:
			if code, _ := answer["error"].(string); !tokenErrors[code] {
				t.Fatalf("status %d with error %q", w.Code, answer["error"])
			}
		default:
			t.Fatalf("status %d for %q", w.Code, body)
		}
	})
}

// FuzzAuthorize sends arbitrary queries to the authorization endpoint.
// Whatever the query: no panic; a redirect only to a redirect URI the
// client registered, with nothing unescaped in it; a page with a strict
// policy and no markup of the query's.
func FuzzAuthorize(f *testing.F) {
	good := url.Values{"response_type": {"code"}, "client_id": {fuzzClient}, "redirect_uri": {fuzzRedirect},
		"state": {"xyz"}, "code_challenge": {fuzzChallenge}, "code_challenge_method": {"S256"}, "scope": {"openid"}}
	f.Add(good.Encode())
	f.Add(good.Encode() + "&state=again")
	f.Add(strings.Replace(good.Encode(), "127.0.0.1%3A5000", "127.0.0.1%3A6000", 1))
	f.Add(strings.Replace(good.Encode(), "127.0.0.1%3A5000", "evil.example", 1))
	f.Add(strings.Replace(good.Encode(), "response_type=code", "response_type=token", 1))
	f.Add("client_id=" + fuzzClient + "&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%3Fx%3D1&state=%3Cscript%3E&response_type=code")
	f.Add("client_id=" + fuzzClient + "&state=%22%3E%3Cimg+src%3Dx%3E&code_challenge=" + fuzzChallenge + "&code_challenge_method=S256&response_type=code&redirect_uri=" + url.QueryEscape(fuzzRedirect))
	f.Add("%zz")
	f.Add("")
	p := fuzzProxy(f)
	f.Fuzz(func(t *testing.T, query string) {
		r := httptest.NewRequest(http.MethodGet, "https://seed.example.com/oauth/authorize", nil)
		r.URL.Path, r.URL.RawQuery = AuthorizePath, query
		w := serve(p, r)
		loc := w.Header().Get("Location")
		switch w.Code {
		case http.StatusFound:
			// The registered URIs: the loopback one on any port (RFC
			// 8252), the other exactly, its query kept.
			u, err := url.Parse(loc)
			loopback := err == nil && u.Scheme == "http" && u.Hostname() == "127.0.0.1" && u.Path == "/cb" && u.User == nil
			app := strings.HasPrefix(loc, "https://app.example/cb?x=1&")
			if !loopback && !app {
				t.Fatalf("redirect to %q for %q", loc, query)
			}
			if strings.ContainsAny(loc, "<>\"' \\`{}|^") {
				t.Fatalf("unescaped byte in %q", loc)
			}
			if u.Query().Get("iss") != "https://seed.example.com/acme" {
				t.Fatalf("no iss in %q", loc)
			}
		case http.StatusOK, http.StatusBadRequest:
			if loc != "" {
				t.Fatalf("a page with a Location: %q", loc)
			}
			if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Fatalf("policy %q", csp)
			}
			body := w.Body.String()
			for _, bad := range []string{"<script", "<img", "<iframe", "<svg", "onerror="} {
				if strings.Contains(strings.ToLower(body), bad) {
					t.Fatalf("markup %q in the page for %q", bad, query)
				}
			}
		default:
			t.Fatalf("status %d for %q", w.Code, query)
		}
	})
}

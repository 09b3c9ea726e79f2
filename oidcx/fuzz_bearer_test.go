package oidcx_test

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/tenant"
)

// FuzzBearerHeader sends arbitrary Authorization header values, one or two
// of them, through the bearer middleware for one of two tenants that trust
// the same test identity provider with different audiences. Placeholders in
// the fuzzed values ({acme}, {globex}, {expired}, …) become real tokens, so
// that the fuzzer mutates around valid ones. It checks that:
//
//   - the answer is 200, 400 or 401, never a panic, 5xx or anything else;
//   - a 200 reaches the handler only with the claims of a token minted for
//     the tenant of the request, presented as RFC 6750 section 2.1 says (a
//     single header, scheme "Bearer" in any case, one or more spaces);
//   - every exact such token is accepted;
//   - every 400 and 401 carries one WWW-Authenticate challenge whose
//     resource_metadata is the tenant's metadata URL, and a JSON body.
func FuzzBearerHeader(f *testing.F) {
	idp := oidctest.New(f)
	v, err := oidcx.New(oidcx.Config{FetchTimeout: 2 * time.Second, InsecureAllowLoopback: true})
	if err != nil {
		f.Fatal(err)
	}
	urls, err := oidcx.SubdomainURLs("https://seed.example.com", "seed.example.com")
	if err != nil {
		f.Fatal(err)
	}
	mw, err := oidcx.Bearer(oidcx.BearerConfig{Verifier: v, URLs: urls, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	h := mw(whoami)

	tenants := []*tenant.Tenant{newTenant("acme", idp), newTenant("globex", idp)}
	acme, globex := tenants[0], tenants[1]
	expired := idp.Claims(acme.OIDC.Audience, "alice")
	expired["exp"] = time.Now().Add(-time.Hour).Unix()
	wrongIssuer := idp.Claims(acme.OIDC.Audience, "alice")
	wrongIssuer["iss"] = "https://evil.example.com"
	placeholders := map[string]string{
		"{acme}":     tokenFor(idp, acme, "alice"),
		"{acme-es}":  idp.TokenAlg(oidctest.ES256, idp.Claims(acme.OIDC.Audience, "alice")),
		"{globex}":   tokenFor(idp, globex, "bob"),
		"{expired}":  idp.Token(expired),
		"{issuer}":   idp.Token(wrongIssuer),
		"{none}":     idp.NoneToken(idp.Claims(acme.OIDC.Audience, "alice")),
		"{hs256}":    idp.HS256Token(idp.Claims(acme.OIDC.Audience, "alice")),
		"{kid}":      idp.TokenWithKeyID("unknown", idp.Claims(acme.OIDC.Audience, "alice")),
		"{audience}": idp.Token(idp.Claims("", "alice")),
	}
	// The tokens each tenant accepts, and the subject they carry.
	accepted := map[string]map[string]string{
		"acme":   {placeholders["{acme}"]: "alice", placeholders["{acme-es}"]: "alice"},
		"globex": {placeholders["{globex}"]: "bob"},
	}
	expand := func(s string) string {
		for k, tok := range placeholders {
			s = strings.ReplaceAll(s, k, tok)
		}
		return s
	}

	for _, s := range []string{
		"Bearer {acme}", "bearer {acme}", "BEARER {acme}", "Bearer   {acme}", "Bearer {acme-es}", "Bearer {globex}",
		"Bearer {acme}=", "Bearer {acme}==", "Bearer {acme}.", "Bearer {acme}x", "Bearer {acme} ", "Bearer\t{acme}",
		" Bearer {acme}", "Bearer {acme}\x00", "Bearer {acme},Bearer {acme}", "{acme}", "Bearer{acme}",
		"Bearer {expired}", "Bearer {issuer}", "Bearer {none}", "Bearer {hs256}", "Bearer {kid}", "Bearer {audience}",
		"Bearer", "Bearer ", "Bearer  ", "Basic YWxpY2U6c2VjcmV0", "Bearerish {acme}", "Bearer a.b.c", "Bearer ..",
		"Bearer e30.e30.", "Bearer e30.e30.e30", "Bearer ====", "Bearer a=b", "Bearer " + strings.Repeat("a", 17<<10),
		"Bearer " + strings.Repeat("a.", 1000), "Bearer \u0430cme", "Bearer {acme}\r\nX: y", "",
	} {
		for _, second := range []string{"", "Bearer {acme}"} {
			f.Add(s, second, uint8(1), uint8(0))
		}
		f.Add(s, s, uint8(2), uint8(0))
		f.Add(s, "", uint8(1), uint8(1))
	}
	f.Add("", "", uint8(0), uint8(0))

	f.Fuzz(func(t *testing.T, a1, a2 string, n, which uint8) {
		tn := tenants[int(which)%len(tenants)]
		values := []string{expand(a1), expand(a2)}[:min(int(n%3), 2)]
		r := httptest.NewRequest(http.MethodPost, "https://"+tn.ID+".seed.example.com/mcp", nil)
		r.Header = http.Header{}
		if len(values) > 0 {
			r.Header["Authorization"] = values
		}
		r = r.WithContext(tenant.NewContext(r.Context(), tn))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)

		body := w.Body.String()
		token, presented := refBearer(values)
		sub, exact := accepted[tn.ID][token]
		equivalent := exact
		if presented && !exact {
			sub, equivalent = sameToken(token, accepted[tn.ID])
		}
		switch w.Code {
		case http.StatusOK:
			if !equivalent || body != tn.ID+":"+sub {
				t.Fatalf("%q for tenant %s: 200 %q", values, tn.ID, body)
			}
			return
		case http.StatusBadRequest, http.StatusUnauthorized:
			if exact {
				t.Fatalf("%q for tenant %s: a valid token was refused: %d %s", values, tn.ID, w.Code, body)
			}
		default:
			t.Fatalf("%q for tenant %s: status %d %q", values, tn.ID, w.Code, body)
		}
		challenge := `Bearer resource_metadata="https://` + tn.ID + `.seed.example.com/.well-known/oauth-protected-resource"`
		got := w.Header().Values("WWW-Authenticate")
		if len(got) != 1 || !strings.HasPrefix(got[0], challenge) {
			t.Fatalf("%q for tenant %s: %d with challenge %q", values, tn.ID, w.Code, got)
		}
		if !slices.Contains([]string{`{"error":"unauthorized"}`, `{"error":"invalid_token"}`, `{"error":"invalid_request"}`}, body) {
			t.Fatalf("%q for tenant %s: %d with body %q", values, tn.ID, w.Code, body)
		}
		if w.Code == http.StatusBadRequest && got[0] != challenge+`, error="invalid_request"` {
			t.Fatalf("%q: 400 with challenge %q", values, got[0])
		}
	})
}

// refBearer is the reference reading of RFC 6750 section 2.1: exactly one
// Authorization value, the scheme "Bearer" in any case, one or more
// spaces, then the token.
func refBearer(values []string) (string, bool) {
	if len(values) != 1 {
		return "", false
	}
	v := values[0]
	if len(v) < 7 || !strings.EqualFold(v[:6], "Bearer") || v[6] != ' ' {
		return "", false
	}
	return strings.TrimLeft(v[6:], " "), true
}

// sameToken reports whether token differs from one of the accepted tokens
// only in the encoding of its signature: trailing "=" padding, or unused
// low bits in the last base64url character, which decode to the same
// signature bytes. Such a token carries the very signature of a valid
// token over the very same header and claims; accepting it lets nobody
// forge anything.
func sameToken(token string, accepted map[string]string) (string, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", false
	}
	sig, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[2], "="))
	if err != nil {
		return "", false
	}
	for tok, sub := range accepted {
		want := strings.Split(tok, ".")
		wantSig, _ := base64.RawURLEncoding.DecodeString(want[2])
		if parts[0] == want[0] && parts[1] == want[1] && bytes.Equal(sig, wantSig) {
			return sub, true
		}
	}
	return "", false
}

package resolve_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/resolve"
	"github.com/seedmcp/tenancy/tenant"
)

// jwt returns a compact JWS with the given payload and a signature nobody
// checks here.
func jwt(payload any) string {
	raw, ok := payload.(string)
	if !ok {
		b, _ := json.Marshal(payload)
		raw = string(b)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","kid":"k1"}`)) + "." + enc([]byte(raw)) + "." + enc([]byte("signature"))
}

// pairs is an IssuerLookup over a map, counting its calls.
type pairs struct {
	m     map[[2]string]string
	calls int
	err   error
}

func (p *pairs) lookup(_ context.Context, issuer, audience string) (string, error) {
	p.calls++
	if p.err != nil {
		return "", p.err
	}
	id, ok := p.m[[2]string{issuer, audience}]
	if !ok {
		return "", tenant.ErrNotFound
	}
	return id, nil
}

const iss = "https://auth.acme.example"

func newPairs() *pairs {
	return &pairs{m: map[[2]string]string{
		{iss, "mcp-acme"}:                   "acme",
		{iss, "mcp-beta"}:                   "beta",
		{"https://login.example", "shared"}: "Not-An-ID",
	}}
}

func TestToken(t *testing.T) {
	tests := []struct {
		name    string
		auth    []string
		want    string
		err     error // matched with errors.Is
		lookups int
	}{
		{"one audience", []string{"Bearer " + jwt(map[string]any{"iss": iss, "aud": "mcp-acme"})}, "acme", nil, 1},
		{"scheme in any case", []string{"bEARER  " + jwt(map[string]any{"iss": iss, "aud": "mcp-acme"})}, "acme", nil, 1},
		{"audience array", []string{"Bearer " + jwt(map[string]any{"iss": iss, "aud": []string{"https://userinfo.example", "mcp-beta"}})}, "beta", nil, 2},
		{"unknown pair", []string{"Bearer " + jwt(map[string]any{"iss": iss, "aud": "other"})}, "", tenant.ErrMissingID, 1},
		{"unknown issuer", []string{"Bearer " + jwt(map[string]any{"iss": "https://evil.example", "aud": "mcp-acme"})}, "", tenant.ErrMissingID, 1},
		{"two tenants", []string{"Bearer " + jwt(map[string]any{"iss": iss, "aud": []string{"mcp-acme", "mcp-beta"}})}, "", tenant.ErrInvalidID, 2},
		{"lookup gives an invalid ID", []string{"Bearer " + jwt(map[string]any{"iss": "https://login.example", "aud": "shared"})}, "", tenant.ErrInvalidID, 1},

		{"no header", nil, "", tenant.ErrMissingID, 0},
		{"another scheme", []string{"Basic dXNlcjpwYXNz"}, "", tenant.ErrMissingID, 0},
		{"scheme alone", []string{"Bearer"}, "", tenant.ErrInvalidID, 0},
		{"a scheme named Bearer-something", []string{"Bearerx " + jwt(map[string]any{"iss": iss, "aud": "mcp-acme"})}, "", tenant.ErrMissingID, 0},
		{"not a b64token", []string{"Bearer " + jwt(map[string]any{"iss": iss, "aud": "mcp-acme"}) + " x"}, "", tenant.ErrInvalidID, 0},
		// The claims are read as the verifier reads them: by their exact
		// names, with a member repeated in any case refused, so the pair
		// that picks the tenant is the pair the verifier checks.
		{"iss in another case", []string{"Bearer " + jwt(`{"ISS":"`+iss+`","aud":"mcp-acme"}`)}, "", tenant.ErrInvalidID, 0},
		{"aud in another case", []string{"Bearer " + jwt(`{"iss":"`+iss+`","Aud":"mcp-acme"}`)}, "", tenant.ErrInvalidID, 0},
		{"iss repeated", []string{"Bearer " + jwt(`{"iss":"https://evil.example","iss":"`+iss+`","aud":"mcp-acme"}`)}, "", tenant.ErrInvalidID, 0},
		{"iss and ISS", []string{"Bearer " + jwt(`{"iss":"`+iss+`","ISS":"https://evil.example","aud":"mcp-acme"}`)}, "", tenant.ErrInvalidID, 0},
		{"aud repeated", []string{"Bearer " + jwt(`{"iss":"`+iss+`","aud":"mcp-beta","aud":"mcp-acme"}`)}, "", tenant.ErrInvalidID, 0},
		{"data after the payload", []string{"Bearer " + jwt(`{"iss":"`+iss+`","aud":"mcp-acme"} {}`)}, "", tenant.ErrInvalidID, 0},
		{"scheme and spaces", []string{"Bearer   "}, "", tenant.ErrInvalidID, 0},
		{"two headers", []string{"Bearer " + jwt(map[string]any{"iss": iss, "aud": "mcp-acme"}), "Bearer x"}, "", tenant.ErrInvalidID, 0},
		{"too long", []string{"Bearer " + strings.Repeat("a", resolve.MaxTokenBytes+1)}, "", tenant.ErrInvalidID, 0},
		{"two parts", []string{"Bearer abc.def"}, "", tenant.ErrInvalidID, 0},
		{"five parts (JWE)", []string{"Bearer a.b.c.d.e"}, "", tenant.ErrInvalidID, 0},
		{"payload not base64url", []string{"Bearer a.b+c/.c"}, "", tenant.ErrInvalidID, 0},
		{"payload not JSON", []string{"Bearer " + jwt("not json")}, "", tenant.ErrInvalidID, 0},
		{"payload an array", []string{"Bearer " + jwt(`["iss"]`)}, "", tenant.ErrInvalidID, 0},
		{"no iss", []string{"Bearer " + jwt(map[string]any{"aud": "mcp-acme"})}, "", tenant.ErrInvalidID, 0},
		{"iss not a provider URL", []string{"Bearer " + jwt(map[string]any{"iss": "acme", "aud": "mcp-acme"})}, "", tenant.ErrInvalidID, 0},
		{"iss too long", []string{"Bearer " + jwt(map[string]any{"iss": iss + "/" + strings.Repeat("x", 2048), "aud": "mcp-acme"})}, "", tenant.ErrInvalidID, 0},
		{"no aud", []string{"Bearer " + jwt(map[string]any{"iss": iss})}, "", tenant.ErrInvalidID, 0},
		{"aud a number", []string{"Bearer " + jwt(map[string]any{"iss": iss, "aud": 7})}, "", tenant.ErrInvalidID, 0},
		{"aud empty", []string{"Bearer " + jwt(map[string]any{"iss": iss, "aud": ""})}, "", tenant.ErrInvalidID, 0},
		{"aud empty array", []string{"Bearer " + jwt(map[string]any{"iss": iss, "aud": []string{}})}, "", tenant.ErrInvalidID, 0},
		{"aud with a NUL", []string{"Bearer " + jwt(map[string]any{"iss": iss, "aud": "mcp\x00acme"})}, "", tenant.ErrInvalidID, 0},
		{"too many audiences", []string{"Bearer " + jwt(map[string]any{"iss": iss, "aud": strings.Split("a b c d e f g h mcp-acme", " ")})}, "", tenant.ErrInvalidID, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPairs()
			r := httptest.NewRequest("GET", "/mcp", nil)
			for _, v := range tt.auth {
				r.Header.Add("Authorization", v)
			}
			id, err := resolve.Token(p.lookup).Resolve(r)
			assert.Equal(t, tt.lookups, p.calls, "lookups")
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				assert.Empty(t, id)
				var inv *resolve.InvalidError
				if errors.As(err, &inv) {
					assert.NotContains(t, inv.Identifier, "eyJ", "the token is never the logged identifier")
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, id)
		})
	}
}

func TestTokenLookupFails(t *testing.T) {
	down := errors.New("store down")
	p := &pairs{err: down}
	r := httptest.NewRequest("GET", "/mcp", nil)
	r.Header.Set("Authorization", "Bearer "+jwt(map[string]any{"iss": iss, "aud": "mcp-acme"}))
	_, err := resolve.Token(p.lookup).Resolve(r)
	require.ErrorIs(t, err, resolve.ErrLookup)
	require.ErrorIs(t, err, down)
	assert.NotErrorIs(t, err, tenant.ErrMissingID)
	assert.NotErrorIs(t, err, tenant.ErrInvalidID)
}

func TestTokenNilLookupPanics(t *testing.T) {
	assert.Panics(t, func() { resolve.Token(nil) })
}

// FuzzToken feeds arbitrary Authorization values: never a panic, never an
// ID the lookup did not give, and no lookup for a malformed token.
func FuzzToken(f *testing.F) {
	f.Add("Bearer " + jwt(map[string]any{"iss": iss, "aud": "mcp-acme"}))
	f.Add("Bearer " + jwt(map[string]any{"iss": iss, "aud": []string{"x", "mcp-beta"}}))
	f.Add("Bearer a.b.c")
	f.Add("bearer " + jwt(`{"iss":1}`))
	// One resolver for every input: the payloads it keeps must never make
	// its answer differ from a resolver's that has seen nothing.
	shared := resolve.Token(newPairs().lookup)
	f.Fuzz(func(t *testing.T, auth string) {
		p := newPairs()
		r := httptest.NewRequest("GET", "/mcp", nil)
		r.Header["Authorization"] = []string{auth}
		id, err := resolve.Token(p.lookup).Resolve(r)
		if err == nil {
			assert.Contains(t, []string{"acme", "beta"}, id)
		}
		for range 2 {
			sid, serr := shared.Resolve(r)
			assert.Equal(t, id, sid, "a resolver that kept payloads answers alike")
			assert.Equal(t, errors.Is(err, tenant.ErrInvalidID), errors.Is(serr, tenant.ErrInvalidID), "%v, %v", err, serr)
			assert.Equal(t, errors.Is(err, tenant.ErrMissingID), errors.Is(serr, tenant.ErrMissingID), "%v, %v", err, serr)
		}
		if errors.Is(err, tenant.ErrInvalidID) && p.calls == 0 {
			return
		}
		assert.LessOrEqual(t, p.calls, resolve.MaxTokenAudiences)
	})
}

// A repeated token is read once: later requests cost no allocation, and
// the tenant is still looked up on each of them, so a pair that comes to
// name a tenant is found at once.
func TestTokenRepeatedIsReadOnce(t *testing.T) {
	p := newPairs()
	res := resolve.Token(p.lookup)
	r := httptest.NewRequest("GET", "/mcp", nil)
	r.Header.Set("Authorization", "Bearer "+jwt(map[string]any{"iss": iss, "aud": "mcp-new", "sub": "alice"}))

	_, err := res.Resolve(r)
	require.ErrorIs(t, err, tenant.ErrMissingID, "no tenant trusts the pair yet")
	p.m[[2]string{iss, "mcp-new"}] = "newco"
	id, err := res.Resolve(r)
	require.NoError(t, err)
	assert.Equal(t, "newco", id, "the lookup is not remembered, only the reading of the token")
	assert.Equal(t, 2, p.calls)

	allocs := testing.AllocsPerRun(100, func() {
		if id, err := res.Resolve(r); err != nil || id != "newco" {
			t.Fatalf("Resolve = %q, %v", id, err)
		}
	})
	assert.Zero(t, allocs, "a repeated token is not decoded again")
}

// Tokens that differ in any byte of their payload are read apart: one
// remembered token never answers for another.
func TestTokenPayloadsReadApart(t *testing.T) {
	p := newPairs()
	res := resolve.Token(p.lookup)
	for range 2 {
		for aud, want := range map[string]string{"mcp-acme": "acme", "mcp-beta": "beta"} {
			r := httptest.NewRequest("GET", "/mcp", nil)
			r.Header.Set("Authorization", "Bearer "+jwt(map[string]any{"iss": iss, "aud": aud}))
			id, err := res.Resolve(r)
			require.NoError(t, err)
			assert.Equal(t, want, id)
		}
		// A malformed payload is refused every time, not remembered as
		// the last good one.
		r := httptest.NewRequest("GET", "/mcp", nil)
		r.Header.Set("Authorization", "Bearer "+jwt(`{"iss":"`+iss+`","aud":"mcp-acme","AUD":"mcp-beta"}`))
		_, err := res.Resolve(r)
		require.ErrorIs(t, err, tenant.ErrInvalidID)
	}
}

// BenchmarkTokenResolve compares a token sent again (its payload read
// once) with a token never seen (read in full): the lookup is the same
// map in both.
func BenchmarkTokenResolve(b *testing.B) {
	claims := map[string]any{"iss": iss, "aud": []string{"mcp-acme"}, "sub": "alice", "exp": 1999999999, "iat": 1700000000, "scope": "mcp:tools openid profile", "email": "alice@acme.example"}
	for _, repeated := range []bool{true, false} {
		name := map[bool]string{true: "repeated", false: "fresh"}[repeated]
		b.Run(name, func(b *testing.B) {
			p := newPairs()
			r := httptest.NewRequest("GET", "/mcp", nil)
			r.Header.Set("Authorization", "Bearer "+jwt(claims))
			res := resolve.Token(p.lookup)
			b.ReportAllocs()
			for b.Loop() {
				if !repeated {
					res = resolve.Token(p.lookup) // nothing remembered
				}
				if _, err := res.Resolve(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

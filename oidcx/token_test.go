package oidcx

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A registered claim of the wrong JSON type is refused, although the token
// is signed by the tenant's own key: an exp that is a string would
// otherwise be read as a number by some parsers and not by others.
func TestClaimsOfTheWrongTypeAreRefused(t *testing.T) {
	idp := newHostileIdP(t)
	acme := idp.tenant("acme")
	v := newTestVerifier(t, Config{})
	future := fmt.Sprint(time.Now().Add(time.Hour).Unix())

	with := func(change func(c map[string]any)) string {
		c := idp.claims(acme)
		change(c)
		return idp.token(c)
	}
	tests := []struct {
		name  string
		token string
	}{
		{"exp a string", with(func(c map[string]any) { c["exp"] = future })},
		{"exp a string far away", with(func(c map[string]any) { c["exp"] = "99999999999" })},
		{"exp an object", with(func(c map[string]any) { c["exp"] = map[string]any{"a": 1} })},
		{"exp a boolean", with(func(c map[string]any) { c["exp"] = true })},
		{"exp null", with(func(c map[string]any) { c["exp"] = nil })},
		{"exp beyond the year 9999", with(func(c map[string]any) { c["exp"] = 1e300 })},
		{"exp negative", with(func(c map[string]any) { c["exp"] = -1 })},
		{"nbf a string", with(func(c map[string]any) { c["nbf"] = "0" })},
		{"iat a string", with(func(c map[string]any) { c["iat"] = "0" })},
		{"iss a number", with(func(c map[string]any) { c["iss"] = 1 })},
		{"iss an array", with(func(c map[string]any) { c["iss"] = []string{idp.issuer()} })},
		{"aud a number", with(func(c map[string]any) { c["aud"] = 1 })},
		{"aud an array with a number", with(func(c map[string]any) { c["aud"] = []any{acme.OIDC.Audience, 1} })},
		{"aud an object", with(func(c map[string]any) { c["aud"] = map[string]any{acme.OIDC.Audience: true} })},
		{"sub a number", with(func(c map[string]any) { c["sub"] = 7 })},
		{"scope an array", with(func(c map[string]any) { c["scope"] = []string{"a"} })},
		{"scp a number", with(func(c map[string]any) { c["scp"] = 1 })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), acme, tt.token)
			assert.ErrorIs(t, err, ErrMalformedToken)
		})
	}

	// The same token with every claim of its type is accepted.
	c := idp.claims(acme)
	c["nbf"] = time.Now().Add(-time.Minute).Unix()
	c["scope"] = "a b"
	c["scp"] = []string{"c"}
	c["aud"] = []string{"other", acme.OIDC.Audience}
	got, err := v.Verify(t.Context(), acme, idp.token(c))
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c"}, got.Scopes)
}

// A claim or header member named twice, also in another case, is refused:
// which of the two a parser keeps differs between parsers, and Go's
// case-insensitive decoding would let the second spelling win.
func TestRepeatedMembersAreRefused(t *testing.T) {
	idp := newHostileIdP(t)
	acme := idp.tenant("acme")
	v := newTestVerifier(t, Config{})
	now := time.Now()
	good := fmt.Sprintf(`"iss":%q,"aud":%q,"sub":"alice"`, idp.issuer(), acme.OIDC.Audience)
	future, past := now.Add(time.Hour).Unix(), now.Add(-time.Hour).Unix()
	header := `{"alg":"RS256","kid":"k1"}`

	tok := idp.sign(header, fmt.Sprintf(`{%s,"exp":%d}`, good, future))
	_, err := v.Verify(t.Context(), acme, tok)
	require.NoError(t, err, "the control token")

	for name, tok := range map[string]string{
		"exp twice":             idp.sign(header, fmt.Sprintf(`{%s,"exp":%d,"exp":%d}`, good, past, future)),
		"exp and EXP":           idp.sign(header, fmt.Sprintf(`{%s,"exp":%d,"EXP":%d}`, good, future, past)),
		"aud twice":             idp.sign(header, fmt.Sprintf(`{%s,"exp":%d,"aud":"other"}`, good, future)),
		"an unregistered twice": idp.sign(header, fmt.Sprintf(`{%s,"exp":%d,"email":"a","Email":"b"}`, good, future)),
		"alg twice":             idp.sign(`{"alg":"none","alg":"RS256","kid":"k1"}`, fmt.Sprintf(`{%s,"exp":%d}`, good, future)),
		"kid twice":             idp.sign(`{"alg":"RS256","kid":"x","kid":"k1"}`, fmt.Sprintf(`{%s,"exp":%d}`, good, future)),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), acme, tok)
			assert.ErrorIs(t, err, ErrMalformedToken)
		})
	}
}

func TestParseToken(t *testing.T) {
	algs := defaultAlgorithms
	enc := func(s string) string { return b64.EncodeToString([]byte(s)) }
	claims := enc(`{"iss":"i","aud":"a","exp":1}`)
	sig := enc("sig")
	tests := []struct {
		name, token string
		ok          bool
	}{
		{"well formed", enc(`{"alg":"RS256","kid":"k"}`) + "." + claims + "." + sig, true},
		{"no kid", enc(`{"alg":"ES256"}`) + "." + claims + "." + sig, true},
		{"no alg", enc(`{"kid":"k"}`) + "." + claims + "." + sig, false},
		{"alg none", enc(`{"alg":"none"}`) + "." + claims + "." + sig, false},
		{"alg HS256", enc(`{"alg":"HS256"}`) + "." + claims + "." + sig, false},
		{"alg a number", enc(`{"alg":1}`) + "." + claims + "." + sig, false},
		{"kid a number", enc(`{"alg":"RS256","kid":1}`) + "." + claims + "." + sig, false},
		{"crit", enc(`{"alg":"RS256","crit":["b64"],"b64":false}`) + "." + claims + "." + sig, false},
		{"embedded jwk", enc(`{"alg":"RS256","jwk":{}}`) + "." + claims + "." + sig, false},
		{"header not JSON", enc(`alg`) + "." + claims + "." + sig, false},
		{"header an array", enc(`["alg"]`) + "." + claims + "." + sig, false},
		{"header with trailing data", enc(`{"alg":"RS256"}{}`) + "." + claims + "." + sig, false},
		{"claims not JSON", enc(`{"alg":"RS256"}`) + "." + enc("x") + "." + sig, false},
		{"claims a string", enc(`{"alg":"RS256"}`) + "." + enc(`"x"`) + "." + sig, false},
		{"two parts", enc(`{"alg":"RS256"}`) + "." + claims, false},
		{"four parts", enc(`{"alg":"RS256"}`) + "." + claims + "." + sig + "." + sig, false},
		{"empty signature", enc(`{"alg":"RS256"}`) + "." + claims + ".", false},
		{"padding", enc(`{"alg":"RS256"}`) + "." + claims + "." + sig + "=", false},
		{"standard alphabet", enc(`{"alg":"RS256"}`) + "." + claims + "." + "ab+/", false},
		{"a line break", enc(`{"alg":"RS256"}`) + "." + claims + "\n." + sig, false},
		{"not a JWT", "not-a-jwt", false},
		{"empty", "", false},
		{"JSON serialization", `{"protected":"e30","payload":"e30","signature":"e30"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseToken(tt.token, algs)
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, ErrInvalidToken)
			}
		})
	}
}

// A signature whose last character has unused low bits set decodes to the
// same bytes in a lenient decoder; the strict one refuses it, so that one
// signature has one spelling (and one entry in any cache of tokens).
func TestParseTokenRefusesNonCanonicalBase64(t *testing.T) {
	enc := func(s string) string { return b64.EncodeToString([]byte(s)) }
	sig := enc("si") // 2 bytes: 3 characters, the last carries 2 unused bits
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, sig[2])
	variant := sig[:2] + string(alphabet[last|1])
	require.NotEqual(t, sig, variant)
	prefix := enc(`{"alg":"RS256"}`) + "." + enc(`{}`) + "."
	_, err := parseToken(prefix+sig, defaultAlgorithms)
	assert.NoError(t, err)
	_, err = parseToken(prefix+variant, defaultAlgorithms)
	assert.ErrorIs(t, err, ErrMalformedToken)
}

func TestDecodeDateKeepsFractions(t *testing.T) {
	var d time.Time
	require.NoError(t, decodeDate(json.RawMessage(`1700000000.5`), &d, "exp"))
	assert.Equal(t, time.Unix(1700000000, 5e8), d)
}

func BenchmarkParseToken(b *testing.B) {
	idp := newHostileIdP(b)
	tok := idp.token(idp.claims(idp.tenant("acme")))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseToken(tok, defaultAlgorithms); err != nil {
			b.Fatal(err)
		}
	}
}

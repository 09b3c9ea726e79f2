package oidctest_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/oidcx/oidctest"
)

func get(t *testing.T, url string) *http.Response {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func keyIDs(t *testing.T, s *oidctest.Server) []string {
	t.Helper()
	var set jose.JSONWebKeySet
	require.NoError(t, json.NewDecoder(get(t, s.JWKSURL()).Body).Decode(&set))
	var ids []string
	for _, k := range set.Keys {
		assert.True(t, k.IsPublic(), "only public keys are published")
		ids = append(ids, k.KeyID)
	}
	return ids
}

func TestTokensVerifyWithGoOIDC(t *testing.T) {
	s := oidctest.New(t)
	p, err := oidc.NewProvider(t.Context(), s.Issuer())
	require.NoError(t, err)
	v := p.Verifier(&oidc.Config{ClientID: "aud"})
	for _, alg := range []string{oidctest.RS256, oidctest.ES256} {
		tok, err := v.Verify(t.Context(), s.TokenAlg(alg, s.Claims("aud", "alice")))
		require.NoError(t, err, alg)
		assert.Equal(t, "alice", tok.Subject)
	}
	assert.Equal(t, 1, s.DiscoveryRequests())
	assert.Equal(t, 1, s.JWKSRequests())
}

func TestDiscovery(t *testing.T) {
	s := oidctest.New(t)
	var doc map[string]any
	require.NoError(t, json.NewDecoder(get(t, s.Issuer()+oidctest.DiscoveryPath).Body).Decode(&doc))
	assert.Equal(t, s.Issuer(), doc["issuer"])
	assert.Equal(t, s.JWKSURL(), doc["jwks_uri"])
	assert.Equal(t, s.Issuer(), s.OIDC("aud").Issuer)
	assert.Equal(t, "aud", s.OIDC("aud").Audience)
	assert.Equal(t, http.StatusNotFound, get(t, s.Issuer()+"/nope").StatusCode)
}

func TestRotate(t *testing.T) {
	s := oidctest.New(t)
	assert.Equal(t, []string{"rsa-1", "ec-1"}, keyIDs(t, s))
	assert.Equal(t, "rsa-1", s.KeyID())
	s.Rotate()
	assert.Equal(t, "rsa-2", s.KeyID())
	assert.Equal(t, []string{"rsa-1", "ec-1", "rsa-2", "ec-2"}, keyIDs(t, s))
	s.DropOldKeys()
	assert.Equal(t, []string{"rsa-2", "ec-2"}, keyIDs(t, s))
	assert.Equal(t, 3, s.JWKSRequests())
}

func TestDownAndDelay(t *testing.T) {
	s := oidctest.New(t)
	s.SetDown(true)
	assert.Equal(t, http.StatusServiceUnavailable, get(t, s.JWKSURL()).StatusCode)
	assert.Equal(t, http.StatusServiceUnavailable, get(t, s.Issuer()+oidctest.DiscoveryPath).StatusCode)
	s.SetDown(false)
	assert.Equal(t, http.StatusOK, get(t, s.JWKSURL()).StatusCode)
	assert.Equal(t, 2, s.JWKSRequests())
	assert.Equal(t, 1, s.DiscoveryRequests())

	s.SetDelay(200 * time.Millisecond)
	start := time.Now()
	get(t, s.JWKSURL())
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)

	s.SetDelay(time.Hour) // Close must not wait for it
	go func() { _, _ = http.Get(s.JWKSURL()) }()
	require.Eventually(t, func() bool { return s.JWKSRequests() == 4 }, time.Second, time.Millisecond)
	s.Close()
	_, err := http.Get(s.JWKSURL())
	assert.Error(t, err, "a closed server refuses connections")
}

func header(t *testing.T, token string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	require.NoError(t, err)
	var h map[string]any
	require.NoError(t, json.Unmarshal(raw, &h))
	return h
}

func TestForgedTokens(t *testing.T) {
	s := oidctest.New(t)
	claims := s.Claims("aud", "mallory")

	none := s.NoneToken(claims)
	assert.Equal(t, "none", header(t, none)["alg"])
	assert.True(t, strings.HasSuffix(none, "."), "empty signature")

	hs := s.HS256Token(claims)
	assert.Equal(t, "HS256", header(t, hs)["alg"])
	assert.Equal(t, s.KeyID(), header(t, hs)["kid"])

	assert.Equal(t, "nobody", header(t, s.TokenWithKeyID("nobody", claims))["kid"])
	assert.Equal(t, "ec-1", header(t, s.TokenAlg(oidctest.ES256, claims))["kid"])
	assert.Panics(t, func() { s.TokenAlg("HS256", claims) })
}

// NewServerAt listens where it is told, so its issuer is known in
// advance; an address in use is an error.
func TestNewServerAt(t *testing.T) {
	s, err := oidctest.NewServerAt("127.0.0.1:0")
	require.NoError(t, err)
	defer s.Close()
	require.Regexp(t, `^http://127\.0\.0\.1:[0-9]+$`, s.Issuer())
	resp, err := http.Get(s.Issuer() + oidctest.DiscoveryPath)
	require.NoError(t, err)
	defer resp.Body.Close()
	var doc map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	assert.Equal(t, s.Issuer(), doc["issuer"])

	_, err = oidctest.NewServerAt(strings.TrimPrefix(s.Issuer(), "http://"))
	assert.Error(t, err, "the address is taken")
}

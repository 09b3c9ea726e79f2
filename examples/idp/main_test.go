package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/seedmcp/tenancy/internal/testlog"
)

// TestRun starts the provider from its environment and logs a client in:
// the registered client, its redirect URI, audience and subject.
func TestRun(t *testing.T) {
	env := map[string]string{
		"IDP_ADDR": "127.0.0.1:0", "IDP_CLIENT_ID": "seed-acme", "IDP_CLIENT_SECRET": "s3cret",
		"IDP_REDIRECT_URI": "http://acme.localhost:8080/oauth/callback", "IDP_AUDIENCE": "seed-mcp-acme", "IDP_SUBJECT": "alice",
	}
	ctx, stop := context.WithCancel(context.Background())
	var logs testlog.Buffer
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return env[k] }, &logs, ready) }()
	var issuer string
	select {
	case issuer = <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	assert.Contains(t, logs.String(), issuer)

	verifier := oauth2.GenerateVerifier()
	cfg := &oauth2.Config{ClientID: "seed-acme", ClientSecret: "s3cret", RedirectURL: env["IDP_REDIRECT_URI"],
		Endpoint: oauth2.Endpoint{AuthURL: issuer + "/authorize", TokenURL: issuer + "/token"}}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(cfg.AuthCodeURL("xyz", oauth2.S256ChallengeOption(verifier)))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(loc.String(), env["IDP_REDIRECT_URI"]+"?"), loc.String())
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	require.NoError(t, err)
	claims := jwtClaims(t, tok.AccessToken)
	assert.Equal(t, "alice", claims["sub"])
	assert.Equal(t, issuer, claims["iss"])
	assert.Contains(t, claims["aud"], "seed-mcp-acme")

	stop()
	require.NoError(t, <-done)
}

// jwtClaims returns the claims of a JWT, unverified.
func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims map[string]any
	require.NoError(t, json.Unmarshal(payload, &claims))
	return claims
}

// TestRunNeedsItsClient names each missing variable.
func TestRunNeedsItsClient(t *testing.T) {
	err := run(context.Background(), func(string) string { return "" }, &testlog.Buffer{}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "IDP_CLIENT_ID")
	assert.Contains(t, err.Error(), "IDP_REDIRECT_URI")
}

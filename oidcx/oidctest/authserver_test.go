package oidctest_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/seedmcp/tenancy/oidcx/oidctest"
)

const redirectURI = "http://127.0.0.1:9999/callback"

// noRedirect is a client that stops at the first redirect, as a test of
// a browser's journey needs.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// login runs the authorization endpoint and returns the query of the
// redirect it answers with.
func login(t *testing.T, authURL string) url.Values {
	t.Helper()
	resp, err := noRedirect.Get(authURL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, redirectURI, loc.Scheme+"://"+loc.Host+loc.Path)
	return loc.Query()
}

func newClient(s *oidctest.Server, secret string) *oauth2.Config {
	s.RegisterClient(oidctest.Client{ID: "app", Secret: secret, RedirectURIs: []string{redirectURI}, Audience: "api"})
	// An explicit style: auto-detection sends a refused request twice.
	style := oauth2.AuthStyleInParams
	if secret != "" {
		style = oauth2.AuthStyleInHeader
	}
	return &oauth2.Config{
		ClientID:     "app",
		ClientSecret: secret,
		RedirectURL:  redirectURI,
		Endpoint:     oauth2.Endpoint{AuthURL: s.AuthorizeURL(), TokenURL: s.TokenURL(), AuthStyle: style},
		Scopes:       []string{"openid", "profile"},
	}
}

func retrieveCode(t *testing.T, err error) string {
	t.Helper()
	var re *oauth2.RetrieveError
	require.True(t, errors.As(err, &re), "%v", err)
	return re.ErrorCode
}

func TestAuthorizationCodeFlow(t *testing.T) {
	for _, secret := range []string{"", "s3cret"} {
		t.Run("secret="+secret, func(t *testing.T) {
			s := oidctest.New(t)
			s.SetSubject("alice")
			cfg := newClient(s, secret)
			ctx := t.Context()

			verifier := oauth2.GenerateVerifier()
			q := login(t, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
			assert.Equal(t, "st", q.Get("state"))
			assert.Equal(t, s.Issuer(), q.Get("iss"), "RFC 9207")
			require.NotEmpty(t, q.Get("code"))

			_, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier()))
			assert.Equal(t, "invalid_grant", retrieveCode(t, err), "wrong verifier")
			_, err = cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
			assert.Equal(t, "invalid_grant", retrieveCode(t, err), "a code works once, even after a failed try")

			q = login(t, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
			tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
			require.NoError(t, err)
			require.NotEmpty(t, tok.RefreshToken)
			assert.NotEmpty(t, tok.Extra("id_token"))
			assert.Equal(t, "openid profile", tok.Extra("scope"))

			// The access token verifies for the client's audience.
			p, err := oidc.NewProvider(ctx, s.Issuer())
			require.NoError(t, err)
			idt, err := p.Verifier(&oidc.Config{ClientID: "api"}).Verify(ctx, tok.AccessToken)
			require.NoError(t, err)
			assert.Equal(t, "alice", idt.Subject)

			// Refresh rotates: the old refresh token is retired.
			fresh, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			require.NoError(t, err)
			assert.NotEqual(t, tok.RefreshToken, fresh.RefreshToken)
			assert.NotEqual(t, tok.AccessToken, fresh.AccessToken)
			_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			assert.Equal(t, "invalid_grant", retrieveCode(t, err))

			// Revocation retires the refresh token.
			form := url.Values{"token": {fresh.RefreshToken}, "client_id": {"app"}}
			if secret != "" {
				form.Set("client_secret", secret)
			}
			resp, err := http.PostForm(s.RevocationURL(), form)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.True(t, s.Revoked(fresh.RefreshToken))
			_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: fresh.RefreshToken}).Token()
			assert.Equal(t, "invalid_grant", retrieveCode(t, err))

			assert.Equal(t, 2, s.AuthorizeRequests())
			assert.Equal(t, 6, s.TokenRequests())
			assert.Equal(t, 1, s.RevocationRequests())
		})
	}
}

func TestRefreshWithoutRotation(t *testing.T) {
	s := oidctest.New(t)
	s.SetRefreshRotation(false)
	cfg := newClient(s, "")
	verifier := oauth2.GenerateVerifier()
	q := login(t, cfg.AuthCodeURL("", oauth2.S256ChallengeOption(verifier)))
	tok, err := cfg.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
	require.NoError(t, err)
	for range 2 {
		fresh, err := cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		require.NoError(t, err)
		assert.Equal(t, tok.RefreshToken, fresh.RefreshToken)
	}
}

func TestAuthorizeRefusals(t *testing.T) {
	s := oidctest.New(t)
	cfg := newClient(s, "")
	challenge := oauth2.S256ChallengeOption(oauth2.GenerateVerifier())

	// A wrong client or redirect URI is shown, never redirected.
	for _, u := range []string{
		strings.Replace(cfg.AuthCodeURL("x", challenge), "client_id=app", "client_id=nobody", 1),
		strings.Replace(cfg.AuthCodeURL("x", challenge), url.QueryEscape(redirectURI), url.QueryEscape("https://evil.example/cb"), 1),
	} {
		resp, err := noRedirect.Get(u)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, u)
	}

	q := login(t, cfg.AuthCodeURL("x"))
	assert.Equal(t, "invalid_request", q.Get("error"), "PKCE is required")

	s.SetDenyLogin(true)
	q = login(t, cfg.AuthCodeURL("x", challenge))
	assert.Equal(t, "access_denied", q.Get("error"))
	assert.Equal(t, "x", q.Get("state"))
	assert.Empty(t, q.Get("code"))
}

func TestTokenRefusals(t *testing.T) {
	s := oidctest.New(t)
	cfg := newClient(s, "s3cret")
	wrong := *cfg
	wrong.ClientSecret = "guess"
	_, err := wrong.Exchange(context.Background(), "x")
	assert.Equal(t, "invalid_client", retrieveCode(t, err))

	resp, err := http.PostForm(s.TokenURL(), url.Values{"grant_type": {"password"}, "client_id": {"app"}, "client_secret": {"s3cret"}})
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)

	s.SetDown(true)
	_, err = cfg.Exchange(context.Background(), "x")
	require.Error(t, err)
	assert.Equal(t, 3, s.TokenRequests(), "a provider that is down still counts requests")
}

func TestDiscoveryNamesEndpoints(t *testing.T) {
	s := oidctest.New(t)
	p, err := oidc.NewProvider(t.Context(), s.Issuer())
	require.NoError(t, err)
	assert.Equal(t, s.AuthorizeURL(), p.Endpoint().AuthURL)
	assert.Equal(t, s.TokenURL(), p.Endpoint().TokenURL)
	var doc struct {
		Revocation string   `json:"revocation_endpoint"`
		PKCE       []string `json:"code_challenge_methods_supported"`
	}
	require.NoError(t, p.Claims(&doc))
	assert.Equal(t, s.RevocationURL(), doc.Revocation)
	assert.Equal(t, []string{"S256"}, doc.PKCE)
}

func TestWithoutRevocation(t *testing.T) {
	s := oidctest.New(t)
	s.SetRevocation(false)
	p, err := oidc.NewProvider(t.Context(), s.Issuer())
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, p.Claims(&doc))
	assert.NotContains(t, doc, "revocation_endpoint")
	resp, err := http.PostForm(s.RevocationURL(), url.Values{"token": {"x"}})
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

package oidcx

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/tenant"
)

// hostileIdP is an identity provider under a test's full control: it signs
// any bytes as a token, and serves whatever discovery and JWKS answers the
// test sets, so that tests can play a tenant's provider turned hostile.
type hostileIdP struct {
	srv *httptest.Server
	key *rsa.PrivateKey
	kid string

	mu      sync.Mutex
	jwks    func(w http.ResponseWriter, r *http.Request) // nil: the signing key
	discov  func(w http.ResponseWriter, r *http.Request) // nil: a document naming /jwks
	fetches atomic.Int64                                 // requests of any path
	paths   map[string]int
}

var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func newHostileIdP(t testing.TB) *hostileIdP {
	p := &hostileIdP{key: testKey(), kid: "k1", paths: map[string]int{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *hostileIdP) serve(w http.ResponseWriter, r *http.Request) {
	p.fetches.Add(1)
	p.mu.Lock()
	p.paths[r.URL.Path]++
	jwks, discov := p.jwks, p.discov
	p.mu.Unlock()
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		if discov != nil {
			discov(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": p.issuer(), "jwks_uri": p.issuer() + "/jwks"})
	case "/jwks":
		if jwks != nil {
			jwks(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{p.publicJWK()}})
	default:
		http.NotFound(w, r)
	}
}

func (p *hostileIdP) issuer() string { return p.srv.URL }

func (p *hostileIdP) publicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: &p.key.PublicKey, KeyID: p.kid, Algorithm: "RS256", Use: "sig"}
}

// requests returns how many requests the provider got for path.
func (p *hostileIdP) requests(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paths[path]
}

// setJWKS makes /jwks answer with h.
func (p *hostileIdP) setJWKS(h http.HandlerFunc) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.jwks = h
}

// setDiscovery makes the discovery document answer with h.
func (p *hostileIdP) setDiscovery(h http.HandlerFunc) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.discov = h
}

// tenant returns a tenant that trusts p for audience "aud-<id>".
func (p *hostileIdP) tenant(id string) *tenant.Tenant {
	return &tenant.Tenant{ID: id, Name: id, Status: tenant.StatusActive,
		OIDC: tenant.OIDC{Issuer: p.issuer(), Audience: "aud-" + id}}
}

// claims returns valid claims for tenant t.
func (p *hostileIdP) claims(t *tenant.Tenant) map[string]any {
	now := time.Now()
	return map[string]any{"iss": p.issuer(), "aud": t.OIDC.Audience, "sub": "alice",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

// sign returns a token with the given header and claims, as raw JSON,
// signed with RS256 and the provider's key.
func (p *hostileIdP) sign(header, payload string) string {
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, p.key, crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	return input + "." + enc.EncodeToString(sig)
}

// token signs claims with the provider's key and key ID.
func (p *hostileIdP) token(claims map[string]any) string {
	c, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	return p.sign(`{"alg":"RS256","kid":"`+p.kid+`"}`, string(c))
}

// newTestVerifier returns a verifier with a short fetch timeout that
// fetches from the test providers on 127.0.0.1.
func newTestVerifier(t testing.TB, cfg Config) *Verifier {
	t.Helper()
	cfg.InsecureAllowLoopback = true
	if cfg.FetchTimeout == 0 {
		cfg.FetchTimeout = 2 * time.Second
	}
	v, err := New(cfg)
	require.NoError(t, err)
	return v
}

// forgedToken returns a well-formed RS256 token of issuer for audience,
// within its lifetime, naming key kid (none when empty), whose signature
// is 256 bytes that no key verifies: what an attacker sends to make the
// verifier fetch a tenant's keys.
func forgedToken(issuer, audience, kid string) string {
	header := map[string]any{"alg": "RS256", "typ": "JWT"}
	if kid != "" {
		header["kid"] = kid
	}
	now := time.Now()
	return encodeToken(header, map[string]any{
		"iss": issuer, "aud": audience, "sub": "mallory",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}, make([]byte, 256))
}

// encodeToken returns the compact serialization of header, claims and sig.
func encodeToken(header, claims map[string]any, sig []byte) string {
	h, err := json.Marshal(header)
	if err != nil {
		panic(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(h) + "." + enc.EncodeToString(c) + "." + enc.EncodeToString(sig)
}

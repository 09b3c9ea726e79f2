package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/seedmcp/tenancy/tenant"
)

// The paths the server answers on.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/jwks"
)

// The signing algorithms the server supports; every key pair it generates
// has one RSA key for RS256 and one P-256 key for ES256.
const (
	RS256 = "RS256"
	ES256 = "ES256"
)

// Server is a running test identity provider. Create it with [New]; its
// methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server
	// closed ends the sleeps of delayed requests, so that closing the
	// server never waits for a delay to run out.
	closed    chan struct{}
	closeOnce sync.Once

	mu         sync.Mutex
	generation int
	current    keyPair
	published  []keyPair // every key in the JWKS, current included
	delay      time.Duration
	down       bool

	discoveryRequests atomic.Int64
	jwksRequests      atomic.Int64

	// auth is the authorization server's state (authserver.go).
	auth authState
}

// keyPair is one generation of signing keys.
type keyPair struct {
	rsa   *rsa.PrivateKey
	rsaID string
	ec    *ecdsa.PrivateKey
	ecID  string
}

// New starts a test identity provider with freshly generated keys and
// registers its shutdown with tb.Cleanup.
func New(tb testing.TB) *Server {
	tb.Helper()
	s := NewServer()
	tb.Cleanup(s.Close)
	return s
}

// NewServer starts a test identity provider that the caller must Close,
// for code without a testing.TB at hand, such as testable examples.
func NewServer() *Server {
	s := newServer()
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// NewServerAt starts a test identity provider listening on addr (such as
// "127.0.0.1:9000"), so that its issuer, http://<addr>, is known before it
// starts: for a development setup that configures it in advance, such as
// the command examples/idp. The caller must Close it.
func NewServerAt(addr string) (*Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("oidctest: %w", err)
	}
	s := newServer()
	s.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ReadHeaderTimeout: 10 * time.Second}}
	s.srv.Start()
	return s, nil
}

// newServer returns a Server with fresh keys and no listener yet.
func newServer() *Server {
	s := &Server{closed: make(chan struct{})}
	s.current = s.newKeyPair()
	s.published = []keyPair{s.current}
	return s
}

// Close shuts the server down. [New] calls it at the end of the test;
// calling it earlier simulates a provider that is gone (connections
// refused). Calling it again does nothing.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.srv.Close()
	})
}

// Issuer returns the server's issuer URL (http://127.0.0.1:port), which is
// also the base of its discovery document.
func (s *Server) Issuer() string { return s.srv.URL }

// JWKSURL returns the URL of the server's JSON Web Key Set.
func (s *Server) JWKSURL() string { return s.srv.URL + JWKSPath }

// OIDC returns tenant settings that trust this server for audience, found
// by discovery (no JWKS URI).
func (s *Server) OIDC(audience string) tenant.OIDC {
	return tenant.OIDC{Issuer: s.Issuer(), Audience: audience}
}

// Claims returns the claims of a valid access token for audience and
// subject: iss, aud, sub, iat (now) and exp (in an hour). Tests change or
// delete entries before signing.
func (s *Server) Claims(audience, subject string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": s.Issuer(),
		"aud": audience,
		"sub": subject,
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
}

// KeyID returns the key ID of the current RSA key.
func (s *Server) KeyID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current.rsaID
}

// Token signs claims with RS256 and the current RSA key.
func (s *Server) Token(claims map[string]any) string {
	return s.TokenAlg(RS256, claims)
}

// TokenAlg signs claims with the current key of alg, [RS256] or [ES256].
func (s *Server) TokenAlg(alg string, claims map[string]any) string {
	s.mu.Lock()
	kp := s.current
	s.mu.Unlock()
	switch alg {
	case RS256:
		return sign(kp.rsa, kp.rsaID, jose.RS256, claims)
	case ES256:
		return sign(kp.ec, kp.ecID, jose.ES256, claims)
	}
	panic("oidctest: unsupported algorithm " + alg)
}

// TokenWithKeyID signs claims with RS256 and the current RSA key, but names
// kid in the header: a token whose key the provider never published.
func (s *Server) TokenWithKeyID(kid string, claims map[string]any) string {
	s.mu.Lock()
	kp := s.current
	s.mu.Unlock()
	return sign(kp.rsa, kid, jose.RS256, claims)
}

// NoneToken returns an unsigned token with "alg":"none" (RFC 7519 section
// 6), which a verifier must never accept.
func (s *Server) NoneToken(claims map[string]any) string {
	return compact(map[string]any{"alg": "none", "typ": "JWT"}, claims) + "."
}

// HS256Token returns a token signed with HMAC-SHA256 using the PEM encoding
// of the current RSA public key as the secret, with the current key ID: the
// algorithm-confusion attack against verifiers that let the token choose
// how a key is used.
func (s *Server) HS256Token(claims map[string]any) string {
	s.mu.Lock()
	kp := s.current
	s.mu.Unlock()
	der, err := x509.MarshalPKIXPublicKey(&kp.rsa.PublicKey)
	if err != nil {
		panic("oidctest: " + err.Error())
	}
	secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	input := compact(map[string]any{"alg": "HS256", "typ": "JWT", "kid": kp.rsaID}, claims)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Rotate generates new keys and makes them current. The previous keys stay
// published, as a real provider keeps them until the tokens they signed
// have expired; call [Server.DropOldKeys] to withdraw them.
func (s *Server) Rotate() {
	kp := s.newKeyPair()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current = kp
	s.published = append(s.published, kp)
}

// DropOldKeys withdraws every key but the current ones from the JWKS.
func (s *Server) DropOldKeys() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.published = []keyPair{s.current}
}

// SetDelay makes every answer wait d before it is written; 0 restores
// prompt answers. A delayed request ends early when its client goes away.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetDown makes every endpoint answer 503 while down is true.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// DiscoveryRequests returns how many discovery requests the server has
// received, including those it answered with 503.
func (s *Server) DiscoveryRequests() int { return int(s.discoveryRequests.Load()) }

// JWKSRequests returns how many JWKS requests the server has received,
// including those it answered with 503.
func (s *Server) JWKSRequests() int { return int(s.jwksRequests.Load()) }

func (s *Server) newKeyPair() keyPair {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic("oidctest: generating RSA key: " + err.Error())
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic("oidctest: generating EC key: " + err.Error())
	}
	s.mu.Lock()
	s.generation++
	g := s.generation
	s.mu.Unlock()
	return keyPair{
		rsa: rk, rsaID: fmt.Sprintf("rsa-%d", g),
		ec: ek, ecID: fmt.Sprintf("ec-%d", g),
	}
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case DiscoveryPath:
		s.discoveryRequests.Add(1)
	case JWKSPath:
		s.jwksRequests.Add(1)
	case AuthorizePath:
		s.auth.authorizeRequests.Add(1)
	case TokenPath:
		s.auth.tokenRequests.Add(1)
	case RevocationPath:
		s.auth.revocationRequests.Add(1)
	default:
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	delay, down, published := s.delay, s.down, s.published
	s.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-s.closed:
			return
		}
	}
	if down {
		http.Error(w, "identity provider down", http.StatusServiceUnavailable)
		return
	}
	switch r.URL.Path {
	case AuthorizePath:
		s.authorize(w, r)
		return
	case TokenPath:
		s.token(w, r)
		return
	case RevocationPath:
		s.revoke(w, r)
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var body any
	if r.URL.Path == DiscoveryPath {
		body = s.discovery()
	} else {
		body = jwks(published)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) discovery() map[string]any {
	iss := s.Issuer()
	doc := map[string]any{
		"issuer":                                iss,
		"jwks_uri":                              iss + JWKSPath,
		"authorization_endpoint":                iss + AuthorizePath,
		"token_endpoint":                        iss + TokenPath,
		"revocation_endpoint":                   iss + RevocationPath,
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"authorization_response_iss_parameter_supported": true,
		"response_types_supported":                       []string{"code"},
		"subject_types_supported":                        []string{"public"},
		"id_token_signing_alg_values_supported":          []string{RS256, ES256},
	}
	if !s.hasRevocation() {
		delete(doc, "revocation_endpoint")
	}
	return doc
}

func jwks(published []keyPair) jose.JSONWebKeySet {
	var set jose.JSONWebKeySet
	for _, kp := range published {
		set.Keys = append(set.Keys,
			jose.JSONWebKey{Key: &kp.rsa.PublicKey, KeyID: kp.rsaID, Algorithm: RS256, Use: "sig"},
			jose.JSONWebKey{Key: &kp.ec.PublicKey, KeyID: kp.ecID, Algorithm: ES256, Use: "sig"},
		)
	}
	return set
}

func sign(key crypto.Signer, kid string, alg jose.SignatureAlgorithm, claims map[string]any) string {
	payload, err := json.Marshal(claims)
	if err != nil {
		panic("oidctest: encoding claims: " + err.Error())
	}
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		panic("oidctest: creating signer: " + err.Error())
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		panic("oidctest: signing: " + err.Error())
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		panic("oidctest: serializing: " + err.Error())
	}
	return token
}

// compact returns the signing input of a JWS: the encoded header and
// payload joined by a dot.
func compact(header, claims map[string]any) string {
	h, err := json.Marshal(header)
	if err != nil {
		panic("oidctest: encoding header: " + err.Error())
	}
	p, err := json.Marshal(claims)
	if err != nil {
		panic("oidctest: encoding claims: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
}

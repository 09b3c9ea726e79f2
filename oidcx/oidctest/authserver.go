package oidctest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The paths of the authorization server's endpoints, under the issuer.
const (
	AuthorizePath  = "/authorize"
	TokenPath      = "/token"
	RevocationPath = "/revoke"
)

// Defaults of the authorization server.
const (
	// DefaultSubject is the user the automatic login signs in.
	DefaultSubject = "test-user"
	// DefaultTokenLifetime is the lifetime of the access tokens it issues.
	DefaultTokenLifetime = time.Hour
	// CodeLifetime is how long an authorization code can be redeemed.
	CodeLifetime = time.Minute
)

// Client is an OAuth client of the test authorization server, registered
// with [Server.RegisterClient].
type Client struct {
	// ID is the client_id.
	ID string
	// Secret authenticates the client at the token and revocation
	// endpoints (client_secret_basic or client_secret_post). Empty for a
	// public client, which only names itself with client_id.
	Secret string
	// RedirectURIs are the redirect URIs the client may use, compared
	// byte for byte.
	RedirectURIs []string
	// Audience is the "aud" of the access tokens issued to the client.
	// default: ID
	Audience string
}

// authState is the authorization server's part of a [Server]. Its zero
// value is ready: maps are made on first use.
type authState struct {
	mu       sync.Mutex
	clients  map[string]Client
	subject  string
	deny     bool
	noRotate bool
	noRevoke bool
	lifetime time.Duration
	codes    map[string]codeGrant
	refresh  map[string]refreshGrant
	revoked  map[string]bool

	authorizeRequests  atomic.Int64
	tokenRequests      atomic.Int64
	revocationRequests atomic.Int64
}

type codeGrant struct {
	clientID, redirectURI, challenge string
	scope, subject, nonce            string
	expires                          time.Time
}

type refreshGrant struct {
	clientID, scope, subject string
}

// RegisterClient registers c (again), so that it can use the
// authorization server.
func (s *Server) RegisterClient(c Client) {
	a := &s.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.clients == nil {
		a.clients = map[string]Client{}
	}
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	a.clients[c.ID] = c
}

// SetSubject sets the user the automatic login signs in: the "sub" of
// the tokens issued from now on. default: DefaultSubject
func (s *Server) SetSubject(sub string) {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	s.auth.subject = sub
}

// SetDenyLogin makes the user refuse every authorization while deny is
// true: the authorization endpoint redirects with error=access_denied.
func (s *Server) SetDenyLogin(deny bool) {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	s.auth.deny = deny
}

// SetRefreshRotation chooses whether a refresh issues a new refresh token
// and retires the one used (the default), or keeps the refresh token.
func (s *Server) SetRefreshRotation(rotate bool) {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	s.auth.noRotate = !rotate
}

// SetRevocation chooses whether the server has a revocation endpoint
// (the default). Without one, discovery does not name it and it answers
// 404, like a provider that does not implement RFC 7009.
func (s *Server) SetRevocation(enabled bool) {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	s.auth.noRevoke = !enabled
}

func (s *Server) hasRevocation() bool {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	return !s.auth.noRevoke
}

// SetTokenLifetime sets the lifetime of the access tokens issued from now
// on. default: DefaultTokenLifetime
func (s *Server) SetTokenLifetime(d time.Duration) {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	s.auth.lifetime = d
}

// Revoked reports whether token, an access or refresh token, has been
// revoked at the revocation endpoint.
func (s *Server) Revoked(token string) bool {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	return s.auth.revoked[token]
}

// AuthorizeURL, TokenURL and RevocationURL return the endpoints' URLs, as
// discovery names them.
func (s *Server) AuthorizeURL() string  { return s.Issuer() + AuthorizePath }
func (s *Server) TokenURL() string      { return s.Issuer() + TokenPath }
func (s *Server) RevocationURL() string { return s.Issuer() + RevocationPath }

// AuthorizeRequests, TokenRequests and RevocationRequests return how many
// requests each endpoint has received, including those answered with 503.
func (s *Server) AuthorizeRequests() int  { return int(s.auth.authorizeRequests.Load()) }
func (s *Server) TokenRequests() int      { return int(s.auth.tokenRequests.Load()) }
func (s *Server) RevocationRequests() int { return int(s.auth.revocationRequests.Load()) }

// authorize is the authorization endpoint with an automatic login: a
// valid request is answered at once with a redirect carrying a code, as
// if the user had signed in and agreed.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	a := &s.auth
	a.mu.Lock()
	c, known := a.clients[q.Get("client_id")]
	subject, deny := a.subject, a.deny
	a.mu.Unlock()
	redirect := q.Get("redirect_uri")
	// Errors about the client or its redirect URI are shown, never
	// redirected (RFC 6749 section 4.1.2.1).
	if !known || !slices.Contains(c.RedirectURIs, redirect) {
		http.Error(w, "unknown client or redirect_uri", http.StatusBadRequest)
		return
	}
	answer := url.Values{"iss": {s.Issuer()}}
	if st := q.Get("state"); st != "" {
		answer.Set("state", st)
	}
	switch {
	case q.Get("response_type") != "code":
		answer.Set("error", "unsupported_response_type")
	case q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256":
		answer.Set("error", "invalid_request")
		answer.Set("error_description", "PKCE with S256 is required")
	case deny:
		answer.Set("error", "access_denied")
	default:
		code := rand.Text()
		if subject == "" {
			subject = DefaultSubject
		}
		a.mu.Lock()
		if a.codes == nil {
			a.codes = map[string]codeGrant{}
		}
		a.codes[code] = codeGrant{
			clientID: c.ID, redirectURI: redirect, challenge: q.Get("code_challenge"),
			scope: q.Get("scope"), subject: subject, nonce: q.Get("nonce"),
			expires: time.Now().Add(CodeLifetime),
		}
		a.mu.Unlock()
		answer.Set("code", code)
	}
	http.Redirect(w, r, withQuery(redirect, answer), http.StatusFound)
}

// withQuery appends v to the query of u.
func withQuery(u string, v url.Values) string {
	if strings.Contains(u, "?") {
		return u + "&" + v.Encode()
	}
	return u + "?" + v.Encode()
}

// token is the token endpoint: authorization_code (with PKCE) and
// refresh_token grants.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	c, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	a := &s.auth
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		code := r.PostForm.Get("code")
		a.mu.Lock()
		g, found := a.codes[code]
		delete(a.codes, code) // a code works once, whatever happens next
		a.mu.Unlock()
		if !found || g.clientID != c.ID || time.Now().After(g.expires) ||
			g.redirectURI != r.PostForm.Get("redirect_uri") ||
			!verifierMatches(r.PostForm.Get("code_verifier"), g.challenge) {
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		s.issue(w, c, g.subject, g.scope, g.nonce)
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		a.mu.Lock()
		g, found := a.refresh[rt]
		if found && g.clientID == c.ID && !a.noRotate {
			delete(a.refresh, rt)
		}
		keep := found && a.noRotate
		a.mu.Unlock()
		if !found || g.clientID != c.ID {
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		s.issueRefreshed(w, c, g, rt, keep)
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
	}
}

// authenticate refuses a method other than POST, parses the form and
// identifies the client: with its secret (HTTP Basic or the form) when it
// has one, by client_id otherwise.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (Client, bool) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return Client{}, false
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return Client{}, false
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 section 2.3.1: the credentials are form-encoded
		// before they are put in the header.
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	s.auth.mu.Lock()
	c, known := s.auth.clients[id]
	s.auth.mu.Unlock()
	if !known || subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return Client{}, false
	}
	return c, true
}

// verifierMatches checks a PKCE verifier against its S256 challenge (RFC
// 7636 section 4.6).
func verifierMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

func (s *Server) issueRefreshed(w http.ResponseWriter, c Client, g refreshGrant, used string, keep bool) {
	if keep {
		s.write(w, c, g.subject, g.scope, "", used)
		return
	}
	s.issue(w, c, g.subject, g.scope, "")
}

// issue answers with a new access token, a new refresh token and, for the
// openid scope, an ID token.
func (s *Server) issue(w http.ResponseWriter, c Client, subject, scope, nonce string) {
	rt := rand.Text() + rand.Text()
	a := &s.auth
	a.mu.Lock()
	if a.refresh == nil {
		a.refresh = map[string]refreshGrant{}
	}
	a.refresh[rt] = refreshGrant{clientID: c.ID, scope: scope, subject: subject}
	a.mu.Unlock()
	s.write(w, c, subject, scope, nonce, rt)
}

func (s *Server) write(w http.ResponseWriter, c Client, subject, scope, nonce, refreshToken string) {
	a := &s.auth
	a.mu.Lock()
	lifetime := a.lifetime
	a.mu.Unlock()
	if lifetime <= 0 {
		lifetime = DefaultTokenLifetime
	}
	aud := c.Audience
	if aud == "" {
		aud = c.ID
	}
	claims := s.Claims(aud, subject)
	claims["exp"] = time.Now().Add(lifetime).Unix()
	claims["client_id"] = c.ID
	claims["jti"] = rand.Text()
	if scope != "" {
		claims["scope"] = scope
	}
	body := map[string]any{
		"access_token":  s.Token(claims),
		"token_type":    "Bearer",
		"expires_in":    int64(lifetime / time.Second),
		"refresh_token": refreshToken,
	}
	if scope != "" {
		body["scope"] = scope
	}
	if slices.Contains(strings.Fields(scope), "openid") {
		id := s.Claims(c.ID, subject)
		if nonce != "" {
			id["nonce"] = nonce
		}
		body["id_token"] = s.Token(id)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(body)
}

// revoke is the revocation endpoint (RFC 7009): the token is revoked if
// the client holds it, and the answer is 200 whatever the token was.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	if !s.hasRevocation() {
		http.NotFound(w, r)
		return
	}
	c, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	token := r.PostForm.Get("token")
	a := &s.auth
	a.mu.Lock()
	if g, found := a.refresh[token]; !found || g.clientID == c.ID {
		delete(a.refresh, token)
		if a.revoked == nil {
			a.revoked = map[string]bool{}
		}
		if token != "" {
			a.revoked[token] = true
		}
	}
	a.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func oauthError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
}

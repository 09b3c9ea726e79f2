package oauthproxy

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"

	"golang.org/x/oauth2"

	"github.com/seedmcp/tenancy/internal/netx"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// maxAuthQuery bounds the query of an authorization request, and so every
// value the proxy keeps of it (the client's state above all).
const maxAuthQuery = 8 << 10

// maxFormBytes bounds the form bodies of the consent, token and
// revocation requests.
const maxFormBytes = 32 << 10

// authRequest is an authorization request (RFC 6749 section 4.1.1) that
// passed every check.
type authRequest struct {
	ClientID string `json:"c"`
	// RedirectURI is the redirect URI the request named, or the client's
	// only one when it named none (RedirectGiven false).
	RedirectURI   string `json:"r"`
	RedirectGiven bool   `json:"rg,omitempty"`
	State         string `json:"s,omitempty"`
	Challenge     string `json:"pc"`
	Resource      string `json:"res,omitempty"`
	// Refresh says whether the client registered the refresh_token grant.
	Refresh bool `json:"rt,omitempty"`
}

// authFailure is how a request that failed a check is answered: with a
// page when the client or its redirect URI could not be trusted (never a
// redirect: that would make the proxy an open redirector, RFC 6749
// section 4.1.2.1), with an error sent to the client's redirect URI
// otherwise.
type authFailure struct {
	status         int // of the page; 0 to redirect
	title, message string
	code, detail   string // of the redirect
}

func pageFailure(status int, title, message string) *authFailure {
	return &authFailure{status: status, title: title, message: message}
}

func redirectFailure(code, detail string) *authFailure {
	return &authFailure{code: code, detail: detail}
}

// Page failures shared by several checks.
var (
	failMalformed = pageFailure(http.StatusBadRequest, "Invalid request",
		"The authorization request is malformed. Start again from your application.")
	failUnavailable = pageFailure(http.StatusServiceUnavailable, "Try again later",
		"The sign-in service is unavailable right now. Try again in a moment.")
)

// checkAuthRequest checks the authorization request whose query is raw,
// the client and its redirect URI first. It returns the request and its
// client, or how to answer.
func (p *Proxy) checkAuthRequest(ctx context.Context, r *http.Request, t *tenant.Tenant, raw string) (*authRequest, *store.Client, *authFailure) {
	if len(raw) > maxAuthQuery {
		return nil, nil, failMalformed
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, nil, failMalformed
	}
	// RFC 6749 section 3.1: a parameter is never sent twice. Refused
	// before anything else, so that no value but the one checked can be
	// used later.
	for _, vs := range q {
		if len(vs) > 1 {
			return nil, nil, pageFailure(http.StatusBadRequest, "Invalid request",
				"A parameter of the authorization request is repeated. Start again from your application.")
		}
	}
	id := q.Get("client_id")
	var c *store.Client
	err = store.ValidKey(id)
	if err == nil {
		c, err = p.cfg.Clients.Get(ctx, t.ID, id)
	}
	switch {
	case err == nil:
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalidKey), errors.Is(err, store.ErrClientMetadata):
		// A client of another tenant is unknown here: each tenant's
		// clients live in its own namespace.
		return nil, nil, pageFailure(http.StatusBadRequest, "Unknown application",
			"The application is not registered with this service. Start again from your application.")
	default:
		p.log.ErrorContext(ctx, "oauthproxy: reading a client", "tenant", t.ID, "error", err)
		return nil, nil, failUnavailable
	}
	req := &authRequest{ClientID: c.ClientID, State: q.Get("state"), Challenge: q.Get("code_challenge")}
	req.RedirectURI, req.RedirectGiven = q.Get("redirect_uri"), q.Has("redirect_uri")
	switch {
	case req.RedirectGiven && matchRedirect(c.RedirectURIs, req.RedirectURI):
	case !req.RedirectGiven && len(c.RedirectURIs) == 1:
		// RFC 6749 section 3.1.2.3: with a single registered URI the
		// parameter may be left out.
		req.RedirectURI = c.RedirectURIs[0]
	default:
		return nil, nil, pageFailure(http.StatusBadRequest, "Invalid redirect",
			"The application asked to be sent back to an address it did not register. Start again from your application.")
	}
	// The client and where it gets the answer are known: errors go to it.
	req.Refresh = slices.Contains(c.GrantTypes, "refresh_token")
	switch {
	case q.Get("response_type") != "code":
		return req, c, redirectFailure("unsupported_response_type", `response_type must be "code"`)
	case !slices.Contains(c.GrantTypes, "authorization_code"):
		return req, c, redirectFailure("unauthorized_client", "the client did not register the authorization_code grant")
	case q.Get("code_challenge_method") != "S256" || !validChallenge(req.Challenge):
		return req, c, redirectFailure("invalid_request", "PKCE is required: code_challenge with code_challenge_method S256")
	case q.Has("scope") && !validScopeList(q.Get("scope")):
		return req, c, redirectFailure("invalid_scope", "scope must be space-separated scope tokens")
	}
	if q.Has("resource") {
		// RFC 8707: the token is for this tenant's MCP server only.
		req.Resource = q.Get("resource")
		if req.Resource != p.cfg.URLs.Resource(r, t) {
			return req, c, redirectFailure("invalid_target", "resource is not this server's resource")
		}
	}
	return req, c, nil
}

// fail answers a failed check.
func (p *Proxy) fail(w http.ResponseWriter, r *http.Request, t *tenant.Tenant, req *authRequest, f *authFailure, status int) {
	if f.status != 0 || req == nil {
		page(w, f.status, f.title, f.message)
		return
	}
	p.toClient(w, r, t, req, url.Values{"error": {f.code}, "error_description": {f.detail}}, status)
}

// toClient sends the browser to the client's redirect URI with params, the
// client's state and the issuer (RFC 9207), which lets the client tell
// this tenant's answer from another authorization server's.
func (p *Proxy) toClient(w http.ResponseWriter, r *http.Request, t *tenant.Tenant, req *authRequest, params url.Values, status int) {
	redirect(w, p.clientURL(r, t, req, params), status)
}

// clientURL is the client's redirect URI with params, the client's state
// and the issuer, as toClient sends the browser to it.
func (p *Proxy) clientURL(r *http.Request, t *tenant.Tenant, req *authRequest, params url.Values) string {
	if params.Get("error_description") == "" {
		params.Del("error_description")
	}
	params.Set("iss", p.issuer(r, t))
	if req.State != "" {
		params.Set("state", req.State)
	}
	return withParams(req.RedirectURI, params)
}

// authorize is /oauth/authorize: GET checks the request and shows the
// consent page; POST carries the user's decision.
func (p *Proxy) authorize(w http.ResponseWriter, r *http.Request, t *tenant.Tenant) {
	if r.Method == http.MethodPost {
		p.decide(w, r, t)
		return
	}
	req, c, f := p.checkAuthRequest(r.Context(), r, t, r.URL.RawQuery)
	if f != nil && f.status == 0 && req != nil && !loopbackRedirect(req.RedirectURI) {
		// Nobody has seen a page of this server yet: a redirect now
		// would let anyone who registers a client send a browser from
		// this tenant's address to an address of their choosing, with
		// no step in between (RFC 9700 section 4.11.2). The user sees
		// the refusal and may follow the error back to the client.
		u, err := url.Parse(p.clientURL(r, t, req, url.Values{"error": {f.code}, "error_description": {f.detail}}))
		if err != nil {
			u = nil
		}
		linkedPage(w, http.StatusBadRequest, "Request refused",
			"The application's sign-in request was refused ("+f.code+"). Start again from your application.", u)
		return
	}
	if f != nil {
		p.fail(w, r, t, req, f, http.StatusFound)
		return
	}
	p.consent(w, r, t, req, c, r.URL.RawQuery)
}

// loopbackRedirect reports whether uri, a registered redirect URI, leads
// to the user's own machine (a native application, RFC 8252 section 7.3),
// where an automatic redirect sends the browser nowhere an attacker chose.
func loopbackRedirect(uri string) bool {
	u, err := url.Parse(uri)
	return err == nil && u.Scheme == "http" && netx.IsLoopback(u.Hostname())
}

// decide is the consent form's POST. The form carries the authorization
// request as it came and a token bound to the browser's consent cookie;
// the request is checked again, since the client may be gone by now.
func (p *Proxy) decide(w http.ResponseWriter, r *http.Request, t *tenant.Tenant) {
	form, err := readForm(w, r)
	if err != nil {
		page(w, http.StatusBadRequest, "Invalid request", "The consent form is malformed. Start again from your application.")
		return
	}
	raw := form.Get("request")
	cookie, ok := p.consentCookie(r, p.issuer(r, t))
	if !ok || !validCSRF(form.Get("csrf"), cookie, t.ID, raw) {
		p.log.WarnContext(r.Context(), "oauthproxy: consent refused: missing or wrong CSRF token", "tenant", t.ID,
			"cookie", ok, "remote", r.RemoteAddr)
		page(w, http.StatusForbidden, "Consent not accepted",
			"This consent could not be confirmed as yours. Start again from your application, in this browser.")
		return
	}
	req, _, f := p.checkAuthRequest(r.Context(), r, t, raw)
	if f != nil {
		p.fail(w, r, t, req, f, http.StatusSeeOther)
		return
	}
	switch form.Get("decision") {
	case "approve":
	case "deny":
		p.log.InfoContext(r.Context(), "oauthproxy: consent denied", "tenant", t.ID, "client_id", req.ClientID)
		p.toClient(w, r, t, req, url.Values{"error": {"access_denied"}, "error_description": {"the user denied the request"}}, http.StatusSeeOther)
		return
	default:
		page(w, http.StatusBadRequest, "Invalid request", "The consent form is malformed. Start again from your application.")
		return
	}
	e, err := p.endpointsFor(r.Context(), t)
	if err == nil {
		_, err = p.secret(t)
	}
	if err != nil {
		p.log.ErrorContext(r.Context(), "oauthproxy: the tenant's provider cannot be used", "tenant", t.ID, "error", cut(err.Error(), 300))
		p.toClient(w, r, t, req, url.Values{"error": {"temporarily_unavailable"}}, http.StatusSeeOther)
		return
	}
	state := randomToken()
	verifier := oauth2.GenerateVerifier()
	tx := transaction{Request: *req, Verifier: verifier, Browser: browserHash(cookie)}
	if err := p.putGrant(r.Context(), t.ID, store.GrantTransaction, state, &tx, p.cfg.TransactionTTL); err != nil {
		p.log.ErrorContext(r.Context(), "oauthproxy: storing a transaction", "tenant", t.ID, "error", err)
		p.toClient(w, r, t, req, url.Values{"error": {"temporarily_unavailable"}}, http.StatusSeeOther)
		return
	}
	cfg := p.oauth2Config(r, t, e, "")
	p.log.InfoContext(r.Context(), "oauthproxy: consent approved", "tenant", t.ID, "client_id", req.ClientID)
	redirect(w, cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), http.StatusSeeOther)
}

// Reasons a form body is refused.
var (
	errFormType     = errors.New("oauthproxy: the body must be application/x-www-form-urlencoded")
	errFormTooLarge = errors.New("oauthproxy: the body is too large")
	errFormSyntax   = errors.New("oauthproxy: the body is malformed")
	errFormRepeated = errors.New("oauthproxy: a parameter is repeated")
)

// readForm reads an application/x-www-form-urlencoded body of at most
// maxFormBytes whose parameters are each sent once (RFC 6749 section 3.1).
// Parameters in the query are not read: they would end up in logs.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return nil, errFormType
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBytes))
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return nil, errFormTooLarge
		}
		return nil, errFormSyntax
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errFormSyntax
	}
	if repeated(form) {
		return nil, errFormRepeated
	}
	return form, nil
}

// randomToken returns 256 random bits, base64url-encoded: the proxy's
// codes, states and cookies.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validChallenge reports whether s is an S256 code challenge: the
// base64url encoding of 32 bytes, without padding (RFC 7636 section 4.2).
func validChallenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

// validVerifier reports whether s is a code verifier: 43 to 128 of the
// unreserved characters (RFC 7636 section 4.1).
func validVerifier(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// matchRedirect reports whether given is one of the registered redirect
// URIs: byte for byte, or, for an http loopback URI, with any port (RFC
// 8252 section 7.3: a native client listens on whatever port is free when
// it starts).
func matchRedirect(registered []string, given string) bool {
	if slices.Contains(registered, given) {
		return true
	}
	if checkRedirectURI(given) != "" {
		return false
	}
	g, err := url.Parse(given)
	if err != nil || g.Scheme != "http" {
		return false
	}
	for _, s := range registered {
		reg, err := url.Parse(s)
		if err == nil && reg.Scheme == "http" && netx.IsLoopback(reg.Hostname()) &&
			reg.Hostname() == g.Hostname() && reg.EscapedPath() == g.EscapedPath() &&
			reg.RawQuery == g.RawQuery && reg.ForceQuery == g.ForceQuery {
			return true
		}
	}
	return false
}

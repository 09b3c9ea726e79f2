package oauthproxy

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"golang.org/x/oauth2"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// tokenAnswer is the successful answer of the token endpoint (RFC 6749
// section 5.1): the provider's tokens, unchanged, so that the access
// token is the tenant provider's and the MCP server's bearer check applies
// to it as to any other.
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
}

// token is POST /oauth/token. Clients are public: each names itself with
// client_id and proves possession with the PKCE verifier (a code) or with
// the refresh token bound to it. Errors are those of RFC 6749 section 5.2.
func (p *Proxy) token(w http.ResponseWriter, r *http.Request, t *tenant.Tenant) {
	form, ok := p.tokenForm(w, r)
	if !ok {
		return
	}
	if form.Get("client_id") == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "client_id is required")
		return
	}
	switch form.Get("grant_type") {
	case "authorization_code":
		p.redeem(w, r, t, form)
	case "refresh_token":
		p.refresh(w, r, t, form)
	case "":
		writeError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
	default:
		writeError(w, http.StatusBadRequest, "unsupported_grant_type", "")
	}
}

// tokenForm reads the form of the token and revocation endpoints, and
// answers when it cannot be read or the request carries client
// credentials in an Authorization header.
func (p *Proxy) tokenForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if r.Header.Get("Authorization") != "" {
		// RFC 6749 section 5.2: a client that tried the header gets 401
		// and a challenge. No client of this server has a secret.
		w.Header().Set("WWW-Authenticate", `Basic realm="oauth"`)
		writeError(w, http.StatusUnauthorized, "invalid_client", "clients are public: send client_id in the body and no Authorization header")
		return nil, false
	}
	form, err := readForm(w, r)
	switch {
	case err == nil:
		return form, true
	case errors.Is(err, errFormTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "invalid_request", "the body is too large")
	default:
		writeError(w, http.StatusBadRequest, "invalid_request", formProblem(err))
	}
	return nil, false
}

// formProblem describes why a form was refused, for error_description.
func formProblem(err error) string {
	switch {
	case errors.Is(err, errFormType):
		return "the body must be application/x-www-form-urlencoded"
	case errors.Is(err, errFormRepeated):
		return "a parameter is repeated"
	}
	return "the body is malformed"
}

// redeem is the authorization_code grant. The code is taken before any
// check, so it works once: a wrong verifier burns it, and a guess cannot
// be retried.
func (p *Proxy) redeem(w http.ResponseWriter, r *http.Request, t *tenant.Tenant, form url.Values) {
	ctx := r.Context()
	code := form.Get("code")
	if code == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "code is required")
		return
	}
	var g codeGrant
	err := p.takeGrant(ctx, t.ID, store.GrantCode, code, &g)
	if !p.grantRead(ctx, w, t.ID, err, "taking a code", "the code is unknown, expired or already used") {
		return
	}
	clientID := form.Get("client_id")
	redirect, given := form.Get("redirect_uri"), form.Has("redirect_uri")
	switch {
	case !equal(g.ClientID, clientID):
		p.log.WarnContext(ctx, "oauthproxy: code presented by another client", "tenant", t.ID,
			"client_id", cut(clientID, 64), "issued_to", g.ClientID)
		writeError(w, http.StatusBadRequest, "invalid_grant", "the code was not issued to this client")
		return
	case (g.RedirectGiven || given) && redirect != g.RedirectURI:
		// RFC 6749 section 4.1.3: the redirect_uri of the request,
		// exactly, when the request had one.
		writeError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request's")
		return
	case !pkceMatches(form.Get("code_verifier"), g.Challenge):
		writeError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
		return
	case form.Has("resource") && form.Get("resource") != p.cfg.URLs.Resource(r, t):
		writeError(w, http.StatusBadRequest, "invalid_target", "resource is not this server's resource")
		return
	}
	tok := g.Token
	if !g.Refresh {
		// The client did not register the refresh_token grant.
		tok.RefreshToken = ""
	}
	if tok.RefreshToken != "" {
		if err := p.bind(r, t, tok.RefreshToken, refreshBinding{ClientID: clientID, Family: randomToken()}); err != nil {
			tok.RefreshToken = ""
		}
	}
	p.bindAccess(r, t, tok, clientID)
	p.log.InfoContext(ctx, "oauthproxy: code redeemed", "tenant", t.ID, "client_id", clientID)
	if p.cfg.OnLogin != nil {
		p.cfg.OnLogin(r, t.ID, clientID, subject(tok.IDToken, tok.AccessToken))
	}
	p.answer(w, tok)
}

// refresh is the refresh_token grant: the token must be bound to the
// client that presents it; it is then sent to the provider, and a new
// refresh token the provider issues (rotation) is bound in the old one's
// place, in the same family. The old one's record stays, marked used:
// presenting it again is a reuse, which revokes the family (see
// liveFamily). A client that lost the answer to a refresh and sends the
// old token again therefore signs in again, and so does one that sends
// the same token twice at once: of two refreshes of one token, only one
// rotation is kept, and the other revokes the family.
func (p *Proxy) refresh(w http.ResponseWriter, r *http.Request, t *tenant.Tenant, form url.Values) {
	ctx := r.Context()
	rt, clientID := form.Get("refresh_token"), form.Get("client_id")
	if rt == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "refresh_token is required")
		return
	}
	if form.Has("scope") && !validScopeList(form.Get("scope")) {
		writeError(w, http.StatusBadRequest, "invalid_scope", "")
		return
	}
	var b refreshBinding
	err := p.getGrant(ctx, t.ID, store.GrantRefresh, rt, &b)
	if !p.grantRead(ctx, w, t.ID, err, "reading a refresh binding", "the refresh token is unknown, expired or revoked") {
		return
	}
	if !equal(b.ClientID, clientID) {
		p.log.WarnContext(ctx, "oauthproxy: refresh token presented by another client", "tenant", t.ID,
			"client_id", cut(clientID, 64), "issued_to", b.ClientID)
		// The same answer as for an unknown token: a client learns
		// nothing of other clients' tokens.
		writeError(w, http.StatusBadRequest, "invalid_grant", "the refresh token is unknown, expired or revoked")
		return
	}
	if !p.liveFamily(w, r, t, rt, b) {
		return
	}
	tok, err := p.refreshUpstream(r, t, rt)
	if err != nil {
		var re *oauth2.RetrieveError
		switch {
		case errors.As(err, &re) && re.ErrorCode == "invalid_grant":
			// The provider no longer honours it: neither does the proxy.
			// A token the proxy still held live and the provider
			// refuses may have been rotated by a refresh running at the
			// same time (two parties presented it): the family goes
			// too, which costs nothing when it has no other token.
			if b.Family != "" {
				if err := p.revokeFamily(ctx, t.ID, b.Family); err != nil {
					p.log.ErrorContext(ctx, "oauthproxy: revoking a refresh token family", "tenant", t.ID, "error", err)
				}
			}
			if err := p.deleteGrant(ctx, t.ID, store.GrantRefresh, rt); err != nil {
				p.log.ErrorContext(ctx, "oauthproxy: dropping a refresh binding", "tenant", t.ID, "error", err)
			}
			writeError(w, http.StatusBadRequest, "invalid_grant", "the provider refused the refresh token")
		case upstreamDown(err):
			p.log.WarnContext(ctx, "oauthproxy: refresh failed", "tenant", t.ID, "error", cut(describe(err), 300))
			writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "")
		default:
			p.log.ErrorContext(ctx, "oauthproxy: refresh refused by the provider", "tenant", t.ID, "error", cut(describe(err), 300))
			writeError(w, http.StatusInternalServerError, "server_error", "")
		}
		return
	}
	if tok.RefreshToken != rt {
		// Rotated: the old token is dead at the provider, and its
		// binding is replaced by a record of its use, which tells a
		// reuse from an unknown token; the new one is bound to the same
		// client, in the same family. The binding is taken, not read:
		// of two refreshes (or a refresh and a revocation) of one token
		// at once, one only finds it, and the other is a reuse.
		var live refreshBinding
		switch err := p.takeGrant(ctx, t.ID, store.GrantRefresh, rt, &live); {
		case errors.Is(err, errNoGrant) || err == nil && live.Used:
			p.concurrentUse(w, r, t, b, tok.RefreshToken)
			return
		case err != nil:
			p.log.ErrorContext(ctx, "oauthproxy: taking a refresh binding", "tenant", t.ID, "error", err)
			if err := p.forwardRevocation(r, t, tok.RefreshToken, "refresh_token"); err != nil {
				p.log.WarnContext(ctx, "oauthproxy: revocation at the provider failed", "tenant", t.ID, "error", cut(describe(err), 300))
			}
			writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "")
			return
		}
		family := cmp.Or(b.Family, randomToken())
		used, _ := derive(store.GrantRefresh, t.ID, rt)
		spent, dropped := keepLast(append(slices.Clone(b.Spent), used), maxSpent)
		_ = p.bind(r, t, rt, refreshBinding{ClientID: clientID, Family: family, Used: true})
		next := refreshBinding{ClientID: clientID, Family: family, Spent: spent}
		if err := p.bind(r, t, tok.RefreshToken, next); err != nil {
			tok.RefreshToken = ""
		}
		// The family keeps the records of its last maxSpent rotations: a
		// client refreshing all day leaves a bounded trail, not one
		// record per rotation for RefreshTTL.
		for _, id := range dropped {
			if err := p.cfg.Grants.Delete(ctx, t.ID, store.GrantRefresh, id); err != nil {
				p.log.WarnContext(ctx, "oauthproxy: dropping the record of a used refresh token", "tenant", t.ID, "error", err)
			}
		}
	}
	p.bindAccess(r, t, tok, clientID)
	p.log.InfoContext(ctx, "oauthproxy: token refreshed", "tenant", t.ID, "client_id", clientID)
	p.answer(w, tok)
}

// concurrentUse answers a refresh of a token, bound as b, that the
// provider rotated into fresh while another refresh or a revocation of the
// same token came first: two parties presented it, so its family is
// revoked, and fresh is withheld and revoked at the provider.
func (p *Proxy) concurrentUse(w http.ResponseWriter, r *http.Request, t *tenant.Tenant, b refreshBinding, fresh string) {
	ctx := r.Context()
	p.log.WarnContext(ctx, "oauthproxy: refresh token used again while it was refreshed; its family is revoked", "tenant", t.ID,
		"client_id", b.ClientID)
	if b.Family != "" {
		if err := p.revokeFamily(ctx, t.ID, b.Family); err != nil {
			p.log.ErrorContext(ctx, "oauthproxy: revoking a refresh token family", "tenant", t.ID, "error", err)
		}
	}
	if err := p.forwardRevocation(r, t, fresh, "refresh_token"); err != nil {
		p.log.WarnContext(ctx, "oauthproxy: revocation at the provider failed", "tenant", t.ID, "error", cut(describe(err), 300))
	}
	writeError(w, http.StatusBadRequest, "invalid_grant", "the refresh token is unknown, expired or revoked")
}

// maxSpent is how many used refresh tokens of a family are remembered:
// presenting one of them again revokes the family; an older one is only
// unknown (refused, the family untouched).
const maxSpent = 8

// keepLast returns the last n of ids, and the ones before them.
func keepLast(ids []string, n int) (kept, dropped []string) {
	if len(ids) <= n {
		return ids, nil
	}
	return ids[len(ids)-n:], ids[:len(ids)-n]
}

// liveFamily reports whether the refresh token rt, bound as b to the
// client presenting it, may be refreshed, and answers the client when it
// may not. A token already rotated is a reuse (RFC 9700 section 4.14.2):
// two parties hold the family, and none of its tokens is honoured from
// then on. A token of a family so revoked loses its binding and is
// revoked at the provider.
func (p *Proxy) liveFamily(w http.ResponseWriter, r *http.Request, t *tenant.Tenant, rt string, b refreshBinding) bool {
	ctx := r.Context()
	if b.Family == "" {
		return true
	}
	if b.Used {
		p.log.WarnContext(ctx, "oauthproxy: refresh token used again after its rotation; its family is revoked", "tenant", t.ID,
			"client_id", b.ClientID)
		if err := p.revokeFamily(ctx, t.ID, b.Family); err != nil {
			p.log.ErrorContext(ctx, "oauthproxy: revoking a refresh token family", "tenant", t.ID, "error", err)
			writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "")
			return false
		}
		writeError(w, http.StatusBadRequest, "invalid_grant", "the refresh token is unknown, expired or revoked")
		return false
	}
	var mark struct{}
	err := p.getGrant(ctx, t.ID, grantFamily, b.Family, &mark)
	switch {
	case errors.Is(err, errNoGrant):
		return true
	case err != nil:
		p.log.ErrorContext(ctx, "oauthproxy: reading a refresh token family", "tenant", t.ID, "error", err)
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "")
		return false
	}
	p.log.WarnContext(ctx, "oauthproxy: refresh token of a revoked family", "tenant", t.ID, "client_id", b.ClientID)
	if err := p.deleteGrant(ctx, t.ID, store.GrantRefresh, rt); err != nil {
		p.log.ErrorContext(ctx, "oauthproxy: dropping a refresh binding", "tenant", t.ID, "error", err)
	}
	if err := p.forwardRevocation(r, t, rt, "refresh_token"); err != nil {
		p.log.WarnContext(ctx, "oauthproxy: revocation at the provider failed", "tenant", t.ID, "error", cut(describe(err), 300))
	}
	writeError(w, http.StatusBadRequest, "invalid_grant", "the refresh token is unknown, expired or revoked")
	return false
}

// revokeFamily marks a family of refresh tokens as revoked, for as long as
// any of its bindings can live.
func (p *Proxy) revokeFamily(ctx context.Context, tenantID, family string) error {
	// A refresh that passed the family check just before binds its token
	// up to one provider request later, for RefreshTTL from then: the
	// mark outlives that binding.
	err := p.putGrant(ctx, tenantID, grantFamily, family, struct{}{}, p.cfg.RefreshTTL+p.cfg.UpstreamTimeout+time.Minute)
	if errors.Is(err, store.ErrExists) {
		return nil
	}
	return err
}

// grantRead answers the client when err, from reading the grant a token
// request presents, is not nil: invalid_grant with unknown for a grant
// that does not exist (or no longer), 503 for a store that failed, logged
// as doing. It reports whether the grant was read.
func (p *Proxy) grantRead(ctx context.Context, w http.ResponseWriter, tenantID string, err error, doing, unknown string) bool {
	switch {
	case errors.Is(err, errNoGrant):
		writeError(w, http.StatusBadRequest, "invalid_grant", unknown)
		return false
	case err != nil:
		p.log.ErrorContext(ctx, "oauthproxy: "+doing, "tenant", tenantID, "error", err)
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "")
		return false
	}
	return true
}

// refreshUpstream sends the refresh token to the tenant's provider.
func (p *Proxy) refreshUpstream(r *http.Request, t *tenant.Tenant, rt string) (tokenResult, error) {
	return p.upstreamToken(r, t, func(ctx context.Context, c *oauth2.Config) (*oauth2.Token, error) {
		return c.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
	})
}

// upstreamToken asks the tenant's provider for tokens with get, given the
// tenant's client configuration, within the upstream timeout.
func (p *Proxy) upstreamToken(r *http.Request, t *tenant.Tenant, get func(context.Context, *oauth2.Config) (*oauth2.Token, error)) (tokenResult, error) {
	e, err := p.endpointsFor(r.Context(), t)
	if err != nil {
		return tokenResult{}, err
	}
	secret, err := p.secret(t)
	if err != nil {
		return tokenResult{}, err
	}
	ctx, cancel := p.upstreamContext(r.Context())
	defer cancel()
	tok, err := get(ctx, p.oauth2Config(r, t, e, secret))
	if err != nil {
		return tokenResult{}, err
	}
	return resultOf(tok)
}

// bind records b, the client the refresh token rt belongs to and its
// family. A failure is logged and reported: the token is then withheld
// from the client, which keeps its access token and signs in again when
// it expires.
func (p *Proxy) bind(r *http.Request, t *tenant.Tenant, rt string, b refreshBinding) error {
	err := p.putGrant(r.Context(), t.ID, store.GrantRefresh, rt, &b, p.cfg.RefreshTTL)
	if err != nil {
		p.log.ErrorContext(r.Context(), "oauthproxy: binding a refresh token", "tenant", t.ID, "error", err)
	}
	return err
}

// bindAccess records that tok's access token belongs to clientID, until it
// expires (see accessTTL), so that the client, and no other, can have it
// revoked at the provider. A failure is logged; the token is answered all
// the same, and a revocation of it then reaches no provider.
func (p *Proxy) bindAccess(r *http.Request, t *tenant.Tenant, tok tokenResult, clientID string) {
	if tok.AccessToken == "" || len(tok.AccessToken) > maxSecretLength {
		return
	}
	ttl := accessTTL(tok, p.now(), p.cfg.RefreshTTL)
	if ttl <= 0 {
		return
	}
	err := p.putGrant(r.Context(), t.ID, grantAccess, tok.AccessToken, &refreshBinding{ClientID: clientID}, ttl)
	if err != nil && !errors.Is(err, store.ErrExists) {
		p.log.ErrorContext(r.Context(), "oauthproxy: binding an access token", "tenant", t.ID, "error", err)
	}
}

// unknownAccessTTL is how long an access token's binding lives when
// neither the provider's answer (expires_in) nor the token (a JWT's exp)
// says when it expires.
const unknownAccessTTL = time.Hour

// accessTTL is how long the binding of tok's access token lives at now:
// until the token expires, as the provider's answer says or else as the
// token's own exp claim says, at most max; unknownAccessTTL (at most max)
// when neither says. A refresh every few seconds thus leaves bindings for
// the tokens still alive, not one per refresh for max.
func accessTTL(tok tokenResult, now time.Time, max time.Duration) time.Duration {
	expiry := tok.Expiry
	if expiry == 0 {
		var claims struct {
			Exp float64 `json:"exp"`
		}
		if unverifiedClaims(tok.AccessToken, &claims) && claims.Exp > 0 && claims.Exp < 1<<40 {
			expiry = int64(claims.Exp)
		}
	}
	if expiry == 0 {
		return min(max, unknownAccessTTL)
	}
	return min(max, time.Unix(expiry, 0).Sub(now))
}

// answer writes the token answer.
func (p *Proxy) answer(w http.ResponseWriter, tok tokenResult) {
	a := tokenAnswer{
		AccessToken:  tok.AccessToken,
		TokenType:    tok.TokenType,
		RefreshToken: tok.RefreshToken,
		Scope:        tok.Scope,
		IDToken:      tok.IDToken,
	}
	if tok.Expiry != 0 {
		// The code may have waited: the lifetime left, not the one
		// the provider first gave.
		a.ExpiresIn = max(1, tok.Expiry-p.now().Unix())
	}
	writeValue(w, http.StatusOK, &a)
}

// pkceMatches checks a code verifier against its S256 challenge (RFC 7636
// section 4.6), in constant time.
func pkceMatches(verifier, challenge string) bool {
	if !validVerifier(verifier) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// equal compares two identifiers in constant time.
func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

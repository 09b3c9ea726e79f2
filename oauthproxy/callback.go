package oauthproxy

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"

	"golang.org/x/oauth2"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// callback is GET /oauth/callback, where the tenant's provider sends the
// browser back. The transaction named by state is checked against the
// browser's consent cookie, then taken (it works once), and the
// provider's code exchanged for its tokens, which wait under a code of
// the proxy's own, bound to the client, its redirect URI and its PKCE
// challenge, until the client redeems it.
func (p *Proxy) callback(w http.ResponseWriter, r *http.Request, t *tenant.Tenant) {
	ctx := r.Context()
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || len(r.URL.RawQuery) > maxAuthQuery || repeated(q) || q.Get("state") == "" {
		page(w, http.StatusBadRequest, "Invalid request", "The answer of the sign-in service is malformed. Start again from your application.")
		return
	}
	// The transaction is read, checked against the browser's consent
	// cookie and only then taken: a callback from another browser, sent
	// by whoever learnt the state, leaves it to the browser that
	// consented.
	state := q.Get("state")
	var tx transaction
	if !p.callbackGrant(w, r, t, p.getGrant, "oauthproxy: reading a transaction", state, &tx) {
		return
	}
	req := &tx.Request
	cookie, ok := p.consentCookie(r, p.issuer(r, t))
	if !ok || subtle.ConstantTimeCompare([]byte(browserHash(cookie)), []byte(tx.Browser)) != 1 {
		p.log.WarnContext(ctx, "oauthproxy: callback from a browser that did not consent", "tenant", t.ID,
			"client_id", req.ClientID, "cookie", ok, "remote", r.RemoteAddr)
		page(w, http.StatusBadRequest, "Sign-in not accepted",
			"This sign-in was started in another browser. Start again from your application, in this browser.")
		return
	}
	// Take makes it single use: of two callbacks racing here, one gets
	// it. What is taken must be what was checked.
	var taken transaction
	if !p.callbackGrant(w, r, t, p.takeGrant, "oauthproxy: taking a transaction", state, &taken) {
		return
	}
	if taken != tx {
		expired(w)
		return
	}
	// RFC 9207: a provider that names itself must be the tenant's.
	if q.Has("iss") && q.Get("iss") != t.OIDC.Issuer {
		p.log.WarnContext(ctx, "oauthproxy: callback names another issuer", "tenant", t.ID, "client_id", req.ClientID)
		p.toClient(w, r, t, req, url.Values{"error": {"server_error"}}, http.StatusFound)
		return
	}
	if q.Has("error") {
		code := q.Get("error")
		switch code {
		case "access_denied", "temporarily_unavailable", "invalid_scope":
		default:
			code = "server_error"
		}
		p.log.InfoContext(ctx, "oauthproxy: the provider refused the login", "tenant", t.ID, "client_id", req.ClientID,
			"error", cut(q.Get("error"), 64))
		p.toClient(w, r, t, req, url.Values{"error": {code}}, http.StatusFound)
		return
	}
	tok, err := p.exchange(r, t, q.Get("code"), tx.Verifier)
	if err != nil {
		code := "server_error"
		if upstreamDown(err) {
			code = "temporarily_unavailable"
		}
		p.log.WarnContext(ctx, "oauthproxy: code exchange failed", "tenant", t.ID, "client_id", req.ClientID,
			"error", cut(describe(err), 300))
		p.toClient(w, r, t, req, url.Values{"error": {code}}, http.StatusFound)
		return
	}
	code := randomToken()
	g := codeGrant{
		ClientID: req.ClientID, RedirectURI: req.RedirectURI, RedirectGiven: req.RedirectGiven,
		Challenge: req.Challenge, Resource: req.Resource, Refresh: req.Refresh, Token: tok,
	}
	if err := p.putGrant(ctx, t.ID, store.GrantCode, code, &g, p.cfg.CodeTTL); err != nil {
		p.log.ErrorContext(ctx, "oauthproxy: storing a code", "tenant", t.ID, "error", err)
		p.toClient(w, r, t, req, url.Values{"error": {"temporarily_unavailable"}}, http.StatusFound)
		return
	}
	p.log.InfoContext(ctx, "oauthproxy: login", "tenant", t.ID, "client_id", req.ClientID)
	p.toClient(w, r, t, req, url.Values{"code": {code}}, http.StatusFound)
}

// callbackGrant reads the transaction of state into tx with read
// (getGrant or takeGrant), and answers the browser when there is none or
// the store failed, logging msg.
func (p *Proxy) callbackGrant(w http.ResponseWriter, r *http.Request, t *tenant.Tenant,
	read func(context.Context, string, store.GrantKind, string, any) error, msg, state string, tx *transaction) bool {
	switch err := read(r.Context(), t.ID, store.GrantTransaction, state, tx); {
	case errors.Is(err, errNoGrant):
		expired(w)
		return false
	case err != nil:
		p.log.ErrorContext(r.Context(), msg, "tenant", t.ID, "error", err)
		page(w, failUnavailable.status, failUnavailable.title, failUnavailable.message)
		return false
	}
	return true
}

// expired answers a callback whose transaction is gone.
func expired(w http.ResponseWriter) {
	page(w, http.StatusBadRequest, "Sign-in expired",
		"This sign-in has expired or was already completed. Start again from your application.")
}

// exchange redeems the provider's code at its token endpoint.
func (p *Proxy) exchange(r *http.Request, t *tenant.Tenant, code, verifier string) (tokenResult, error) {
	if code == "" {
		return tokenResult{}, errors.New("oauthproxy: the provider sent no code")
	}
	return p.upstreamToken(r, t, func(ctx context.Context, c *oauth2.Config) (*oauth2.Token, error) {
		return c.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	})
}

// repeated reports whether a parameter appears more than once.
func repeated(q url.Values) bool {
	for _, vs := range q {
		if len(vs) > 1 {
			return true
		}
	}
	return false
}

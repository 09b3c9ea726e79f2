package oauthproxy

import (
	"errors"
	"net/http"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// revoke is POST /oauth/revoke (RFC 7009). A refresh token bound to the
// requesting client loses its binding, so the proxy refuses it from then
// on, and is revoked at the provider when the provider has a revocation
// endpoint; the answer is 200 either way. A refresh token of another
// client is refused. Any other token (an access token, or one the proxy
// does not know) is passed to the provider's revocation endpoint, and the
// answer is 200 as RFC 7009 section 2.2 asks, or 503 when the provider
// could not be reached.
func (p *Proxy) revoke(w http.ResponseWriter, r *http.Request, t *tenant.Tenant) {
	ctx := r.Context()
	form, ok := p.tokenForm(w, r)
	if !ok {
		return
	}
	token, clientID, hint := form.Get("token"), form.Get("client_id"), form.Get("token_type_hint")
	switch {
	case clientID == "":
		writeError(w, http.StatusBadRequest, "invalid_request", "client_id is required")
		return
	case token == "":
		writeError(w, http.StatusBadRequest, "invalid_request", "token is required")
		return
	}
	var b refreshBinding
	bound := false
	switch err := p.getGrant(ctx, t.ID, store.GrantRefresh, token, &b); {
	case err == nil:
		bound = true
	case errors.Is(err, errNoGrant):
	default:
		p.log.ErrorContext(ctx, "oauthproxy: reading a refresh binding", "tenant", t.ID, "error", err)
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "")
		return
	}
	if bound && !equal(b.ClientID, clientID) {
		// RFC 7009 section 2.1: a client revokes only its own tokens.
		p.log.WarnContext(ctx, "oauthproxy: revocation of another client's token refused", "tenant", t.ID,
			"client_id", cut(clientID, 64), "issued_to", b.ClientID)
		writeError(w, http.StatusBadRequest, "unauthorized_client", "the token was not issued to this client")
		return
	}
	if bound {
		if err := p.deleteGrant(ctx, t.ID, store.GrantRefresh, token); err != nil {
			p.log.ErrorContext(ctx, "oauthproxy: dropping a refresh binding", "tenant", t.ID, "error", err)
			writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "")
			return
		}
		hint = "refresh_token"
	}
	err := p.forwardRevocation(r, t, token, hint)
	switch {
	case err == nil:
	case bound:
		// The proxy refuses the token from now on, which is what the
		// client asked; the provider's copy dies with its lifetime.
		p.log.WarnContext(ctx, "oauthproxy: revocation at the provider failed", "tenant", t.ID, "error", cut(describe(err), 300))
	default:
		p.log.WarnContext(ctx, "oauthproxy: revocation at the provider failed", "tenant", t.ID, "error", cut(describe(err), 300))
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "")
		return
	}
	p.log.InfoContext(ctx, "oauthproxy: token revoked", "tenant", t.ID, "client_id", cut(clientID, 64), "bound", bound)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// forwardRevocation revokes token at the tenant's provider; nil when the
// provider has no revocation endpoint.
func (p *Proxy) forwardRevocation(r *http.Request, t *tenant.Tenant, token, hint string) error {
	e, err := p.endpointsFor(r.Context(), t)
	if err != nil && e.revoke == "" {
		return err
	}
	if e.revoke == "" {
		return nil
	}
	secret, err := p.secret(t)
	if err != nil {
		return err
	}
	return p.revokeUpstream(r.Context(), t, e, secret, token, hint)
}

package oauthproxy

import (
	"errors"
	"net/http"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// revoke is POST /oauth/revoke (RFC 7009). Only the tokens this tenant's
// authorization server issued to the requesting client are revoked
// (section 2.1): a refresh token bound to it loses its binding, and the
// tokens rotated from the same login (its family) are revoked with it, so
// the proxy refuses them from then on; it is revoked at the provider when the
// provider has a revocation endpoint; the answer is 200 either way. A
// refresh token the provider already rotated revokes its family too. An
// access token issued to it is revoked at the provider, 200, or 503 when
// the provider could not be reached. A token of another client is
// refused (400 unauthorized_client). Any other token (unknown, expired,
// of another tenant) is answered 200, as section 2.2 asks, and never
// reaches the provider: the proxy revokes nothing in another client's
// name under the tenant's upstream credentials.
func (p *Proxy) revoke(w http.ResponseWriter, r *http.Request, t *tenant.Tenant) {
	ctx := r.Context()
	form, ok := p.tokenForm(w, r)
	if !ok {
		return
	}
	token, clientID := form.Get("token"), form.Get("client_id")
	switch {
	case clientID == "":
		writeError(w, http.StatusBadRequest, "invalid_request", "client_id is required")
		return
	case token == "":
		writeError(w, http.StatusBadRequest, "invalid_request", "token is required")
		return
	}
	var b refreshBinding
	kind, hint := store.GrantKind(""), ""
	for _, k := range []store.GrantKind{store.GrantRefresh, grantAccess} {
		err := p.getGrant(ctx, t.ID, k, token, &b)
		if errors.Is(err, errNoGrant) {
			continue
		}
		if err != nil {
			p.log.ErrorContext(ctx, "oauthproxy: reading a token binding", "tenant", t.ID, "error", err)
			writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "")
			return
		}
		kind = k
		break
	}
	switch {
	case kind == "":
		// Not a token of this tenant's clients: nothing to revoke.
		// Debug: anyone may send made-up tokens, and a flood of them
		// must not be a flood of the log.
		p.log.DebugContext(ctx, "oauthproxy: revocation of an unknown token", "tenant", t.ID, "client_id", cut(clientID, 64))
		revoked(w)
		return
	case !equal(b.ClientID, clientID):
		// RFC 7009 section 2.1: a client revokes only its own tokens.
		p.log.WarnContext(ctx, "oauthproxy: revocation of another client's token refused", "tenant", t.ID,
			"client_id", cut(clientID, 64), "issued_to", b.ClientID)
		writeError(w, http.StatusBadRequest, "unauthorized_client", "the token was not issued to this client")
		return
	case kind == store.GrantRefresh && b.Used && b.Family != "":
		// A token already rotated: its record stays, so that a reuse is
		// still seen, and the family it belongs to is revoked.
		if err := p.revokeFamily(ctx, t.ID, b.Family); err != nil {
			p.log.ErrorContext(ctx, "oauthproxy: revoking a refresh token family", "tenant", t.ID, "error", err)
			writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "")
			return
		}
		p.log.InfoContext(ctx, "oauthproxy: token revoked", "tenant", t.ID, "client_id", cut(clientID, 64), "hint", "refresh_token")
		revoked(w)
		return
	case kind == store.GrantRefresh:
		// The family goes with it (section 2.1: the grant is revoked),
		// so that a refresh of the token already on its way to the
		// provider leaves no token that works.
		if b.Family != "" {
			if err := p.revokeFamily(ctx, t.ID, b.Family); err != nil {
				p.log.ErrorContext(ctx, "oauthproxy: revoking a refresh token family", "tenant", t.ID, "error", err)
				writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "")
				return
			}
		}
		if err := p.deleteGrant(ctx, t.ID, store.GrantRefresh, token); err != nil {
			p.log.ErrorContext(ctx, "oauthproxy: dropping a refresh binding", "tenant", t.ID, "error", err)
			writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "")
			return
		}
		hint = "refresh_token"
	default:
		hint = "access_token"
	}
	err := p.forwardRevocation(r, t, token, hint)
	switch {
	case err == nil:
	case kind == store.GrantRefresh:
		// The proxy refuses the token from now on, which is what the
		// client asked; the provider's copy dies with its lifetime.
		p.log.WarnContext(ctx, "oauthproxy: revocation at the provider failed", "tenant", t.ID, "error", cut(describe(err), 300))
	default:
		// The binding stays, so that the client can try again.
		p.log.WarnContext(ctx, "oauthproxy: revocation at the provider failed", "tenant", t.ID, "error", cut(describe(err), 300))
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "")
		return
	}
	if kind == grantAccess {
		if err := p.deleteGrant(ctx, t.ID, grantAccess, token); err != nil {
			p.log.ErrorContext(ctx, "oauthproxy: dropping an access token binding", "tenant", t.ID, "error", err)
		}
	}
	p.log.InfoContext(ctx, "oauthproxy: token revoked", "tenant", t.ID, "client_id", cut(clientID, 64), "hint", hint)
	revoked(w)
}

// revoked writes the answer of a revocation (RFC 7009 section 2.2).
func revoked(w http.ResponseWriter) {
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

package oidcx

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/seedmcp/tenancy/internal/httpx"
	"github.com/seedmcp/tenancy/internal/jwtx"
	"github.com/seedmcp/tenancy/tenant"
)

// BearerConfig configures the middleware returned by [Bearer].
type BearerConfig struct {
	// Verifier checks the tokens. Required.
	Verifier *Verifier
	// URLs gives the tenant's metadata URL for the resource_metadata
	// parameter of every challenge. Required; use the same value for
	// [MetadataHandler], so that the challenge points at the document.
	URLs URLs
	// InsecureAllowAnonymous lets requests without a bearer token through
	// with no claims in their context, as does every request of a tenant
	// without OIDC settings. A token that is presented to a tenant with
	// OIDC settings is still verified, and refused when invalid. It exists
	// for deployments that run with authentication switched off
	// (AUTH_REQUIRED=false); it MUST NOT be set where the protected
	// handlers trust that a caller is authenticated. default: false
	InsecureAllowAnonymous bool
	// Logger receives configuration errors and provider outages (each
	// failure once, so once per back-off period, its cause cut to a few
	// hundred bytes), never tokens. default: slog.Default()
	Logger *slog.Logger
	// OnRefused is called for every request refused for its
	// authentication (401 or 400), with the request's tenant and the
	// reason: "missing_token" when none was presented, otherwise the
	// RFC 6750 error code ("invalid_token", "invalid_request"). It is
	// the hook for usage counts and audit trails; it runs on the
	// request's goroutine and must not block. A provider outage (503) is
	// not a refusal. default: nil
	OnRefused func(r *http.Request, t *tenant.Tenant, reason string)
}

// Bearer returns middleware that requires a valid bearer token (RFC 6750
// section 2.1) of the request's tenant, which an earlier middleware put in
// the context with [tenant.NewContext]. A request that passes carries the
// token's [Claims] in its context; see [ClaimsFromContext]. The package
// documentation lists the answers to requests that do not pass.
func Bearer(cfg BearerConfig) (func(http.Handler) http.Handler, error) {
	if cfg.Verifier == nil {
		return nil, errors.New("oidcx: BearerConfig.Verifier is required")
	}
	if cfg.URLs == nil {
		return nil, errors.New("oidcx: BearerConfig.URLs is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return func(next http.Handler) http.Handler {
		return &bearer{cfg: cfg, next: next}
	}, nil
}

type bearer struct {
	cfg  BearerConfig
	next http.Handler
}

// Bodies of the refusals, computed once. The error codes are RFC 6750
// section 3.1's, plus "server_error" and "temporarily_unavailable" from RFC
// 6749 section 4.1.2.1 for failures that are not the client's.
var (
	bodyUnauthorized = []byte(`{"error":"unauthorized"}`)
	bodyInvalidToken = []byte(`{"error":"invalid_token"}`)
	bodyInvalidReq   = []byte(`{"error":"invalid_request"}`)
	bodyServerError  = []byte(`{"error":"server_error"}`)
	bodyUnavailable  = []byte(`{"error":"temporarily_unavailable"}`)
)

func (b *bearer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	t, ok := tenant.FromContext(ctx)
	if !ok {
		// The tenant middleware answers every request without a tenant
		// before it gets here; reaching this point is a wiring mistake.
		b.cfg.Logger.ErrorContext(ctx, "oidcx: bearer middleware reached without a tenant in the context; install it behind the tenant middleware",
			"path", cut(r.URL.Path, 200))
		httpx.WriteJSON(w, http.StatusInternalServerError, bodyServerError)
		return
	}
	token, status := jwtx.Bearer(r.Header, b.cfg.Verifier.maxTokenSize)
	switch status {
	case jwtx.Absent:
		if b.cfg.InsecureAllowAnonymous {
			b.next.ServeHTTP(w, r)
			return
		}
		b.challenge(w, r, t, http.StatusUnauthorized, "", bodyUnauthorized)
		return
	case jwtx.Malformed:
		b.challenge(w, r, t, http.StatusBadRequest, "invalid_request", bodyInvalidReq)
		return
	case jwtx.TooLarge:
		b.challenge(w, r, t, http.StatusUnauthorized, "invalid_token", bodyInvalidToken)
		return
	}
	claims, err := b.cfg.Verifier.Verify(ctx, t, token)
	switch {
	case err == nil:
		b.next.ServeHTTP(w, r.WithContext(NewContext(ctx, claims)))
	case errors.Is(err, ErrNotConfigured) && b.cfg.InsecureAllowAnonymous:
		b.next.ServeHTTP(w, r)
	case errors.Is(err, ErrProviderUnavailable):
		// The token may well be valid: a 401 would send the client
		// through a new authorization that cannot succeed either.
		if ue := (*UnavailableError)(nil); errors.As(err, &ue) {
			// Once per failure, that is once per back-off period: the
			// requests refused meanwhile add nothing to the log.
			if ue.firstReport() {
				b.cfg.Logger.WarnContext(ctx, "oidcx: identity provider unavailable", "tenant", t.ID, "error", err)
			}
			wait := ue.RetryAt.Sub(b.cfg.Verifier.now())
			w.Header().Set("Retry-After", strconv.Itoa(max(httpx.CeilSeconds(wait), 1)))
		}
		httpx.WriteJSON(w, http.StatusServiceUnavailable, bodyUnavailable)
	default:
		b.challenge(w, r, t, http.StatusUnauthorized, "invalid_token", bodyInvalidToken)
	}
}

// challenge writes a refusal with the WWW-Authenticate header the MCP
// authorization specification requires: the resource_metadata parameter of
// RFC 9728 section 5.1, then the RFC 6750 error code when there is one.
func (b *bearer) challenge(w http.ResponseWriter, r *http.Request, t *tenant.Tenant, status int, code string, body []byte) {
	if b.cfg.OnRefused != nil {
		reason := code
		if reason == "" {
			reason = "missing_token"
		}
		b.cfg.OnRefused(r, t, reason)
	}
	w.Header().Set("WWW-Authenticate", Challenge(b.cfg.URLs.Metadata(r, t), code))
	httpx.WriteJSON(w, status, body)
}

// Challenge returns the value of a WWW-Authenticate header for a bearer
// refusal:
//
//	Bearer resource_metadata="https://acme.example.com/.well-known/oauth-protected-resource", error="invalid_token"
//
// errorCode is omitted when empty, as RFC 6750 section 3 requires when the
// request carried no token.
func Challenge(metadataURL, errorCode string) string {
	var sb strings.Builder
	sb.Grow(len(`Bearer resource_metadata="", error=""`) + len(metadataURL) + len(errorCode))
	sb.WriteString(`Bearer resource_metadata="`)
	writeQuoted(&sb, metadataURL)
	sb.WriteByte('"')
	if errorCode != "" {
		sb.WriteString(`, error="`)
		writeQuoted(&sb, errorCode)
		sb.WriteByte('"')
	}
	return sb.String()
}

// writeQuoted writes s as the inside of an RFC 9110 quoted-string.
func writeQuoted(sb *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			sb.WriteByte('\\')
		}
		sb.WriteByte(s[i])
	}
}

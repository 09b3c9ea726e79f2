package oidcx

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/seedmcp/tenancy/internal/httpx"
	"github.com/seedmcp/tenancy/tenant"
)

// ResourceMetadata is an OAuth 2.0 protected-resource metadata document (RFC
// 9728 section 2), as [MetadataHandler] serves it.
type ResourceMetadata struct {
	// Resource is the exact URL of the tenant's MCP endpoint.
	Resource string `json:"resource"`
	// AuthorizationServers are the issuers of the tokens the resource
	// accepts.
	AuthorizationServers []string `json:"authorization_servers,omitempty"`
	// BearerMethodsSupported is always ["header"]: tokens in a form body
	// or query string are not accepted.
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	// ScopesSupported lists the scopes the resource understands, if the
	// host named any.
	ScopesSupported []string `json:"scopes_supported,omitempty"`
}

// MetadataConfig configures [MetadataHandler].
type MetadataConfig struct {
	// URLs gives the tenant's resource URL. Required; use the same value as
	// [BearerConfig.URLs].
	URLs URLs
	// AuthorizationServers returns the authorization servers of a tenant.
	// A host that runs its own OAuth proxy per tenant names the proxy here.
	// default: the tenant's issuer, or none when it has no OIDC settings
	AuthorizationServers func(r *http.Request, t *tenant.Tenant) []string
	// ScopesSupported is served as scopes_supported. default: omitted
	ScopesSupported []string
	// Logger receives configuration errors. default: slog.Default()
	Logger *slog.Logger
}

// MetadataHandler returns a handler that serves the protected-resource
// metadata of the request's tenant, which an earlier middleware put in the
// context with [tenant.NewContext]. Mount it where [URLs.Metadata] points:
// [WellKnownPath] on the tenant's host in subdomain and header modes,
// WellKnownPath + "/<id>/mcp" in path mode.
//
// The document is public and read by browser-based clients on other
// origins, so it is served to any origin (CORS), as RFC 9728 section 3
// anticipates.
func MetadataHandler(cfg MetadataConfig) (http.Handler, error) {
	if cfg.URLs == nil {
		return nil, errors.New("oidcx: MetadataConfig.URLs is required")
	}
	if cfg.AuthorizationServers == nil {
		cfg.AuthorizationServers = issuerOf
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &metadataHandler{cfg: cfg}, nil
}

func issuerOf(_ *http.Request, t *tenant.Tenant) []string {
	if t.OIDC.Issuer == "" {
		return nil
	}
	return []string{t.OIDC.Issuer}
}

type metadataHandler struct{ cfg MetadataConfig }

func (m *metadataHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "*")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		h.Set("Allow", "GET, HEAD, OPTIONS")
		httpx.WriteJSON(w, http.StatusMethodNotAllowed, []byte(`{"error":"method_not_allowed"}`))
		return
	}
	t, ok := tenant.FromContext(r.Context())
	if !ok {
		m.cfg.Logger.ErrorContext(r.Context(), "oidcx: metadata handler reached without a tenant in the context; install it behind the tenant middleware",
			"path", r.URL.Path)
		httpx.WriteJSON(w, http.StatusInternalServerError, bodyServerError)
		return
	}
	body, err := json.Marshal(ResourceMetadata{
		Resource:               m.cfg.URLs.Resource(r, t),
		AuthorizationServers:   m.cfg.AuthorizationServers(r, t),
		BearerMethodsSupported: []string{"header"},
		ScopesSupported:        m.cfg.ScopesSupported,
	})
	if err != nil {
		httpx.WriteJSON(w, http.StatusInternalServerError, bodyServerError)
		return
	}
	h.Set("Content-Type", "application/json")
	// A PATCHed tenant changes its document, so caches must revalidate.
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

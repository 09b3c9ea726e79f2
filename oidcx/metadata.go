package oidcx

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

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
// WellKnownPath + "/<id>/mcp" in path mode (with [ModeURLs.Path] in place
// of "/mcp"), where it serves the document of that path only and answers
// 404 for any other.
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

// bodyNotFound answers a metadata request for a resource the tenant does
// not have.
var bodyNotFound = httpx.ErrorBody("Not found")

// metadataPather is implemented by [ModeURLs]: in path mode, the document
// of a tenant's resource <base>/<id><Path> is served, with the tenant's
// segment taken out by the tenant middleware, at WellKnownPath + Path.
type metadataPather interface {
	metadataPath() (string, bool)
}

// metadataPathMatches reports whether path, as the client spelled it
// (escaped: one spelling only, as for tenant IDs), names the document of
// tenant id's resource. In path mode a request under WellKnownPath must
// name exactly the resource's path under the tenant: "/<id>" + Path as the
// client sends it (WellKnownPath + "/acme/mcp" by default), or Path alone
// when a tenant middleware took the tenant's segment out, as the path
// route of package tenancy does. WellKnownPath alone is accepted, for
// hosts that mount the handler at a tenant's own well-known path. So the
// document of another path is never served as if it were the MCP
// endpoint's. Other modes and other URLs put no condition on the path.
func metadataPathMatches(u URLs, path, id string) bool {
	p, ok := u.(metadataPather)
	if !ok {
		return true
	}
	want, ok := p.metadataPath()
	if !ok {
		return true
	}
	rest, under := strings.CutPrefix(path, WellKnownPath)
	if !under || rest == "" || rest == want {
		return true
	}
	inTenant, ok := strings.CutPrefix(rest, "/"+id)
	return ok && inTenant == want
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
			"path", cut(r.URL.Path, 200))
		httpx.WriteJSON(w, http.StatusInternalServerError, bodyServerError)
		return
	}
	if !metadataPathMatches(m.cfg.URLs, r.URL.EscapedPath(), t.ID) {
		httpx.WriteJSON(w, http.StatusNotFound, bodyNotFound)
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

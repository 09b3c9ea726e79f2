package oauthproxy

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/seedmcp/tenancy/tenant"
)

// Metadata is a tenant's authorization server metadata (RFC 8414 section
// 2), served at [MetadataPath] and, for clients that look there first, at
// [OpenIDConfigurationPath].
type Metadata struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	RegistrationEndpoint                       string   `json:"registration_endpoint"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	ScopesSupported                            []string `json:"scopes_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
	AuthorizationResponseIssParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
}

// MetadataOf returns the metadata of t's authorization server whose issuer
// is issuer.
func MetadataOf(issuer string, t *tenant.Tenant) Metadata {
	return Metadata{
		Issuer:                                     issuer,
		AuthorizationEndpoint:                      issuer + AuthorizePath,
		TokenEndpoint:                              issuer + TokenPath,
		RegistrationEndpoint:                       issuer + RegisterPath,
		RevocationEndpoint:                         issuer + RevokePath,
		ScopesSupported:                            t.OIDC.Scopes.Or(tenant.DefaultScopes).List(),
		ResponseTypesSupported:                     []string{"code"},
		ResponseModesSupported:                     []string{"query"},
		GrantTypesSupported:                        []string{"authorization_code", "refresh_token"},
		TokenEndpointAuthMethodsSupported:          []string{"none"},
		RevocationEndpointAuthMethodsSupported:     []string{"none"},
		CodeChallengeMethodsSupported:              []string{"S256"},
		AuthorizationResponseIssParameterSupported: true,
	}
}

// metadata serves the tenant's metadata. It is public and read by
// browser-based clients on other origins (CORS is set by ServeHTTP).
func (p *Proxy) metadata(w http.ResponseWriter, r *http.Request, t *tenant.Tenant) {
	// A PATCHed tenant changes its document, so caches must revalidate;
	// writeValue's no-store is stricter still.
	writeValue(w, http.StatusOK, MetadataOf(p.issuer(r, t), t))
}

// Route is a pattern and its handler, for an [http.ServeMux].
type Route struct {
	Pattern string
	Handler http.Handler
}

// MetadataRoutes returns the routes that serve the authorization server
// metadata at the well-known URLs that lie outside a tenant's base URL,
// for the host to mount on its outer mux beside everything else. proxy is
// the [Proxy] (or a handler wrapping it) and withTenant the tenant
// middleware of the host's identification mode.
//
// In subdomain and header modes the issuer is the tenant's host, and the
// routes are the two well-known paths themselves, behind withTenant: the
// same requests reach the proxy through the tenant-scoped routes.
//
// In path mode the issuer https://seed.example.com/acme has its metadata
// at https://seed.example.com/.well-known/oauth-authorization-server/acme
// (RFC 8414 section 3.1 puts the well-known segment in front of the
// issuer's path) and, for OpenID Connect clients, at
// /.well-known/openid-configuration/acme. The routes take the tenant from
// there, still escaped so that "%61cme" stays malformed rather than being
// read as "acme", and hand the request to withTenant as
// /acme/.well-known/oauth-authorization-server, where the tenant is
// validated and refusals are answered as on every other route. The third
// location, /acme/.well-known/openid-configuration (OpenID Connect
// Discovery's), is under the tenant's base and needs no route of its own.
// Any other path under these patterns is 404.
func MetadataRoutes(proxy http.Handler, withTenant func(http.Handler) http.Handler, pathMode bool) []Route {
	h := withTenant(proxy)
	if !pathMode {
		return []Route{{MetadataPath, h}, {OpenIDConfigurationPath, h}}
	}
	return []Route{
		{MetadataPath + "/", insertTenant(MetadataPath, h)},
		{OpenIDConfigurationPath + "/", insertTenant(OpenIDConfigurationPath, h)},
	}
}

// insertTenant rewrites <wellKnown>/<id> to /<id><wellKnown> for next.
func insertTenant(wellKnown string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := strings.CutPrefix(r.URL.EscapedPath(), wellKnown+"/")
		if !ok || id == "" || strings.Contains(id, "/") {
			writeJSON(w, http.StatusNotFound, bodyNotFound)
			return
		}
		// Path holds the decoded form and RawPath the escapes the client
		// sent: the path resolver reads the escaped path, so an escaped
		// ID stays malformed.
		decoded, err := url.PathUnescape(id)
		if err != nil {
			decoded = id
		}
		u := *r.URL
		u.Path, u.RawPath = "/"+decoded+wellKnown, ""
		if decoded != id {
			u.RawPath = "/" + id + wellKnown
		}
		r2 := new(http.Request)
		*r2 = *r
		r2.URL = &u
		next.ServeHTTP(w, r2)
	})
}

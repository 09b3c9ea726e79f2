package tenancy

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/seedmcp/tenancy/internal/httpx"
	"github.com/seedmcp/tenancy/oidcx"
)

// MetadataRoute returns the pattern and the handler that serve each
// tenant's protected-resource metadata (RFC 9728) in the configured mode,
// behind the tenant middleware. Mount them on the outer mux, outside
// [Service.Middleware]:
//
//	meta, _ := oidcx.MetadataHandler(oidcx.MetadataConfig{URLs: urls})
//	mux.Handle(svc.MetadataRoute(meta))
//
// In subdomain and header modes (and in single-tenant mode) the pattern is
// oidcx.WellKnownPath and the tenant comes from the request as on every
// route. In path mode the document of the resource <public>/<id>/mcp lives
// at /.well-known/oauth-protected-resource/<id>/mcp (RFC 9728 section 3.1
// puts the well-known segment in front of the resource's path), whose
// first segment is not the tenant: the route takes <id> from there, still
// escaped, so that "%61cme" is refused as malformed rather than read as
// "acme", and hands the request to the middleware as
// /<id>/.well-known/oauth-protected-resource. Any other path under the
// pattern is 404, and so is the metadata of an MCP endpoint at another path
// than oidcx.DefaultMCPPath under the tenant's base URL.
//
// The pattern is for [http.ServeMux], where a pattern ending in "/" matches
// every path under it. Other routers spell that differently; in chi it is
// a trailing "*":
//
//	pattern, h := svc.MetadataRoute(meta)
//	if strings.HasSuffix(pattern, "/") {
//		pattern += "*" // chi: every path under the pattern
//	}
//	r.Handle(pattern, h)
//
// Like the path-mode tenant routes, the route belongs at the root of the
// server's paths: the well-known URL is at the root of the public URL's host
// (RFC 9728 section 3.1).
func (s *Service) MetadataRoute(meta http.Handler) (string, http.Handler) {
	if !s.cfg.MultiTenant || s.cfg.Identification != ByPath {
		return oidcx.WellKnownPath, s.Middleware(meta)
	}
	return oidcx.WellKnownPath + "/", pathMetadata(s.Middleware(meta))
}

var bodyNoRoute = httpx.ErrorBody("Not found")

// pathMetadata rewrites /.well-known/oauth-protected-resource/<id>/mcp to
// /<id>/.well-known/oauth-protected-resource for next, the path-mode tenant
// middleware in front of the metadata handler, which then validates the
// tenant and answers refusals exactly as on every other route.
func pathMetadata(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.EscapedPath(), oidcx.WellKnownPath+"/")
		id, found := strings.CutSuffix(rest, oidcx.DefaultMCPPath)
		if !ok || !found || id == "" || strings.Contains(id, "/") {
			httpx.WriteJSON(w, http.StatusNotFound, bodyNoRoute)
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
		u.Path, u.RawPath = "/"+decoded+oidcx.WellKnownPath, ""
		if decoded != id {
			u.RawPath = "/" + id + oidcx.WellKnownPath
		}
		r2 := new(http.Request)
		*r2 = *r
		r2.URL = &u
		next.ServeHTTP(w, r2)
	})
}

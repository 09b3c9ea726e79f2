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
// /<id>/.well-known/oauth-protected-resource/mcp. The metadata handler of
// package oidcx then serves the document when the rest of the path is its
// resource's path under the tenant (oidcx.ModeURLs.Path, "/mcp" by
// default, so an MCP endpoint at another path finds its document too), and
// answers 404 for any other; a path under the pattern without a tenant
// segment and a path after it is 404 at once.
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

// pathMetadata rewrites /.well-known/oauth-protected-resource/<id><path>
// to /<id>/.well-known/oauth-protected-resource<path> for next, the
// path-mode tenant middleware in front of the metadata handler, which then
// validates the tenant and answers refusals exactly as on every other
// route; the middleware hands the metadata handler
// /.well-known/oauth-protected-resource<path>, and the handler serves the
// document only when <path> is its resource's path (oidcx.ModeURLs.Path,
// "/mcp" by default).
func pathMetadata(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.EscapedPath(), oidcx.WellKnownPath+"/")
		id, suffix, found := strings.Cut(rest, "/")
		if !ok || !found || id == "" || suffix == "" {
			httpx.WriteJSON(w, http.StatusNotFound, bodyNoRoute)
			return
		}
		suffix = "/" + suffix
		// Path holds the decoded form and RawPath the escapes the client
		// sent: the path resolver reads the escaped path, so an escaped
		// ID stays malformed.
		escaped := "/" + id + oidcx.WellKnownPath + suffix
		decoded, err := url.PathUnescape(escaped)
		if err != nil {
			httpx.WriteJSON(w, http.StatusNotFound, bodyNoRoute)
			return
		}
		u := *r.URL
		u.Path, u.RawPath = decoded, ""
		if decoded != escaped {
			u.RawPath = escaped
		}
		r2 := new(http.Request)
		*r2 = *r
		r2.URL = &u
		next.ServeHTTP(w, r2)
	})
}

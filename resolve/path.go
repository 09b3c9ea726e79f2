package resolve

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/seedmcp/tenancy/tenant"
)

// pathPrefix resolves the tenant from the first segment of the URL path.
type pathPrefix struct{}

var (
	_ Resolver = pathPrefix{}
	_ Rewriter = pathPrefix{}
)

// Path returns a Resolver that reads the tenant ID from the first segment
// of the request's path: "/acme/mcp" is tenant "acme". The value it returns
// is also a [Rewriter] whose Rewrite strips that segment ("/acme/mcp" becomes
// "/mcp"), so the host application mounts its routes once.
//
// The segment is taken from the escaped path ([url.URL.EscapedPath]), so an
// encoded slash is not a separator and any percent-encoded byte makes the
// identifier invalid: "/acme%2Fx/mcp" and "/%61cme/mcp" are refused, never
// read as "acme". IDs never need escaping, so an escaped ID is not an alias
// but a malformed one. The dot segments "." and ".." are invalid identifiers
// as well, and an empty first segment ("/", "//acme/mcp", or an empty path)
// is a missing identifier.
//
// Only the first segment is the resolver's. The rest of the path belongs to
// the host application and is passed on verbatim: "/acme/../admin" is tenant
// "acme" with the path "/../admin", which [http.ServeMux] cleans and answers
// with a redirect to "/admin" (where "admin" is a reserved, invalid ID). The
// tenant a request was resolved to is never changed by what follows it.
//
// # Routers
//
// The tenant is the first segment of the path the tenant middleware is
// given, so path mode belongs at the root of the server's paths: a prefix a
// router leaves on the path is taken for the tenant ("/t/acme/mcp" is tenant
// "t"). Strip such a prefix first, with [http.StripPrefix].
//
// Behind the middleware, the tenant's routes are matched on the rewritten
// path only by a router that routes on the request's URL. [http.ServeMux]
// does, wherever it is. A chi router does when it is the handler of a route
// (r.Handle("/*", withTenant(app))) or when the middleware runs in front of
// its routing (r.Use(withTenant) on the root router, or withTenant around
// the whole router); but a chi router attached with Mount routes on the path
// its parent cut for it, which chi keeps in its own routing context with the
// tenant segment still in it, and answers 404 to every tenant route:
//
//	r.Handle("/*", withTenant(app))   // app sees /mcp for /acme/mcp
//	r.Mount("/", withTenant(app))     // 404: app routes on /acme/mcp
//
// The rewrite cannot reach chi's routing context without this package
// depending on chi. The test of the chi host in the examples module
// (examples/hosts) runs each of these wirings.
func Path() Resolver { return pathPrefix{} }

// Resolve returns the first segment of the escaped path.
func (pathPrefix) Resolve(r *http.Request) (string, error) {
	if r.URL == nil {
		return "", tenant.ErrMissingID
	}
	seg, _, ok := firstSegment(r.URL.EscapedPath())
	if !ok || seg == "" {
		return "", tenant.ErrMissingID
	}
	if err := tenant.ValidateID(seg); err != nil {
		return "", invalidID(seg, err)
	}
	return seg, nil
}

// firstSegment splits an absolute path into its first segment and the rest,
// which is empty or starts with '/'. ok is false when p is not absolute.
func firstSegment(p string) (seg, rest string, ok bool) {
	if p == "" || p[0] != '/' {
		return "", "", false
	}
	p = p[1:]
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i], p[i:], true
	}
	return p, "", true
}

// Rewrite returns a shallow copy of r, with a copy of its URL, whose Path and
// RawPath have "/<id>" removed from their front, as [http.StripPrefix] does;
// a path that would become empty becomes "/". It returns r itself when the
// escaped path does not start with the segment id. r and its URL are never
// modified.
func (pathPrefix) Rewrite(r *http.Request, id string) *http.Request {
	if r.URL == nil || id == "" {
		return r
	}
	escaped := r.URL.EscapedPath()
	seg, _, ok := firstSegment(escaped)
	if !ok || seg != id {
		return r
	}
	// The escaped segment equals id, which has no escapes, so the decoded
	// Path starts with the same "/<id>" and the same cut applies to both.
	path, ok := cutSegment(r.URL.Path, id)
	if !ok {
		return r
	}
	u := new(url.URL)
	*u = *r.URL
	u.Path = path
	// A RawPath that is not a valid encoding of Path is ignored by
	// EscapedPath; it is dropped here rather than cut and carried on.
	u.RawPath = ""
	if r.URL.RawPath == escaped {
		u.RawPath, _ = cutSegment(escaped, id)
	}
	r2 := new(http.Request)
	*r2 = *r
	r2.URL = u
	return r2
}

// cutSegment removes the first segment of p when it is id, and keeps the
// result an absolute path: "/acme/mcp" gives "/mcp", "/acme" and "/acme/"
// give "/". It returns "" and false when p does not start with that segment.
func cutSegment(p, id string) (string, bool) {
	seg, rest, ok := firstSegment(p)
	if !ok || seg != id {
		return "", false
	}
	if rest == "" {
		return "/", true
	}
	return rest, true
}

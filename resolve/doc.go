// Package resolve finds the tenant of an HTTP request.
//
// A [Resolver] reads a tenant identifier from one place in a request: the
// subdomain ([Subdomain]), the first path segment ([Path]), a header
// ([Header]) or a custom domain looked up in a store ([Domain]). [Chain]
// tries several in order, [Static] serves one tenant, [BehindProxies] reads
// the host a trusted reverse proxy forwarded, and [Func] turns a function
// into a Resolver.
//
// Every resolver answers in one of these ways, which the tenant middleware maps
// to its responses:
//
//   - a valid tenant ID (it passes [tenant.ValidateID]) and a nil error;
//   - [tenant.ErrMissingID]: the request names no tenant (400);
//   - an error wrapping [tenant.ErrInvalidID]: it names one badly (400, with
//     another message);
//   - any other error, such as [ErrLookup] from [Domain]: the tenant could
//     not be determined (503).
//
// Identifiers are never repaired: a header or path value must already be a
// canonical ID, and only host names, which are case-insensitive, are folded
// to lower case. Bad configuration (a malformed base domain or header name)
// fails when the resolver is built, never per request.
//
// A server that serves tenants at acme.seed.example.com and at their own
// custom domains (looked up in a store.Tenants), behind a load balancer in
// 10.0.0.0/8:
//
//	sub, err := resolve.Subdomain("seed.example.com")
//	if err != nil {
//		return err
//	}
//	r := resolve.BehindProxies(
//		[]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
//		resolve.Chain(sub, resolve.Domain(tenants.LookupDomain)),
//	)
//	id, err := r.Resolve(req) // "acme", nil
//
// In path mode (/acme/mcp) the resolver is also a [Rewriter], and the
// middleware strips the tenant segment before the host's handler runs, so the
// host mounts its routes once:
//
//	r := resolve.Path()
//	id, _ := r.Resolve(req)                      // "acme"
//	req = r.(resolve.Rewriter).Rewrite(req, id) // req.URL.Path == "/mcp"
package resolve

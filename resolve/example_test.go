package resolve_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"

	"github.com/seedmcp/tenancy/resolve"
	"github.com/seedmcp/tenancy/tenant"
)

func ExampleSubdomain() {
	r, err := resolve.Subdomain("seed.example.com")
	if err != nil {
		panic(err)
	}
	for _, host := range []string{
		"acme.seed.example.com",
		"ACME.Seed.Example.com.:8443",
		"seed.example.com",
		"a.acme.seed.example.com",
		"127.0.0.1:8080",
	} {
		req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
		req.Host = host
		id, err := r.Resolve(req)
		switch {
		case errors.Is(err, tenant.ErrMissingID):
			fmt.Printf("%s: no tenant\n", host)
		case errors.Is(err, tenant.ErrInvalidID):
			fmt.Printf("%s: invalid\n", host)
		default:
			fmt.Printf("%s: %s\n", host, id)
		}
	}
	// Output:
	// acme.seed.example.com: acme
	// ACME.Seed.Example.com.:8443: acme
	// seed.example.com: no tenant
	// a.acme.seed.example.com: invalid
	// 127.0.0.1:8080: no tenant
}

func ExamplePath() {
	r := resolve.Path()
	req := httptest.NewRequest(http.MethodGet, "/acme/mcp?x=1", nil)
	id, err := r.Resolve(req)
	if err != nil {
		panic(err)
	}
	// The host mounts /mcp once; the tenant segment is stripped.
	stripped := r.(resolve.Rewriter).Rewrite(req, id)
	fmt.Println(id, stripped.URL.Path, stripped.URL.RawQuery)
	fmt.Println("original:", req.URL.Path)

	_, err = r.Resolve(httptest.NewRequest(http.MethodGet, "/acme%2Fx/mcp", nil))
	fmt.Println(errors.Is(err, tenant.ErrInvalidID))
	// Output:
	// acme /mcp x=1
	// original: /acme/mcp
	// true
}

func ExampleHeader() {
	r, err := resolve.Header("x-tenant-id")
	if err != nil {
		panic(err)
	}
	for _, v := range []string{"acme", "ACME", ""} {
		req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
		req.Header.Set("X-Tenant-ID", v)
		id, err := r.Resolve(req)
		fmt.Printf("%q: %q %v\n", v, id, err)
	}
	// Output:
	// "acme": "acme" <nil>
	// "ACME": "" tenant: invalid tenant identifier: only a-z, 0-9 and '-' are allowed
	// "": "" tenant: missing tenant identifier
}

func ExampleChain() {
	sub, err := resolve.Subdomain("seed.example.com")
	if err != nil {
		panic(err)
	}
	// Custom domains, as a store would hold them.
	domains := map[string]string{"mcp.acme.com": "acme"}
	lookup := func(_ context.Context, host string) (string, error) {
		if id, ok := domains[host]; ok {
			return id, nil
		}
		return "", tenant.ErrNotFound
	}
	r := resolve.Chain(sub, resolve.Domain(lookup))

	for _, host := range []string{"beta.seed.example.com", "mcp.acme.com", "example.org", "ADMIN.seed.example.com"} {
		req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
		req.Host = host
		id, err := r.Resolve(req)
		fmt.Printf("%s: %q %v\n", host, id, err)
	}
	// Output:
	// beta.seed.example.com: "beta" <nil>
	// mcp.acme.com: "acme" <nil>
	// example.org: "" tenant: missing tenant identifier
	// ADMIN.seed.example.com: "" tenant: invalid tenant identifier: "admin" is reserved
}

func ExampleBehindProxies() {
	sub, err := resolve.Subdomain("seed.example.com")
	if err != nil {
		panic(err)
	}
	r := resolve.BehindProxies([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, sub)

	// The load balancer at 10.0.0.2 forwards the client's host.
	req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
	req.Host = "internal-lb:8080"
	req.RemoteAddr = "10.0.0.2:41000"
	req.Header.Set("Forwarded", `for=192.0.2.60;proto=https;host="acme.seed.example.com:443"`)
	fmt.Println(r.Resolve(req))

	// A client that reaches the server directly cannot choose its tenant.
	req.RemoteAddr = "192.0.2.60:50000"
	req.Host = "acme.seed.example.com"
	req.Header.Set("Forwarded", "host=beta.seed.example.com")
	fmt.Println(r.Resolve(req))
	// Output:
	// acme <nil>
	// acme <nil>
}

func ExampleStatic() {
	r, err := resolve.Static(tenant.DefaultID)
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Resolve(httptest.NewRequest(http.MethodGet, "/mcp", nil)))
	// Output: default <nil>
}

func ExampleFunc() {
	// A tenant taken from a query parameter, for a quick experiment. Func
	// refuses an ID that breaks the rules, whatever the function returns.
	r := resolve.Func(func(r *http.Request) (string, error) {
		id := r.URL.Query().Get("tenant")
		if id == "" {
			return "", tenant.ErrMissingID
		}
		return id, nil
	})
	fmt.Println(r.Resolve(httptest.NewRequest(http.MethodGet, "/mcp?tenant=acme", nil)))
	_, err := r.Resolve(httptest.NewRequest(http.MethodGet, "/mcp?tenant=ACME", nil))
	fmt.Println(errors.Is(err, tenant.ErrInvalidID))
	// Output:
	// acme <nil>
	// true
}

package resolve_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"

	"github.com/seedmcp/tenancy/resolve"
)

func ExampleNewProxies() {
	// Two load balancers in 10.0.0.0/8 set X-Forwarded-Host and append to
	// X-Forwarded-For; a Forwarded header is whatever a client sent.
	p, err := resolve.NewProxies(resolve.ProxyConfig{
		Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		Header:  resolve.XForwarded,
	})
	if err != nil {
		panic(err)
	}
	sub, err := resolve.Subdomain("seed.example.com")
	if err != nil {
		panic(err)
	}
	r := p.Resolver(sub)

	req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
	req.Host = "internal-lb:8080"
	req.RemoteAddr = "10.0.0.2:41000"
	req.Header.Set("X-Forwarded-Host", "acme.seed.example.com")
	// The client wrote the first entry; the outer balancer appended the
	// client's address, the inner one the outer one's.
	req.Header.Set("X-Forwarded-For", "198.51.100.1, 192.0.2.60, 10.0.0.3")
	req.Header.Set("Forwarded", "host=beta.seed.example.com")
	fmt.Println(r.Resolve(req))
	fmt.Println(p.ClientAddr(req))
	// Output:
	// acme <nil>
	// 192.0.2.60
}

package oauthproxy_test

import (
	"fmt"
	"net/http"

	"github.com/seedmcp/tenancy/oauthproxy"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// The proxy of a path-mode deployment, and where each tenant's clients
// find its authorization server.
func Example() {
	st := memstore.New(memstore.Config{})
	urls, _ := oidcx.PathURLs("https://seed.example.com")
	p, err := oauthproxy.New(oauthproxy.Config{Clients: st.Clients(), Grants: st.Grants(), URLs: urls})
	if err != nil {
		panic(err)
	}
	acme := &tenant.Tenant{ID: "acme", OIDC: tenant.OIDC{
		Issuer: "https://login.acme.example", Audience: "seed-mcp-acme", ClientID: "seed-proxy",
	}}
	r, _ := http.NewRequest(http.MethodGet, "https://seed.example.com/acme/mcp", nil)

	// The protected-resource metadata names the tenant's own server.
	fmt.Println(p.AuthorizationServers(r, acme))
	meta := oauthproxy.MetadataOf(p.Issuer(r, acme), acme)
	fmt.Println(meta.TokenEndpoint, meta.CodeChallengeMethodsSupported, meta.ScopesSupported)

	// Mounted on the outer mux beside the tenant routes.
	withTenant := func(h http.Handler) http.Handler { return h } // the tenant middleware
	for _, rt := range oauthproxy.MetadataRoutes(p, withTenant, true) {
		fmt.Println(rt.Pattern)
	}
	// Output:
	// [https://seed.example.com/acme]
	// https://seed.example.com/acme/oauth/token [S256] [openid]
	// /.well-known/oauth-authorization-server/
	// /.well-known/openid-configuration/
}

package mcpglue_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/seedmcp/tenancy/examples/mcpglue"
	"github.com/seedmcp/tenancy/tenant"
)

func TestHosts(t *testing.T) {
	hosts := mcpglue.Hosts{Public: []string{"seed.example.com:8443"}, BaseDomain: "Tenants.Example.com."}
	loopback := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8443}
	outside := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 8443}
	acme := &tenant.Tenant{ID: "acme", Domain: "mcp.acme.example"}
	for _, tc := range []struct {
		host   string
		local  net.Addr
		tenant *tenant.Tenant
		want   bool
	}{
		{"127.0.0.1:8443", loopback, nil, true},
		{"[::1]:8443", loopback, nil, true},
		{"localhost", loopback, nil, true},
		{"acme.localhost:8443", loopback, nil, true},
		{"seed.example.com:8443", loopback, nil, true},
		{"SEED.example.com:8443", loopback, nil, true},
		{"seed.example.com:9999", loopback, nil, false},
		{"acme.tenants.example.com", loopback, nil, true},
		{"tenants.example.com", loopback, nil, false},
		{"evil-tenants.example.com", loopback, nil, false},
		{"mcp.acme.example", loopback, acme, true},
		{"mcp.acme.example", loopback, nil, false},
		{"evil.example", loopback, acme, false},
		{"evil.example", outside, nil, true}, // only loopback connections are checked, as in the SDKs
		{"evil.example", nil, nil, true},
	} {
		r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
		r.Host = tc.host
		ctx := context.Background()
		if tc.local != nil {
			ctx = context.WithValue(ctx, http.LocalAddrContextKey, tc.local)
		}
		if tc.tenant != nil {
			ctx = tenant.NewContext(ctx, tc.tenant)
		}
		assert.Equal(t, tc.want, hosts.Allowed(r.WithContext(ctx)), "%s", tc.host)
	}

	// Check refuses with a JSON body, before the handler.
	reached := false
	h := hosts.Check(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	r.Host = "evil.example"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, loopback)))
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.JSONEq(t, `{"error":"invalid Host header"}`, w.Body.String())
	assert.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"), "like every refusal of the library")
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	assert.False(t, reached)
}

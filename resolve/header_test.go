package resolve

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/tenant"
)

func TestHeaderName(t *testing.T) {
	for _, name := range []string{"X-Tenant-ID", "x-tenant-id", "Tenant", "X_Tenant"} {
		r, err := Header(name)
		require.NoError(t, err, name)
		assert.Equal(t, http.CanonicalHeaderKey(name), r.(*header).name)
	}
	for _, name := range []string{"", "X Tenant", "X-Tenant:", "X-Tenant\n", "Tenant\x00", "Tenänt", "(x)"} {
		_, err := Header(name)
		require.Error(t, err, "%q", name)
		assert.Contains(t, err.Error(), "resolve: invalid header name")
	}
	// Headers net/http takes away or that frame the message, carry
	// credentials (a refusal would log their value) or are a proxy's.
	for _, name := range []string{"Host", "host", "Authorization", "COOKIE", "Proxy-Authorization", "Forwarded",
		"X-Forwarded-Host", "x-forwarded-for", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade"} {
		_, err := Header(name)
		require.Error(t, err, "%q", name)
		assert.Contains(t, err.Error(), "cannot carry the tenant ID", name)
	}
}

func TestHeader(t *testing.T) {
	tests := []struct {
		name   string
		values []string // nil: no header
		want   outcome
		wantID string
	}{
		{"one value", []string{"acme"}, found, "acme"},
		{"default", []string{"default"}, found, "default"},
		{"63 bytes", []string{strings.Repeat("a", 63)}, found, strings.Repeat("a", 63)},

		{"absent", nil, missing, ""},
		{"empty", []string{""}, missing, ""},

		{"repeated", []string{"acme", "acme"}, invalid, ""},
		{"repeated with an empty value", []string{"", "acme"}, invalid, ""},
		{"list in one value", []string{"acme, beta"}, invalid, ""},
		{"upper case", []string{"ACME"}, invalid, ""},
		{"leading space", []string{" acme"}, invalid, ""},
		{"trailing space", []string{"acme "}, invalid, ""},
		{"whitespace only", []string{" "}, invalid, ""},
		{"reserved", []string{"admin"}, invalid, ""},
		{"64 bytes", []string{strings.Repeat("a", 64)}, invalid, ""},
		{"Redis pattern bytes", []string{"acme*"}, invalid, ""},
		{"hash tag", []string{"{acme}"}, invalid, ""},
		{"non-ASCII", []string{"äcme"}, invalid, ""},
	}
	r, err := Header("x-tenant-id")
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
			if tt.values != nil {
				req.Header["X-Tenant-Id"] = tt.values
			}
			assertResolves(t, r, req, tt.want, tt.wantID)
		})
	}
}

func TestHeaderCanonicalName(t *testing.T) {
	// Set canonicalises the name, so any spelling given to Header matches.
	r, err := Header("x-TENANT-id")
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
	req.Header.Set("X-Tenant-ID", "acme")
	assertResolves(t, r, req, found, "acme")
}

func TestHeaderAllocations(t *testing.T) {
	r, err := Header("X-Tenant-ID")
	require.NoError(t, err)
	for _, tt := range []struct {
		values []string
		allocs float64
	}{
		{[]string{"acme"}, 0},
		{nil, 0},
		{[]string{"ACME"}, 1}, // the InvalidError that names the value
		{[]string{"a", "b"}, 1},
	} {
		req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
		if tt.values != nil {
			req.Header["X-Tenant-Id"] = tt.values
		}
		allocs := testing.AllocsPerRun(100, func() { _, _ = r.Resolve(req) })
		assert.Equal(t, tt.allocs, allocs, "values %q", tt.values)
	}
}

// TestInvalidErrorNamesTheIdentifier: a malformed identifier is refused
// with an *InvalidError that keeps the value, for audit logs, and still
// matches tenant.ErrInvalidID.
func TestInvalidErrorNamesTheIdentifier(t *testing.T) {
	hdr, err := Header("X-Tenant-ID")
	require.NoError(t, err)
	sub, err := Subdomain("seed.example.com")
	require.NoError(t, err)
	withHeader := func(values ...string) *http.Request {
		req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
		req.Header["X-Tenant-Id"] = values
		return req
	}
	tests := []struct {
		name string
		r    Resolver
		req  *http.Request
		want string
	}{
		{"header value", hdr, withHeader("ACME"), "ACME"},
		{"repeated header", hdr, withHeader("acme", "beta"), "acme"},
		{"path segment", Path(), httptest.NewRequest(http.MethodGet, "/ac%2Fme/mcp", nil), "ac%2Fme"},
		{"subdomain label", sub, hostRequest("{x}.seed.example.com"), "{x}"},
		{"nested labels", sub, hostRequest("a.acme.seed.example.com"), "a.acme"},
		{"malformed host", sub, hostRequest("acme.seed.example.com:x"), "acme.seed.example.com:x"},
		{"through a chain", Chain(sub, hdr), hostRequest("-acme.seed.example.com"), "-acme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := tt.r.Resolve(tt.req)
			assert.Empty(t, id)
			require.ErrorIs(t, err, tenant.ErrInvalidID)
			var ie *InvalidError
			require.ErrorAs(t, err, &ie)
			assert.Equal(t, tt.want, ie.Identifier)
			assert.NotContains(t, err.Error(), tt.want, "the message never repeats the hostile value")
		})
	}
}

func BenchmarkHeader(b *testing.B) {
	r, err := Header("X-Tenant-ID")
	require.NoError(b, err)
	req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
	req.Header.Set("X-Tenant-ID", "acme-corp")
	b.ReportAllocs()
	for b.Loop() {
		_, _ = r.Resolve(req)
	}
}

func FuzzHeader(f *testing.F) {
	f.Add("acme", "", false)
	f.Add("ACME", "", false)
	f.Add(" acme", "", false)
	f.Add("acme", "acme", true)
	f.Add("", "", false)
	f.Add("admin", "", false)
	r, err := Header("X-Tenant-ID")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v1, v2 string, twice bool) {
		req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
		req.Header.Add("X-Tenant-ID", v1)
		if twice {
			req.Header.Add("X-Tenant-ID", v2)
		}
		id, err := r.Resolve(req)
		switch classify(t, id, err) {
		case failed:
			t.Fatalf("unexpected error class: %v", err)
		case found:
			if twice || id != v1 {
				t.Fatalf("resolved %q from %q, %q (twice: %v)", id, v1, v2, twice)
			}
		}
	})
}

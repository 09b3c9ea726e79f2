package resolve

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/tenant"
)

// counting wraps a Resolver and counts its calls.
type counting struct {
	Resolver
	calls int
}

func (c *counting) Resolve(r *http.Request) (string, error) {
	c.calls++
	return c.Resolver.Resolve(r)
}

// liar is a third-party Resolver that breaks the contract.
type liar struct{}

func (liar) Resolve(*http.Request) (string, error) { return "NOT VALID", nil }

func TestChain(t *testing.T) {
	sub, err := Subdomain("seed.example.com")
	require.NoError(t, err)
	hdr, err := Header("X-Tenant-ID")
	require.NoError(t, err)
	errDown := errors.New("store down")
	lookup := func(_ context.Context, host string) (string, error) {
		switch host {
		case "mcp.acme.com":
			return "acme", nil
		case "down.example.net":
			return "", errDown
		}
		return "", tenant.ErrNotFound
	}

	tests := []struct {
		name      string
		host      string
		header    string
		want      outcome
		wantID    string
		wantCalls []int // calls of sub, domain, header
	}{
		{"subdomain wins", "acme.seed.example.com", "beta", found, "acme", []int{1, 0, 0}},
		{"custom domain after a miss", "mcp.acme.com", "", found, "acme", []int{1, 1, 0}},
		{"header after two misses", "seed.example.com", "beta", found, "beta", []int{1, 1, 1}},
		{"all miss", "seed.example.com", "", missing, "", []int{1, 1, 1}},
		{"invalid subdomain stops the chain", "ADMIN.seed.example.com", "beta", invalid, "", []int{1, 0, 0}},
		{"nested labels stop the chain", "a.b.seed.example.com", "beta", invalid, "", []int{1, 0, 0}},
		{"lookup failure stops the chain", "down.example.net", "beta", failed, "", []int{1, 1, 0}},
		{"invalid header at the end", "other.example.net", "Beta", invalid, "", []int{1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := []*counting{{Resolver: sub}, {Resolver: Domain(lookup)}, {Resolver: hdr}}
			c := Chain(cs[0], cs[1], cs[2])
			req := hostRequest(tt.host)
			if tt.header != "" {
				req.Header.Set("X-Tenant-ID", tt.header)
			}
			assertResolves(t, c, req, tt.want, tt.wantID)
			assert.Equal(t, tt.wantCalls, []int{cs[0].calls, cs[1].calls, cs[2].calls})
		})
	}
}

func TestChainLookupErrorKept(t *testing.T) {
	errDown := errors.New("store down")
	c := Chain(Domain(func(context.Context, string) (string, error) { return "", errDown }))
	_, err := c.Resolve(hostRequest("mcp.acme.com"))
	require.ErrorIs(t, err, errDown)
	require.ErrorIs(t, err, ErrLookup)
}

func TestChainEmpty(t *testing.T) {
	assertResolves(t, Chain(), hostRequest("acme.example.com"), missing, "")
}

func TestChainChecksMembers(t *testing.T) {
	assertResolves(t, Chain(liar{}), hostRequest("x"), invalid, "")
	assert.PanicsWithValue(t, "resolve: Chain with a nil Resolver", func() { Chain(Path(), nil) })
}

func TestChainDoesNotAlias(t *testing.T) {
	static, err := Static("beta")
	require.NoError(t, err)
	rs := []Resolver{Path()}
	c := Chain(rs...)
	rs[0] = static
	assertResolves(t, c, pathRequest(t, "/acme/mcp"), found, "acme")
}

func TestChainRewrite(t *testing.T) {
	sub, err := Subdomain("seed.example.com")
	require.NoError(t, err)
	c := Chain(sub, Path())
	rw, ok := c.(Rewriter)
	require.True(t, ok)

	// Resolved by the subdomain: the path is the host's, untouched.
	req := pathRequest(t, "/beta/mcp")
	req.Host = "acme.seed.example.com"
	id, err := c.Resolve(req)
	require.NoError(t, err)
	require.Equal(t, "acme", id)
	assert.Same(t, req, rw.Rewrite(req, id))

	// Resolved by the path: the tenant segment is stripped.
	req = pathRequest(t, "/beta/mcp")
	req.Host = "seed.example.com"
	id, err = c.Resolve(req)
	require.NoError(t, err)
	require.Equal(t, "beta", id)
	got := rw.Rewrite(req, id)
	assert.Equal(t, "/mcp", got.URL.Path)
	assert.Equal(t, "/beta/mcp", req.URL.Path)

	// An ID the chain does not resolve to leaves the request alone.
	assert.Same(t, req, rw.Rewrite(req, "acme"))
	// So does a request the chain refuses.
	req = pathRequest(t, "/ACME/mcp")
	assert.Same(t, req, rw.Rewrite(req, "acme"))
}

func BenchmarkChain(b *testing.B) {
	sub, err := Subdomain("seed.example.com")
	require.NoError(b, err)
	hdr, err := Header("X-Tenant-ID")
	require.NoError(b, err)
	c := Chain(sub, hdr)
	req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
	req.Host = "seed.example.com"
	req.Header.Set("X-Tenant-ID", "acme")
	b.ReportAllocs()
	for b.Loop() {
		_, _ = c.Resolve(req)
	}
}

func FuzzChain(f *testing.F) {
	f.Add("acme.seed.example.com", "/beta/mcp", "gamma")
	f.Add("seed.example.com", "/beta/mcp", "gamma")
	f.Add("seed.example.com", "/", "gamma")
	f.Add("seed.example.com", "//x", "")
	f.Add("mcp.acme.com", "/ACME", "")
	f.Add("a.b.seed.example.com", "/x", "y")
	sub, err := Subdomain("seed.example.com")
	if err != nil {
		f.Fatal(err)
	}
	hdr, err := Header("X-Tenant-ID")
	if err != nil {
		f.Fatal(err)
	}
	dom := Domain(func(_ context.Context, host string) (string, error) {
		if host == "mcp.acme.com" {
			return "acme", nil
		}
		return "", tenant.ErrNotFound
	})
	c := Chain(sub, dom, Path(), hdr)
	f.Fuzz(func(t *testing.T, host, path, value string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Host = host
		req.URL.Path, req.URL.RawPath = path, ""
		req.Header["X-Tenant-Id"] = []string{value}
		id, err := c.Resolve(req)
		if classify(t, id, err) == failed {
			t.Fatalf("unexpected error class: %v", err)
		}
		if err == nil {
			got := c.(Rewriter).Rewrite(req, id)
			if req.URL.Path != path {
				t.Fatalf("Rewrite modified the caller's path")
			}
			if got != req && !strings.HasPrefix(got.URL.Path, "/") {
				t.Fatalf("Rewrite(%q) gave a relative path %q", path, got.URL.Path)
			}
		}
	})
}

func TestChainRewriteDoesNotLookUpAgain(t *testing.T) {
	sub, err := Subdomain("seed.example.com")
	require.NoError(t, err)
	lookups := 0
	dom := Domain(func(context.Context, string) (string, error) {
		lookups++
		return "acme", nil
	})
	req := hostRequest("mcp.acme.com")

	// No member rewrites: Rewrite resolves nothing.
	c := Chain(sub, dom)
	id, err := c.Resolve(req)
	require.NoError(t, err)
	assert.Same(t, req, c.(Rewriter).Rewrite(req, id))
	assert.Equal(t, 1, lookups)

	// A Rewriter after the lookup: Rewrite must find out who matched.
	lookups = 0
	c = Chain(sub, dom, Path())
	id, err = c.Resolve(req)
	require.NoError(t, err)
	assert.Same(t, req, c.(Rewriter).Rewrite(req, id))
	assert.Equal(t, 2, lookups)
}

package resolve

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testProxies = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("fd00::/8"),
}

func TestBehindProxies(t *testing.T) {
	const (
		proxy  = "10.1.2.3:40000"
		client = "203.0.113.7:50000"
	)
	tests := []struct {
		name    string
		remote  string
		host    string
		headers map[string][]string
		want    outcome
		wantID  string
	}{
		{"untrusted client keeps its Host", client, "acme.seed.example.com",
			map[string][]string{"Forwarded": {`host=beta.seed.example.com`}}, found, "acme"},
		{"untrusted client cannot forge X-Forwarded-Host", client, "proxy.internal",
			map[string][]string{"X-Forwarded-Host": {"beta.seed.example.com"}}, missing, ""},
		{"untrusted malformed header is ignored", client, "acme.seed.example.com",
			map[string][]string{"Forwarded": {`host="unterminated`}}, found, "acme"},
		{"trusted without headers keeps Host", proxy, "acme.seed.example.com", nil, found, "acme"},

		{"Forwarded token host", proxy, "proxy.internal",
			map[string][]string{"Forwarded": {`host=acme.seed.example.com`}}, found, "acme"},
		{"Forwarded quoted host with port", proxy, "proxy.internal",
			map[string][]string{"Forwarded": {`for=192.0.2.60;proto=https;host="acme.seed.example.com:8443"`}}, found, "acme"},
		{"Forwarded parameter names are case-insensitive", proxy, "proxy.internal",
			map[string][]string{"Forwarded": {`For=192.0.2.60;HOST=acme.seed.example.com`}}, found, "acme"},
		{"Forwarded quoted pair", proxy, "proxy.internal",
			map[string][]string{"Forwarded": {`host="acme\.seed.example.com"`}}, found, "acme"},
		{"Forwarded OWS around elements and pairs", proxy, "proxy.internal",
			map[string][]string{"Forwarded": {`for=x , for=y ; host=acme.seed.example.com `}}, found, "acme"},
		{"Forwarded last element wins", proxy, "proxy.internal",
			map[string][]string{"Forwarded": {`host=beta.seed.example.com, for=10.9.9.9;host=acme.seed.example.com`}}, found, "acme"},
		{"Forwarded last line wins", proxy, "proxy.internal",
			map[string][]string{"Forwarded": {`host=beta.seed.example.com`, `host=acme.seed.example.com`}}, found, "acme"},
		{"Forwarded comma inside quotes is not a separator", proxy, "proxy.internal",
			map[string][]string{"Forwarded": {`host=beta.seed.example.com, for="a,b";host=acme.seed.example.com`}}, found, "acme"},
		{"Forwarded empty trailing element is skipped", proxy, "proxy.internal",
			map[string][]string{"Forwarded": {`host=acme.seed.example.com, `}}, found, "acme"},
		{"Forwarded over X-Forwarded-Host", proxy, "proxy.internal",
			map[string][]string{"Forwarded": {`host=acme.seed.example.com`}, "X-Forwarded-Host": {"beta.seed.example.com"}}, found, "acme"},
		{"Forwarded without host falls back to X-Forwarded-Host", proxy, "proxy.internal",
			map[string][]string{"Forwarded": {`for=192.0.2.60`}, "X-Forwarded-Host": {"acme.seed.example.com"}}, found, "acme"},
		{"Forwarded without host keeps Host", proxy, "acme.seed.example.com",
			map[string][]string{"Forwarded": {`for=192.0.2.60`}}, found, "acme"},
		{"Forwarded host of an earlier element is not used", proxy, "acme.seed.example.com",
			map[string][]string{"Forwarded": {`host=beta.seed.example.com, for=10.0.0.1`}}, found, "acme"},
		{"X-Forwarded-Host", proxy, "proxy.internal",
			map[string][]string{"X-Forwarded-Host": {"acme.seed.example.com"}}, found, "acme"},
		{"X-Forwarded-Host last of a list", proxy, "proxy.internal",
			map[string][]string{"X-Forwarded-Host": {"beta.seed.example.com, acme.seed.example.com"}}, found, "acme"},
		{"X-Forwarded-Host last line", proxy, "proxy.internal",
			map[string][]string{"X-Forwarded-Host": {"beta.seed.example.com", "acme.seed.example.com:443"}}, found, "acme"},
		{"trusted IPv6 proxy", "[fd00::1]:443", "proxy.internal",
			map[string][]string{"X-Forwarded-Host": {"acme.seed.example.com"}}, found, "acme"},
		{"trusted IPv4-mapped proxy", "[::ffff:10.0.0.1]:443", "proxy.internal",
			map[string][]string{"X-Forwarded-Host": {"acme.seed.example.com"}}, found, "acme"},
		{"trusted proxy with a zone", "[fd00::1%eth0]:443", "proxy.internal",
			map[string][]string{"X-Forwarded-Host": {"acme.seed.example.com"}}, found, "acme"},
		{"RemoteAddr without port", "10.0.0.1", "proxy.internal",
			map[string][]string{"X-Forwarded-Host": {"acme.seed.example.com"}}, found, "acme"},
		{"unparsable RemoteAddr is untrusted", "pipe", "acme.seed.example.com",
			map[string][]string{"X-Forwarded-Host": {"beta.seed.example.com"}}, found, "acme"},
		{"forwarded host is resolved like any host", proxy, "proxy.internal",
			map[string][]string{"X-Forwarded-Host": {"a.b.seed.example.com"}}, invalid, ""},
		{"forwarded host outside the base", proxy, "acme.seed.example.com",
			map[string][]string{"X-Forwarded-Host": {"example.org"}}, missing, ""},

		{"Forwarded unterminated quote", proxy, "acme.seed.example.com",
			map[string][]string{"Forwarded": {`host="acme.seed.example.com`}}, invalid, ""},
		{"Forwarded repeated host", proxy, "acme.seed.example.com",
			map[string][]string{"Forwarded": {`host=acme.seed.example.com;host=beta.seed.example.com`}}, invalid, ""},
		{"Forwarded empty host", proxy, "acme.seed.example.com",
			map[string][]string{"Forwarded": {`host=""`}}, invalid, ""},
		{"Forwarded pair without value", proxy, "acme.seed.example.com",
			map[string][]string{"Forwarded": {`host`}}, invalid, ""},
		{"Forwarded unquoted port is not a token", proxy, "acme.seed.example.com",
			map[string][]string{"Forwarded": {`host=acme.seed.example.com:8443`}}, invalid, ""},
		{"Forwarded bad bytes in host", proxy, "acme.seed.example.com",
			map[string][]string{"Forwarded": {`host="acme seed"`}}, invalid, ""},
		{"Forwarded bad parameter name", proxy, "acme.seed.example.com",
			map[string][]string{"Forwarded": {`h@st=acme.seed.example.com`}}, invalid, ""},
		{"Forwarded stray quote", proxy, "acme.seed.example.com",
			map[string][]string{"Forwarded": {`host=a"b"c`}}, invalid, ""},
		{"X-Forwarded-Host empty last entry", proxy, "acme.seed.example.com",
			map[string][]string{"X-Forwarded-Host": {"beta.seed.example.com, "}}, invalid, ""},
		{"X-Forwarded-Host bad bytes", proxy, "acme.seed.example.com",
			map[string][]string{"X-Forwarded-Host": {"acme.seed.example.com/x"}}, invalid, ""},
	}
	sub, err := Subdomain("seed.example.com")
	require.NoError(t, err)
	r := BehindProxies(testProxies, sub)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := hostRequest(tt.host)
			req.RemoteAddr = tt.remote
			for k, v := range tt.headers {
				req.Header[k] = v
			}
			assertResolves(t, r, req, tt.want, tt.wantID)
			assert.Equal(t, tt.host, req.Host, "the caller's request is not modified")
		})
	}
}

func TestBehindProxiesTrustsNothingByDefault(t *testing.T) {
	sub, err := Subdomain("seed.example.com")
	require.NoError(t, err)
	for _, trusted := range [][]netip.Prefix{nil, {}} {
		req := hostRequest("acme.seed.example.com")
		req.RemoteAddr = "127.0.0.1:1234"
		req.Header.Set("X-Forwarded-Host", "beta.seed.example.com")
		assertResolves(t, BehindProxies(trusted, sub), req, found, "acme")
	}
}

func TestBehindProxiesConfiguration(t *testing.T) {
	sub, err := Subdomain("seed.example.com")
	require.NoError(t, err)
	assert.PanicsWithValue(t, "resolve: BehindProxies with a nil Resolver", func() { BehindProxies(testProxies, nil) })
	assert.Panics(t, func() { BehindProxies([]netip.Prefix{{}}, sub) })

	// The prefixes are copied and masked.
	trusted := []netip.Prefix{netip.MustParsePrefix("10.1.2.3/8")}
	r := BehindProxies(trusted, sub)
	trusted[0] = netip.MustParsePrefix("192.0.2.0/24")
	req := hostRequest("proxy.internal")
	req.RemoteAddr = "10.200.0.1:1"
	req.Header.Set("X-Forwarded-Host", "acme.seed.example.com")
	assertResolves(t, r, req, found, "acme")
}

func TestBehindProxiesRewrite(t *testing.T) {
	sub, err := Subdomain("seed.example.com")
	require.NoError(t, err)

	// Path mode behind a proxy still strips the tenant segment, and the
	// rewritten request keeps the Host it arrived with.
	r := BehindProxies(testProxies, Chain(sub, Path()))
	rw, ok := r.(Rewriter)
	require.True(t, ok)
	req := pathRequest(t, "/acme/mcp")
	req.Host = "proxy.internal"
	req.RemoteAddr = "10.0.0.1:1"
	req.Header.Set("X-Forwarded-Host", "seed.example.com")
	id, err := r.Resolve(req)
	require.NoError(t, err)
	require.Equal(t, "acme", id)
	got := rw.Rewrite(req, id)
	assert.Equal(t, "/mcp", got.URL.Path)
	assert.Equal(t, "proxy.internal", got.Host)
	assert.Equal(t, "/acme/mcp", req.URL.Path)

	// Resolved by the forwarded subdomain: nothing to rewrite, and in
	// particular the path is not read as a tenant.
	req = pathRequest(t, "/beta/mcp")
	req.Host = "proxy.internal"
	req.RemoteAddr = "10.0.0.1:1"
	req.Header.Set("X-Forwarded-Host", "acme.seed.example.com")
	id, err = r.Resolve(req)
	require.NoError(t, err)
	require.Equal(t, "acme", id)
	assert.Same(t, req, rw.Rewrite(req, id))

	// A malformed header or a resolver that is no Rewriter: unchanged.
	req.Header.Set("X-Forwarded-Host", "bad host")
	assert.Same(t, req, rw.Rewrite(req, "acme"))
	plain := BehindProxies(testProxies, sub).(Rewriter)
	assert.Same(t, req, plain.Rewrite(req, "acme"))
}

func BenchmarkBehindProxies(b *testing.B) {
	sub, err := Subdomain("seed.example.com")
	require.NoError(b, err)
	r := BehindProxies(testProxies, sub)
	for _, tc := range []struct{ name, remote, header, value string }{
		{"untrusted", "203.0.113.7:5000", "X-Forwarded-Host", "beta.seed.example.com"},
		{"X-Forwarded-Host", "10.0.0.1:5000", "X-Forwarded-Host", "acme.seed.example.com"},
		{"Forwarded", "10.0.0.1:5000", "Forwarded", `for=192.0.2.60;proto=https;host="acme.seed.example.com:8443"`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req := hostRequest("acme.seed.example.com")
			req.RemoteAddr = tc.remote
			req.Header.Set(tc.header, tc.value)
			b.ReportAllocs()
			for b.Loop() {
				_, _ = r.Resolve(req)
			}
		})
	}
}

func FuzzBehindProxies(f *testing.F) {
	f.Add("10.0.0.1:1", "proxy", `for=x;host="acme.seed.example.com:8443"`, "")
	f.Add("10.0.0.1:1", "proxy", `host=a, host=b;host=c`, "acme.seed.example.com")
	f.Add("10.0.0.1:1", "proxy", `host="a\"b"`, "")
	f.Add("10.0.0.1:1", "proxy", "", "x, acme.seed.example.com")
	f.Add("203.0.113.7:1", "acme.seed.example.com", `host=beta.seed.example.com`, "")
	f.Add("[fd00::1%eth0]:443", "proxy", "", "acme.seed.example.com")
	sub, err := Subdomain("seed.example.com")
	if err != nil {
		f.Fatal(err)
	}
	r := BehindProxies(testProxies, Chain(sub, Path()))
	f.Fuzz(func(t *testing.T, remote, host, fwd, xfh string) {
		req := httptest.NewRequest(http.MethodGet, "/acme/mcp", nil)
		req.RemoteAddr, req.Host = remote, host
		if fwd != "" {
			req.Header["Forwarded"] = []string{fwd}
		}
		if xfh != "" {
			req.Header["X-Forwarded-Host"] = []string{xfh}
		}
		id, err := r.Resolve(req)
		if classify(t, id, err) == failed {
			t.Fatalf("unexpected error class: %v", err)
		}
		if err == nil {
			got := r.(Rewriter).Rewrite(req, id)
			if got.Host != host || req.Host != host || req.URL.Path != "/acme/mcp" {
				t.Fatalf("Rewrite changed the host or the caller's request")
			}
		}
	})
}

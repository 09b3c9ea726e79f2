package resolve

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testProxies = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("fd00::/8"),
}

// h builds a header map from name, value pairs; a name may repeat, one
// line per value.
func h(pairs ...string) map[string][]string {
	m := map[string][]string{}
	for i := 0; i < len(pairs); i += 2 {
		m[pairs[i]] = append(m[pairs[i]], pairs[i+1])
	}
	return m
}

func TestProxiesResolver(t *testing.T) {
	const (
		proxy  = "10.1.2.3:40000"
		client = "203.0.113.7:50000"
		fwd    = Forwarded
		xf     = XForwarded
	)
	tests := []struct {
		name    string
		header  ProxyHeader
		remote  string
		host    string
		headers map[string][]string
		want    outcome
		wantID  string
	}{
		{"untrusted client keeps its Host", fwd, client, "acme.seed.example.com",
			h("Forwarded", `host=beta.seed.example.com`), found, "acme"},
		{"untrusted client cannot forge X-Forwarded-Host", xf, client, "proxy.internal",
			h("X-Forwarded-Host", "beta.seed.example.com"), missing, ""},
		{"untrusted malformed header is ignored", fwd, client, "acme.seed.example.com",
			h("Forwarded", `host="unterminated`), found, "acme"},
		{"trusted without headers keeps Host", fwd, proxy, "acme.seed.example.com", nil, found, "acme"},
		{"trusted without headers keeps Host (X-Forwarded)", xf, proxy, "acme.seed.example.com", nil, found, "acme"},

		{"Forwarded token host", fwd, proxy, "proxy.internal",
			h("Forwarded", `host=acme.seed.example.com`), found, "acme"},
		{"Forwarded quoted host with port", fwd, proxy, "proxy.internal",
			h("Forwarded", `for=192.0.2.60;proto=https;host="acme.seed.example.com:8443"`), found, "acme"},
		{"Forwarded parameter names are case-insensitive", fwd, proxy, "proxy.internal",
			h("Forwarded", `For=192.0.2.60;HOST=acme.seed.example.com`), found, "acme"},
		{"Forwarded quoted pair", fwd, proxy, "proxy.internal",
			h("Forwarded", `host="acme\.seed.example.com"`), found, "acme"},
		{"Forwarded OWS around elements and pairs", fwd, proxy, "proxy.internal",
			h("Forwarded", `for=x , for=y ; host=acme.seed.example.com `), found, "acme"},
		{"Forwarded last element wins", fwd, proxy, "proxy.internal",
			h("Forwarded", `host=beta.seed.example.com, for=192.0.2.9;host=acme.seed.example.com`), found, "acme"},
		{"Forwarded last line wins", fwd, proxy, "proxy.internal",
			h("Forwarded", `host=beta.seed.example.com`, "Forwarded", `host=acme.seed.example.com`), found, "acme"},
		{"Forwarded comma inside quotes is not a separator", fwd, proxy, "proxy.internal",
			h("Forwarded", `host=beta.seed.example.com, for="a,b";host=acme.seed.example.com`), found, "acme"},
		{"Forwarded empty trailing element is skipped", fwd, proxy, "proxy.internal",
			h("Forwarded", `host=acme.seed.example.com, `), found, "acme"},
		{"Forwarded without host keeps Host", fwd, proxy, "acme.seed.example.com",
			h("Forwarded", `for=192.0.2.60`), found, "acme"},
		{"Forwarded host of an element left of the client's is not used", fwd, proxy, "acme.seed.example.com",
			h("Forwarded", `host=beta.seed.example.com, for=192.0.2.1`), found, "acme"},

		// One header is read; the other is ignored even from a trusted
		// proxy, which passes on what the client sent in it.
		{"Forwarded mode ignores X-Forwarded-Host", fwd, proxy, "acme.seed.example.com",
			h("X-Forwarded-Host", "beta.seed.example.com"), found, "acme"},
		{"Forwarded mode: Forwarded over X-Forwarded-Host", fwd, proxy, "proxy.internal",
			h("Forwarded", `host=acme.seed.example.com`, "X-Forwarded-Host", "beta.seed.example.com"), found, "acme"},
		{"Forwarded without host does not fall back to X-Forwarded-Host", fwd, proxy, "acme.seed.example.com",
			h("Forwarded", `for=192.0.2.60`, "X-Forwarded-Host", "beta.seed.example.com"), found, "acme"},
		{"X-Forwarded mode ignores a client's Forwarded", xf, proxy, "proxy.internal",
			h("Forwarded", `host=beta.seed.example.com`, "X-Forwarded-Host", "acme.seed.example.com"), found, "acme"},
		{"X-Forwarded mode ignores Forwarded alone", xf, proxy, "acme.seed.example.com",
			h("Forwarded", `host=beta.seed.example.com`), found, "acme"},
		{"X-Forwarded mode ignores a malformed Forwarded", xf, proxy, "proxy.internal",
			h("Forwarded", `host="unterminated`, "X-Forwarded-Host", "acme.seed.example.com"), found, "acme"},

		// Several proxies: the element of the outermost trusted proxy.
		{"Forwarded through two proxies", fwd, proxy, "proxy.internal",
			h("Forwarded", `for=192.0.2.60;host=acme.seed.example.com, for=10.0.0.5;host=internal-lb`), found, "acme"},
		{"Forwarded through two proxies, two lines", fwd, proxy, "proxy.internal",
			h("Forwarded", `for=192.0.2.60;host=acme.seed.example.com`, "Forwarded", `for="[fd00::5]:443";host=internal-lb`), found, "acme"},
		{"Forwarded elements a client forged are left of its own", fwd, proxy, "proxy.internal",
			h("Forwarded", `for=10.0.0.9;host=beta.seed.example.com, for=192.0.2.60;host=acme.seed.example.com`), found, "acme"},
		{"Forwarded all trusted: the leftmost", fwd, proxy, "proxy.internal",
			h("Forwarded", `for=10.0.0.9;host=acme.seed.example.com, for=10.0.0.5;host=internal-lb`), found, "acme"},
		{"Forwarded walk stops at an element without for", fwd, proxy, "proxy.internal",
			h("Forwarded", `for=192.0.2.60;host=beta.seed.example.com, host=acme.seed.example.com`), found, "acme"},
		{"Forwarded walk stops at for=unknown", fwd, proxy, "proxy.internal",
			h("Forwarded", `for=10.0.0.9;host=beta.seed.example.com, for=unknown;host=acme.seed.example.com`), found, "acme"},
		{"Forwarded client's malformed line before the proxy's", fwd, proxy, "proxy.internal",
			h("Forwarded", `host="unterminated`, "Forwarded", `for=192.0.2.60;host=acme.seed.example.com`), found, "acme"},

		{"X-Forwarded-Host", xf, proxy, "proxy.internal",
			h("X-Forwarded-Host", "acme.seed.example.com"), found, "acme"},
		{"X-Forwarded-Host last of a list", xf, proxy, "proxy.internal",
			h("X-Forwarded-Host", "beta.seed.example.com, acme.seed.example.com"), found, "acme"},
		{"X-Forwarded-Host last line", xf, proxy, "proxy.internal",
			h("X-Forwarded-Host", "beta.seed.example.com", "X-Forwarded-Host", "acme.seed.example.com:443"), found, "acme"},
		{"trusted IPv6 proxy", xf, "[fd00::1]:443", "proxy.internal",
			h("X-Forwarded-Host", "acme.seed.example.com"), found, "acme"},
		{"trusted IPv4-mapped proxy", xf, "[::ffff:10.0.0.1]:443", "proxy.internal",
			h("X-Forwarded-Host", "acme.seed.example.com"), found, "acme"},
		{"trusted proxy with a zone", xf, "[fd00::1%eth0]:443", "proxy.internal",
			h("X-Forwarded-Host", "acme.seed.example.com"), found, "acme"},
		{"RemoteAddr without port", xf, "10.0.0.1", "proxy.internal",
			h("X-Forwarded-Host", "acme.seed.example.com"), found, "acme"},
		{"unparsable RemoteAddr is untrusted", xf, "pipe", "acme.seed.example.com",
			h("X-Forwarded-Host", "beta.seed.example.com"), found, "acme"},
		{"forwarded host is resolved like any host", xf, proxy, "proxy.internal",
			h("X-Forwarded-Host", "a.b.seed.example.com"), invalid, ""},
		{"forwarded host outside the base", xf, proxy, "acme.seed.example.com",
			h("X-Forwarded-Host", "example.org"), missing, ""},

		{"Forwarded unterminated quote", fwd, proxy, "acme.seed.example.com",
			h("Forwarded", `host="acme.seed.example.com`), invalid, ""},
		{"Forwarded repeated host", fwd, proxy, "acme.seed.example.com",
			h("Forwarded", `host=acme.seed.example.com;host=beta.seed.example.com`), invalid, ""},
		{"Forwarded repeated for", fwd, proxy, "acme.seed.example.com",
			h("Forwarded", `for=10.0.0.9;for=192.0.2.1;host=beta.seed.example.com`), invalid, ""},
		{"Forwarded empty host", fwd, proxy, "acme.seed.example.com",
			h("Forwarded", `host=""`), invalid, ""},
		{"Forwarded pair without value", fwd, proxy, "acme.seed.example.com",
			h("Forwarded", `host`), invalid, ""},
		{"Forwarded unquoted port is not a token", fwd, proxy, "acme.seed.example.com",
			h("Forwarded", `host=acme.seed.example.com:8443`), invalid, ""},
		{"Forwarded bad bytes in host", fwd, proxy, "acme.seed.example.com",
			h("Forwarded", `host="acme seed"`), invalid, ""},
		{"Forwarded bad parameter name", fwd, proxy, "acme.seed.example.com",
			h("Forwarded", `h@st=acme.seed.example.com`), invalid, ""},
		{"Forwarded stray quote", fwd, proxy, "acme.seed.example.com",
			h("Forwarded", `host=a"b"c`), invalid, ""},
		{"Forwarded malformed trusted element on the walk", fwd, proxy, "acme.seed.example.com",
			h("Forwarded", `host=a"b"c, for=10.0.0.5`), invalid, ""},
		{"X-Forwarded-Host empty last entry", xf, proxy, "acme.seed.example.com",
			h("X-Forwarded-Host", "beta.seed.example.com, "), invalid, ""},
		{"X-Forwarded-Host bad bytes", xf, proxy, "acme.seed.example.com",
			h("X-Forwarded-Host", "acme.seed.example.com/x"), invalid, ""},
	}
	sub, err := Subdomain("seed.example.com")
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewProxies(ProxyConfig{Trusted: testProxies, Header: tt.header})
			require.NoError(t, err)
			r := p.Resolver(sub)
			req := hostRequest(tt.host)
			req.RemoteAddr = tt.remote
			for k, v := range tt.headers {
				req.Header[k] = v
			}
			assertResolves(t, r, req, tt.want, tt.wantID)
			assert.Equal(t, tt.host, req.Host, "the caller's request is not modified")
			if tt.header == Forwarded {
				assertResolves(t, BehindProxies(testProxies, sub), req, tt.want, tt.wantID)
			}
		})
	}
}

func TestBehindProxiesTrustsNothingByDefault(t *testing.T) {
	sub, err := Subdomain("seed.example.com")
	require.NoError(t, err)
	for _, trusted := range [][]netip.Prefix{nil, {}} {
		req := hostRequest("acme.seed.example.com")
		req.RemoteAddr = "127.0.0.1:1234"
		req.Header.Set("Forwarded", "host=beta.seed.example.com")
		req.Header.Set("X-Forwarded-Host", "beta.seed.example.com")
		assertResolves(t, BehindProxies(trusted, sub), req, found, "acme")
		for _, header := range []ProxyHeader{Forwarded, XForwarded} {
			p, err := NewProxies(ProxyConfig{Trusted: trusted, Header: header})
			require.NoError(t, err)
			assertResolves(t, p.Resolver(sub), req, found, "acme")
		}
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
	req.Header.Set("Forwarded", "host=acme.seed.example.com")
	assertResolves(t, r, req, found, "acme")

	_, err = NewProxies(ProxyConfig{Trusted: []netip.Prefix{{}}})
	assert.Error(t, err)
	for _, header := range []ProxyHeader{"forwarded", "X-Forwarded-For", "X-Real-IP"} {
		_, err = NewProxies(ProxyConfig{Header: header})
		assert.Error(t, err, header)
	}
	p, err := NewProxies(ProxyConfig{})
	require.NoError(t, err)
	assert.Equal(t, Forwarded, p.header, "the default header")
	assert.PanicsWithValue(t, "resolve: Proxies.Resolver with a nil Resolver", func() { p.Resolver(nil) })

	// A nil *Proxies trusts nothing.
	var none *Proxies
	req.Header.Set("X-Forwarded-For", "192.0.2.1")
	assertResolves(t, none.Resolver(sub), req, missing, "")
	assert.Equal(t, "10.200.0.1", none.ClientAddr(req))
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
	req.Header.Set("Forwarded", "host=seed.example.com")
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
	req.Header.Set("Forwarded", "host=acme.seed.example.com")
	id, err = r.Resolve(req)
	require.NoError(t, err)
	require.Equal(t, "acme", id)
	assert.Same(t, req, rw.Rewrite(req, id))

	// A malformed header or a resolver that is no Rewriter: unchanged.
	req.Header.Set("Forwarded", `host="bad host"`)
	assert.Same(t, req, rw.Rewrite(req, "acme"))
	plain := BehindProxies(testProxies, sub).(Rewriter)
	assert.Same(t, req, plain.Rewrite(req, "acme"))
}

func BenchmarkBehindProxies(b *testing.B) {
	sub, err := Subdomain("seed.example.com")
	require.NoError(b, err)
	for _, tc := range []struct {
		name, remote, header, value string
		mode                        ProxyHeader
	}{
		{"untrusted", "203.0.113.7:5000", "Forwarded", "host=beta.seed.example.com", Forwarded},
		{"X-Forwarded-Host", "10.0.0.1:5000", "X-Forwarded-Host", "acme.seed.example.com", XForwarded},
		{"Forwarded", "10.0.0.1:5000", "Forwarded", `for=192.0.2.60;proto=https;host="acme.seed.example.com:8443"`, Forwarded},
		{"Forwarded, two proxies", "10.0.0.1:5000", "Forwarded", `for=192.0.2.60;proto=https;host="acme.seed.example.com:8443", for=10.0.0.5;host=internal-lb`, Forwarded},
	} {
		p, err := NewProxies(ProxyConfig{Trusted: testProxies, Header: tc.mode})
		require.NoError(b, err)
		r := p.Resolver(sub)
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

// TestProxiesClientAddr: the address the admin API counts failed keys
// against. Behind a trusted proxy it is the client the proxy names, never
// the proxy's own address (one client's failures would lock out every
// operator); from any other address the forwarding headers are ignored.
func TestProxiesClientAddr(t *testing.T) {
	const (
		proxy  = "10.1.2.3:40000"
		client = "203.0.113.7:50000"
		fwd    = Forwarded
		xf     = XForwarded
	)
	obfuscated64 := "_" + strings.Repeat("a", 63)
	tests := []struct {
		name    string
		header  ProxyHeader
		remote  string
		headers map[string][]string
		want    string
	}{
		{"untrusted peer", fwd, client, nil, "203.0.113.7"},
		{"untrusted peer's Forwarded is ignored", fwd, client, h("Forwarded", "for=198.51.100.1"), "203.0.113.7"},
		{"untrusted peer's X-Forwarded-For is ignored", xf, client, h("X-Forwarded-For", "198.51.100.1"), "203.0.113.7"},
		{"untrusted IPv6 peer", fwd, "[2001:db8::1]:443", h("Forwarded", "for=198.51.100.1"), "2001:db8::1"},
		{"peer without port", fwd, "203.0.113.7", nil, "203.0.113.7"},
		{"unparsable peer", fwd, "pipe", h("Forwarded", "for=198.51.100.1"), "pipe"},
		{"trusted peer without header is the client", fwd, proxy, nil, "10.1.2.3"},
		{"trusted peer without header is the client (X-Forwarded)", xf, proxy, nil, "10.1.2.3"},

		{"Forwarded for", fwd, proxy, h("Forwarded", "for=192.0.2.60;host=acme.seed.example.com"), "192.0.2.60"},
		{"Forwarded for with port", fwd, proxy, h("Forwarded", `for="192.0.2.60:4711"`), "192.0.2.60"},
		{"Forwarded IPv6 for with port", fwd, proxy, h("Forwarded", `for="[2001:db8:cafe::17]:4711"`), "2001:db8:cafe::17"},
		{"Forwarded IPv6 for", fwd, proxy, h("Forwarded", `for="[2001:db8:cafe::17]"`), "2001:db8:cafe::17"},
		{"Forwarded IPv4-mapped for", fwd, proxy, h("Forwarded", `for="[::ffff:192.0.2.60]"`), "192.0.2.60"},
		{"Forwarded obfuscated for", fwd, proxy, h("Forwarded", "for=_hidden-7"), "_hidden-7"},
		{"Forwarded obfuscated for, longest", fwd, proxy, h("Forwarded", "for="+obfuscated64), obfuscated64},
		{"Forwarded obfuscated for, too long", fwd, proxy, h("Forwarded", "for="+obfuscated64+"a"), UnknownClient},
		{"Forwarded for=unknown", fwd, proxy, h("Forwarded", "for=unknown"), UnknownClient},
		{"Forwarded without for", fwd, proxy, h("Forwarded", "host=acme.seed.example.com"), UnknownClient},
		{"Forwarded malformed", fwd, proxy, h("Forwarded", `for="192.0.2.60`), UnknownClient},
		{"Forwarded with only empty elements", fwd, proxy, h("Forwarded", " , "), "10.1.2.3"},
		{"Forwarded forged elements left of the client's", fwd, proxy,
			h("Forwarded", "for=10.0.0.9, for=198.51.100.1, for=192.0.2.60"), "192.0.2.60"},
		{"Forwarded through two proxies", fwd, proxy,
			h("Forwarded", "for=192.0.2.60, for=10.0.0.5"), "192.0.2.60"},
		{"Forwarded through two proxies, two lines", fwd, proxy,
			h("Forwarded", "for=198.51.100.1, for=192.0.2.60", "Forwarded", `for="[fd00::5]:443"`), "192.0.2.60"},
		{"Forwarded all trusted: the leftmost", fwd, proxy,
			h("Forwarded", "for=10.0.0.9, for=10.0.0.5"), "10.0.0.9"},
		{"Forwarded client's malformed line before the proxy's", fwd, proxy,
			h("Forwarded", `for="unterminated`, "Forwarded", "for=192.0.2.60"), "192.0.2.60"},
		{"Forwarded mode ignores X-Forwarded-For", fwd, proxy, h("X-Forwarded-For", "192.0.2.60"), "10.1.2.3"},
		{"Forwarded mode: Forwarded over X-Forwarded-For", fwd, proxy,
			h("Forwarded", "for=192.0.2.60", "X-Forwarded-For", "198.51.100.1"), "192.0.2.60"},

		{"X-Forwarded-For", xf, proxy, h("X-Forwarded-For", "192.0.2.60"), "192.0.2.60"},
		{"X-Forwarded-For forged entries left of the client's", xf, proxy,
			h("X-Forwarded-For", "10.0.0.9, 198.51.100.1, 192.0.2.60"), "192.0.2.60"},
		{"X-Forwarded-For through two proxies", xf, proxy, h("X-Forwarded-For", "192.0.2.60, 10.0.0.5"), "192.0.2.60"},
		{"X-Forwarded-For lines", xf, proxy,
			h("X-Forwarded-For", "198.51.100.1, 192.0.2.60", "X-Forwarded-For", "fd00::5"), "192.0.2.60"},
		{"X-Forwarded-For all trusted: the leftmost", xf, proxy, h("X-Forwarded-For", "10.0.0.9,10.0.0.5"), "10.0.0.9"},
		{"X-Forwarded-For with port", xf, proxy, h("X-Forwarded-For", "192.0.2.60:4711"), "192.0.2.60"},
		{"X-Forwarded-For bracketed IPv6 with port", xf, proxy, h("X-Forwarded-For", "[2001:db8::17]:4711"), "2001:db8::17"},
		{"X-Forwarded-For bare IPv6", xf, proxy, h("X-Forwarded-For", "2001:db8::17"), "2001:db8::17"},
		{"X-Forwarded-For empty entries", xf, proxy, h("X-Forwarded-For", " , 192.0.2.60 ,"), "192.0.2.60"},
		{"X-Forwarded-For only empty entries", xf, proxy, h("X-Forwarded-For", " , "), "10.1.2.3"},
		{"X-Forwarded-For unknown", xf, proxy, h("X-Forwarded-For", "192.0.2.60, unknown"), UnknownClient},
		{"X-Forwarded-For garbage", xf, proxy, h("X-Forwarded-For", "192.0.2.60, \x1b[2J"), UnknownClient},
		{"X-Forwarded mode ignores Forwarded", xf, proxy, h("Forwarded", "for=192.0.2.60"), "10.1.2.3"},
		{"X-Forwarded mode: X-Forwarded-For over Forwarded", xf, proxy,
			h("Forwarded", "for=198.51.100.1", "X-Forwarded-For", "192.0.2.60"), "192.0.2.60"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewProxies(ProxyConfig{Trusted: testProxies, Header: tt.header})
			require.NoError(t, err)
			req := hostRequest("acme.seed.example.com")
			req.RemoteAddr = tt.remote
			for k, v := range tt.headers {
				req.Header[k] = v
			}
			assert.Equal(t, tt.want, p.ClientAddr(req))
		})
	}
}

func FuzzProxiesClientAddr(f *testing.F) {
	f.Add("10.0.0.1:1", `for="[2001:db8::1]:80", for=10.0.0.2`, "192.0.2.1, 10.0.0.2")
	f.Add("10.0.0.1:1", `for="x`, "unknown")
	f.Add("203.0.113.7:1", `for=_x`, "::1")
	forwarded, err := NewProxies(ProxyConfig{Trusted: testProxies})
	if err != nil {
		f.Fatal(err)
	}
	xforwarded, err := NewProxies(ProxyConfig{Trusted: testProxies, Header: XForwarded})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, remote, fwd, xff string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = remote
		req.Header["Forwarded"] = []string{fwd}
		req.Header["X-Forwarded-For"] = []string{xff}
		for _, p := range []*Proxies{forwarded, xforwarded} {
			got := p.ClientAddr(req)
			if !p.trustedRemote(remote) {
				if got != remoteHost(remote) {
					t.Fatalf("untrusted peer %q: got %q", remote, got)
				}
				continue
			}
			// From a trusted peer: an address, an obfuscated name or
			// UnknownClient, never more than a short printable string.
			if _, err := netip.ParseAddr(got); err != nil && got != UnknownClient && !obfuscatedNode(got) {
				t.Fatalf("trusted peer %q: got %q", remote, got)
			}
		}
	})
}

// TestProxiesHost: the host a client sent a request to is the one a
// trusted proxy forwarded, well-formed, in the header it is configured to
// set; anything else is the request's own Host.
func TestProxiesHost(t *testing.T) {
	fwd, err := NewProxies(ProxyConfig{Trusted: testProxies})
	require.NoError(t, err)
	xfwd, err := NewProxies(ProxyConfig{Trusted: testProxies, Header: XForwarded})
	require.NoError(t, err)
	var none *Proxies
	for _, tc := range []struct {
		name   string
		p      *Proxies
		peer   string
		header string
		value  string
		want   string
	}{
		{"Forwarded from a proxy", fwd, "10.1.2.3:1000", "Forwarded", "for=192.0.2.1;host=mcp.acme.com", "mcp.acme.com"},
		{"X-Forwarded-Host from a proxy", xfwd, "10.1.2.3:1000", "X-Forwarded-Host", "mcp.acme.com", "mcp.acme.com"},
		{"the other header", fwd, "10.1.2.3:1000", "X-Forwarded-Host", "mcp.acme.com", "backend:8080"},
		{"no host forwarded", fwd, "10.1.2.3:1000", "Forwarded", "for=192.0.2.1", "backend:8080"},
		{"malformed", fwd, "10.1.2.3:1000", "Forwarded", `host="mcp.acme.com`, "backend:8080"},
		{"from a client", fwd, "198.51.100.7:1000", "Forwarded", "host=mcp.acme.com", "backend:8080"},
		{"no proxies", none, "10.1.2.3:1000", "Forwarded", "host=mcp.acme.com", "backend:8080"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/mcp", nil)
		r.Host, r.RemoteAddr = "backend:8080", tc.peer
		r.Header.Set(tc.header, tc.value)
		assert.Equal(t, tc.want, tc.p.Host(r), tc.name)
	}
}

package tenancy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/tenant"
)

// The known-bad inputs of RELIABILITY.md: each is sent as raw bytes over a
// TCP connection to a full Service (tenant middleware, rate limit, admin API)
// served by net/http, so that the server's own parsing applies exactly as in
// production. Some inputs never reach tenancy: net/http refuses them first
// (by: "net/http"), or the host's http.ServeMux cleans the path and
// redirects (by: "ServeMux"). The rest are answered by tenancy itself.

const hostileKey = "hostile-admin-key-0123456789abcdef"

// The bodies tenancy answers with; exact bytes.
const (
	hostileMissing  = `{"error":"Missing tenant identifier"}`
	hostileInvalid  = `{"error":"Invalid tenant identifier"}`
	hostileNotFound = `{"error":"Tenant not found or inactive"}`
	hostileTooLarge = `{"error":"Request body larger than 65536 bytes"}`
	hostileBadKey   = `{"error":"Missing or invalid admin API key"}`
)

// hostileServers are one Service per identification mode, each mounted
// the way a host mounts it, plus a path-mode Service with the middleware as
// the whole server (no ServeMux in front), as an MCP server without routes
// of its own might run it.
type hostileServers map[string]*httptest.Server

func newHostileServers(t *testing.T) hostileServers {
	servers := hostileServers{}
	for name, cfg := range map[string]Config{
		"host":      {Identification: BySubdomain, BaseDomain: "seed.example.com"},
		"path":      {Identification: ByPath},
		"path-bare": {Identification: ByPath},
		"header":    {Identification: ByHeader},
	} {
		cfg.MultiTenant = true
		cfg.Redis = fakeRedis(t)
		cfg.AdminAPIKey = hostileKey
		s := newService(t, cfg)
		createTenant(t, s, "acme", func(tn *tenant.Tenant) {
			tn.Domain = "mcp.acme.com"
			tn.Limits.RateLimit = 100000
		})
		createTenant(t, s, "beta")
		createTenant(t, s, "gone", func(tn *tenant.Tenant) { tn.Status = tenant.StatusSuspended })
		var h http.Handler = s.Middleware(whoami)
		if name != "path-bare" {
			mux := http.NewServeMux()
			mux.Handle("/admin/", s.Admin())
			mux.Handle("/", h)
			h = mux
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		servers[name] = srv
	}
	return servers
}

// rawAnswer is what came back for one raw request.
type rawAnswer struct {
	status int
	header http.Header
	body   string
}

// send writes raw to the server on its own connection, concurrently with
// reading the answer: a server may answer (413, 431) before it has read
// everything, and the rest of a huge request must not block the test.
func (s hostileServers) send(t *testing.T, server, raw string) rawAnswer {
	t.Helper()
	conn, err := net.Dial("tcp", s[server].Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(20*time.Second)))
	go func() { _, _ = io.WriteString(conn, raw) }()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Header.Del("Date")
	return rawAnswer{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// rawRequest builds a raw HTTP/1.1 request; headers are "Name: value" lines
// written as they are, and a Host line is added when host is not "-".
func rawRequest(method, target, host string, headers ...string) string {
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\n")
	if host != "-" {
		b.WriteString("Host: " + host + "\r\n")
	}
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	return b.String()
}

// rawAdminRequest is a request to the admin API with a body.
func rawAdminRequest(method, target, contentType, body string) string {
	return rawRequest(method, target, "admin.example.com", "X-Admin-API-Key: "+hostileKey,
		"Content-Type: "+contentType, "Content-Length: "+strconv.Itoa(len(body))) + body
}

func TestHostileInputs(t *testing.T) {
	s := newHostileServers(t)
	const sub = ".seed.example.com"
	long := strings.Repeat("a", 64)
	unknown63 := strings.Repeat("z", 63)
	segments := strings.Repeat("/x", 10000)
	nested := func(depth int) string {
		return `{"id":"deep","name":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`
	}
	tenMB := `{"id":"big","name":"` + strings.Repeat("x", 10<<20) + `"}`

	tests := []struct {
		name   string
		server string
		raw    string
		by     string // who answers: "tenancy", "net/http" or "ServeMux"
		status int
		body   string // exact, when not empty
		header map[string]string
		// sameAs is another request whose answer must be identical
		// (status, headers but Date, body).
		sameAs string
	}{
		// Hosts (subdomain mode).
		{name: "header over 1 MB", server: "host", by: "net/http", status: 431,
			raw:  rawRequest("GET", "/mcp", "acme"+sub, "X-Big: "+strings.Repeat("a", 1<<20+8192)),
			body: "431 Request Header Fields Too Large"},
		{name: "NUL in Host", server: "host", by: "net/http", status: 400,
			raw: rawRequest("GET", "/mcp", "ac\x00me"+sub), body: "400 Bad Request"},
		{name: "Cyrillic а in Host", server: "host", by: "net/http", status: 400,
			raw: rawRequest("GET", "/mcp", "аcme"+sub), body: "400 Bad Request: malformed Host header"},
		{name: "fullwidth Host", server: "host", by: "net/http", status: 400,
			raw: rawRequest("GET", "/mcp", "ａｃｍｅ"+sub), body: "400 Bad Request: malformed Host header"},
		{name: "Kelvin sign in Host", server: "host", by: "net/http", status: 400,
			raw: rawRequest("GET", "/mcp", "acme-\u212a"+sub), body: "400 Bad Request: malformed Host header"},
		{name: "{x} in Host", server: "host", by: "net/http", status: 400,
			raw: rawRequest("GET", "/mcp", "{x}"+sub), body: "400 Bad Request: malformed Host header"},
		{name: "? in Host", server: "host", by: "net/http", status: 400,
			raw: rawRequest("GET", "/mcp", "ac?me"+sub), body: "400 Bad Request: malformed Host header"},
		{name: "[ in Host", server: "host", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", "[acme"+sub), body: hostileMissing},
		{name: "%2F in Host", server: "host", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", "acme%2F"+sub), body: hostileInvalid},
		{name: "%00 in Host", server: "host", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", "acme%00"+sub), body: hostileInvalid},
		{name: "../ in Host", server: "host", by: "net/http", status: 400,
			raw: rawRequest("GET", "/mcp", "../acme"+sub), body: "400 Bad Request: malformed Host header"},
		{name: "* in Host", server: "host", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", "*"+sub), body: hostileInvalid},
		{name: "upper-case Host is the same host", server: "host", by: "tenancy", status: 200,
			raw: rawRequest("GET", "/mcp", "ACME.SEED.EXAMPLE.COM"), body: "acme /mcp"},
		{name: "leading - in Host", server: "host", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", "-acme"+sub), body: hostileInvalid},
		{name: "trailing - in Host", server: "host", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", "acme-"+sub), body: hostileInvalid},
		{name: "64-byte ID in Host", server: "host", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", long+sub), body: hostileInvalid},
		{name: "63-byte unknown ID in Host", server: "host", by: "tenancy", status: 404,
			raw: rawRequest("GET", "/mcp", unknown63+sub), body: hostileNotFound},
		{name: "admin as a tenant (Host)", server: "host", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", "admin"+sub), body: hostileInvalid},
		{name: "nested label", server: "host", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", "x.acme"+sub), body: hostileInvalid},
		{name: "Host repeated", server: "host", by: "net/http", status: 400,
			raw: rawRequest("GET", "/mcp", "acme"+sub, "Host: beta"+sub), body: "400 Bad Request"},
		{name: "empty Host", server: "host", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", ""), body: hostileMissing},
		{name: "no Host", server: "host", by: "net/http", status: 400,
			raw: rawRequest("GET", "/mcp", "-"), body: "400 Bad Request: missing required Host header"},
		{name: "unknown custom domain", server: "host", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", "evil.example.org"), body: hostileMissing},
		{name: "suspended same as unknown (Host)", server: "host", by: "tenancy", status: 404,
			raw: rawRequest("GET", "/mcp", "gone"+sub), body: hostileNotFound, sameAs: rawRequest("GET", "/mcp", "nope"+sub)},
		{name: "forged X-Forwarded-Host ignored", server: "host", by: "tenancy", status: 200,
			raw: rawRequest("GET", "/mcp", "beta"+sub, "X-Forwarded-Host: acme"+sub), body: "beta /mcp"},

		// Paths (path mode behind the host's ServeMux).
		{name: "NUL byte in path", server: "path", by: "net/http", status: 400,
			raw: rawRequest("GET", "/ac\x00me/mcp", "seed.example.com"), body: "400 Bad Request"},
		{name: "%00 in path", server: "path", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/ac%00me/mcp", "seed.example.com"), body: hostileInvalid},
		{name: "%2F in the tenant segment", server: "path", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/acme%2Fx/mcp", "seed.example.com"), body: hostileInvalid},
		{name: "escaped ID letter", server: "path", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/%61cme/mcp", "seed.example.com"), body: hostileInvalid},
		{name: "../ to the admin API", server: "path", by: "ServeMux", status: 307,
			raw: rawRequest("GET", "/acme/../admin/tenants", "seed.example.com"), header: map[string]string{"Location": "/admin/tenants"}},
		{name: "/./ segment", server: "path", by: "ServeMux", status: 307,
			raw: rawRequest("GET", "/./acme/mcp", "seed.example.com"), header: map[string]string{"Location": "/acme/mcp"}},
		{name: "empty first segment", server: "path", by: "ServeMux", status: 307,
			raw: rawRequest("GET", "//acme/mcp", "seed.example.com"), header: map[string]string{"Location": "/acme/mcp"}},
		{name: "{x} as a segment", server: "path", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/{x}/mcp", "seed.example.com"), body: hostileInvalid},
		{name: "* as a segment", server: "path", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/*/mcp", "seed.example.com"), body: hostileInvalid},
		{name: "* as the request target", server: "path", by: "ServeMux", status: 400,
			raw: rawRequest("GET", "*", "seed.example.com"), body: ""},
		{name: "? in front of the path", server: "path", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/?/mcp", "seed.example.com"), body: hostileMissing},
		{name: "[ as a segment", server: "path", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/[/mcp", "seed.example.com"), body: hostileInvalid},
		{name: "Cyrillic а, escaped", server: "path", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/%D0%B0cme/mcp", "seed.example.com"), body: hostileInvalid},
		{name: "Cyrillic а, raw bytes", server: "path", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/аcme/mcp", "seed.example.com"), body: hostileInvalid},
		{name: "fullwidth, raw bytes", server: "path", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/ａｃｍｅ/mcp", "seed.example.com"), body: hostileInvalid},
		{name: "Kelvin sign, raw bytes", server: "path", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/acme-\u212a/mcp", "seed.example.com"), body: hostileInvalid},
		{name: "upper case in path", server: "path", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/ACME/mcp", "seed.example.com"), body: hostileInvalid},
		{name: "leading - in path", server: "path", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/-acme/mcp", "seed.example.com"), body: hostileInvalid},
		{name: "trailing - in path", server: "path", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/acme-/mcp", "seed.example.com"), body: hostileInvalid},
		{name: "64-byte ID in path", server: "path", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/"+long+"/mcp", "seed.example.com"), body: hostileInvalid},
		{name: "10,000 segments after an unknown tenant", server: "path", by: "tenancy", status: 404,
			raw: rawRequest("GET", "/nope"+segments, "seed.example.com"), body: hostileNotFound},
		{name: "10,000 segments after a tenant", server: "path", by: "tenancy", status: 200,
			raw: rawRequest("GET", "/beta"+segments, "seed.example.com"), body: "beta " + segments},
		{name: "10,000 empty segments", server: "path", by: "ServeMux", status: 307,
			raw: rawRequest("GET", strings.Repeat("/", 10000), "seed.example.com"), header: map[string]string{"Location": "/"}},
		{name: "suspended same as unknown (path)", server: "path", by: "tenancy", status: 404,
			raw: rawRequest("GET", "/gone/mcp", "seed.example.com"), body: hostileNotFound, sameAs: rawRequest("GET", "/nope/mcp", "seed.example.com")},

		// Paths, with the middleware as the whole server.
		{name: "admin as a tenant (path, bare)", server: "path-bare", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/admin/tenants", "seed.example.com"), body: hostileInvalid},
		{name: "../ first (bare)", server: "path-bare", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/../acme/mcp", "seed.example.com"), body: hostileInvalid},
		{name: "/./ first (bare)", server: "path-bare", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/./acme/mcp", "seed.example.com"), body: hostileInvalid},
		{name: "../ after the tenant stays with it (bare)", server: "path-bare", by: "tenancy", status: 200,
			raw: rawRequest("GET", "/acme/../beta/mcp", "seed.example.com"), body: "acme /../beta/mcp"},
		{name: "empty first segment (bare)", server: "path-bare", by: "tenancy", status: 400,
			raw: rawRequest("GET", "//acme/mcp", "seed.example.com"), body: hostileMissing},
		{name: "10,000 empty segments (bare)", server: "path-bare", by: "tenancy", status: 400,
			raw: rawRequest("GET", strings.Repeat("/", 10000), "seed.example.com"), body: hostileMissing},

		// The tenant header.
		{name: "NUL in header", server: "header", by: "net/http", status: 400,
			raw: rawRequest("GET", "/mcp", "seed.example.com", "X-Tenant-ID: ac\x00me"), body: "400 Bad Request"},
		{name: "header repeated", server: "header", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", "seed.example.com", "X-Tenant-ID: acme", "X-Tenant-ID: beta"), body: hostileInvalid},
		{name: "header repeated, same value", server: "header", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", "seed.example.com", "X-Tenant-ID: acme", "x-tenant-id: acme"), body: hostileInvalid},
		{name: "list in one header", server: "header", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", "seed.example.com", "X-Tenant-ID: acme, beta"), body: hostileInvalid},
		{name: "empty header", server: "header", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", "seed.example.com", "X-Tenant-ID: "), body: hostileMissing},
		{name: "upper case in header", server: "header", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", "seed.example.com", "X-Tenant-ID: ACME"), body: hostileInvalid},
		{name: "Cyrillic а in header", server: "header", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", "seed.example.com", "X-Tenant-ID: аcme"), body: hostileInvalid},
		{name: "fullwidth in header", server: "header", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", "seed.example.com", "X-Tenant-ID: ａｃｍｅ"), body: hostileInvalid},
		{name: "Kelvin sign in header", server: "header", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", "seed.example.com", "X-Tenant-ID: acme-\u212a"), body: hostileInvalid},
		{name: "{x} in header", server: "header", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", "seed.example.com", "X-Tenant-ID: {x}"), body: hostileInvalid},
		{name: "%00 in header", server: "header", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", "seed.example.com", "X-Tenant-ID: acme%00"), body: hostileInvalid},
		{name: "? and [ in header", server: "header", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", "seed.example.com", "X-Tenant-ID: ac?m[e"), body: hostileInvalid},
		{name: "* in header", server: "header", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", "seed.example.com", "X-Tenant-ID: *"), body: hostileInvalid},
		{name: "%2F in header", server: "header", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", "seed.example.com", "X-Tenant-ID: acme%2F"), body: hostileInvalid},
		{name: "../ in header", server: "header", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", "seed.example.com", "X-Tenant-ID: ../acme"), body: hostileInvalid},
		{name: "64-byte ID in header", server: "header", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", "seed.example.com", "X-Tenant-ID: "+long), body: hostileInvalid},
		{name: "admin as a tenant (header)", server: "header", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/mcp", "seed.example.com", "X-Tenant-ID: admin"), body: hostileInvalid},
		{name: "suspended same as unknown (header)", server: "header", by: "tenancy", status: 404,
			raw: rawRequest("GET", "/mcp", "seed.example.com", "X-Tenant-ID: gone"), body: hostileNotFound,
			sameAs: rawRequest("GET", "/mcp", "seed.example.com", "X-Tenant-ID: nope")},

		// The admin API.
		{name: "10 MB body", server: "path", by: "tenancy", status: 413,
			raw: rawAdminRequest("POST", "/admin/tenants", "application/json", tenMB), body: hostileTooLarge},
		{name: "10 MB body, chunked", server: "path", by: "tenancy", status: 413,
			raw: rawChunked("POST", "/admin/tenants", tenMB), body: hostileTooLarge},
		{name: "JSON nested 100,000 deep", server: "path", by: "tenancy", status: 413,
			raw: rawAdminRequest("POST", "/admin/tenants", "application/json", nested(100000)), body: hostileTooLarge},
		{name: "JSON nested 30,000 deep (fits in 64 KiB)", server: "path", by: "tenancy", status: 400,
			raw:  rawAdminRequest("POST", "/admin/tenants", "application/json", nested(30000)),
			body: `{"error":"invalid JSON: invalid character '[' exceeded max depth"}`},
		{name: "JSON nested 9,000 deep in a field", server: "path", by: "tenancy", status: 400,
			raw:  rawAdminRequest("POST", "/admin/tenants", "application/json", nested(9000)),
			body: `{"error":"invalid tenant: cannot unmarshal array into Go struct field Tenant.name of type string"}`},
		{name: "merge patch nested 9,000 deep", server: "path", by: "tenancy", status: 400,
			raw: rawAdminRequest("PATCH", "/admin/tenants/beta", "application/merge-patch+json",
				`{"oidc":`+strings.Repeat(`{"x":`, 9000)+`1`+strings.Repeat(`}`, 9000)+`}`),
			body: `{"error":"unknown field \"oidc.x\""}`},
		{name: "duplicate JSON keys", server: "path", by: "tenancy", status: 400,
			raw:  rawAdminRequest("POST", "/admin/tenants", "application/json", `{"id":"dup","name":"D","status":"active","status":"suspended"}`),
			body: `{"error":"invalid JSON: duplicate member \"status\""}`},
		{name: "Content-Type not JSON", server: "path", by: "tenancy", status: 415,
			raw:  rawAdminRequest("POST", "/admin/tenants", "text/plain", `{"id":"plain","name":"P"}`),
			body: `{"error":"Content-Type must be application/json"}`},
		{name: "unknown field", server: "path", by: "tenancy", status: 400,
			raw:  rawAdminRequest("POST", "/admin/tenants", "application/json", `{"id":"x","name":"X","plan":"gold"}`),
			body: `{"error":"unknown field \"plan\""}`},
		{name: "invalid UTF-8 in a name", server: "path", by: "tenancy", status: 400,
			raw:  rawAdminRequest("POST", "/admin/tenants", "application/json", "{\"id\":\"dup\",\"name\":\"Caf\xe9\"}"),
			body: `{"error":"invalid JSON: not valid UTF-8"}`},
		{name: "unpaired surrogate escape in a name", server: "path", by: "tenancy", status: 400,
			raw:  rawAdminRequest("PATCH", "/admin/tenants/beta", "application/merge-patch+json", `{"name":"B\udc00"}`),
			body: `{"error":"invalid JSON: unpaired UTF-16 surrogate escape"}`},
		{name: "IP literal as a domain", server: "host", by: "tenancy", status: 400,
			raw:  rawAdminRequest("POST", "/admin/tenants", "application/json", `{"id":"dup","name":"D","domain":"127.0.0.1"}`),
			body: `{"error":"tenant: invalid tenant: domain must be a lower-case host name without port or trailing dot"}`},
		{name: "numeric top label as a domain", server: "host", by: "tenancy", status: 400,
			raw:  rawAdminRequest("PATCH", "/admin/tenants/beta", "application/merge-patch+json", `{"domain":"0x7f.0x1"}`),
			body: `{"error":"tenant: invalid tenant: domain must be a lower-case host name without port or trailing dot"}`},
		{name: "admin path with a malformed ID", server: "path", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/admin/tenants/ACME", "seed.example.com", "X-Admin-API-Key: "+hostileKey), body: hostileInvalid},
		{name: "admin path with an escaped slash", server: "path", by: "tenancy", status: 400,
			raw: rawRequest("GET", "/admin/tenants/acme%2Fx", "seed.example.com", "X-Admin-API-Key: "+hostileKey), body: hostileInvalid},
		{name: "wrong admin key, right length", server: "path", by: "tenancy", status: 401,
			raw:  rawRequest("GET", "/admin/tenants", "seed.example.com", "X-Admin-API-Key: "+strings.Repeat("x", len(hostileKey))),
			body: hostileBadKey, sameAs: rawRequest("GET", "/admin/tenants", "seed.example.com", "X-Admin-API-Key: short")},
		{name: "admin key repeated", server: "path", by: "tenancy", status: 401,
			raw:  rawRequest("GET", "/admin/tenants", "seed.example.com", "X-Admin-API-Key: "+hostileKey, "X-Admin-API-Key: "+hostileKey),
			body: hostileBadKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.send(t, tt.server, tt.raw)
			t.Logf("%d %.80s (by %s)", got.status, strings.TrimSpace(got.body), tt.by)
			assert.Equal(t, tt.status, got.status, "answered by %s: %s", tt.by, got.body)
			if tt.body != "" {
				assert.Equal(t, tt.body, strings.TrimSpace(got.body))
			}
			if tt.by == "tenancy" && tt.status >= 400 {
				assert.Equal(t, "application/json", got.header.Get("Content-Type"))
			}
			for k, v := range tt.header {
				assert.Equal(t, v, got.header.Get(k), k)
			}
			if tt.sameAs != "" {
				assert.Equal(t, got, s.send(t, tt.server, tt.sameAs), "answers must be identical")
			}
			s.assertHealthy(t)
		})
	}
}

// assertHealthy checks that every server still serves its tenants and the
// admin API.
func (s hostileServers) assertHealthy(t *testing.T) {
	t.Helper()
	for _, c := range []struct{ server, raw, body string }{
		{"host", rawRequest("GET", "/mcp", "acme.seed.example.com"), "acme /mcp"},
		{"host", rawRequest("GET", "/mcp", "beta.seed.example.com:80"), "beta /mcp"},
		{"host", rawRequest("GET", "/mcp", "mcp.acme.com"), "acme /mcp"},
		{"path", rawRequest("GET", "/acme/mcp", "seed.example.com"), "acme /mcp"},
		{"path", rawRequest("GET", "/beta/mcp", "seed.example.com"), "beta /mcp"},
		{"path-bare", rawRequest("GET", "/beta/mcp", "seed.example.com"), "beta /mcp"},
		{"header", rawRequest("GET", "/mcp", "seed.example.com", "X-Tenant-ID: acme"), "acme /mcp"},
		{"header", rawRequest("GET", "/mcp", "seed.example.com", "X-Tenant-ID: beta"), "beta /mcp"},
	} {
		got := s.send(t, c.server, c.raw)
		assert.Equal(t, 200, got.status, "%s %q: %s", c.server, c.raw, got.body)
		assert.Equal(t, c.body, got.body, c.server)
	}
	got := s.send(t, "path", rawRequest("GET", "/admin/tenants?limit=10", "seed.example.com", "X-Admin-API-Key: "+hostileKey))
	assert.Equal(t, 200, got.status, got.body)
	assert.Contains(t, got.body, `"id":"acme"`)
	assert.NotContains(t, got.body, `"id":"dup"`, "nothing refused was created")
	assert.NotContains(t, got.body, `"id":"big"`)
}

// rawChunked is a POST to the admin API whose body has no declared length.
func rawChunked(method, target, body string) string {
	var b strings.Builder
	b.WriteString(rawRequest(method, target, "admin.example.com",
		"X-Admin-API-Key: "+hostileKey, "Content-Type: application/json", "Transfer-Encoding: chunked"))
	for len(body) > 0 {
		n := min(len(body), 1<<16)
		b.WriteString(strconv.FormatInt(int64(n), 16) + "\r\n" + body[:n] + "\r\n")
		body = body[n:]
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

package middleware_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/seedmcp/tenancy/middleware"
	"github.com/seedmcp/tenancy/resolve"
	"github.com/seedmcp/tenancy/store/memstore"
	"github.com/seedmcp/tenancy/tenant"
)

// The fuzz targets of this file send arbitrary hosts, paths and header
// values through the tenant middleware with the real resolvers of the three
// identification modes, over a memstore that holds active tenants, one with
// a custom domain, and a suspended one. Each answer is checked against a
// reference that derives the tenant the simple way (a regular expression,
// no shortcuts): 200 exactly when the reference names an active tenant, and
// then with that tenant in the context; 404 exactly when it names a tenant
// that is unknown or suspended, always the same bytes and headers; 400 with
// one of the two bodies middleware.Tenant documents (missing, invalid)
// when it names none.

const fuzzBase = "seed.example.com"

var (
	// fuzzActive are the active tenants; fuzzDomains their custom domains.
	fuzzActive  = []string{"acme", "beta", "a1", strings.Repeat("z", 63)}
	fuzzDomains = map[string]string{"mcp.acme.com": "acme", "gone.example.org": "gone"}
	// fuzzSuspended exists but must be answered like an unknown tenant.
	fuzzSuspended = "gone"

	// refID is the tenant ID rule of tenant.ValidID as a regular
	// expression, independent of the byte table the library uses.
	refID = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

	fuzzMissing  = `{"error":"Missing tenant identifier"}`
	fuzzInvalid  = `{"error":"Invalid tenant identifier"}`
	fuzzNotFound = `{"error":"Tenant not found or inactive"}`
)

func refValidID(s string) bool { return refID.MatchString(s) && s != "admin" }

// fuzzTenants returns a memstore with the fuzz targets' tenants.
func fuzzTenants(tb testing.TB) *memstore.Tenants {
	tenants := memstore.New(memstore.Config{}).Tenants()
	ctx := context.Background()
	add := func(id string, status tenant.Status) {
		t := &tenant.Tenant{ID: id, Name: id, Status: status}
		for d, owner := range fuzzDomains {
			if owner == id {
				t.Domain = d
			}
		}
		if _, err := tenants.Create(ctx, t); err != nil {
			tb.Fatal(err)
		}
	}
	for _, id := range fuzzActive {
		add(id, tenant.StatusActive)
	}
	add(fuzzSuspended, tenant.StatusSuspended)
	return tenants
}

// fuzzServer is the tenant middleware over resolver, in front of a handler
// that answers "ok <tenant> <path>", with the 404 answer of an unknown
// tenant as the reference for every 404.
type fuzzServer struct {
	h        http.Handler
	notFound http.Header
}

func newFuzzServer(tb testing.TB, newResolver func(*memstore.Tenants) resolve.Resolver, unknown *http.Request) *fuzzServer {
	tenants := fuzzTenants(tb)
	mw, err := middleware.Tenant(middleware.TenantConfig{
		Resolver:  newResolver(tenants),
		Tenants:   tenants,
		OnRefused: middleware.LogRefusal(slog.New(slog.DiscardHandler)),
	})
	if err != nil {
		tb.Fatal(err)
	}
	s := &fuzzServer{h: mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, ok := tenant.FromContext(r.Context())
		if !ok {
			w.WriteHeader(http.StatusTeapot)
			return
		}
		_, _ = io.WriteString(w, "ok "+t.ID+" "+r.URL.Path)
	}))}
	w := s.serve(unknown)
	if w.Code != http.StatusNotFound || w.Body.String() != fuzzNotFound {
		tb.Fatalf("reference 404: %d %s", w.Code, w.Body.String())
	}
	s.notFound = w.Header().Clone()
	return s
}

func (s *fuzzServer) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	return w
}

// check compares an answer with the reference ID want ("" when a correct
// resolver finds none) and returns the path the handler saw on a 200.
func (s *fuzzServer) check(t *testing.T, input string, want string, w *httptest.ResponseRecorder) string {
	t.Helper()
	body := w.Body.String()
	active := slices.Contains(fuzzActive, want)
	switch {
	case active:
		prefix := "ok " + want + " "
		if w.Code != http.StatusOK || !strings.HasPrefix(body, prefix) {
			t.Fatalf("%s: want 200 for tenant %q, got %d %q", input, want, w.Code, body)
		}
		return strings.TrimPrefix(body, prefix)
	case want != "":
		if w.Code != http.StatusNotFound || body != fuzzNotFound {
			t.Fatalf("%s: want 404 for tenant %q, got %d %q", input, want, w.Code, body)
		}
		if !maps.EqualFunc(w.Header(), s.notFound, slices.Equal) {
			t.Fatalf("%s: 404 headers %v differ from an unknown tenant's %v", input, w.Header(), s.notFound)
		}
	default:
		if w.Code != http.StatusBadRequest || (body != fuzzMissing && body != fuzzInvalid) {
			t.Fatalf("%s: want 400 (no tenant), got %d %q", input, w.Code, body)
		}
	}
	return ""
}

// refHost derives the tenant of a Host header value the simple way: an
// optional decimal port, one optional trailing dot, ASCII letters folded,
// then either exactly one valid label in front of the base domain or a
// custom domain.
func refHost(h string) string {
	if strings.HasPrefix(h, "[") || strings.Count(h, ":") > 1 {
		return ""
	}
	if name, port, ok := strings.Cut(h, ":"); ok {
		for _, c := range []byte(port) {
			if c < '0' || c > '9' {
				return ""
			}
		}
		h = name
	}
	b := []byte(strings.TrimSuffix(h, "."))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	h = string(b)
	if label, ok := strings.CutSuffix(h, "."+fuzzBase); ok {
		if refValidID(label) {
			return label
		}
		return ""
	}
	return fuzzDomains[h]
}

func FuzzMiddlewareHost(f *testing.F) {
	for _, h := range []string{
		"acme.seed.example.com", "ACME.Seed.Example.COM", "acme.seed.example.com.", "acme.seed.example.com:8443",
		"acme.seed.example.com.:8443", "acme.seed.example.com:", "acme.seed.example.com:x", "acme.seed.example.com:-1",
		"gone.seed.example.com", "nope.seed.example.com", "mcp.acme.com", "MCP.ACME.COM:443", "gone.example.org",
		"seed.example.com", ".seed.example.com", "a.acme.seed.example.com", "admin.seed.example.com",
		"-acme.seed.example.com", "acme-.seed.example.com", "a--b.seed.example.com",
		strings.Repeat("a", 64) + ".seed.example.com", strings.Repeat("z", 63) + ".seed.example.com",
		"аcme.seed.example.com", "ａｃｍｅ.seed.example.com", "acme-\u212a.seed.example.com",
		"ac\x00me.seed.example.com", "acme.seed.example.com\x00", "{x}.seed.example.com", "*.seed.example.com",
		"?.seed.example.com", "[.seed.example.com", "[::1]:80", "::1", "127.0.0.1", "127.0.0.1:8080",
		"acme.seed.example.com..", "acme..seed.example.com", "acme.seed.example.com:80:80", "", ":", ".", "acme",
		"acme.seed.example.com/x", "acme.seed.example.com@evil.com", "evil.com#acme.seed.example.com",
		"acme%2eseed.example.com", "1.seed.example.com", "seed.example.com.1",
	} {
		f.Add(h)
	}
	s := newFuzzServer(f, func(tenants *memstore.Tenants) resolve.Resolver {
		sub, err := resolve.Subdomain(fuzzBase)
		if err != nil {
			f.Fatal(err)
		}
		return resolve.Chain(sub, resolve.Domain(tenants.LookupDomain))
	}, &http.Request{Method: "GET", URL: &url.URL{Path: "/"}, Host: "nope." + fuzzBase, Header: http.Header{}})

	f.Fuzz(func(t *testing.T, host string) {
		r := &http.Request{Method: "GET", URL: &url.URL{Path: "/mcp"}, Host: host, Header: http.Header{}}
		path := s.check(t, "host "+q(host), refHost(host), s.serve(r))
		if path != "" && path != "/mcp" {
			t.Fatalf("host %q: the handler saw path %q", host, path)
		}
	})
}

// refPath derives the tenant of a URL the simple way: the first segment of
// the path as it is on the wire (the escaped path), taken as it is.
func refPath(u *url.URL) string {
	esc := u.EscapedPath()
	if !strings.HasPrefix(esc, "/") {
		return ""
	}
	seg, _, _ := strings.Cut(esc[1:], "/")
	if refValidID(seg) {
		return seg
	}
	return ""
}

func FuzzMiddlewarePath(f *testing.F) {
	for _, p := range [][2]string{
		{"/acme/mcp", ""}, {"/acme", ""}, {"/acme/", ""}, {"/", ""}, {"", ""}, {"//acme/mcp", ""},
		{"/acme/x/mcp", "/acme%2Fx/mcp"}, {"/acme/mcp", "/%61cme/mcp"}, {"/acme/mcp", "/other/mcp"},
		{"/./acme/mcp", ""}, {"/../acme/mcp", ""}, {"/acme/../admin", ""}, {"/admin/tenants", ""},
		{"/ac\x00me/mcp", ""}, {"/ac\x00me/mcp", "/ac%00me/mcp"}, {"/{x}/mcp", ""}, {"/*/mcp", ""}, {"*", ""},
		{"/?/mcp", ""}, {"/[/mcp", ""}, {"/ACME/mcp", ""}, {"/-acme/mcp", ""}, {"/acme-/mcp", ""},
		{"/аcme/mcp", ""}, {"/ａｃｍｅ/mcp", ""}, {"/acme-\u212a/mcp", ""}, {"/gone/mcp", ""}, {"/nope/mcp", ""},
		{"/" + strings.Repeat("a", 64) + "/mcp", ""}, {"/" + strings.Repeat("z", 63) + "/mcp", ""},
		{"/acme" + strings.Repeat("/x", 10000), ""}, {"/acme/a b", "/acme/a b"}, {"acme/mcp", ""},
		{"/acme%2F/mcp", ""}, {"/acme/mcp", "/acme/mcp"}, {"/acme/x%2Fy", "/acme/x%2Fy"}, {"/acme/x/y", "/acme/x%2Fy"},
	} {
		f.Add(p[0], p[1])
	}
	s := newFuzzServer(f, func(*memstore.Tenants) resolve.Resolver { return resolve.Path() },
		&http.Request{Method: "GET", URL: &url.URL{Path: "/nope/mcp"}, Host: fuzzBase, Header: http.Header{}})

	f.Fuzz(func(t *testing.T, p, rp string) {
		u := &url.URL{Path: p, RawPath: rp}
		r := &http.Request{Method: "GET", URL: u, Host: fuzzBase, Header: http.Header{}}
		want := refPath(u)
		got := s.check(t, "path "+q(p)+" raw "+q(rp), want, s.serve(r))
		if got == "" {
			return
		}
		// The handler sees the path without the tenant segment.
		if p != "/"+want+got && !(p == "/"+want && got == "/") {
			t.Fatalf("path %q raw %q: the handler saw %q, not the path minus /%s", p, rp, got, want)
		}
		if u.Path != p || u.RawPath != rp {
			t.Fatalf("the middleware modified the caller's URL: %q %q", u.Path, u.RawPath)
		}
	})
}

// refHeader derives the tenant of the X-Tenant-ID values: exactly one
// value, which must already be a valid ID.
func refHeader(values []string) string {
	if len(values) == 1 && refValidID(values[0]) {
		return values[0]
	}
	return ""
}

func FuzzMiddlewareHeader(f *testing.F) {
	for _, v := range [][2]string{
		{"acme", ""}, {"beta", "acme"}, {"ACME", ""}, {" acme", ""}, {"acme ", ""}, {"acme, beta", ""},
		{"", ""}, {"gone", ""}, {"nope", ""}, {"admin", ""}, {"-acme", ""}, {"acme-", ""},
		{"ac\x00me", ""}, {"acme\r\nX-Tenant-ID: beta", ""}, {"{x}", ""}, {"*", ""}, {"?", ""}, {"[", ""},
		{"аcme", ""}, {"ａｃｍｅ", ""}, {"acme-\u212a", ""}, {strings.Repeat("a", 64), ""}, {strings.Repeat("z", 63), ""},
		{"acme", "acme"}, {"", "acme"}, {"a1", ""},
	} {
		for n := range uint8(4) {
			f.Add(v[0], v[1], n)
		}
	}
	const name = "X-Tenant-ID"
	s := newFuzzServer(f, func(*memstore.Tenants) resolve.Resolver {
		h, err := resolve.Header(name)
		if err != nil {
			f.Fatal(err)
		}
		return h
	}, &http.Request{Method: "GET", URL: &url.URL{Path: "/mcp"}, Host: fuzzBase, Header: http.Header{"X-Tenant-Id": {"nope"}}})

	f.Fuzz(func(t *testing.T, v1, v2 string, n uint8) {
		hdr := http.Header{}
		var values []string
		switch n % 4 {
		case 1:
			values = []string{v1}
		case 2:
			values = []string{v1, v2}
		case 3:
			// A key that is not in canonical form is not the header:
			// net/http canonicalises names before a handler sees them.
			hdr[strings.ToLower(name)] = []string{v1}
		}
		if values != nil {
			hdr[http.CanonicalHeaderKey(name)] = values
		}
		r := &http.Request{Method: "GET", URL: &url.URL{Path: "/mcp"}, Host: fuzzBase, Header: hdr}
		got := s.check(t, "header "+q(v1)+" "+q(v2)+" n="+fmt.Sprint(n%4), refHeader(values), s.serve(r))
		if got != "" && got != "/mcp" {
			t.Fatalf("header %q: the handler saw path %q", values, got)
		}
	})
}

// q quotes s for a failure message.
func q(s string) string { return fmt.Sprintf("%q", s) }

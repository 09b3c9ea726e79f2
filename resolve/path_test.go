package resolve

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pathRequest builds a server-side request for target, as the http server
// would parse it (Path decoded, RawPath kept when it differs).
func pathRequest(t testing.TB, target string) *http.Request {
	t.Helper()
	u, err := url.ParseRequestURI(target)
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.URL = u
	req.RequestURI = target
	return req
}

func TestPath(t *testing.T) {
	tests := []struct {
		target string
		want   outcome
		wantID string
	}{
		{"/acme/mcp", found, "acme"},
		{"/acme", found, "acme"},
		{"/acme/", found, "acme"},
		{"/acme?x=1", found, "acme"},
		{"/acme/../admin", found, "acme"}, // the rest of the path is the host's
		{"/acme/x%2Fy", found, "acme"},
		{"/acme-2/mcp", found, "acme-2"},
		{"/" + strings.Repeat("a", 63) + "/mcp", found, strings.Repeat("a", 63)},

		{"/", missing, ""},
		{"//acme/mcp", missing, ""},
		{"/?acme", missing, ""},
		{"*", missing, ""},

		{"/acme%2Fx/mcp", invalid, ""},
		{"/acme%2fx/mcp", invalid, ""},
		{"/%61cme/mcp", invalid, ""}, // an escaped ID is not an alias
		{"/ac%20me/mcp", invalid, ""},
		{"/./acme/mcp", invalid, ""},
		{"/../acme/mcp", invalid, ""},
		{"/%2e%2e/acme", invalid, ""},
		{"/ACME/mcp", invalid, ""},
		{"/admin/tenants", invalid, ""},
		{"/-acme/mcp", invalid, ""},
		{"/acme;x/mcp", invalid, ""},
		{"/ac:me/mcp", invalid, ""},
		{"/" + strings.Repeat("a", 64) + "/mcp", invalid, ""},
		{"/{x}/mcp", invalid, ""},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			assertResolves(t, Path(), pathRequest(t, tt.target), tt.want, tt.wantID)
		})
	}
}

func TestPathEdgeRequests(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "/acme", nil)
	req.URL = nil
	assertResolves(t, Path(), req, missing, "")

	// A client-side URL may have an empty or relative path.
	req = httptest.NewRequest(http.MethodGet, "/acme", nil)
	req.URL = &url.URL{}
	assertResolves(t, Path(), req, missing, "")
	req.URL = &url.URL{Path: "acme/mcp"}
	assertResolves(t, Path(), req, missing, "")

	// A RawPath that does not encode Path is ignored, as EscapedPath does.
	req.URL = &url.URL{Path: "/acme/mcp", RawPath: "/other/mcp"}
	assertResolves(t, Path(), req, found, "acme")
}

func TestPathRewrite(t *testing.T) {
	tests := []struct {
		target      string
		id          string
		wantPath    string
		wantRawPath string
	}{
		{"/acme/mcp", "acme", "/mcp", ""},
		{"/acme", "acme", "/", ""},
		{"/acme/", "acme", "/", ""},
		{"/acme/mcp/", "acme", "/mcp/", ""},
		{"/acme//mcp", "acme", "//mcp", ""},
		{"/acme/../admin", "acme", "/../admin", ""},
		{"/acme/x%2Fy", "acme", "/x/y", "/x%2Fy"},
		{"/acme/a%20b", "acme", "/a b", ""},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			req := pathRequest(t, tt.target)
			before := *req
			beforeURL := *req.URL

			id, err := Path().Resolve(req)
			require.NoError(t, err)
			require.Equal(t, tt.id, id)
			got := Path().(Rewriter).Rewrite(req, id)

			require.NotSame(t, req, got)
			require.NotSame(t, req.URL, got.URL)
			assert.Equal(t, tt.wantPath, got.URL.Path)
			assert.Equal(t, tt.wantRawPath, got.URL.RawPath)
			assert.Equal(t, req.URL.RawQuery, got.URL.RawQuery)
			assert.Equal(t, req.Host, got.Host)
			assert.Equal(t, req.Context(), got.Context())

			// The caller's request and URL are untouched.
			assert.Equal(t, beforeURL, *req.URL)
			assert.Equal(t, before.URL, req.URL)
			assert.Equal(t, tt.target, req.RequestURI)
		})
	}
}

func TestPathRewriteMismatch(t *testing.T) {
	rw := Path().(Rewriter)
	for _, tc := range []struct{ target, id string }{
		{"/acme/mcp", "beta"},
		{"/acme-corp/mcp", "acme"}, // a prefix of the segment is not the segment
		{"/acme/mcp", ""},
		{"/", "acme"},
		{"/%61cme/mcp", "acme"},
	} {
		req := pathRequest(t, tc.target)
		assert.Same(t, req, rw.Rewrite(req, tc.id), "%s with %q", tc.target, tc.id)
	}
	req := pathRequest(t, "/acme")
	req.URL = nil
	assert.Same(t, req, rw.Rewrite(req, "acme"))
}

// TestPathRewriteServeMux shows the walkthrough of the package doc: the host
// mounts /mcp once, and a path-mode request reaches it.
func TestPathRewriteServeMux(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /mcp", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("mcp " + r.URL.Path))
	})
	req := pathRequest(t, "/acme/mcp")
	id, err := Path().Resolve(req)
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, Path().(Rewriter).Rewrite(req, id))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "mcp /mcp", rec.Body.String())
}

func BenchmarkPath(b *testing.B) {
	req := pathRequest(b, "/acme/mcp")
	r := Path()
	b.Run("Resolve", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = r.Resolve(req)
		}
	})
	b.Run("Rewrite", func(b *testing.B) {
		rw := r.(Rewriter)
		b.ReportAllocs()
		for b.Loop() {
			_ = rw.Rewrite(req, "acme")
		}
	})
}

func FuzzPath(f *testing.F) {
	for _, s := range []string{
		"/acme/mcp", "/acme", "/acme/", "/", "//acme", "/acme%2Fx/mcp", "/%61cme",
		"/./acme", "/../acme", "/acme/../admin", "/admin", "*", "/ACME", "/acme/x%2Fy",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL = u
		beforeURL := *u
		id, err := Path().Resolve(req)
		if classify(t, id, err) == failed {
			t.Fatalf("unexpected error class: %v", err)
		}
		if err != nil {
			return
		}
		got := Path().(Rewriter).Rewrite(req, id)
		if got == req {
			t.Fatalf("Rewrite(%q, %q) did not rewrite", target, id)
		}
		if *req.URL != beforeURL {
			t.Fatalf("Rewrite modified the caller's URL")
		}
		if !strings.HasPrefix(got.URL.Path, "/") {
			t.Fatalf("Rewrite(%q) gave a relative path %q", target, got.URL.Path)
		}
		if u.Path != "/"+id && u.Path != "/"+id+got.URL.Path {
			t.Fatalf("Rewrite(%q): path %q is not %q minus /%s", target, got.URL.Path, u.Path, id)
		}
		if got.URL.RawPath != "" && got.URL.EscapedPath() != got.URL.RawPath {
			t.Fatalf("Rewrite(%q): RawPath %q does not encode Path %q", target, got.URL.RawPath, got.URL.Path)
		}
	})
}

// A RawPath that is not a valid encoding of Path is ignored by EscapedPath,
// so Rewrite drops it rather than carrying a cut of it on (found by
// FuzzPath, seed 6f88a15c304b5032).
func TestPathRewriteDropsInvalidRawPath(t *testing.T) {
	for _, u := range []*url.URL{
		{Path: "/acme/a b", RawPath: "/acme/a b"},
		{Path: "/acme/mcp", RawPath: "/other/mcp"},
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL = u
		got := Path().(Rewriter).Rewrite(req, "acme")
		require.NotSame(t, req, got)
		assert.Equal(t, strings.TrimPrefix(u.Path, "/acme"), got.URL.Path)
		assert.Empty(t, got.URL.RawPath)
		assert.NotEmpty(t, u.RawPath, "the caller's URL is untouched")
	}
}

// TestPathUnderPrefix: the tenant is the first segment of the path the
// resolver is given, so a prefix left on the path is taken for the tenant,
// and http.StripPrefix in front puts the tenant first again (and the
// rewrite then cuts it from the stripped path).
func TestPathUnderPrefix(t *testing.T) {
	var gotID, gotPath string
	resolveAndRewrite := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := Path().Resolve(r)
		require.NoError(t, err)
		gotID, gotPath = id, Path().(Rewriter).Rewrite(r, id).URL.Path
	})
	tests := []struct {
		name             string
		h                http.Handler
		wantID, wantPath string
	}{
		{"prefix left on the path", resolveAndRewrite, "t", "/acme/mcp"},
		{"prefix stripped", http.StripPrefix("/t", resolveAndRewrite), "acme", "/mcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.h.ServeHTTP(httptest.NewRecorder(), pathRequest(t, "/t/acme/mcp"))
			assert.Equal(t, tt.wantID, gotID)
			assert.Equal(t, tt.wantPath, gotPath)
		})
	}
}

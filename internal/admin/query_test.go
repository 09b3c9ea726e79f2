package admin

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/audit"
	"github.com/seedmcp/tenancy/store"
)

// TestRepeatedQueryParameterRefused: every parameter a route reads may be
// given once. The list took the first of two limits or cursors silently;
// a pair that does not parse was dropped just as silently, so that
// "limit=%zz&limit=3" read as one limit on every route.
func TestRepeatedQueryParameterRefused(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct{ path, message string }{
		{"/admin/tenants?limit=1&limit=2", "limit is repeated"},
		{"/admin/tenants?limit=2&limit=2", "limit is repeated"},
		{"/admin/tenants?cursor=acme&cursor=globex", "cursor is repeated"},
		{"/admin/tenants?cursor=&cursor=acme", "cursor is repeated"},
		{"/admin/tenants?limit=1&cursor=acme&limit=5", "limit is repeated"},
		{"/admin/tenants/acme/usage?from=2026-01-01&from=2026-01-02", "from is repeated"},
		{"/admin/tenants/acme/usage?to=2026-01-05&to=2026-01-04", "to is repeated"},
		{"/admin/tenants/acme/audit?limit=1&limit=2", "limit is repeated"},
		{"/admin/tenants/acme/audit?after=1-0&after=2-0", "after is repeated"},
		{"/admin/tenants?limit=%zz&limit=3", "Malformed query string"},
		{"/admin/tenants?limit=1;limit=2", "Malformed query string"},
		{"/admin/tenants?cursor=acme&cursor=%", "Malformed query string"},
		{"/admin/tenants/acme/usage?from=%zz&from=2026-01-01", "Malformed query string"},
		{"/admin/tenants/acme/audit?limit=%zz&limit=3", "Malformed query string"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			rep := w.do(t, req{method: "GET", path: tc.path})
			require.Equal(t, http.StatusBadRequest, rep.Code, rep.Body.String())
			assert.Equal(t, `{"error":`+quoteJSON(tc.message)+`}`, rep.Body.String())
			assertJSONHeaders(t, rep)
		})
	}
	// A tenant key is refused the same way on its own tenant's reads.
	rep := w.do(t, req{method: "GET", path: "/admin/tenants/acme/audit?after=1-0&after=2-0", key: str(w.acmeKey)})
	assert.Equal(t, http.StatusBadRequest, rep.Code, rep.Body.String())
	assert.Equal(t, `{"error":"after is repeated"}`, rep.Body.String())
}

// TestUnknownQueryParametersIgnored: a parameter no route reads is ignored,
// given once or more, as it always was; only the ones a route reads are
// checked.
func TestUnknownQueryParametersIgnored(t *testing.T) {
	w := newWorld(t)
	for _, path := range []string{
		"/admin/tenants?foo=1&foo=2",
		"/admin/tenants?Limit=1&Limit=2&limit=5",
		"/admin/tenants/acme?limit=1&limit=2",
		"/admin/tenants/acme/usage?limit=1&limit=2",
		"/admin/tenants/acme/audit?from=1&from=2",
	} {
		rep := w.do(t, req{method: "GET", path: path})
		assert.Equal(t, http.StatusOK, rep.Code, path+": "+rep.Body.String())
	}
}

// TestListLimit: a limit that is not a positive integer is a 400, never a
// 500; a larger one reads store.MaxListLimit, however large, where one too
// large for an int was refused as not a positive integer.
func TestListLimit(t *testing.T) {
	f := newFixture(t)
	for _, id := range []string{"a", "b", "c"} {
		f.create(t, `{"id":"`+id+`","name":"`+id+`"}`)
	}
	for _, limit := range []string{"x", "-1", "0", "-0", "1.5", "1e3", "0x10", "%2B", "%20", "-99999999999999999999999"} {
		rep := f.do(t, req{method: "GET", path: "/admin/tenants?limit=" + limit})
		require.Equal(t, http.StatusBadRequest, rep.Code, limit+": "+rep.Body.String())
		assert.Equal(t, `{"error":"limit must be a positive integer"}`, rep.Body.String(), limit)
	}
	for _, limit := range []string{"", "1000", "1001", "1000000", "9223372036854775807", "9223372036854775808", "99999999999999999999999"} {
		rep := f.do(t, req{method: "GET", path: "/admin/tenants?limit=" + limit})
		require.Equal(t, http.StatusOK, rep.Code, limit+": "+rep.Body.String())
		page := decode[listPage](t, rep)
		assert.Len(t, page.Tenants, 3, limit)
		assert.Empty(t, page.Next, limit)
	}
}

// TestListCursor: a cursor is a tenant ID, of a tenant that exists or
// not; anything else is a 400. Since only operators list, any tenant's
// ID is a cursor of theirs.
func TestListCursor(t *testing.T) {
	f := newFixture(t)
	for _, id := range []string{"a", "c", "e"} {
		f.create(t, `{"id":"`+id+`","name":"`+id+`"}`)
	}
	for _, cursor := range []string{"%00", "A", "a%20b", "..", "a/b", "%C3%A9", strings.Repeat("a", maxCursorLength+1)} {
		rep := f.do(t, req{method: "GET", path: "/admin/tenants?cursor=" + cursor})
		require.Equal(t, http.StatusBadRequest, rep.Code, cursor+": "+rep.Body.String())
		assert.Equal(t, `{"error":"Invalid cursor"}`, rep.Body.String(), cursor)
	}
	for cursor, want := range map[string][]string{"a": {"c", "e"}, "b": {"c", "e"}, "e": nil, "zzz": nil} {
		rep := f.do(t, req{method: "GET", path: "/admin/tenants?cursor=" + cursor})
		require.Equal(t, http.StatusOK, rep.Code, cursor+": "+rep.Body.String())
		var got []string
		for _, tn := range decode[listPage](t, rep).Tenants {
			got = append(got, tn.ID)
		}
		assert.Equal(t, want, got, cursor)
	}
}

// TestAuditCursorOfAnotherTenant: an audit cursor is a position in time,
// not a key to another trail: given on another tenant's route it reads
// that tenant's own events after the same instant, and garbage is a 400.
func TestAuditCursorOfAnotherTenant(t *testing.T) {
	w := newWorld(t)
	globex := decode[audit.Page](t, w.do(t, req{method: "GET", path: "/admin/tenants/globex/audit"}))
	require.NotEmpty(t, globex.Events)
	first := globex.Events[0].ID
	rep := w.do(t, req{method: "GET", path: "/admin/tenants/acme/audit?after=" + first, key: str(w.acmeKey)})
	require.Equal(t, http.StatusOK, rep.Code, rep.Body.String())
	page := decode[audit.Page](t, rep)
	assert.Equal(t, "acme", page.Tenant)
	for _, e := range page.Events {
		assert.NotEqual(t, "globex", e.Target, "only acme's events")
		assert.Greater(t, e.ID, first)
	}
	for _, after := range []string{"x", "1-2-3", "-1-0", "1-", "18446744073709551616-0", "%00"} {
		rep := w.do(t, req{method: "GET", path: "/admin/tenants/acme/audit?after=" + after})
		require.Equal(t, http.StatusBadRequest, rep.Code, after+": "+rep.Body.String())
		assert.Equal(t, `{"error":"Invalid cursor"}`, rep.Body.String(), after)
	}
	for _, limit := range []string{"x", "0", "-1", "1001", "99999999999999999999999"} {
		rep := w.do(t, req{method: "GET", path: "/admin/tenants/acme/audit?limit=" + limit})
		require.Equal(t, http.StatusBadRequest, rep.Code, limit+": "+rep.Body.String())
		assert.Equal(t, `{"error":"limit must be an integer from 1 to 1000"}`, rep.Body.String(), limit)
	}
}

// TestPatchNullMemberInAnotherCase: a merge patch member set to null is
// gone from the merged tenant, so a name in another case ("Domain") or an
// unknown one passed the member check of the result and answered 200,
// changing nothing while the client believed the domain, or the client
// secret, removed. The patch's own names are checked.
func TestPatchNullMemberInAnotherCase(t *testing.T) {
	for _, tc := range []struct{ body, message string }{
		{`{"Domain":null}`, `unknown field "Domain"`},
		{`{"domain":null,"DOMAIN":null}`, `unknown field "DOMAIN"`},
		{`{"oidc":{"ClientSecret":null}}`, `unknown field "oidc.ClientSecret"`},
		{`{"oidc":{"clientSecret":null,"ClientSecret":null}}`, `unknown field "oidc.ClientSecret"`},
		{`{"oidc":{"Audience":null}}`, `unknown field "oidc.Audience"`},
		{`{"limits":{"RateLimit":null}}`, `unknown field "limits.RateLimit"`},
		{`{"Settings":null}`, `unknown field "Settings"`},
		{`{"domain":null,"D\u006fmain":null}`, `unknown field "Domain"`},
		{`{"foo":null}`, `unknown field "foo"`},
	} {
		t.Run(tc.body, func(t *testing.T) {
			f := newFixture(t)
			f.create(t, acme)
			before := f.do(t, req{method: "GET", path: "/admin/tenants/acme"}).Body.String()
			rep := f.do(t, req{method: "PATCH", path: "/admin/tenants/acme", body: tc.body, contentType: "application/merge-patch+json"})
			require.Equal(t, http.StatusBadRequest, rep.Code, rep.Body.String())
			assert.Equal(t, `{"error":`+quoteJSON(tc.message)+`}`, rep.Body.String())
			assert.Equal(t, before, f.do(t, req{method: "GET", path: "/admin/tenants/acme"}).Body.String(), "acme is unchanged")
			assert.Empty(t, f.events[1:], "no change announced")
		})
	}
}

// TestCaseFoldedAndRepeatedMembers pins what create and PATCH already
// refused: a member repeated, or named in another case beside its exact
// name, so that no spelling can win silently.
func TestCaseFoldedAndRepeatedMembers(t *testing.T) {
	for _, tc := range []struct{ method, path, body, message string }{
		{"POST", "/admin/tenants", `{"id":"a","ID":"b","name":"x"}`, `unknown field "ID"`},
		{"POST", "/admin/tenants", `{"ID":"b","id":"a","name":"x"}`, `unknown field "ID"`},
		{"POST", "/admin/tenants", `{"id":"a","name":"x","status":"active","Status":"suspended"}`, `unknown field "Status"`},
		{"POST", "/admin/tenants", `{"id":"a","name":"x","Domain":null}`, `unknown field "Domain"`},
		{"POST", "/admin/tenants", `{"id":"a","id":"b","name":"x"}`, `invalid JSON: duplicate member "id"`},
		{"PATCH", "/admin/tenants/acme", `{"status":"active","Status":"suspended"}`, `unknown field "Status"`},
		{"PATCH", "/admin/tenants/acme", `{"status":"active","status":"suspended"}`, `invalid JSON: duplicate member "status"`},
		{"PATCH", "/admin/tenants/acme", `{"oidc":{"clientSecret":null,"clientSecret":"x"}}`, `invalid JSON: duplicate member "clientSecret"`},
	} {
		t.Run(tc.method+" "+tc.body, func(t *testing.T) {
			f := newFixture(t)
			f.create(t, acme)
			before := f.do(t, req{method: "GET", path: "/admin/tenants/acme"}).Body.String()
			rep := f.do(t, req{method: tc.method, path: tc.path, body: tc.body})
			require.Equal(t, http.StatusBadRequest, rep.Code, rep.Body.String())
			assert.Equal(t, `{"error":`+quoteJSON(tc.message)+`}`, rep.Body.String())
			assert.Equal(t, before, f.do(t, req{method: "GET", path: "/admin/tenants/acme"}).Body.String(), "acme is unchanged")
			for _, id := range []string{"a", "b"} {
				assert.Equal(t, http.StatusNotFound, f.do(t, req{method: "GET", path: "/admin/tenants/" + id}).Code, "nothing was created")
			}
		})
	}
}

// TestTenantKeyPatchOrder: a tenant key naming a member it may not change
// still gets the 403 first, whatever the case of the name; a name in
// another case inside oidc, which it may change, is a 400.
func TestTenantKeyPatchOrder(t *testing.T) {
	w := newWorld(t)
	rep := w.do(t, req{method: "PATCH", path: "/admin/tenants/acme", body: `{"Domain":null}`, key: str(w.acmeKey)})
	assert.Equal(t, http.StatusForbidden, rep.Code, rep.Body.String())
	rep = w.do(t, req{method: "PATCH", path: "/admin/tenants/acme", body: `{"oidc":{"Issuer":null}}`, key: str(w.acmeKey)})
	assert.Equal(t, http.StatusBadRequest, rep.Code, rep.Body.String())
	assert.Equal(t, `{"error":"unknown field \"oidc.Issuer\""}`, rep.Body.String())
	// The refusal is in acme's trail, with the names asked.
	events := w.trailOf(t, "acme")
	last := events[len(events)-1]
	assert.Equal(t, store.AuditAdmin, last.Type)
	assert.Equal(t, "tenant.update", last.Action)
	assert.Equal(t, http.StatusBadRequest, last.Status)
	assert.Equal(t, []string{"oidc.Issuer"}, last.Fields)
}

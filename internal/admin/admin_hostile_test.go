package admin

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDuplicateMembersRefused is the regression test of the duplicate
// member names that were accepted with the last value winning: a body
// whose status reads "active" to a parser that keeps the first value
// created a suspended tenant.
func TestDuplicateMembersRefused(t *testing.T) {
	for _, tc := range []struct {
		name, method, path, body, message string
	}{
		{"create, top level", "POST", "/admin/tenants",
			`{"id":"dup","name":"D","status":"active","status":"suspended"}`, `invalid JSON: duplicate member "status"`},
		{"create, nested", "POST", "/admin/tenants",
			`{"id":"dup","name":"D","oidc":{"issuer":"https://a.example","issuer":"https://b.example","audience":"a"}}`,
			`invalid JSON: duplicate member "issuer"`},
		{"create, escaped duplicate", "POST", "/admin/tenants",
			`{"id":"dup","name":"D","n\u0061me":"E"}`, `invalid JSON: duplicate member "name"`},
		{"patch, value then null", "PATCH", "/admin/tenants/acme",
			`{"domain":"b.example.com","domain":null}`, `invalid JSON: duplicate member "domain"`},
		{"patch, object then scalar", "PATCH", "/admin/tenants/acme",
			`{"limits":{},"limits":1}`, `invalid JSON: duplicate member "limits"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.create(t, acme)
			w := f.do(t, req{method: tc.method, path: tc.path, body: tc.body})
			require.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
			assert.Equal(t, `{"error":`+quoteJSON(tc.message)+`}`, w.Body.String())
			w = f.do(t, req{method: "GET", path: "/admin/tenants/dup"})
			assert.Equal(t, http.StatusNotFound, w.Code, "nothing was created")
		})
	}
}

func quoteJSON(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

func TestDuplicateMember(t *testing.T) {
	for _, tc := range []struct {
		body string
		name string
		dup  bool
	}{
		{`{}`, "", false},
		{`[]`, "", false},
		{`{"a":1,"b":2}`, "", false},
		{`{"a":{"x":1},"b":{"x":1}}`, "", false},
		{`{"c":[{"x":1},{"x":2}],"d":[[{"x":1}],{"x":{"x":1}}]}`, "", false},
		{`{"a":{},"b":[],"c":{"a":1}}`, "", false},
		{`{"a":1,"a":2}`, "a", true},
		{`{"a":{},"a":1}`, "a", true},
		{`{"a":[{"b":1}],"a":2}`, "a", true},
		{`{"x":{"y":{"z":1,"z":2}}}`, "z", true},
		{`[{"a":1},{"b":1,"b":2}]`, "b", true},
		{`{"\u0061":1,"a":2}`, "a", true},
	} {
		name, dup := duplicateMember([]byte(tc.body))
		assert.Equal(t, tc.dup, dup, tc.body)
		assert.Equal(t, tc.name, name, tc.body)
	}
}

// TestCaseFoldedMembersRefused: encoding/json matches member names without
// regard to case, so a PATCH with "Status" could suspend a tenant (or, on a
// create, sit beside "status" with one of them lost). Every name must be
// exact, at every level; one that is not is an unknown field, and nothing
// changes.
func TestCaseFoldedMembersRefused(t *testing.T) {
	for _, tc := range []struct {
		name, method, path, body, message string
	}{
		{"patch Status", "PATCH", "/admin/tenants/acme", `{"Status":"suspended"}`, `unknown field "Status"`},
		{"patch STATUS", "PATCH", "/admin/tenants/acme", `{"STATUS":"suspended"}`, `unknown field "STATUS"`},
		{"patch long s", "PATCH", "/admin/tenants/acme", `{"\u017ftatus":"suspended"}`, "unknown field \"\u017ftatus\""},
		{"patch nested", "PATCH", "/admin/tenants/acme", `{"oidc":{"Issuer":"https://evil.example"}}`, `unknown field "oidc.Issuer"`},
		{"patch Kelvin sign", "PATCH", "/admin/tenants/acme", `{"oidc":{"jwksUri":null,"jw\u212asUri":"https://evil.example/jwks"}}`, "unknown field \"oidc.jw\u212asUri\""},
		{"patch object name", "PATCH", "/admin/tenants/acme", `{"Limits":{"rateLimit":1}}`, `unknown field "Limits"`},
		{"patch escaped", "PATCH", "/admin/tenants/acme", `{"St\u0061tus":"suspended"}`, `unknown field "Status"`},
		{"create beside the exact name", "POST", "/admin/tenants", `{"id":"dup","name":"D","status":"active","STATUS":"suspended"}`, `unknown field "STATUS"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.create(t, acme)
			before := f.do(t, req{method: "GET", path: "/admin/tenants/acme"}).Body.String()
			w := f.do(t, req{method: tc.method, path: tc.path, body: tc.body})
			require.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
			assert.Equal(t, `{"error":`+quoteJSON(tc.message)+`}`, w.Body.String())
			assert.Equal(t, before, f.do(t, req{method: "GET", path: "/admin/tenants/acme"}).Body.String(), "acme is unchanged")
			assert.Equal(t, http.StatusNotFound, f.do(t, req{method: "GET", path: "/admin/tenants/dup"}).Code, "nothing was created")
		})
	}
}

// TestInvalidUTF8Refused is the regression test of a name sent with an
// invalid UTF-8 byte being stored with U+FFFD in its place and answered
// 201: encoding/json repairs such strings silently, so the raw body is
// checked, anywhere in it. Unpaired surrogate escapes, which the decoder
// repairs the same way, are refused as well.
func TestInvalidUTF8Refused(t *testing.T) {
	const notUTF8 = `invalid JSON: not valid UTF-8`
	const surrogate = `invalid JSON: unpaired UTF-16 surrogate escape`
	for _, tc := range []struct {
		name, method, path, body, message string
	}{
		{"create, Latin-1 name", "POST", "/admin/tenants", "{\"id\":\"dup\",\"name\":\"Caf\xe9\"}", notUTF8},
		{"create, overlong slash", "POST", "/admin/tenants", "{\"id\":\"dup\",\"name\":\"a\xc0\xafb\"}", notUTF8},
		{"create, encoded surrogate", "POST", "/admin/tenants", "{\"id\":\"dup\",\"name\":\"a\xed\xa0\x80b\"}", notUTF8},
		{"create, in a member name", "POST", "/admin/tenants", "{\"id\":\"dup\",\"name\":\"D\",\"x\xff\":1}", notUTF8},
		{"create, truncated sequence at the end", "POST", "/admin/tenants", "{\"id\":\"dup\",\"name\":\"D\"}\xe2\x82", notUTF8},
		{"patch, name", "PATCH", "/admin/tenants/acme", "{\"name\":\"AC\xffME\"}", notUTF8},
		{"patch, audience", "PATCH", "/admin/tenants/acme", "{\"oidc\":{\"audience\":\"seed-\xfe\"}}", notUTF8},
		{"create, lone high surrogate", "POST", "/admin/tenants", `{"id":"dup","name":"a\ud800b"}`, surrogate},
		{"create, lone low surrogate", "POST", "/admin/tenants", `{"id":"dup","name":"a\udc00"}`, surrogate},
		{"create, high then not low", "POST", "/admin/tenants", `{"id":"dup","name":"\ud800\u0041"}`, surrogate},
		{"patch, high at the end", "PATCH", "/admin/tenants/acme", `{"name":"ACME\uDBFF"}`, surrogate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.create(t, acme)
			before := f.do(t, req{method: "GET", path: "/admin/tenants/acme"}).Body.String()
			w := f.do(t, req{method: tc.method, path: tc.path, body: tc.body})
			require.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
			assert.Equal(t, `{"error":`+quoteJSON(tc.message)+`}`, w.Body.String())
			assert.Equal(t, before, f.do(t, req{method: "GET", path: "/admin/tenants/acme"}).Body.String(), "acme is unchanged")
			assert.Equal(t, http.StatusNotFound, f.do(t, req{method: "GET", path: "/admin/tenants/dup"}).Code, "nothing was created")
		})
	}

	// What is valid stays valid: escapes of every kind, a real pair, and
	// multi-byte UTF-8.
	f := newFixture(t)
	w := f.do(t, req{method: "POST", path: "/admin/tenants",
		body: `{"id":"ok","name":"Caf\u00e9 \ud83d\ude00 \\ud800 \" \/ ` + "\u00e9\U0001F600" + `"}`})
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	assert.Equal(t, "Caf\u00e9 \U0001F600 \\ud800 \" / \u00e9\U0001F600", decode[map[string]any](t, w)["name"])
}

// TestDomainMustBeAHost is the regression test of "domain":"127.0.0.1"
// accepted: an IP literal, or a name whose last label is a number (which
// URL parsers read as an IPv4 address), is not a host name.
func TestDomainMustBeAHost(t *testing.T) {
	const message = `tenant: invalid tenant: domain must be a lower-case host name without port or trailing dot`
	for _, domain := range []string{
		"127.0.0.1", "10.0.0.1", "169.254.169.254", "127.1", "0x7f.0x1", "example.123",
		"::1", "[::1]", "127.0.0.1:443", "ACME.example.com", "acme.example.com.", "localhost",
	} {
		t.Run(domain, func(t *testing.T) {
			f := newFixture(t)
			f.create(t, acme)
			w := f.do(t, req{method: "POST", path: "/admin/tenants", body: `{"id":"dup","name":"D","domain":` + quoteJSON(domain) + `}`})
			require.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
			assert.Equal(t, `{"error":`+quoteJSON(message)+`}`, w.Body.String())
			w = f.do(t, req{method: "PATCH", path: "/admin/tenants/acme", body: `{"domain":` + quoteJSON(domain) + `}`})
			require.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
			assert.Equal(t, `{"error":`+quoteJSON(message)+`}`, w.Body.String())
			assert.Equal(t, "acme.example.com", decode[map[string]any](t, f.do(t, req{method: "GET", path: "/admin/tenants/acme"}))["domain"])
		})
	}
}

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

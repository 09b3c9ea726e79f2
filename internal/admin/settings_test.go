package admin

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/tenant"
)

// TestSettings checks that a tenant's settings are created, merged member
// by member by a merge patch, removed by null, bounded, and for operators
// only.
func TestSettings(t *testing.T) {
	w := newWorld(t)
	settings := func(rep interface{ Bytes() []byte }) string {
		var doc map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(rep.Bytes(), &doc))
		return string(doc["settings"])
	}
	patch := func(body string, key *string) (int, string) {
		rep := w.do(t, req{method: "PATCH", path: "/admin/tenants/globex", body: body, contentType: "application/merge-patch+json", key: key})
		if rep.Code != http.StatusOK {
			return rep.Code, rep.Body.String()
		}
		return rep.Code, settings(rep.Body)
	}

	w.create(t, `{"id":"initech","name":"Initech","settings":{"corsOrigins":["https://app.initech.com"],"flags":{"beta":true}}}`)
	rep := w.do(t, req{method: "GET", path: "/admin/tenants/initech"})
	require.Equal(t, http.StatusOK, rep.Code)
	assert.JSONEq(t, `{"corsOrigins":["https://app.initech.com"],"flags":{"beta":true}}`, settings(rep.Body))

	steps := []struct {
		name, patch string
		status      int
		want        string
	}{
		{"set", `{"settings":{"tools":["whoami"],"flags":{"beta":true,"x":1}}}`, 200, `{"flags":{"beta":true,"x":1},"tools":["whoami"]}`},
		{"merge one member", `{"settings":{"tools":["whoami","echo"]}}`, 200, `{"flags":{"beta":true,"x":1},"tools":["whoami","echo"]}`},
		{"merge a nested member, null removes", `{"settings":{"flags":{"x":null,"y":"z"}}}`, 200, `{"flags":{"beta":true,"y":"z"},"tools":["whoami","echo"]}`},
		{"numbers kept exact", `{"settings":{"big":12345678901234567890}}`, 200, `{"big":12345678901234567890,"flags":{"beta":true,"y":"z"},"tools":["whoami","echo"]}`},
		{"not an object", `{"settings":["a"]}`, 400, ""},
		{"a string", `{"settings":"x"}`, 400, ""},
		{"too large", `{"settings":{"blob":"` + strings.Repeat("x", tenant.MaxSettingsBytes) + `"}}`, 400, ""},
		{"null removes them", `{"settings":null}`, 200, ""},
	}
	for _, s := range steps {
		code, got := patch(s.patch, nil)
		require.Equal(t, s.status, code, "%s: %s", s.name, got)
		if code == http.StatusOK {
			if s.want == "" {
				assert.Empty(t, got, s.name)
			} else {
				assert.JSONEq(t, s.want, got, s.name)
			}
		} else {
			assert.Contains(t, got, "settings", s.name)
		}
	}

	code, body := patch(`{"settings":{"tools":[]}}`, &w.otherKey)
	assert.Equal(t, http.StatusForbidden, code, "a tenant key may not change settings: %s", body)
}

package admin

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/audit"
	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/store/redisstore"
)

// TestAuditCursorWithLeadingZeros: a cursor is an event ID, and one
// written with leading zeros names the same event. On Redis, the last
// possible ID written so was sent to XRANGE as an exclusive start it
// refuses, and the answer was 503 "Tenant service unavailable" with an
// error in the log: any key holder could make the API report an outage.
func TestAuditCursorWithLeadingZeros(t *testing.T) {
	rdb := testredis.Standalone(t)
	st := redisstore.New(rdb, redisstore.Config{})
	trail, err := audit.New(audit.Config{Store: st.Audit()})
	require.NoError(t, err)
	f := newFixture(t, func(c *Config) { c.Tenants, c.Audit = st.Tenants(), trail })
	f.create(t, `{"id":"acme","name":"ACME"}`)
	for _, tc := range []struct{ after, want string }{
		{"18446744073709551615-18446744073709551615", `{"tenant":"acme","events":[],"next":""}`},
		{"018446744073709551615-18446744073709551615", `{"tenant":"acme","events":[],"next":""}`},
		{"18446744073709551615-018446744073709551615", `{"tenant":"acme","events":[],"next":""}`},
		{"0018446744073709551615-00018446744073709551615", `{"tenant":"acme","events":[],"next":""}`},
	} {
		w := f.do(t, req{method: "GET", path: "/admin/tenants/acme/audit?after=" + tc.after})
		require.Equal(t, http.StatusOK, w.Code, "%s: %s", tc.after, w.Body.String())
		assert.JSONEq(t, tc.want, w.Body.String(), tc.after)
	}
	// The same event, with or without zeros in front.
	first := f.do(t, req{method: "GET", path: "/admin/tenants/acme/audit?limit=1"})
	require.Equal(t, http.StatusOK, first.Code, first.Body.String())
	id := decode[audit.Page](t, first).Events[0].ID
	plain := f.do(t, req{method: "GET", path: "/admin/tenants/acme/audit?after=" + id})
	padded := f.do(t, req{method: "GET", path: "/admin/tenants/acme/audit?after=000" + id})
	require.Equal(t, http.StatusOK, padded.Code, padded.Body.String())
	assert.Equal(t, plain.Body.String(), padded.Body.String())
	assert.NotContains(t, f.logs.String(), "invalid start ID")
}

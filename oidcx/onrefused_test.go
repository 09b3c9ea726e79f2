package oidcx_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/tenant"
)

// TestBearerOnRefused: the hook hears of every refusal, with its tenant
// and reason, and of nothing else.
func TestBearerOnRefused(t *testing.T) {
	var got []string
	f := newBearerFixture(t, oidcx.BearerConfig{OnRefused: func(r *http.Request, tn *tenant.Tenant, reason string) {
		got = append(got, tn.ID+":"+reason)
	}})
	valid := tokenFor(f.idp, f.acme, "alice")
	for _, tc := range []struct {
		authorization []string
		status        int
	}{
		{[]string{"Bearer " + valid}, 200},
		{nil, 401},
		{[]string{"Bearer abc"}, 401},
		{[]string{"Bearer "}, 400},
		{[]string{"Bearer " + valid}, 200},
	} {
		assert.Equal(t, tc.status, f.do(f.acme, tc.authorization...).Code)
	}
	assert.Equal(t, []string{"acme:missing_token", "acme:invalid_token", "acme:invalid_request"}, got)
}

package oidcx_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/tenant"
)

// clock is a time source that tests move forward, so that refresh
// intervals and back-offs pass without sleeping.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }
func newVerifier(t *testing.T, c *clock) *oidcx.Verifier {
	t.Helper()
	cfg := oidcx.Config{FetchTimeout: 2 * time.Second, InsecureAllowLoopback: true}
	if c != nil {
		cfg.Now = c.Now
	}
	v, err := oidcx.New(cfg)
	require.NoError(t, err)
	return v
}

// newTenant returns an active tenant that trusts idp for audience "aud-<id>".
func newTenant(id string, idp *oidctest.Server) *tenant.Tenant {
	return &tenant.Tenant{
		ID:     id,
		Name:   id,
		Status: tenant.StatusActive,
		OIDC:   idp.OIDC("aud-" + id),
	}
}

// tokenFor returns a valid RS256 token of idp for tenant t and subject sub.
func tokenFor(idp *oidctest.Server, t *tenant.Tenant, sub string) string {
	return idp.Token(idp.Claims(t.OIDC.Audience, sub))
}

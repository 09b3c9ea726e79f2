package resolve

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/tenant"
)

func TestStatic(t *testing.T) {
	r, err := Static(tenant.DefaultID)
	require.NoError(t, err)
	assertResolves(t, r, hostRequest("anything.example.com"), found, "default")
	assertResolves(t, r, hostRequest(""), found, "default")

	for _, id := range []string{"", "admin", "ACME", "a b", "-x"} {
		_, err := Static(id)
		require.ErrorIs(t, err, tenant.ErrInvalidID, "%q", id)
		assert.Contains(t, err.Error(), "resolve: static tenant")
	}
}

func BenchmarkStatic(b *testing.B) {
	r, err := Static("acme")
	require.NoError(b, err)
	req := hostRequest("x")
	b.ReportAllocs()
	for b.Loop() {
		_, _ = r.Resolve(req)
	}
}

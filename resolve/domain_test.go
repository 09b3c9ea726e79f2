package resolve

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/tenant"
)

// domains is a DomainLookup over a map that records what it was asked.
type domains struct {
	ids    map[string]string
	err    error
	asked  []string
	ctxKey any
	ctxVal any
}

func (d *domains) lookup(ctx context.Context, host string) (string, error) {
	d.asked = append(d.asked, host)
	d.ctxVal = ctx.Value(d.ctxKey)
	if d.err != nil {
		return "", d.err
	}
	id, ok := d.ids[host]
	if !ok {
		return "", fmt.Errorf("store: domain %q: %w", host, tenant.ErrNotFound)
	}
	return id, nil
}

func TestDomain(t *testing.T) {
	ids := map[string]string{
		"mcp.acme.com": "acme",
		"empty.com":    "",
		"bad.com":      "Bad ID",
		"admin.com":    "admin",
	}
	tests := []struct {
		name      string
		host      string
		want      outcome
		wantID    string
		wantAsked []string
	}{
		{"found", "mcp.acme.com", found, "acme", []string{"mcp.acme.com"}},
		{"port, case and trailing dot", "MCP.Acme.com.:443", found, "acme", []string{"mcp.acme.com"}},
		{"not found", "mcp.other.com", missing, "", []string{"mcp.other.com"}},
		{"empty ID means not found", "empty.com", missing, "", []string{"empty.com"}},
		{"store holds an invalid ID", "bad.com", invalid, "", []string{"bad.com"}},
		{"store holds the reserved ID", "admin.com", invalid, "", []string{"admin.com"}},
		{"IPv4 is not looked up", "192.0.2.1:80", missing, "", nil},
		{"IPv6 is not looked up", "[2001:db8::1]", missing, "", nil},
		{"single label is not looked up", "localhost:8080", missing, "", nil},
		{"hostile bytes are not looked up", "tenant:{x}*.com", invalid, "", nil},
		{"braces are not looked up", "{x}.com", missing, "", nil},
		{"non-ASCII is not looked up", "bücher.de", missing, "", nil},
		{"empty host", "", missing, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &domains{ids: ids}
			assertResolves(t, Domain(d.lookup), hostRequest(tt.host), tt.want, tt.wantID)
			assert.Equal(t, tt.wantAsked, d.asked)
		})
	}
}

func TestDomainLookupError(t *testing.T) {
	errDown := errors.New("redis: connection refused")
	d := &domains{err: errDown}
	id, err := Domain(d.lookup).Resolve(hostRequest("mcp.acme.com"))
	assert.Empty(t, id)
	require.ErrorIs(t, err, ErrLookup)
	require.ErrorIs(t, err, errDown)
	assert.NotErrorIs(t, err, tenant.ErrMissingID)
	assert.NotErrorIs(t, err, tenant.ErrInvalidID)
	assert.Contains(t, err.Error(), "mcp.acme.com")
}

func TestDomainUsesRequestContext(t *testing.T) {
	type key struct{}
	d := &domains{ids: map[string]string{"mcp.acme.com": "acme"}, ctxKey: key{}}
	req := hostRequest("mcp.acme.com")
	req = req.WithContext(context.WithValue(req.Context(), key{}, "request"))
	_, err := Domain(d.lookup).Resolve(req)
	require.NoError(t, err)
	assert.Equal(t, "request", d.ctxVal)
}

func TestDomainNilLookup(t *testing.T) {
	assert.PanicsWithValue(t, "resolve: Domain with a nil lookup", func() { Domain(nil) })
}

func BenchmarkDomain(b *testing.B) {
	r := Domain(func(context.Context, string) (string, error) { return "acme", nil })
	req := hostRequest("mcp.acme.com:443")
	b.ReportAllocs()
	for b.Loop() {
		_, _ = r.Resolve(req)
	}
}

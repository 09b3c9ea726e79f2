package hosts_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy"
	"github.com/seedmcp/tenancy/internal/testlog"
	"github.com/seedmcp/tenancy/store/memstore"
)

// TestServiceRefusalsQuiet: with the Service's default refusal hook and a
// logger at the default level, a thousand requests for made-up tenants
// write no line each (the summary of them comes a minute later; see
// middleware's TestRefusalFloodLogsBoundedLines).
func TestServiceRefusalsQuiet(t *testing.T) {
	var logs testlog.Buffer
	svc, err := tenancy.New(tenancy.Config{
		Store:          memstore.New(memstore.Config{}).Backend(),
		MultiTenant:    true,
		Identification: tenancy.ByHeader,
		Logger:         slog.New(slog.NewTextHandler(&logs, nil)),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	h := svc.Middleware(http.NotFoundHandler())
	for i := range 1000 {
		req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
		req.Header.Set("X-Tenant-ID", fmt.Sprintf("made-up-%d", i))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.NotEqual(t, http.StatusOK, rec.Code)
	}
	assert.Zero(t, strings.Count(logs.String(), "refused"), "lines about refusals")
}

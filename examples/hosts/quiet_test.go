package hosts_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy"
	"github.com/seedmcp/tenancy/store/memstore"
)

// syncBuffer is a log's output, written from the Service's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestServiceRefusalsQuiet: with the Service's default refusal hook and a
// logger at the default level, a thousand requests for made-up tenants
// write no line each (the summary of them comes a minute later; see
// middleware's TestRefusalFloodLogsBoundedLines).
func TestServiceRefusalsQuiet(t *testing.T) {
	var logs syncBuffer
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

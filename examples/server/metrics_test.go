package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy"
)

// TestMetrics checks GET /metrics: served only with METRICS_ENABLED, outside
// any tenant, with the requests that got through counted by tenant and
// status and the refusals by reason.
func TestMetrics(t *testing.T) {
	for _, mode := range []tenancy.Identification{tenancy.BySubdomain, tenancy.ByPath, tenancy.ByHeader} {
		t.Run(string(mode), func(t *testing.T) {
			m := miniredis.RunT(t)
			rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
			t.Cleanup(func() { _ = rdb.Close() })
			h := start(t, rdb, m, config{Metrics: true, Tenancy: tenancy.Config{
				MultiTenant: true, Identification: mode, AdminAPIKey: adminKey,
			}})
			for _, tn := range []map[string]any{
				{"id": "acme", "name": "ACME"},
				{"id": "gone", "name": "Gone", "status": "suspended"},
			} {
				a := h.admin(http.MethodPost, "", tn)
				require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
			}
			for range 3 {
				require.Equal(t, http.StatusOK, h.do(h.request(http.MethodGet, "acme", h.metadataURL("acme"), nil)).status)
			}
			require.Equal(t, http.StatusNotFound, h.do(h.request(http.MethodGet, "acme", h.base("acme")+"/nowhere", nil)).status)
			require.Equal(t, http.StatusNotFound, h.do(h.request(http.MethodGet, "gone", h.metadataURL("gone"), nil)).status)
			require.Equal(t, http.StatusNotFound, h.do(h.request(http.MethodGet, "nobody", h.metadataURL("nobody"), nil)).status)

			a := h.do(h.request(http.MethodGet, "", h.public+"/metrics", nil))
			require.Equal(t, http.StatusOK, a.status, "%s", a.body)
			assert.Contains(t, a.header.Get("Content-Type"), "text/plain; version=0.0.4")
			out := string(a.body)
			for _, line := range []string{
				`tenancy_requests_seconds_count{code="200",tenant="acme"} 3`,
				`tenancy_requests_seconds_count{code="404",tenant="acme"} 1`,
				`tenancy_refused_total{code="404",reason="suspended",tenant="gone"} 1`,
				`tenancy_refused_total{code="404",reason="not_found",tenant=""} 1`,
			} {
				assert.Contains(t, out, line+"\n")
			}
			assert.NotContains(t, out, "nobody")
			assert.Regexp(t, `(?m)^go_goroutines [1-9][0-9]*$`, out)

			// A deleted tenant's series go with it, once its event is back.
			require.Equal(t, http.StatusOK, h.admin(http.MethodDelete, "/acme", nil).status)
			require.Eventually(t, func() bool {
				out := string(h.do(h.request(http.MethodGet, "", h.public+"/metrics", nil)).body)
				return !strings.Contains(out, `tenant="acme"`) && strings.Contains(out, `tenant="gone"`)
			}, 5*time.Second, 10*time.Millisecond)
		})
	}
}

// TestMetricsDisabled checks that without METRICS_ENABLED there is no
// /metrics route: the path is an ordinary tenant-scoped one.
func TestMetricsDisabled(t *testing.T) {
	t.Setenv("METRICS_ENABLED", "")
	cfg, err := configFromEnv()
	require.NoError(t, err)
	require.False(t, cfg.Metrics, "METRICS_ENABLED defaults to false")
	t.Setenv("METRICS_ENABLED", "yes please")
	_, err = configFromEnv()
	require.ErrorContains(t, err, "METRICS_ENABLED")

	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	h := start(t, rdb, m, config{Tenancy: tenancy.Config{MultiTenant: true, Identification: tenancy.ByHeader}})
	a := h.do(h.request(http.MethodGet, "", h.public+"/metrics", nil))
	assert.Equal(t, http.StatusBadRequest, a.status)
	assert.False(t, strings.Contains(string(a.body), "tenancy_"), "%s", a.body)
}

package tenancy

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The admin API refuses a tenant whose provider the Service's verifier
// would never fetch from: one on loopback, unless the host allowed it.
func TestAdminRefusesProvidersTheVerifierRefuses(t *testing.T) {
	const key = "an-admin-key-long-enough-0123456789"
	body := `{"id":"lo","name":"Lo","oidc":{"issuer":"http://127.0.0.1:9000","audience":"a"}}`
	for _, allow := range []bool{false, true} {
		m := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
		t.Cleanup(func() { _ = rdb.Close() })
		cfg := Config{Redis: rdb, MultiTenant: true, AdminAPIKey: key, Logger: slog.New(slog.DiscardHandler)}
		cfg.OIDC.InsecureAllowLoopback = allow
		s, err := New(cfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })

		r := httptest.NewRequest(http.MethodPost, "/admin/tenants", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set(AdminKeyHeader, key)
		w := httptest.NewRecorder()
		s.Admin().ServeHTTP(w, r)
		if allow {
			assert.Equal(t, http.StatusCreated, w.Code, w.Body.String())
		} else {
			assert.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
			assert.Contains(t, w.Body.String(), "loopback")
		}
	}
}

package tenancy_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/memstore"
)

func TestNewAdminHandler(t *testing.T) {
	bad, err := tenancy.NewAdminHandler(tenancy.AdminConfig{APIKey: "k"})
	assert.Error(t, err, "a store is required")
	assert.True(t, bad == nil, "no handler, not a nil *admin.Handler in an interface: %#v", bad)

	var logs bytes.Buffer
	var events []store.Event
	h, err := tenancy.NewAdminHandler(tenancy.AdminConfig{
		Tenants:  memstore.New(memstore.Config{}).Tenants(),
		APIKey:   "the-key",
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
		OnChange: func(e store.Event) { events = append(events, e) },
	})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/admin/", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	do := func(method, path, key, body string) *http.Response {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if key != "" {
			req.Header.Set(tenancy.AdminKeyHeader, key)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		return res
	}
	assert.Equal(t, http.StatusUnauthorized, do("GET", "/admin/tenants", "wrong", "").StatusCode)
	assert.Equal(t, http.StatusCreated, do("POST", "/admin/tenants", "the-key", `{"id":"acme","name":"ACME"}`).StatusCode)
	assert.Equal(t, http.StatusOK, do("DELETE", "/admin/tenants/acme", "the-key", "").StatusCode)
	assert.Equal(t, []store.Event{{Type: store.EventCreated, TenantID: "acme"}, {Type: store.EventDeleted, TenantID: "acme"}}, events)
	assert.NotContains(t, logs.String(), "the-key")
	assert.NotContains(t, logs.String(), "wrong")

	closed, err := tenancy.NewAdminHandler(tenancy.AdminConfig{Tenants: memstore.New(memstore.Config{}).Tenants()})
	require.NoError(t, err)
	w := httptest.NewRecorder()
	closed.ServeHTTP(w, httptest.NewRequest("GET", "/admin/tenants", nil))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code, "no key: closed, never open")
}

// Creating a tenant through the admin API.
func ExampleNewAdminHandler() {
	h, err := tenancy.NewAdminHandler(tenancy.AdminConfig{
		Tenants: memstore.New(memstore.Config{}).Tenants(),
		APIKey:  "change-me",
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", h)

	req := httptest.NewRequest("POST", "/admin/tenants", strings.NewReader(`{"id":"acme","name":"ACME"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Admin-API-Key", "change-me")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	fmt.Println(w.Code, w.Header().Get("Location"))

	req = httptest.NewRequest("DELETE", "/admin/tenants/acme", nil)
	req.Header.Set("X-Admin-API-Key", "change-me")
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	fmt.Println(w.Code)

	req = httptest.NewRequest("GET", "/admin/tenants/acme", nil)
	req.Header.Set("X-Admin-API-Key", "change-me")
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	fmt.Println(w.Code, w.Body.String())
	// Output:
	// 201 /admin/tenants/acme
	// 200
	// 404 {"error":"Tenant not found"}
}

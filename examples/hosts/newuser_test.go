package hosts_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy"
	"github.com/seedmcp/tenancy/oidcx"
	"github.com/seedmcp/tenancy/oidcx/oidctest"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
)

// journalAPI is the host's own application: a JSON API of notes, kept in
// each tenant's namespace, and a feature flag ("beta") read from each
// tenant's settings, decoded once per tenant and dropped when it changes.
type journalAPI struct {
	rdb    redis.UniversalClient
	logger *slog.Logger
	mu     sync.Mutex
	beta   map[string]bool // tenant ID -> decoded "beta" setting
}

func (a *journalAPI) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /notes", func(w http.ResponseWriter, r *http.Request) {
		t, _ := tenant.FromContext(r.Context())
		var note struct{ Text string }
		if err := json.NewDecoder(r.Body).Decode(&note); err != nil || note.Text == "" {
			http.Error(w, `{"error":"bad note"}`, http.StatusBadRequest)
			return
		}
		key, err := redisstore.TenantKey(t.ID, "notes")
		if err == nil {
			err = a.rdb.RPush(r.Context(), key, note.Text).Err()
		}
		if err != nil {
			http.Error(w, `{"error":"unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		claims, _ := oidcx.ClaimsFromContext(r.Context())
		a.logger.InfoContext(r.Context(), "note added", "subject", claims.Subject)
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /notes", func(w http.ResponseWriter, r *http.Request) {
		t, _ := tenant.FromContext(r.Context())
		key, err := redisstore.TenantKey(t.ID, "notes")
		var notes []string
		if err == nil {
			notes, err = a.rdb.LRange(r.Context(), key, 0, -1).Result()
		}
		if err != nil {
			http.Error(w, `{"error":"unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"tenant": t.ID, "notes": notes})
	})
	mux.HandleFunc("GET /features", func(w http.ResponseWriter, r *http.Request) {
		t, _ := tenant.FromContext(r.Context())
		beta, err := a.betaOf(t)
		if err != nil {
			http.Error(w, `{"error":"bad settings"}`, http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"tenant": t.ID, "beta": beta})
	})
	return mux
}

func (a *journalAPI) betaOf(t *tenant.Tenant) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if v, ok := a.beta[t.ID]; ok {
		return v, nil
	}
	v, _, err := tenant.Setting[bool](t, "beta") // absent: false
	if err == nil {
		a.beta[t.ID] = v
	}
	return v, err
}

// glue begins: newuser

// forget drops the decoded settings of a tenant that changed (all of them
// after a reset, when events may have been missed).
func (a *journalAPI) forget(e store.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if e.Type == store.EventReset {
		clear(a.beta)
	}
	delete(a.beta, e.TenantID)
}

// newJournalHost serves the API at /<tenant>/… (path mode), each tenant's
// bearer tokens checked against its own provider, and the admin API at
// /admin/.
func newJournalHost(rdb redis.UniversalClient, logs io.Writer, adminKey, publicURL string) (*tenancy.Service, http.Handler, error) {
	logger := slog.New(tenant.NewLogHandler(slog.NewJSONHandler(logs, nil)))
	svc, err := tenancy.New(tenancy.Config{
		Redis:          rdb,
		MultiTenant:    true,
		Identification: tenancy.ByPath,
		AdminAPIKey:    adminKey,
		Logger:         logger,
		OIDC:           oidcx.Config{InsecureAllowLoopback: true}, // the test providers are on 127.0.0.1
	})
	if err != nil {
		return nil, nil, err
	}
	urls, err := svc.URLs(publicURL)
	if err != nil {
		return nil, nil, err
	}
	bearer, err := oidcx.Bearer(oidcx.BearerConfig{Verifier: svc.Verifier(), URLs: urls, Logger: logger})
	if err != nil {
		return nil, nil, err
	}
	api := &journalAPI{rdb: rdb, logger: logger, beta: map[string]bool{}}
	svc.OnEvent(api.forget)
	mux := http.NewServeMux()
	mux.Handle("/admin/", svc.Admin())
	mux.Handle("/", svc.Middleware(bearer(api.routes())))
	return svc, mux, nil
}

// glue ends: newuser

// lockedBuffer is a log sink the server writes to while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestJournalHost(t *testing.T) {
	ctx := context.Background()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	idpA, idpB := oidctest.New(t), oidctest.New(t)
	logs := &lockedBuffer{}

	srv := httptest.NewUnstartedServer(nil)
	svc, h, err := newJournalHost(rdb, logs, "op-key", "http://"+srv.Listener.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, svc.Close()) }) // before rdb.Close
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)

	do := func(method, path, token, contentType, body string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if strings.HasPrefix(path, "/admin/") {
			req.Header.Set(tenancy.AdminKeyHeader, "op-key")
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res, string(b)
	}
	status := func(method, path, token, contentType, body string) int {
		t.Helper()
		res, _ := do(method, path, token, contentType, body)
		return res.StatusCode
	}
	createTenant := func(id string, oidc tenant.OIDC, settings string) {
		t.Helper()
		body, err := json.Marshal(map[string]any{"id": id, "name": id, "oidc": oidc, "settings": json.RawMessage(settings)})
		require.NoError(t, err)
		res, got := do("POST", "/admin/tenants", "", "application/json", string(body))
		require.Equal(t, http.StatusCreated, res.StatusCode, got)
	}
	patchTenant := func(id, patch string) {
		t.Helper()
		res, got := do("PATCH", "/admin/tenants/"+id, "", "application/merge-patch+json", patch)
		require.Equal(t, http.StatusOK, res.StatusCode, got)
		require.NoError(t, svc.Sync(ctx)) // every replica, hooks included, has seen the change
	}

	// Two tenants, each trusting its own identity provider.
	createTenant("acme", idpA.OIDC("journal-acme"), `{"beta":false}`)
	createTenant("globex", idpB.OIDC("journal-globex"), `{"beta":true}`)
	tokA := idpA.Token(idpA.Claims("journal-acme", "alice"))
	tokB := idpB.Token(idpB.Claims("journal-globex", "bob"))

	// Each tenant's token works at its own tenant only.
	assert.Equal(t, http.StatusCreated, status("POST", "/acme/notes", tokA, "application/json", `{"text":"hello"}`))
	res, body := do("GET", "/acme/notes", tokA, "", "")
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.JSONEq(t, `{"tenant":"acme","notes":["hello"]}`, body)
	res, _ = do("GET", "/globex/notes", tokA, "", "")
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "acme's token at globex")
	assert.Contains(t, res.Header.Get("WWW-Authenticate"), `error="invalid_token"`)
	assert.Equal(t, http.StatusUnauthorized, status("GET", "/acme/notes", tokB, "", ""), "globex's token at acme")
	assert.Equal(t, http.StatusUnauthorized, status("GET", "/acme/notes", "", "", ""), "no token")
	_, body = do("GET", "/globex/notes", tokB, "", "")
	assert.JSONEq(t, `{"tenant":"globex","notes":[]}`, body, "globex sees none of acme's notes")

	// The tenant-aware logger names the tenant on the app's own lines.
	assert.Regexp(t, `"msg":"note added".*"subject":"alice".*"tenant.id":"acme"`, logs.String())

	// A settings change is seen once the Service has applied its event.
	_, body = do("GET", "/acme/features", tokA, "", "")
	assert.JSONEq(t, `{"tenant":"acme","beta":false}`, body)
	patchTenant("acme", `{"settings":{"beta":true}}`)
	_, body = do("GET", "/acme/features", tokA, "", "")
	assert.JSONEq(t, `{"tenant":"acme","beta":true}`, body)

	// A suspended tenant is answered exactly like one that does not exist.
	patchTenant("globex", `{"status":"suspended"}`)
	suspended, sBody := do("GET", "/globex/notes", tokB, "", "")
	unknown, uBody := do("GET", "/initech/notes", tokB, "", "")
	assert.Equal(t, http.StatusNotFound, suspended.StatusCode)
	assert.Equal(t, unknown.StatusCode, suspended.StatusCode)
	assert.Equal(t, uBody, sBody)
	suspended.Header.Del("Date")
	unknown.Header.Del("Date")
	assert.Equal(t, unknown.Header, suspended.Header)
	assert.Equal(t, http.StatusOK, status("GET", "/acme/notes", tokA, "", ""), "acme goes on")

	// Deleting a tenant deletes the host's own keys in its namespace.
	key, err := redisstore.TenantKey("acme", "notes")
	require.NoError(t, err)
	require.True(t, mr.Exists(key))
	res, body = do("DELETE", "/admin/tenants/acme", "", "", "")
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	var deleted struct{ DeletedKeys int }
	require.NoError(t, json.Unmarshal([]byte(body), &deleted))
	assert.Positive(t, deleted.DeletedKeys)
	assert.False(t, mr.Exists(key), "the host's key went with its tenant")
	require.NoError(t, svc.Sync(ctx))
	assert.Equal(t, http.StatusNotFound, status("GET", "/acme/notes", tokA, "", ""))
}

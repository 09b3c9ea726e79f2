package oidcx

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/testlog"
	"github.com/seedmcp/tenancy/tenant"
)

// logFailingProvider sends n requests with well-formed tokens per back-off
// period, for periods back-off periods, to a tenant whose discovery
// answers 500 with a 1 MiB body, and returns the bearer middleware's log
// and the number of requests sent.
func logFailingProvider(t *testing.T, n, periods int) (string, int) {
	idp := newHostileIdP(t)
	body := strings.Repeat("x", 1<<20-64) // just within the 1 MiB a provider may send
	idp.setDiscovery(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, body, http.StatusInternalServerError)
	})
	acme := idp.tenant("acme")
	clk := &testClock{}
	v := newTestVerifier(t, Config{Now: clk.Now})
	urls, err := SubdomainURLs("https://seed.example.com", "seed.example.com")
	require.NoError(t, err)
	logs := &testlog.Buffer{}
	mw, err := Bearer(BearerConfig{Verifier: v, URLs: urls, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	require.NoError(t, err)
	h := mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	token := idp.token(idp.claims(acme))

	sent := 0
	for p := range periods {
		for range n {
			r := httptest.NewRequest(http.MethodPost, "https://acme.seed.example.com/mcp", nil)
			r.Header.Set("Authorization", "Bearer "+token)
			r = r.WithContext(tenant.NewContext(r.Context(), acme))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			require.Equal(t, http.StatusServiceUnavailable, w.Code)
			sent++
		}
		clk.Advance(v.backoff(p + 1)) // the next period
	}
	require.Equal(t, periods, idp.requests("/.well-known/openid-configuration"), "one discovery per back-off period")
	return logs.String(), sent
}

// A failing provider is logged once per back-off period, with its answer
// cut to a few hundred bytes. Before, each request logged go-oidc's error
// with the whole body: 100 requests, 100 MiB of log.
func TestProviderFailureLoggedOncePerBackoff(t *testing.T) {
	logs, sent := logFailingProvider(t, 100, 3)
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	assert.Len(t, lines, 3, "one line per back-off period")
	for _, l := range lines {
		assert.Less(t, len(l), 1024, "a line is short: %.300s", l)
		assert.Contains(t, l, "500 Internal Server Error")
	}
	t.Logf("%d requests while the provider failed: %d log bytes, %.1f bytes per request", sent, len(logs), float64(len(logs))/float64(sent))
}

// The error a caller of Verify gets, and the one kept for the back-off,
// are cut short too.
func TestProviderFailureCutShort(t *testing.T) {
	idp := newHostileIdP(t)
	idp.setDiscovery(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, strings.Repeat("y", 1<<20), http.StatusBadGateway)
	})
	acme := idp.tenant("acme")
	v := newTestVerifier(t, Config{})
	token := idp.token(idp.claims(acme))
	for range 2 { // from the build, then from the back-off
		_, err := v.Verify(t.Context(), acme, token)
		var ue *UnavailableError
		require.ErrorAs(t, err, &ue)
		assert.Less(t, len(ue.Err.Error()), maxErrorLen+100)
		assert.Less(t, len(err.Error()), maxErrorLen+300)
	}
}

func TestShortenKeepsTheKind(t *testing.T) {
	err := shorten(&UnavailableError{Err: ErrProviderURL})
	assert.ErrorIs(t, err, ErrProviderURL)
	assert.NotErrorIs(t, shorten(errRecentlyFetched), ErrProviderURL)
	long := shorten(errorString(strings.Repeat("é", 1000)))
	assert.LessOrEqual(t, len(long.Error()), maxErrorLen+len("...(cut)"))
	assert.True(t, strings.HasSuffix(long.Error(), "é...(cut)"), "cut on a character boundary")
}

type errorString string

func (e errorString) Error() string { return string(e) }

// A request that reaches the bearer middleware or the metadata handler
// without a tenant (a wiring mistake, logged on every request) logs its
// path cut to a few hundred bytes: the path is the client's, up to the
// server's header limit, and would otherwise be copied into the log whole.
func TestNoTenantLogCutsPath(t *testing.T) {
	urls, err := SubdomainURLs("https://seed.example.com", "seed.example.com")
	require.NoError(t, err)
	v := newTestVerifier(t, Config{})
	path := "/" + strings.Repeat("p", 64<<10)
	for name, build := range map[string]func(*slog.Logger) http.Handler{
		"bearer": func(l *slog.Logger) http.Handler {
			mw, err := Bearer(BearerConfig{Verifier: v, URLs: urls, Logger: l})
			require.NoError(t, err)
			return mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		},
		"metadata": func(l *slog.Logger) http.Handler {
			h, err := MetadataHandler(MetadataConfig{URLs: urls, Logger: l})
			require.NoError(t, err)
			return h
		},
	} {
		logs := &testlog.Buffer{}
		h := build(slog.New(slog.NewTextHandler(logs, nil)))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "https://acme.seed.example.com"+path, nil))
		assert.Equal(t, http.StatusInternalServerError, w.Code, name)
		assert.Contains(t, logs.String(), "without a tenant", name)
		assert.Less(t, len(logs.String()), 1024, name)
	}
}

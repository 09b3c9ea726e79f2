package tenancy

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/middleware"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/tenant"
)

// floodIssuer is the identity provider of the token-mode flood: every
// tenant trusts it, each with its own audience.
const floodIssuer = "https://idp.example.com"

// pairToken is a token whose payload names floodIssuer and audience. Its
// signature does not matter: the tenant is picked from the payload, and
// verifying it is the bearer check's job, after.
func pairToken(t *testing.T, audience string) string {
	enc := base64.RawURLEncoding.EncodeToString
	payload, err := json.Marshal(map[string]any{"iss": floodIssuer, "aud": audience, "sub": "someone"})
	require.NoError(t, err)
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc(payload) + ".c2ln"
}

// TestFloodOfMadeUpIssuers is the flood of made-up tenant IDs in token
// mode: 10,000 concurrent requests whose tokens name 2,000 issuer and
// audience pairs nobody trusts, with a miss budget the flood alone would
// spend at once, on miniredis and the real Redis. A tenant this replica
// never read (cold: what a replica started during the flood sees of every
// tenant) and one created on another replica just before the flood
// (fresh) are served throughout; the made-up pairs get 400 without a
// Redis command.
func TestFloodOfMadeUpIssuers(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			mine, other := b.connect(t)
			elsewhere := redisstore.New(other, redisstore.Config{}).Tenants()
			withPair := func(id string) *tenant.Tenant {
				return &tenant.Tenant{ID: id, Name: id, Status: tenant.StatusActive,
					OIDC: tenant.OIDC{Issuer: floodIssuer, Audience: "mcp-" + id}}
			}
			_, err := elsewhere.Create(ctx, withPair("cold"))
			require.NoError(t, err)
			counter := &commandCounter{}
			mine.AddHook(counter)
			s := newService(t, Config{Redis: mine, MultiTenant: true, Identification: ByToken, UsageInterval: time.Hour,
				Cache: middleware.CacheConfig{MissesPerSecond: 50}})
			waitSubscribed(t, s)

			_, err = elsewhere.Create(ctx, withPair("fresh"))
			require.NoError(t, err)
			require.Eventually(t, func() bool {
				return s.Directory().Issuers().Presence(floodIssuer+"\x00mcp-fresh") == middleware.Exists && s.Directory().Stats().Unsettled == 0
			}, 10*time.Second, time.Millisecond, "the created event reaches this replica")
			// and its handling is complete (the caches are invalidated
			// after the read it starts), so that nothing of it lands in
			// the flood.
			require.NoError(t, s.Sync(ctx))

			// Every 400 must be the missing identifier: a made-up pair is
			// answered like a request without a token.
			var wrong atomic.Int64
			h := s.Middleware(whoami)
			checked := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				if rec.Code == http.StatusBadRequest && rec.Body.String() != `{"error":"Missing tenant identifier"}` {
					wrong.Add(1)
				}
				if rec.Code == http.StatusOK && !strings.HasPrefix(rec.Body.String(), strings.TrimPrefix(r.Header.Get("X-Want"), "mcp-")+" ") {
					wrong.Add(1)
				}
				w.WriteHeader(rec.Code)
			})
			res := flood(t, s, checked, counter, 10_000, 2_000, []string{"mcp-cold", "mcp-fresh"},
				func(name string) (string, []string) {
					return "seed.example.com", []string{"Authorization", "Bearer " + pairToken(t, name), "X-Want", name}
				})
			t.Logf("%s: statuses %v, Redis commands during the flood %d, issuer lookups ruled out %d",
				b.name, res.statuses, res.commands, s.issuers.Stats().RuledOut)
			assert.Equal(t, map[int]int{400: 10_000}, res.statuses["made-up"], "made-up pairs: 400 only")
			assert.Zero(t, wrong.Load(), "every 400 is the missing identifier, every 200 the tenant the token names")
			for _, aud := range []string{"mcp-cold", "mcp-fresh"} {
				assert.Equal(t, map[int]int{200: 200}, res.statuses[aud], "%s served throughout", aud)
			}
			// mcp-cold costs an issuer read and a tenant read, mcp-fresh
			// an issuer read (its tenant was read when its event came);
			// nothing else reaches Redis.
			assert.LessOrEqual(t, res.commands, int64(3), "Redis commands during 10,400 requests; the last: %v", counter.recent())
			assert.GreaterOrEqual(t, s.issuers.Stats().RuledOut, int64(10_000), "the directory answered every made-up pair")
		})
	}
}

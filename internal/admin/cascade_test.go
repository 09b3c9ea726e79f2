package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/audit"
	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/usage"
)

// scanAll lists every key on every master.
func scanAll(t *testing.T, rdb redis.UniversalClient) []string {
	t.Helper()
	ctx := context.Background()
	var (
		mu  sync.Mutex
		out []string
	)
	each := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, "*", 1000).Iterator()
		var mine []string
		for iter.Next(ctx) {
			mine = append(mine, iter.Val())
		}
		mu.Lock()
		out = append(out, mine...)
		mu.Unlock()
		return iter.Err()
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		require.NoError(t, cc.ForEachMaster(ctx, each))
	} else {
		require.NoError(t, each(ctx, rdb.(*redis.Client)))
	}
	slices.Sort(out)
	return out
}

// ofTenant reports whether key belongs to tenant id (its record, its domain
// or its data).
func ofTenant(key, id, domain string) bool {
	return strings.HasPrefix(key, keys.Prefix(id)) || key == keys.Metadata(id) ||
		(domain != "" && key == keys.Domain(domain))
}

// TestCascadeDelete deletes a tenant through the admin API on the real
// Redis and the real Cluster and checks, by SCAN before and after, that
// exactly its keys are gone, including next to tenants whose IDs extend
// its own.
func TestCascadeDelete(t *testing.T) {
	for _, b := range []struct {
		name    string
		connect func(t *testing.T) redis.UniversalClient
	}{
		{"redis", func(t *testing.T) redis.UniversalClient { return testredis.Standalone(t) }},
		{"cluster", func(t *testing.T) redis.UniversalClient { return testredis.Cluster(t) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			rdb := b.connect(t)
			ctx := context.Background()
			st := redisstore.New(rdb, redisstore.Config{DeleteBatch: 50})
			var changes []store.Event
			f := newFixture(t, func(c *Config) {
				c.Tenants = st.Tenants()
				c.OnChange = func(e store.Event) { changes = append(changes, e) }
			})

			tenants := map[string]string{"acme": "acme.example.com", "acme-corp": "corp.example.com", "acme2": ""}
			for id, domain := range tenants {
				body := `{"id":"` + id + `","name":"` + id + `"`
				if domain != "" {
					body += `,"domain":"` + domain + `"`
				}
				f.create(t, body+"}")
				for i := range 120 {
					n := strconv.Itoa(i)
					require.NoError(t, st.Clients().Register(ctx, id, &store.Client{ClientID: "c" + n, RedirectURIs: []string{"https://app.example/cb"}}, 0))
					_, err := st.Sessions().Create(ctx, id, "s"+n, "u"+n, 0)
					require.NoError(t, err)
				}
				_, err := st.Allow(ctx, id, "ip-1", 100)
				require.NoError(t, err)
			}

			before := scanAll(t, rdb)
			var mine, others []string
			for _, k := range before {
				if ofTenant(k, "acme", tenants["acme"]) {
					mine = append(mine, k)
				} else {
					others = append(others, k)
				}
			}
			require.Greater(t, len(mine), 240, "acme has its clients, sessions, sets, limiter, record and domain")

			events := make(chan store.Event, 16)
			subCtx, stop := context.WithCancel(ctx)
			defer stop()
			go func() {
				_ = st.Subscribe(subCtx, func(e store.Event) { events <- e })
			}()
			waitFor(t, events, store.EventReset, "")

			w := f.do(t, req{method: "DELETE", path: "/admin/tenants/acme"})
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			var got deleted
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
			assert.Equal(t, deleted{ID: "acme", DeletedKeys: int64(len(mine))}, got, "deletedKeys counts every key removed")

			after := scanAll(t, rdb)
			assert.Equal(t, others, after, "exactly acme's keys are gone; acme-corp and acme2 keep everything")
			assert.Zero(t, rdb.ZScore(ctx, keys.Index, "acme").Val())
			assert.Equal(t, []string{"acme-corp", "acme2"}, rdb.ZRange(ctx, keys.Index, 0, -1).Val())
			waitFor(t, events, store.EventDeleted, "acme")
			assert.Contains(t, changes, store.Event{Type: store.EventDeleted, TenantID: "acme"}, "this replica's hook ran")

			assert.Equal(t, http.StatusNotFound, f.do(t, req{method: "GET", path: "/admin/tenants/acme"}).Code)
			assert.Equal(t, http.StatusOK, f.do(t, req{method: "GET", path: "/admin/tenants/acme-corp"}).Code)
		})
	}
}

// TestSuspendPublishes checks that a suspension through the API reaches
// subscribers (every replica's cache) as an update.
func TestSuspendPublishes(t *testing.T) {
	rdb := testredis.Standalone(t)
	st := redisstore.New(rdb, redisstore.Config{})
	f := newFixture(t, func(c *Config) { c.Tenants = st.Tenants() })
	f.create(t, `{"id":"acme","name":"ACME"}`)

	events := make(chan store.Event, 16)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() { _ = st.Subscribe(ctx, func(e store.Event) { events <- e }) }()
	waitFor(t, events, store.EventReset, "")

	w := f.do(t, req{method: "PATCH", path: "/admin/tenants/acme", body: `{"status":"suspended"}`, contentType: "application/merge-patch+json"})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	waitFor(t, events, store.EventUpdated, "acme")
	got, err := st.Tenants().Get(ctx, "acme")
	require.NoError(t, err)
	assert.False(t, got.Active())
}

func waitFor(t *testing.T, events <-chan store.Event, typ store.EventType, id string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case e := <-events:
			if e.Type == typ && e.TenantID == id {
				return
			}
		case <-timeout:
			t.Fatalf("no %s event for %q", typ, id)
		}
	}
}

// TestCascadeDeleteTakesRecords deletes a tenant that has usage, an audit
// trail and admin keys (one used) on the real Redis and the Cluster: they
// all go, its key stops working, and acme-corp keeps its own.
func TestCascadeDeleteTakesRecords(t *testing.T) {
	for _, b := range []struct {
		name    string
		connect func(t *testing.T) redis.UniversalClient
	}{
		{"redis", func(t *testing.T) redis.UniversalClient { return testredis.Standalone(t) }},
		{"cluster", func(t *testing.T) redis.UniversalClient { return testredis.Cluster(t) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			rdb := b.connect(t)
			ctx := context.Background()
			st := redisstore.New(rdb, redisstore.Config{})
			trail, err := audit.New(audit.Config{Store: st.Audit()})
			require.NoError(t, err)
			f := newFixture(t, func(c *Config) {
				c.Tenants, c.Keys, c.Usage, c.Audit = st.Tenants(), st.AdminKeys(), st.Usage(), trail
				c.Now = time.Now
			})
			rec, err := usage.New(usage.Config{Store: st.Usage()})
			require.NoError(t, err)
			keysOf := map[string]string{}
			for _, id := range []string{"acme", "acme-corp"} {
				f.create(t, `{"id":"`+id+`","name":"`+id+`"}`)
				w := f.do(t, req{method: "POST", path: "/admin/tenants/" + id + "/keys"})
				require.Equal(t, http.StatusCreated, w.Code)
				keysOf[id] = decode[createdKey](t, w).Key
				require.Equal(t, http.StatusOK, f.do(t, req{method: "PATCH", path: "/admin/tenants/" + id,
					body: `{"name":"renamed"}`, key: str(keysOf[id])}).Code)
				rec.Served(id)
				rec.ToolCall(id, "whoami")
				require.NoError(t, trail.Login(ctx, id, "client", "alice"))
			}
			require.NoError(t, rec.Flush(ctx))

			var mine, others []string
			for _, k := range scanAll(t, rdb) {
				if ofTenant(k, "acme", "") {
					mine = append(mine, k)
				} else {
					others = append(others, k)
				}
			}
			for _, suffix := range []string{"usage:" + time.Now().UTC().Format(store.DateLayout), "audit", "admin-keys", "admin-keys-used"} {
				assert.Contains(t, mine, keys.Prefix("acme")+suffix)
				assert.Contains(t, others, keys.Prefix("acme-corp")+suffix)
			}

			w := f.do(t, req{method: "DELETE", path: "/admin/tenants/acme"})
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			assert.Equal(t, int64(len(mine)), decode[deleted](t, w).DeletedKeys)
			assert.Equal(t, others, scanAll(t, rdb), "usage, trail, keys and their last uses went with acme, and only they")
			assert.Equal(t, http.StatusUnauthorized, f.do(t, req{method: "GET", path: "/admin/tenants/acme", key: str(keysOf["acme"])}).Code,
				"a key never outlives its tenant")

			// Counts and events that arrive after the delete leave nothing.
			rec.Served("acme")
			require.NoError(t, rec.Flush(ctx))
			require.NoError(t, trail.Login(ctx, "acme", "client", "alice"))
			assert.Equal(t, others, scanAll(t, rdb), "nothing recreated for the deleted tenant")
			// A new tenant under the same ID starts from nothing.
			f.create(t, `{"id":"acme","name":"again"}`)
			w = f.do(t, req{method: "GET", path: "/admin/tenants/acme/usage"})
			assert.Equal(t, int64(0), decode[usage.Report](t, w).Total.Served)
			assert.Equal(t, http.StatusOK, f.do(t, req{method: "GET", path: "/admin/tenants/acme-corp", key: str(keysOf["acme-corp"])}).Code)
		})
	}
}

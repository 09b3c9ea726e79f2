package redisstore_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/internal/testredis"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/store/redisstore"
	"github.com/seedmcp/tenancy/store/storetest"
	"github.com/seedmcp/tenancy/tenant"
)

// streamNode is Redis's stream-node-max-entries: a stream trimmed with
// MAXLEN ~ keeps up to one node more than its length.
const streamNode = 100

func adminRecords(s *redisstore.Store) storetest.AdminRecordsBackend {
	return storetest.AdminRecordsBackend{
		Usage: s.Usage(), Audit: s.Audit(), AdminKeys: s.AdminKeys(), Tenants: s.Tenants(), Trimmed: streamNode,
	}
}

func TestAdminRecordsConformanceMiniredis(t *testing.T) {
	storetest.RunAdminRecords(t, func(t *testing.T) storetest.AdminRecordsBackend {
		s, _, _, _ := newMiniredis(t)
		return adminRecords(s)
	})
}

func TestAdminRecordsConformanceRedis(t *testing.T) {
	storetest.RunAdminRecords(t, func(t *testing.T) storetest.AdminRecordsBackend {
		return adminRecords(redisstore.New(testredis.Standalone(t), redisstore.Config{}))
	})
}

func TestAdminRecordsConformanceCluster(t *testing.T) {
	storetest.RunAdminRecords(t, func(t *testing.T) storetest.AdminRecordsBackend {
		return adminRecords(redisstore.New(testredis.Cluster(t), redisstore.Config{}))
	})
}

// TestAdminRecordKeys checks the layout: every record lives in its
// tenant's namespace and slot, usage days expire 400 days after their day,
// and the writer's marker after a day.
func TestAdminRecordKeys(t *testing.T) {
	s, m, _, _ := newMiniredis(t)
	ctx := t.Context()
	_, err := s.Tenants().Create(ctx, &tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive})
	require.NoError(t, err)
	require.NoError(t, s.Usage().Add(ctx, store.UsageBatch{Writer: "w1", Seq: 1, Deltas: []store.UsageDelta{
		{TenantID: "acme", Date: "2026-01-05", UsageCounts: store.UsageCounts{Served: 1, ToolCalls: map[string]int64{"whoami": 2}}},
	}}))
	_, err = s.Audit().Append(ctx, "acme", store.AuditEvent{Type: store.AuditLogin}, 0)
	require.NoError(t, err)
	require.NoError(t, s.AdminKeys().Create(ctx, "acme", store.AdminKey{ID: "k1", Hash: "h", CreatedAt: time.Now()}, 0))
	require.NoError(t, s.AdminKeys().Touch(ctx, "acme", "k1", time.Now()))

	var data []string
	for _, k := range m.Keys() {
		if strings.HasPrefix(k, "tenant:{acme}:") {
			data = append(data, k)
		}
	}
	assert.ElementsMatch(t, []string{
		"tenant:{acme}:usage:2026-01-05", "tenant:{acme}:usage-writer:w1", "tenant:{acme}:audit",
		"tenant:{acme}:admin-keys", "tenant:{acme}:admin-keys-used",
	}, data)
	for _, k := range data {
		assert.Equal(t, slot(keys.Metadata("acme")), slot(k), "%s is in the tenant's slot", k)
	}
	assert.Equal(t, map[string]string{"served": "1", "tool:whoami": "2", "tools": "1"}, hgetall(m, "tenant:{acme}:usage:2026-01-05"))
	// The clock of newMiniredis is 2026-01-05 12:00:00.123456789: the
	// day ends 11h59m59.876… later, and then 400 days remain.
	now := time.Date(2026, 1, 5, 12, 0, 0, 123456789, time.UTC)
	end := time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC).Add(store.UsageRetention)
	within(t, m.TTL("tenant:{acme}:usage:2026-01-05"), end.Sub(now)-time.Second, end.Sub(now))
	assert.Equal(t, store.UsageWriterTTL, m.TTL("tenant:{acme}:usage-writer:w1"))
	assert.Zero(t, m.TTL("tenant:{acme}:audit"), "the trail is capped by length, not time")
}

func within(t *testing.T, d, lo, hi time.Duration) {
	t.Helper()
	assert.True(t, d >= lo && d <= hi, "%v not within [%v, %v]", d, lo, hi)
}

func hgetall(m *miniredis.Miniredis, key string) map[string]string {
	out := map[string]string{}
	fields, _ := m.HKeys(key)
	for _, f := range fields {
		out[f] = m.HGet(key, f)
	}
	return out
}

// TestUsageAfterScriptFlush checks that a batch still goes through after
// the server lost its scripts (a restart, a failover), and counts once.
func TestUsageAfterScriptFlush(t *testing.T) {
	rdb := testredis.Standalone(t)
	s := redisstore.New(rdb, redisstore.Config{})
	ctx := t.Context()
	_, err := s.Tenants().Create(ctx, &tenant.Tenant{ID: "acme", Name: "ACME", Status: tenant.StatusActive})
	require.NoError(t, err)
	batch := func(seq uint64) store.UsageBatch {
		return store.UsageBatch{Writer: "w1", Seq: seq, Deltas: []store.UsageDelta{
			{TenantID: "acme", Date: "2026-01-05", UsageCounts: store.UsageCounts{Served: 1}},
		}}
	}
	require.NoError(t, s.Usage().Add(ctx, batch(1)))
	require.NoError(t, rdb.ScriptFlush(ctx).Err())
	require.NoError(t, s.Usage().Add(ctx, batch(2)))
	require.NoError(t, rdb.ScriptFlush(ctx).Err())
	require.NoError(t, s.Usage().Add(ctx, batch(2)))
	days, err := s.Usage().Read(ctx, "acme", "2026-01-05", "2026-01-05")
	require.NoError(t, err)
	assert.Equal(t, int64(2), days[0].Served)
}

// testRecordRoundTrips counts the round trips of each operation: a usage
// batch of many tenants is one pipeline.
func testRecordRoundTrips(t *testing.T, rdb redis.UniversalClient) {
	ctx := t.Context()
	s := redisstore.New(rdb, redisstore.Config{})
	require.NoError(t, s.LoadScripts(ctx))
	var deltas []store.UsageDelta
	for i := range 50 {
		id := fmt.Sprintf("t%d", i)
		_, err := s.Tenants().Create(ctx, &tenant.Tenant{ID: id, Name: id, Status: tenant.StatusActive})
		require.NoError(t, err)
		deltas = append(deltas, store.UsageDelta{TenantID: id, Date: "2026-01-05", UsageCounts: store.UsageCounts{Served: 1}})
	}
	c := &counter{}
	rdb.AddHook(c)
	for _, op := range []struct {
		name string
		run  func() error
	}{
		{"Usage.Add of 50 tenants", func() error {
			return s.Usage().Add(ctx, store.UsageBatch{Writer: "w", Seq: 1, Deltas: deltas})
		}},
		{"Usage.Read of 400 days", func() error { _, err := s.Usage().Read(ctx, "t1", "2025-01-01", "2026-02-04"); return err }},
		{"Audit.Append", func() error { _, err := s.Audit().Append(ctx, "t1", store.AuditEvent{Type: "login"}, 0); return err }},
		{"Audit.Read", func() error { _, err := s.Audit().Read(ctx, "t1", "", 0); return err }},
		{"AdminKeys.Create", func() error {
			return s.AdminKeys().Create(ctx, "t1", store.AdminKey{ID: "k", Hash: "h", CreatedAt: time.Now()}, 0)
		}},
		{"AdminKeys.Get", func() error { _, err := s.AdminKeys().Get(ctx, "t1", "k"); return err }},
		{"AdminKeys.Touch", func() error { return s.AdminKeys().Touch(ctx, "t1", "k", time.Now()) }},
		{"AdminKeys.List", func() error { _, err := s.AdminKeys().List(ctx, "t1"); return err }},
		{"AdminKeys.Revoke", func() error { return s.AdminKeys().Revoke(ctx, "t1", "k") }},
	} {
		c.n.Store(0)
		require.NoError(t, op.run(), op.name)
		assert.Equal(t, int64(1), c.n.Load(), "round trips of %s", op.name)
	}
	days, err := s.Usage().Read(ctx, "t49", "2026-01-05", "2026-01-05")
	require.NoError(t, err)
	assert.Equal(t, int64(1), days[0].Served)
}

func TestRecordRoundTripsRedis(t *testing.T) { testRecordRoundTrips(t, testredis.Standalone(t)) }

func TestRecordRoundTripsCluster(t *testing.T) { testRecordRoundTrips(t, testredis.Cluster(t)) }

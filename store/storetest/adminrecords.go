package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seedmcp/tenancy/store"
)

// AdminRecordsBackend is a set of stores of the admin API's records under
// test, freshly emptied, with the tenant registry that shares their data
// (records exist only for tenants that exist, and go with their cascade
// delete).
type AdminRecordsBackend struct {
	Usage     store.Usage
	Audit     store.Audit
	AdminKeys store.AdminKeys
	Tenants   store.Tenants
	// Trimmed is how many events beyond its length a capped audit trail
	// may keep: 0 for an exact cap, about 100 for a Redis stream trimmed
	// with MAXLEN ~.
	Trimmed int
}

// RunAdminRecords runs the conformance cases of [store.Usage],
// [store.Audit] and [store.AdminKeys] as subtests of t. newBackend is
// called once per case and must return empty stores.
func RunAdminRecords(t *testing.T, newBackend func(t *testing.T) AdminRecordsBackend) {
	runCases(t, []testCase[AdminRecordsBackend]{
		{"UsageAddRead", testUsageAddRead},
		{"UsageBatchAppliedOnce", testUsageOnce},
		{"UsageBatchNumbersAtTheEdge", testUsageSeqEdge},
		{"UsageWritersAddUpConcurrently", testUsageConcurrent},
		{"UsageToolNamesBounded", testUsageToolNames},
		{"UsageOfUnknownTenantDropped", testUsageUnknownTenant},
		{"UsageInvalidArguments", testUsageInvalid},
		{"AuditAppendRead", testAuditAppendRead},
		{"AuditCapped", testAuditCapped},
		{"AuditOfUnknownTenant", testAuditUnknownTenant},
		{"AuditInvalidArguments", testAuditInvalid},
		{"AdminKeyLifecycle", testAdminKeyLifecycle},
		{"AdminKeyLimitConcurrent", testAdminKeyLimit},
		{"AdminKeyOfUnknownTenant", testAdminKeyUnknownTenant},
		{"RecordsCascadeDelete", testRecordsCascade},
		{"WritesNeedTheTenant", testRecordsNeedTheTenant},
	}, newBackend)
}

func delta(id, date string, served int64, tools map[string]int64) store.UsageDelta {
	return store.UsageDelta{TenantID: id, Date: date, UsageCounts: store.UsageCounts{Served: served, ToolCalls: tools}}
}

func readDays(t *testing.T, b *AdminRecordsBackend, id, from, to string) []store.UsageDay {
	t.Helper()
	days, err := b.Usage.Read(t.Context(), id, from, to)
	require.NoError(t, err)
	return days
}

func testUsageAddRead(t *testing.T, b *AdminRecordsBackend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme", "acme-corp")
	err := b.Usage.Add(ctx, store.UsageBatch{Writer: "w1", Seq: 1, Deltas: []store.UsageDelta{
		{TenantID: "acme", Date: "2026-01-05", UsageCounts: store.UsageCounts{
			Served: 10, RateLimited: 2, AuthRefused: 3, SessionsOpened: 4, Logins: 5,
			ToolCalls: map[string]int64{"whoami": 6, "search.docs": 1},
		}},
		delta("acme", "2026-01-07", 1, nil),
		// Two deltas of one day in one batch add up.
		delta("acme", "2026-01-05", 1, map[string]int64{"whoami": 1}),
		delta("acme-corp", "2026-01-05", 100, nil),
	}})
	require.NoError(t, err)

	days := readDays(t, b, "acme", "2026-01-04", "2026-01-07")
	require.Len(t, days, 4, "every day of the range, with or without counts")
	for i, date := range []string{"2026-01-04", "2026-01-05", "2026-01-06", "2026-01-07"} {
		assert.Equal(t, date, days[i].Date)
		assert.NotNil(t, days[i].ToolCalls, "toolCalls is {} rather than null")
	}
	assert.Equal(t, store.UsageCounts{
		Served: 11, RateLimited: 2, AuthRefused: 3, SessionsOpened: 4, Logins: 5,
		ToolCalls: map[string]int64{"whoami": 7, "search.docs": 1},
	}, days[1].UsageCounts)
	assert.True(t, days[0].Zero() && days[2].Zero())
	assert.Equal(t, int64(1), days[3].Served)
	other := readDays(t, b, "acme-corp", "2026-01-05", "2026-01-05")
	assert.Equal(t, int64(100), other[0].Served, "each tenant has its own counts")
}

func testUsageOnce(t *testing.T, b *AdminRecordsBackend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme")
	batch := store.UsageBatch{Writer: "w1", Seq: 7, Deltas: []store.UsageDelta{delta("acme", "2026-01-05", 5, nil)}}
	require.NoError(t, b.Usage.Add(ctx, batch))
	require.NoError(t, b.Usage.Add(ctx, batch), "a batch sent again after a lost answer")
	batch.Seq = 3
	require.NoError(t, b.Usage.Add(ctx, batch), "an older batch of the writer")
	assert.Equal(t, int64(5), readDays(t, b, "acme", "2026-01-05", "2026-01-05")[0].Served,
		"a writer's batch counts once, and never after a later one")

	batch.Writer = "w2"
	require.NoError(t, b.Usage.Add(ctx, batch), "another writer's batch with the same number")
	batch.Writer, batch.Seq = "w1", 8
	require.NoError(t, b.Usage.Add(ctx, batch))
	assert.Equal(t, int64(15), readDays(t, b, "acme", "2026-01-05", "2026-01-05")[0].Served)
}

// testUsageSeqEdge: batch numbers are compared exactly over the whole
// range of a uint64, also above 2^53, where a float64 (a Lua number) no
// longer tells neighbours apart: a batch one above the last was taken for
// the last and dropped.
func testUsageSeqEdge(t *testing.T, b *AdminRecordsBackend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme")
	want := int64(0)
	for i, seq := range []uint64{1<<53 - 1, 1 << 53, 1<<53 + 1, 1 << 60, 1<<60 + 1, 1<<63 - 1, 1 << 63, 1<<64 - 2, 1<<64 - 1} {
		batch := store.UsageBatch{Writer: "w1", Seq: seq, Deltas: []store.UsageDelta{delta("acme", "2026-01-05", 1, nil)}}
		require.NoError(t, b.Usage.Add(ctx, batch))
		require.NoError(t, b.Usage.Add(ctx, batch), "batch %d sent again", seq)
		want++
		require.Equal(t, want, readDays(t, b, "acme", "2026-01-05", "2026-01-05")[0].Served, "batch %d (%d) counts once", seq, i)
	}
	batch := store.UsageBatch{Writer: "w1", Seq: 9, Deltas: []store.UsageDelta{delta("acme", "2026-01-05", 1, nil)}}
	require.NoError(t, b.Usage.Add(ctx, batch), "an older batch of the writer")
	assert.Equal(t, want, readDays(t, b, "acme", "2026-01-05", "2026-01-05")[0].Served, "never after a later one")
}

func testUsageConcurrent(t *testing.T, b *AdminRecordsBackend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme", "globex")
	const writers, batches = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches)
	for w := range writers {
		wg.Go(func() {
			for i := range batches {
				errs <- b.Usage.Add(ctx, store.UsageBatch{Writer: fmt.Sprintf("w%d", w), Seq: uint64(i + 1), Deltas: []store.UsageDelta{
					delta("acme", "2026-01-05", 1, map[string]int64{"whoami": 2}),
					delta("globex", "2026-01-05", 3, nil),
				}})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	acme := readDays(t, b, "acme", "2026-01-05", "2026-01-05")[0]
	assert.Equal(t, int64(writers*batches), acme.Served, "concurrent writers add up exactly")
	assert.Equal(t, int64(2*writers*batches), acme.ToolCalls["whoami"])
	assert.Equal(t, int64(3*writers*batches), readDays(t, b, "globex", "2026-01-05", "2026-01-05")[0].Served)
}

func testUsageToolNames(t *testing.T, b *AdminRecordsBackend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme")
	// Two writers each bring 40 names, 16 of them shared: 64 distinct
	// names fit, 16 more do not. Each call is counted once either way.
	tools := func(from, to int) map[string]int64 {
		m := map[string]int64{}
		for i := from; i < to; i++ {
			m[fmt.Sprintf("tool-%02d", i)] = 1
		}
		return m
	}
	require.NoError(t, b.Usage.Add(ctx, store.UsageBatch{Writer: "w1", Seq: 1, Deltas: []store.UsageDelta{
		delta("acme", "2026-01-05", 0, tools(0, 40)),
	}}))
	require.NoError(t, b.Usage.Add(ctx, store.UsageBatch{Writer: "w2", Seq: 1, Deltas: []store.UsageDelta{
		delta("acme", "2026-01-05", 0, tools(24, 64)),
		delta("acme", "2026-01-05", 0, map[string]int64{store.OtherTool: 5}),
	}}))
	require.NoError(t, b.Usage.Add(ctx, store.UsageBatch{Writer: "w3", Seq: 1, Deltas: []store.UsageDelta{
		delta("acme", "2026-01-05", 0, tools(60, 80)),
		delta("acme", "2026-01-06", 0, tools(70, 71)),
	}}))
	day := readDays(t, b, "acme", "2026-01-05", "2026-01-06")
	calls := day[0].ToolCalls
	var total int64
	for _, n := range calls {
		total += n
	}
	assert.Equal(t, int64(40+40+5+20), total, "every call is counted")
	assert.Len(t, calls, store.MaxToolNames+1, "64 names and other")
	assert.Equal(t, int64(5+16), calls[store.OtherTool], "the calls of names past the 64th, and of other itself")
	assert.Equal(t, int64(2), calls["tool-30"], "a name both writers brought")
	assert.Equal(t, int64(2), calls["tool-60"], "a known name keeps counting after the 64th")
	assert.NotContains(t, calls, "tool-64")
	assert.Equal(t, map[string]int64{"tool-70": 1}, day[1].ToolCalls, "the bound is per day")
}

func testUsageUnknownTenant(t *testing.T, b *AdminRecordsBackend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme")
	require.NoError(t, b.Usage.Add(ctx, store.UsageBatch{Writer: "w1", Seq: 1, Deltas: []store.UsageDelta{
		delta("ghost", "2026-01-05", 5, nil),
		delta("acme", "2026-01-05", 1, nil),
	}}))
	assert.True(t, readDays(t, b, "ghost", "2026-01-05", "2026-01-05")[0].Zero(), "no counts without the tenant")
	// Created later, the tenant starts from nothing: the dropped counts
	// were not kept anywhere.
	createTenants(t, b.Tenants, "ghost")
	assert.True(t, readDays(t, b, "ghost", "2026-01-05", "2026-01-05")[0].Zero())
	assert.Equal(t, int64(1), readDays(t, b, "acme", "2026-01-05", "2026-01-05")[0].Served)
}

func testUsageInvalid(t *testing.T, b *AdminRecordsBackend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme")
	ok := delta("acme", "2026-01-05", 1, nil)
	for name, batch := range map[string]store.UsageBatch{
		"no writer":       {Seq: 1, Deltas: []store.UsageDelta{ok}},
		"bad writer":      {Writer: "a b", Seq: 1, Deltas: []store.UsageDelta{ok}},
		"seq 0":           {Writer: "w", Deltas: []store.UsageDelta{ok}},
		"bad date":        {Writer: "w", Seq: 1, Deltas: []store.UsageDelta{delta("acme", "2026-1-5", 1, nil)}},
		"negative":        {Writer: "w", Seq: 1, Deltas: []store.UsageDelta{delta("acme", "2026-01-05", -1, nil)}},
		"bad tool":        {Writer: "w", Seq: 1, Deltas: []store.UsageDelta{delta("acme", "2026-01-05", 0, map[string]int64{"a b": 1})}},
		"negative tool":   {Writer: "w", Seq: 1, Deltas: []store.UsageDelta{delta("acme", "2026-01-05", 0, map[string]int64{"t": -1})}},
		"bad tenant with": {Writer: "w", Seq: 1, Deltas: []store.UsageDelta{ok, delta("Acme", "2026-01-05", 1, nil)}},
	} {
		err := b.Usage.Add(ctx, batch)
		require.Error(t, err, name)
	}
	assert.True(t, readDays(t, b, "acme", "2026-01-05", "2026-01-05")[0].Zero(), "a refused batch writes nothing")

	for _, r := range [][2]string{
		{"2026-01-05", "2026-01-04"}, {"2026-1-5", "2026-01-05"}, {"2026-01-05", "tomorrow"},
		{"2026-02-30", "2026-03-01"}, {"2025-01-01", "2026-02-05"},
	} {
		_, err := b.Usage.Read(ctx, "acme", r[0], r[1])
		require.ErrorIs(t, err, store.ErrDateRange, "%v", r)
	}
	days, err := b.Usage.Read(ctx, "acme", "2025-01-01", "2026-02-04")
	require.NoError(t, err)
	assert.Len(t, days, store.MaxUsageDays)
	_, err = b.Usage.Read(ctx, "Acme", "2026-01-05", "2026-01-05")
	require.Error(t, err)
}

func event(action string) store.AuditEvent {
	return store.AuditEvent{
		Time: time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC), Type: store.AuditAdmin, Action: action,
		Actor: "operator-1", Addr: "192.0.2.1", Status: 200, Outcome: "ok", Fields: []string{"name", "oidc.issuer"},
	}
}

func testAuditAppendRead(t *testing.T, b *AdminRecordsBackend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme", "acme-corp")
	var ids []string
	for i := range 25 {
		id, err := b.Audit.Append(ctx, "acme", event(fmt.Sprintf("a%d", i)), 0)
		require.NoError(t, err)
		require.True(t, store.ValidAuditCursor(id), id)
		ids = append(ids, id)
	}
	_, err := b.Audit.Append(ctx, "acme-corp", event("other"), 0)
	require.NoError(t, err)

	page, err := b.Audit.Read(ctx, "acme", "", 10)
	require.NoError(t, err)
	require.Len(t, page, 10)
	want := event("a0")
	want.ID = ids[0]
	assert.Equal(t, want, page[0], "an event reads back as written, with its ID")
	var got []string
	cursor := ""
	for {
		page, err := b.Audit.Read(ctx, "acme", cursor, 10)
		require.NoError(t, err)
		for _, e := range page {
			got = append(got, e.ID)
		}
		if len(page) < 10 {
			break
		}
		cursor = page[len(page)-1].ID
	}
	assert.Equal(t, ids, got, "pages follow one another, oldest first, without gaps or repeats")
	page, err = b.Audit.Read(ctx, "acme", ids[len(ids)-1], 10)
	require.NoError(t, err)
	assert.Empty(t, page, "nothing after the newest")
	other, err := b.Audit.Read(ctx, "acme-corp", "", 0)
	require.NoError(t, err)
	require.Len(t, other, 1, "each tenant has its own trail")
	assert.Equal(t, "other", other[0].Action)
}

func testAuditCapped(t *testing.T, b *AdminRecordsBackend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme")
	const length, appended = 10, 400
	var last string
	for i := range appended {
		id, err := b.Audit.Append(ctx, "acme", event(fmt.Sprintf("a%d", i)), length)
		require.NoError(t, err)
		last = id
	}
	var all []store.AuditEvent
	cursor := ""
	for {
		page, err := b.Audit.Read(ctx, "acme", cursor, store.MaxAuditPage)
		require.NoError(t, err)
		all = append(all, page...)
		if len(page) < store.MaxAuditPage {
			break
		}
		cursor = page[len(page)-1].ID
	}
	assert.GreaterOrEqual(t, len(all), length, "at least the length is kept")
	assert.LessOrEqual(t, len(all), length+b.Trimmed, "the trail stays capped")
	assert.Equal(t, last, all[len(all)-1].ID, "the newest events are the ones kept")
	assert.Equal(t, fmt.Sprintf("a%d", appended-len(all)), all[0].Action, "the oldest go first")
}

func testAuditUnknownTenant(t *testing.T, b *AdminRecordsBackend) {
	ctx := t.Context()
	_, err := b.Audit.Append(ctx, "ghost", event("x"), 0)
	requireTenantNotFound(t, err)
	page, err := b.Audit.Read(ctx, "ghost", "", 0)
	require.NoError(t, err)
	assert.Empty(t, page)
}

func testAuditInvalid(t *testing.T, b *AdminRecordsBackend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme")
	for _, c := range []string{"x", "1", "1-", "-1", "1-1-1", "+1-0", "0x1-0", "18446744073709551616-0", "1-2 "} {
		_, err := b.Audit.Read(ctx, "acme", c, 0)
		require.ErrorIs(t, err, store.ErrAuditCursor, "cursor %q", c)
	}
	for _, c := range []string{"18446744073709551615-18446744073709551615", "018446744073709551615-018446744073709551615"} {
		page, err := b.Audit.Read(ctx, "acme", c, 0)
		require.NoError(t, err, "the greatest ID is a cursor, with nothing after it, zeros in front or not: %q", c)
		assert.Empty(t, page, c)
	}
	first, err := b.Audit.Append(ctx, "acme", event("first"), 0)
	require.NoError(t, err)
	second, err := b.Audit.Append(ctx, "acme", event("second"), 0)
	require.NoError(t, err)
	ms, seq, _ := strings.Cut(first, "-")
	page, err := b.Audit.Read(ctx, "acme", "000"+ms+"-00"+seq, 0)
	require.NoError(t, err, "a cursor with zeros in front names the same event")
	require.Len(t, page, 1)
	assert.Equal(t, second, page[0].ID)
	_, err = b.Audit.Append(ctx, "Acme", event("x"), 0)
	require.Error(t, err)
	_, err = b.Audit.Read(ctx, "a:b", "", 0)
	require.Error(t, err)
}

func testAdminKeyLifecycle(t *testing.T, b *AdminRecordsBackend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme", "acme-corp")
	created := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	k1 := store.AdminKey{ID: "k1", Hash: "aa", CreatedAt: created}
	k2 := store.AdminKey{ID: "k2", Hash: "bb", CreatedAt: created.Add(time.Second)}
	require.NoError(t, b.AdminKeys.Create(ctx, "acme", k2, 0))
	require.NoError(t, b.AdminKeys.Create(ctx, "acme", k1, 0))
	require.ErrorIs(t, b.AdminKeys.Create(ctx, "acme", store.AdminKey{ID: "k1", Hash: "cc", CreatedAt: created}, 0), store.ErrExists)

	got, err := b.AdminKeys.Get(ctx, "acme", "k1")
	require.NoError(t, err)
	assert.Equal(t, k1, *got, "the first record stays")
	_, err = b.AdminKeys.Get(ctx, "acme-corp", "k1")
	requireRecordNotFound(t, err)

	used := created.Add(time.Hour)
	require.NoError(t, b.AdminKeys.Touch(ctx, "acme", "k2", used))
	list, err := b.AdminKeys.List(ctx, "acme")
	require.NoError(t, err)
	k2.LastUsedAt = used
	assert.Equal(t, []store.AdminKey{k1, k2}, list, "by creation time, with the last use")

	require.NoError(t, b.AdminKeys.Revoke(ctx, "acme", "k2"))
	requireRecordNotFound(t, b.AdminKeys.Revoke(ctx, "acme", "k2"))
	_, err = b.AdminKeys.Get(ctx, "acme", "k2")
	requireRecordNotFound(t, err)
	require.NoError(t, b.AdminKeys.Touch(ctx, "acme", "k2", used), "a use noted as the key is revoked")
	_, err = b.AdminKeys.Get(ctx, "acme", "k2")
	requireRecordNotFound(t, err) // the use did not bring it back
	require.NoError(t, b.AdminKeys.Create(ctx, "acme", store.AdminKey{ID: "k2", Hash: "dd", CreatedAt: created}, 0))
	got, err = b.AdminKeys.Get(ctx, "acme", "k2")
	require.NoError(t, err)
	assert.True(t, got.LastUsedAt.IsZero(), "a new key under an old ID was never used")

	list, err = b.AdminKeys.List(ctx, "acme-corp")
	require.NoError(t, err)
	assert.Empty(t, list)
	for _, id := range []string{"", "a b", "a{b}", string(make([]byte, store.MaxKeyLength+1))} {
		_, err := b.AdminKeys.Get(ctx, "acme", id)
		require.ErrorIs(t, err, store.ErrInvalidKey, "key ID %q", id)
	}
}

func testAdminKeyLimit(t *testing.T, b *AdminRecordsBackend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme")
	const max, tries = 5, 20
	var wg sync.WaitGroup
	results := make(chan error, tries)
	for i := range tries {
		wg.Go(func() {
			results <- b.AdminKeys.Create(ctx, "acme", store.AdminKey{ID: fmt.Sprintf("k%d", i), Hash: "h", CreatedAt: time.Now()}, max)
		})
	}
	wg.Wait()
	close(results)
	stored := 0
	for err := range results {
		if err == nil {
			stored++
			continue
		}
		require.ErrorIs(t, err, store.ErrLimit)
	}
	assert.Equal(t, max, stored)
	list, err := b.AdminKeys.List(ctx, "acme")
	require.NoError(t, err)
	assert.Len(t, list, max)
}

func testAdminKeyUnknownTenant(t *testing.T, b *AdminRecordsBackend) {
	ctx := t.Context()
	err := b.AdminKeys.Create(ctx, "ghost", store.AdminKey{ID: "k1", Hash: "h", CreatedAt: time.Now()}, 0)
	requireTenantNotFound(t, err)
	createTenants(t, b.Tenants, "ghost")
	_, err = b.AdminKeys.Get(ctx, "ghost", "k1")
	requireRecordNotFound(t, err)
}

func testRecordsCascade(t *testing.T, b *AdminRecordsBackend) {
	ctx := t.Context()
	createTenants(t, b.Tenants, "acme", "acme-corp")
	for _, id := range []string{"acme", "acme-corp"} {
		require.NoError(t, b.Usage.Add(ctx, store.UsageBatch{Writer: "w", Seq: 1, Deltas: []store.UsageDelta{delta(id, "2026-01-05", 1, nil)}}))
		_, err := b.Audit.Append(ctx, id, event("x"), 0)
		require.NoError(t, err)
		require.NoError(t, b.AdminKeys.Create(ctx, id, store.AdminKey{ID: "k1", Hash: "h", CreatedAt: time.Now()}, 0))
		require.NoError(t, b.AdminKeys.Touch(ctx, id, "k1", time.Now()))
	}
	n, err := b.Tenants.Delete(ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, int64(1+1+1+1+1+1+1), n,
		"metadata, issuer claim, usage day, usage writer, audit trail, admin keys, their last uses")

	createTenants(t, b.Tenants, "acme")
	assert.True(t, readDays(t, b, "acme", "2026-01-05", "2026-01-05")[0].Zero(), "usage went with the tenant")
	require.NoError(t, b.Usage.Add(ctx, store.UsageBatch{Writer: "w", Seq: 1, Deltas: []store.UsageDelta{delta("acme", "2026-01-05", 2, nil)}}))
	assert.Equal(t, int64(2), readDays(t, b, "acme", "2026-01-05", "2026-01-05")[0].Served,
		"the writer's marker went too: its numbers start again for the new tenant")
	page, err := b.Audit.Read(ctx, "acme", "", 0)
	require.NoError(t, err)
	assert.Empty(t, page, "the audit trail went with the tenant")
	_, err = b.AdminKeys.Get(ctx, "acme", "k1")
	requireRecordNotFound(t, err)

	assert.Equal(t, int64(1), readDays(t, b, "acme-corp", "2026-01-05", "2026-01-05")[0].Served, "acme-corp keeps its records")
	page, err = b.Audit.Read(ctx, "acme-corp", "", 0)
	require.NoError(t, err)
	assert.Len(t, page, 1)
	_, err = b.AdminKeys.Get(ctx, "acme-corp", "k1")
	require.NoError(t, err)
}

// testRecordsNeedTheTenant: an admin key or an audit event is stored only
// while its tenant exists. A write for an ID never created, or created
// then deleted (a request in flight during the delete), is an error
// matching [store.ErrTenantNotFound], and the tenant created later under
// the ID finds neither.
func testRecordsNeedTheTenant(t *testing.T, b *AdminRecordsBackend) {
	ctx := t.Context()
	for _, id := range unknownTenants(t, b.Tenants) {
		err := b.AdminKeys.Create(ctx, id, store.AdminKey{ID: "k1", Hash: "h", CreatedAt: time.Now()}, 0)
		require.ErrorIs(t, err, store.ErrTenantNotFound, "admin key of %s", id)
		_, err = b.Audit.Append(ctx, id, event("x"), 0)
		require.ErrorIs(t, err, store.ErrTenantNotFound, "audit of %s", id)
		createTenants(t, b.Tenants, id)
		_, err = b.AdminKeys.Get(ctx, id, "k1")
		requireRecordNotFound(t, err)
		keys, err := b.AdminKeys.List(ctx, id)
		require.NoError(t, err)
		assert.Empty(t, keys, "admin keys of %s", id)
		page, err := b.Audit.Read(ctx, id, "", 0)
		require.NoError(t, err)
		assert.Empty(t, page, "audit of %s", id)
	}
}

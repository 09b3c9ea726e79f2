package storetest

import (
	"testing"
	"time"

	"github.com/seedmcp/tenancy/store"
)

// Backend is one set of stores under test, freshly emptied.
type Backend struct {
	Tenants  store.Tenants
	Clients  store.Clients
	Sessions store.Sessions
	Limiter  store.Limiter
	Events   store.Events

	// Advance moves the stores' clock forward by d: a fake clock is
	// advanced, a real server is waited for.
	Advance func(d time.Duration)
	// RealTime reports that Advance sleeps. The suite then skips the few
	// checks that would wait for more than a few seconds (a limiter's
	// full refill takes a minute).
	RealTime bool
	// ClientTTL and SessionTTL are the lifetimes the stores were
	// configured with. With a real clock keep them short (a few seconds):
	// the suite waits them out.
	ClientTTL, SessionTTL time.Duration
	// Interrupt, if set, breaks the connections of running event
	// subscriptions, so that the suite can check that a subscriber gets a
	// new [store.EventReset] and keeps receiving events.
	Interrupt func()
}

// Run runs every case of the suite as a subtest of t. newBackend is called
// once per case, with the subtest, and must return empty stores; it may
// skip the subtest (when a server is not available, say). The cases do not
// call t.Parallel.
func Run(t *testing.T, newBackend func(t *testing.T) Backend) {
	runCases(t, cases, newBackend)
}

// testCase is one case of a suite run on backends of type B.
type testCase[B any] struct {
	name string
	run  func(t *testing.T, b *B)
}

// runCases runs each case as a subtest of t, on a backend newBackend
// returns for that subtest.
func runCases[B any](t *testing.T, cases []testCase[B], newBackend func(t *testing.T) B) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBackend(t)
			c.run(t, &b)
		})
	}
}

// cases is the suite, in order.
var cases = []testCase[Backend]{
	{"TenantCRUD", testTenantCRUD},
	{"TenantValidation", testTenantValidation},
	{"DuplicateIDAndDomain", testDuplicates},
	{"DomainMoves", testDomainMoves},
	{"UniqueIssuerAudience", testIssuerAudience},
	{"UniqueIssuerAudienceConcurrent", testIssuerAudienceConcurrent},
	{"ConditionalUpdate", testSwap},
	{"Directory", testDirectory},
	{"DirectoryPages", testDirectoryPages},
	{"DirectoryRaces", testDirectoryRaces},
	{"InvalidTenantIDs", testInvalidTenantIDs},
	{"InvalidKeys", testInvalidKeys},
	{"ClientRoundTrip", testClientRoundTrip},
	{"ClientMemberNames", testClientMemberNames},
	{"WritesNeedTheTenant", testWritesNeedTheTenant},
	{"ClientIsolation", testClientIsolation},
	{"SessionIsolation", testSessionIsolation},
	{"ClientExpiry", testClientExpiry},
	{"SessionSlidingExpiry", testSessionSliding},
	{"ClientLimitConcurrent", testClientLimit},
	{"SessionLimitConcurrent", testSessionLimit},
	{"SessionOwners", testSessionOwners},
	{"SessionOwnerLimitConcurrent", testSessionOwnerLimit},
	{"CascadeDelete", testCascadeDelete},
	{"ListPagination", testListPagination},
	{"ListConcurrentCreates", testListConcurrent},
	{"LimiterBurstAndRefill", testLimiter},
	{"LimiterFullRefill", testLimiterFullRefill},
	{"LimiterIndependence", testLimiterIndependence},
	{"Lease", testLease},
	{"LeaseArguments", testLeaseArguments},
	{"Events", testEvents},
	{"EventsAfterInterruption", testEventsInterrupted},
	{"Mark", testMark},
	{"Settings", testSettings},
	{"LookupIssuer", testLookupIssuer},
}

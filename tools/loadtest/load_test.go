package main

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLoad runs the steady scenario for a minute with 1,000 tenants on a
// private redis-server and checks that no answer named another tenant,
// that nothing failed and that nothing registered was lost. It takes
// minutes and needs redis-server, so it runs only when TENANCY_LOAD=1;
// TENANCY_LOAD_SCENARIO picks another scenario (the cluster one also
// needs TENANCY_REDIS_CLUSTER_ADDRS).
//
//	TENANCY_LOAD=1 go test -run TestLoad -v -timeout 15m ./tools/loadtest
func TestLoad(t *testing.T) {
	if os.Getenv("TENANCY_LOAD") != "1" {
		t.Skip("set TENANCY_LOAD=1 to run the load test (minutes, needs redis-server)")
	}
	o := options{
		Scenario: "steady", Tenants: 1000, Providers: 4, Workers: 32,
		Warmup: 10 * time.Second, Duration: time.Minute, FaultAt: 15 * time.Second, Sample: 5 * time.Second,
		Mix: mix{80, 15, 5},
	}
	if s := os.Getenv("TENANCY_LOAD_SCENARIO"); s != "" {
		o.Scenario = s
	}
	if o.Scenario == "cluster" {
		addrs := os.Getenv("TENANCY_REDIS_CLUSTER_ADDRS")
		require.NotEmpty(t, addrs, "the cluster scenario needs TENANCY_REDIS_CLUSTER_ADDRS (scripts/redis-up.sh)")
		o.RedisURL = "redis://" + addrs
	}
	var out bytes.Buffer
	res, err := run(t.Context(), o, &out)
	t.Log("\n" + out.String())
	require.NoError(t, err)
	assert.Empty(t, res.crosses, "answers that named another tenant")
	assert.Zero(t, res.lost, "registered clients lost")
	assert.Positive(t, res.requests)
	if o.Scenario == "steady" {
		assert.Zero(t, res.unexpected, "unexpected answers")
	}
	// No leak: the last sample is within a margin of the first.
	require.GreaterOrEqual(t, len(res.samples), 2)
	first, last := res.samples[0], res.samples[len(res.samples)-1]
	assert.Less(t, last.goroutines, 2*first.goroutines+50, "goroutines grew")
	assert.Less(t, last.heapInuse, 2*first.heapInuse+64<<20, "heap grew")
}

// Package redisstore keeps tenancy's data in Redis, in the project's key
// layout: a single node, Sentinel or a Cluster, through any
// [redis.UniversalClient].
//
//	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs})
//	s := redisstore.New(rdb, redisstore.Config{})
//	t, err := s.Tenants().Get(ctx, "acme")
//	d, err := s.Allow(ctx, "acme", "all", t.Limits.RateLimit)
//
// Every key of a tenant's data carries the tenant ID as a hash tag, so the
// scripts that enforce maxClients and maxSessions, slide a session and run
// the rate limiter each touch one slot and are atomic on a cluster. The
// reads on a request's path (a tenant, a domain, a client, a session) and
// every write of a client, a session or the limiter are one round trip.
//
// Lifetimes and the rate limiter run on the Redis server's clock (TIME inside
// the scripts), so replicas with drifting clocks agree. Only the timestamps
// written into records come from [Config.Clock].
//
// On a Redis Cluster (Redis 7 or later), run as production clusters are,
// with replicas: [New] makes the client follow a failover within about a
// second of the cluster being ok, and the tenant events use sharded
// pub/sub, which costs one shard per event rather than every node, and
// moves to the new master of its slot by itself. [New] says which client
// options to set.
//
// Errors wrap the sentinels of package store; any other error is a failure
// of Redis, passed through wrapped, which callers treat as "unavailable".
package redisstore

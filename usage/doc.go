// Package usage counts what each tenant uses, per UTC day, for billing:
// requests served, requests refused for the rate limit and for their
// authentication, MCP sessions opened, tool calls by tool name and logins
// through the tenant's authorization server.
//
// A [Recorder] counts in memory, so a counted request costs no Redis round
// trip and no allocation, and writes what it counted to a [store.Usage]
// in one pipeline per interval (10 seconds by default) and when it is
// closed:
//
//	rec, err := usage.New(usage.Config{Store: redisStore.Usage()})
//	if err != nil { … }
//	rec.Start()
//	defer rec.Close(context.Background()) // writes the last counts
//	…
//	rec.Served(tenantID)
//	rec.ToolCall(tenantID, "search")
//
// Counts are added on the store (HINCRBY), never read and written back, so
// the counts of any number of replicas add up exactly. Each write is
// numbered, and the store applies a write to a tenant once, so a write sent
// again after its answer was lost is not counted twice.
//
// What a process loses when it dies without Close is what it counted since
// its last successful write: at most one interval while Redis is up. While
// Redis is down the counts stay in memory and are written when it is back.
//
// [Read] returns a tenant's days and their total, the answer of the admin
// API's usage route.
package usage

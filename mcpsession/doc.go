// Package mcpsession guards the sessions of an MCP server that serves many
// tenants over the Streamable HTTP transport.
//
// An MCP SDK keeps one session table for the whole process and finds a
// session by its Mcp-Session-Id alone, so without a guard a caller of one
// tenant could drive a session of another tenant, or of another caller,
// by sending its ID. A [Guard] sits in front of the SDK's HTTP handler,
// behind the tenant middleware and the bearer check, and makes every
// session belong to the tenant and the caller (the issuer and subject of
// the verified token) that opened it:
//
//   - the session ID the handler issues in answer to an initialize request
//     is recorded in the tenant's session store with its owner before the
//     answer leaves; at the tenant's maxSessions, or when the caller holds
//     [Config.PerCaller] sessions already, the answer is a 403 with a
//     JSON-RPC error (code -32000, the request's id) and the handler's new
//     session is ended at once;
//   - a request naming a session that the request's tenant does not hold,
//     or that another caller owns, is answered 404 with a JSON-RPC error,
//     the same answer in both cases, before the handler sees it, and
//     before anything about the session changes;
//   - a DELETE ends the session in the handler and frees its place;
//   - a session idle for longer than [Config.TTL], or whose tenant is
//     suspended or deleted, is removed from the store and ended in the
//     handler, its requests in flight (an open event stream) included; a
//     tenant deleted and created again under its ID (another CreatedAt) is
//     another tenant, whose requests never reach the old one's sessions;
//   - a session's event stream (a GET) ends when the token it was opened
//     with expires; the session stays, for the caller's next token;
//   - a request naming no session (an initialize, or any request of a
//     protocol without sessions, whose subscriptions/listen stream stays
//     open as long as the client keeps it) ends when its token expires,
//     when its tenant is suspended, deleted or created again, and on
//     [Guard.Close];
//   - each request extends the session's lifetime (in the store at most
//     every [Config.TouchEvery]), and [Guard.Close] frees every session
//     before the store's connection is closed.
//
// The guard needs no MCP SDK: what it needs of one is an [Ender], which
// ends a session by ID. The examples module of this repository holds the
// glue for the official Go SDK and for mark3labs/mcp-go.
//
// Wiring, with the tenancy service (svc), its bearer middleware and an SDK
// handler whose glue implements [Ender]:
//
//	guard, err := mcpsession.New(sdkHandler, mcpsession.Config{
//		Sessions: svc.Store().Sessions(),
//		Tenants:  svc.Store().Tenants(),
//		TTL:      svc.Config().SessionTTL,
//		Ender:    glue,
//	})
//	svc.OnEvent(guard.HandleEvent) // suspended and deleted tenants
//	defer guard.Close(context.Background()) // before the Redis client
//	mux.Handle("/mcp", svc.Middleware(bearer(guard)))
package mcpsession

// Package migrate moves the keys of a single-tenant deployment (client:*,
// session:*, rate-limit:*) into one tenant's namespace: client:abc becomes
// tenant:{default}:client:abc, with its TTL, and joins the tenant's index
// of clients (sessions likewise), so that the tenant's limits count it. It
// is the second step of moving a deployment to multi-tenant mode, after
// running it in single-tenant mode, where every request already belongs to
// tenant "default".
//
//	res, err := migrate.Run(ctx, rdb, migrate.Config{DryRun: true})
//	fmt.Println(res) // dry run: 1200 legacy keys found; would move 1200, …
//
// [Run] uses SCAN, never KEYS, and on a *redis.ClusterClient scans every
// master. It never overwrites a key: a legacy key whose [Target] holds
// something else is a conflict, left in place and counted, and so is a
// legacy key the store would refuse (a name store.ValidKey refuses, or a
// client, session or rate-limit key that is not a string). It keeps every
// TTL, and can be interrupted and started again at any point: a key is
// either still at its legacy name, or at its new name, or (on a cluster,
// for one batch) at both with the same content, which the next run
// recognises as a move to finish. A second run moves nothing and says so.
//
// On a single node each key moves with one atomic script (RENAME when the
// target is free). On a cluster the two names hash to different slots, so
// each key is copied with DUMP and RESTORE (without REPLACE), indexed, and
// removed with UNLINK only while it still holds what was copied. A client
// without a TTL is indexed with the score +inf: it never expires, so it
// counts against maxClients until it is deleted.
//
// examples/migrate is the command that runs it, as an operator would.
package migrate

// Package migrate moves the keys of a single-tenant deployment (client:*,
// session:*, rate-limit:*) into one tenant's namespace, tenant:{default}:…,
// for tenancy.Migrate.
//
// [Run] never overwrites a key, keeps every TTL, and can be interrupted and
// started again at any point: a key is either still at its legacy name, or
// at its new name, or (on a cluster, for one batch) at both with the same
// content, which the next run recognises as a move to finish. A legacy key
// the store would refuse (a name store.ValidKey refuses, or a client,
// session or rate-limit key that is not a string) is counted and left in
// place.
//
//	res, err := migrate.Run(ctx, rdb, migrate.Options{DryRun: true})
//	fmt.Println(res) // dry run: 1200 legacy keys found; would move 1200, …
package migrate

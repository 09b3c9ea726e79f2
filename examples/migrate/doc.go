// Command migrate moves the keys of a single-tenant deployment (client:*,
// session:*, rate-limit:*) into tenant "default", with the library's
// package migrate:
//
//	REDIS_URL=redis://localhost:6379 go run ./examples/migrate -dry-run
//	REDIS_URL=redis://localhost:6379 go run ./examples/migrate
//
// Progress goes to stderr, the summary to stdout, and each key left in
// place to stderr, its name quoted as a Go string ("client:\x1b[2J"): key
// names are untrusted bytes and are never printed raw.
//
// Legacy keys the store would refuse are reported and left in place, never
// moved: a client, session or rate-limit key whose ID or limiter key
// store.ValidKey refuses (a hash tag such as {x}, bytes outside printable
// ASCII, more than 256 bytes) or that is not a Redis string (a hash, list,
// set, stream, ...). They are not conflicts: nothing at the target is in
// the way, the key itself is unusable by the store. Delete or rename them
// and run again.
//
// The exit status is 0 when every legacy key was moved (or there was
// nothing to move); 1 when a conflict was left in place (a target that
// already holds something else; a later run that finds the same conflict
// exits 1 again); 2 on a usage error, a Redis failure or an interruption;
// and 3 when there was no conflict but keys the store refuses were left in
// place (again on every later run that finds them). An interrupted run is
// safe to start again: it finishes the job.
//
// With -reindex it migrates nothing, and brings the lists the store keeps
// beside the tenant records (inactive tenants, custom domains, the claims
// of OIDC issuers and audiences) in step with tenant records written by an
// older version of the library, once after an upgrade:
//
//	REDIS_URL=redis://localhost:6379 go run ./examples/migrate -reindex
//
// It goes on past what it cannot fix and names it on stderr, one line
// each: tenants that share an issuer and audience with another (change one
// of each pair through the admin API), tenant records that do not decode
// (named by tenant ID, never quoted: fix or delete them), and stale claims,
// a domain or issuer and audience claim naming a tenant whose record does
// not hold it (or a tenant without record), left by an update or delete
// that failed midway, which keeps every other tenant from that domain or
// pair. It exits 0 when every tenant is listed and nothing is stale; 1
// when it named something (run it again once it is dealt with); 2 on a
// Redis failure or an interruption (run it again: it only adds what is
// missing).
//
// It never deletes a stale claim: a tenant being created claims its domain
// and pair before it writes its record, so a claim without record may be a
// create in progress. -release-stale-claims deletes them, each only if it
// was stale at two checks -release-pause apart (5s by default) and still
// names the same tenant, and prints each key it deleted:
//
//	REDIS_URL=redis://localhost:6379 go run ./examples/migrate -release-stale-claims
//
// A tenant write that stalls for longer than the pause between its claim
// and its record can still lose its claim: run it while no tenant is being
// created or changed, then -reindex again. It exits 0 when done (whether
// or not it released anything) and 2 on a Redis failure or an
// interruption.
package main

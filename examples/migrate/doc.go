// Command migrate moves the keys of a single-tenant deployment into tenant
// "default" (DESIGN.md section 7), with tenancy.Migrate:
//
//	REDIS_URL=redis://localhost:6379 go run ./examples/migrate -dry-run
//	REDIS_URL=redis://localhost:6379 go run ./examples/migrate
//
// Progress goes to stderr, the summary to stdout. The exit status is 0 when
// every legacy key was moved (or there was nothing to move), 1 when a
// conflict was left in place (a target that already holds something else;
// a later run that finds the same conflict exits 1 again), and 2 on a usage
// error, a Redis failure or an interruption. An interrupted run is safe to
// start again: it finishes the job.
package main

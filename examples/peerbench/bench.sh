#!/usr/bin/env bash
# bench.sh runs BenchmarkPeers in rounds, every peer in each round, the
# order reversed every other round, pinned to one core, and prints the
# median of each peer's ns/op and the medians of its ratios to bare and
# to the floor, taken round by round. Each round also runs the middleware
# package's own BenchmarkBare, BenchmarkFloor and BenchmarkTenantCacheHit
# (mw-bare, mw-floor, mw-tenancy), before the peers in one round and after
# them in the next, so that both pairs of figures come from one run.
#
#   examples/peerbench/bench.sh                      # peers on miniredis
#   source .redis/env; examples/peerbench/bench.sh   # on the real Redis
#
# Environment: ROUNDS (default 8), BENCHTIME (default 1s), CPU (the core,
# default 1), OUT (where the raw output stays, default a new temp dir).
set -euo pipefail
cd "$(dirname "$0")"
ROUNDS=${ROUNDS:-8}
BENCHTIME=${BENCHTIME:-1s}
CPU=${CPU:-1}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"

go test -c -o "$OUT/peerbench.test" .
(cd ../.. && go test -c -o "$OUT/middleware.test" ./middleware)
go build -o "$OUT/benchratio" ./cmd/benchratio

echo "CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) cores; benchmarks on core $CPU"
echo "Go: $(go version)"
if [ -n "${TENANCY_REDIS_ADDR:-}" ]; then
	echo "Redis: the real Redis at $TENANCY_REDIS_ADDR ($(redis-cli -u "redis://$TENANCY_REDIS_ADDR" INFO server 2>/dev/null | sed -n 's/^redis_version://p' | tr -d '\r'))"
else
	echo "Redis: miniredis (set TENANCY_REDIS_ADDR for the real one)"
fi
echo "Load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "Raw output: $OUT"

: >"$OUT/results.txt"
for r in $(seq 1 "$ROUNDS"); do
	reverse=$((1 - r % 2))
	echo "round $r (order reversed: $reverse), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
	mw() {
		taskset -c "$CPU" "$OUT/middleware.test" -test.run '^$' \
			-test.bench '^Benchmark(Bare|Floor|TenantCacheHit)$' -test.benchtime "$BENCHTIME" -test.benchmem >"$OUT/mw$r.txt"
	}
	[ "$reverse" = 1 ] || mw
	PEERBENCH_REVERSE=$reverse taskset -c "$CPU" "$OUT/peerbench.test" -test.run '^$' \
		-test.bench '^BenchmarkPeers$' -test.benchtime "$BENCHTIME" -test.benchmem >"$OUT/round$r.txt"
	[ "$reverse" = 0 ] || mw
	awk -v r="$r" '$1 ~ /^BenchmarkPeers\// && $4 == "ns/op" {
		split($1, a, "/"); sub(/-[0-9]+$/, "", a[2]); print r, a[2], $3
	}' "$OUT/round$r.txt" >>"$OUT/results.txt"
	awk -v r="$r" '$4 == "ns/op" {
		n = $1; sub(/^Benchmark/, "", n); sub(/-[0-9]+$/, "", n)
		m["Bare"] = "mw-bare"; m["Floor"] = "mw-floor"; m["TenantCacheHit"] = "mw-tenancy"
		print r, m[n], $3
	}' "$OUT/mw$r.txt" >>"$OUT/results.txt"
done
echo "Load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# The benchmarks' order is that of the package (bare first), whatever
# the order they ran in.
sort -s -k1,1n "$OUT/results.txt" | "$OUT/benchratio" -base bare,floor \
	-pair tenancy/floor -pair mw-tenancy/mw-floor -pair tenancy-limited/tenancy-service
echo
echo "Allocations per request (exact; round 1):"
awk '$1 ~ /^BenchmarkPeers\// { n = $1; sub(/^BenchmarkPeers\//, "", n); sub(/-[0-9]+$/, "", n); print "  " n ": " $7 " allocs, " $5 " B" }' "$OUT/round1.txt"
awk '$4 == "ns/op" { n = $1; sub(/-[0-9]+$/, "", n); print "  middleware " n ": " $7 " allocs, " $5 " B" }' "$OUT/mw1.txt"

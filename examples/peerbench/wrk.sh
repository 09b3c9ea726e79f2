#!/usr/bin/env bash
# wrk.sh measures the throughput of every peer of package peerbench with
# wrk on loopback: the server (cmd/peerserver, all peers on consecutive
# ports) and its Redis pinned to one core, wrk to the other, in rounds
# that run every peer once, the order reversed every other round. It
# prints the median requests per second of each peer and the medians of
# its ratios to bare and to the floor, taken round by round. With a
# redis-server of its own, it also prints the Redis commands each peer
# sent per request (INFO commandstats, read before and after each run).
#
# It also prints the CPU time the server and its Redis spent per request
# (/proc/<pid>/stat, read before and after each run), and the same
# medians of ratios for it. On a machine that other work shares, wrk's
# requests per second follow the load of the moment more than the code;
# CPU per request does not, and on a core of its own a saturated server
# serves 1 / (CPU per request): the ratio of two peers' CPU per request is
# the inverse of the ratio of their throughputs there.
#
#   examples/peerbench/wrk.sh
#   APP=json examples/peerbench/wrk.sh    # handler answering JSON, as an MCP server does
#
# Needs wrk (apt-get install wrk). The Redis is a redis-server of the
# script's own on a free port when redis-server is installed (never the
# shared one: the benchmark writes keys), miniredis in the server's
# process otherwise.
#
# Environment: ROUNDS (default 5), DURATION (per run, default 5s), CONNS
# (wrk connections, default 32), SERVER_CPU (default 0), WRK_CPU (default
# 1), APP (bare or json, default bare), PORT (first port, default 18100),
# PEERS (the names of the peers to run, blank-separated, default all).
set -euo pipefail
cd "$(dirname "$0")"
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-32}
SERVER_CPU=${SERVER_CPU:-0}
WRK_CPU=${WRK_CPU:-1}
APP=${APP:-bare}
PORT=${PORT:-18100}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"

command -v wrk >/dev/null || {
	echo "wrk.sh: wrk is not installed (apt-get install wrk)" >&2
	exit 1
}
go build -o "$OUT/peerserver" ./cmd/peerserver
go build -o "$OUT/benchratio" ./cmd/benchratio

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

redis_flag=()
redis_desc="miniredis in the server's process"
if command -v redis-server >/dev/null; then
	rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	taskset -c "$SERVER_CPU" redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$OUT" --logfile "$OUT/redis.log" &
	pids+=($!)
	redis_pid=$!
	for _ in $(seq 50); do redis-cli -p "$rport" PING >/dev/null 2>&1 && break; sleep 0.1; done
	redis_flag=(-redis "127.0.0.1:$rport")
	redis_desc="redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') of the script's own, on core $SERVER_CPU"
fi

taskset -c "$SERVER_CPU" "$OUT/peerserver" "${redis_flag[@]}" -port "$PORT" -app "$APP" >"$OUT/peers.txt" 2>"$OUT/peerserver.log" &
pids+=($!)
server_pid=$!
for _ in $(seq 300); do
	[ "$(wc -l <"$OUT/peers.txt")" -ge 8 ] && break
	sleep 0.1
done
[ "$(wc -l <"$OUT/peers.txt")" -ge 8 ] || {
	cat "$OUT/peerserver.log" >&2
	exit 1
}

echo "CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) cores; server and Redis on core $SERVER_CPU, wrk on core $WRK_CPU"
echo "wrk: $(wrk --version 2>&1 | head -1 | cut -c1-40); -t1 -c$CONNS -d$DURATION per run; handler: $APP"
echo "Redis: $redis_desc"
echo "Load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "Raw output: $OUT"

mapfile -t all <"$OUT/peers.txt"
peers=()
for line in "${all[@]}"; do
	read -r name _ _ <<<"$line"
	if [ -z "${PEERS:-}" ] || [[ " $PEERS " == *" $name "* ]]; then peers+=("$line"); fi
done
# cpu prints the CPU time, in clock ticks, that the server and its Redis
# have used (user and system).
cpu() {
	local t=0 p
	for p in "$server_pid" ${redis_pid:-}; do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
	done
	echo "$t"
}
ticks=$(getconf CLK_TCK)
# commands prints the number of commands the Redis has run, those run by
# scripts included (an upper bound on the round trips), or nothing on
# miniredis.
commands() {
	[ -n "${rport:-}" ] || return 0
	redis-cli -p "$rport" INFO commandstats | awk -F'[=,]' '/^cmdstat_/ { n += $2 } END { print n }'
}
run() { # name port tenant duration
	taskset -c "$WRK_CPU" wrk -t1 -c"$CONNS" -d"$4" -H "X-Tenant-ID: $3" -H "X-Scope-OrgID: $3" \
		"http://127.0.0.1:$2/mcp"
}
# Warm-up: every peer once, briefly (caches, leases, connection pools).
for line in "${peers[@]}"; do
	read -r name port tenant <<<"$line"
	run "$name" "$port" "$tenant" 1s >/dev/null
done

: >"$OUT/results.txt"
for r in $(seq 1 "$ROUNDS"); do
	order=("${peers[@]}")
	if [ $((r % 2)) -eq 0 ]; then
		order=()
		for ((i = ${#peers[@]} - 1; i >= 0; i--)); do order+=("${peers[i]}"); done
	fi
	echo "round $r, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
	for line in "${order[@]}"; do
		read -r name port tenant <<<"$line"
		before=$(commands)
		cpu0=$(cpu)
		run "$name" "$port" "$tenant" "$DURATION" >"$OUT/$r-$name.txt"
		cpu1=$(cpu)
		after=$(commands)
		if grep -q 'Non-2xx' "$OUT/$r-$name.txt"; then
			echo "wrk.sh: $name answered errors:" >&2
			cat "$OUT/$r-$name.txt" >&2
			exit 1
		fi
		echo "$r $name $(awk '/^Requests\/sec:/ {print $2}' "$OUT/$r-$name.txt")" >>"$OUT/results.txt"
		awk -v r="$r" -v n="$name" -v c=$((cpu1 - cpu0)) -v hz="$ticks" '/ requests in / {
			printf "%s %s %.3f\n", r, n, c / hz * 1e6 / $1
		}' "$OUT/$r-$name.txt" >>"$OUT/cpu.txt"
		if [ -n "$before" ]; then
			# The INFO that read "before" counts as one command.
			echo "$name $((after - before - 1)) $(awk '/ requests in / {print $1}' "$OUT/$r-$name.txt")" >>"$OUT/commands.txt"
		fi
	done
done
echo "Load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# Printed in the package's order of peers, whatever order they ran in.
for line in "${peers[@]}"; do
	read -r name _ _ <<<"$line"
	awk -v n="$name" '$2 == n' "$OUT/results.txt"
done | "$OUT/benchratio" -unit req/s -base bare,floor -pair tenancy-limited/tenancy-service
echo
echo "CPU time of the server and its Redis per request (µs):"
for line in "${peers[@]}"; do
	read -r name _ _ <<<"$line"
	awk -v n="$name" '$2 == n' "$OUT/cpu.txt"
done | "$OUT/benchratio" -unit "CPU µs/req" -base bare,floor -pair tenancy-service/tenancy-limited
if [ -s "$OUT/commands.txt" ]; then
	echo
	echo "Redis commands per request, all rounds (INFO commandstats; commands run by scripts included):"
	for line in "${peers[@]}"; do
		read -r name _ _ <<<"$line"
		awk -v n="$name" '$1 == n { c += $2; q += $3 } END { printf "  %s: %d commands for %d requests, %.5f per request\n", n, c, q, c / q }' "$OUT/commands.txt"
	done
fi

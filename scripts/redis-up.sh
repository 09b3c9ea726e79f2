#!/usr/bin/env bash
# Starts the Redis servers the integration tests use: one standalone Redis
# and a Redis Cluster as it runs in production, three masters with one
# replica each, all on free loopback ports, each with its own directory,
# pidfile and logfile under the state directory. The cluster's node timeout
# is short, so that a master's death is a failover of a few seconds.
#
#   eval "$(scripts/redis-up.sh)"   # exports the addresses into this shell
#   go test -race ./... ./examples/...
#   scripts/redis-down.sh           # stops them and removes the state
#
# Standard output carries only the `export` lines (also written to
# <statedir>/env); progress and errors go to standard error.
#
# TENANCY_REDIS_CLUSTER_ADDRS lists every node of the cluster, masters first
# and then replicas, as a client's seed list would in production: a client
# finds the cluster through any node that answers, and the roles change at
# every failover anyway. Tests find the current masters in the slot map.
#
# Environment:
#   TENANCY_REDIS_STATE_DIR          state directory (default: <repo>/.redis)
#   TENANCY_REDIS_TIMEOUT            seconds to wait for each step (default: 30)
#   TENANCY_REDIS_NODE_TIMEOUT_MS    cluster-node-timeout (default: 1500)
#   REDIS_SERVER, REDIS_CLI          binaries (default: redis-server, redis-cli)
#
# Running it again while the servers are healthy only prints the addresses
# (a cluster started by an earlier version without replicas is kept, with a
# warning, so that a re-run never stops servers someone is using); leftovers
# of an earlier run that are not healthy are stopped first.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
state=${TENANCY_REDIS_STATE_DIR:-$root/.redis}
timeout=${TENANCY_REDIS_TIMEOUT:-30}
server=${REDIS_SERVER:-redis-server}
cli=${REDIS_CLI:-redis-cli}
# The marker tells redis-down.sh that the directory is ours to delete.
marker=.tenancy-redis
masters=3
replicas_per_master=1
node_timeout=${TENANCY_REDIS_NODE_TIMEOUT_MS:-1500}
nodes=$((masters * (1 + replicas_per_master)))

log() { printf 'redis-up: %s\n' "$*" >&2 || true; }
die() {
	log "error: $*"
	exit 1
}

[[ $node_timeout =~ ^[1-9][0-9]{0,6}$ ]] ||
	die "TENANCY_REDIS_NODE_TIMEOUT_MS=$node_timeout is not a number of milliseconds"
for bin in "$server" "$cli"; do
	command -v "$bin" >/dev/null 2>&1 || die "$bin not found; install redis (Debian: apt-get install redis-server)"
done

# redis_ping prints PONG when a server answers on 127.0.0.1:$1.
redis_ping() { "$cli" -h 127.0.0.1 -p "$1" ping 2>/dev/null || true; }

# in_use succeeds when something accepts connections on 127.0.0.1:$1. A
# refused connection on loopback fails at once, so this is fast.
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port prints a random port of 20000-29999 that is free, and whose
# cluster bus port (port+10000) is free too. Another process may still take
# it before the server binds it; start_server retries then.
free_port() {
	local p tries
	for ((tries = 0; tries < 200; tries++)); do
		p=$((20000 + RANDOM % 10000))
		if ! in_use "$p" && ! in_use "$((p + 10000))"; then
			echo "$p"
			return 0
		fi
	done
	die "no free loopback port found in 20000-29999"
}

# healthy succeeds when the state directory describes servers that all answer
# and a cluster that is ok, so a second run can reuse them.
healthy() {
	[[ -f $state/$marker && -f $state/env ]] || return 1
	local dir port
	for dir in "$state"/*/; do
		[[ -f $dir/port ]] || return 1
		port=$(<"$dir/port")
		[[ $(redis_ping "$port") == PONG ]] || return 1
	done
	[[ -f $state/cluster-1/port ]] || return 1
	port=$(<"$state/cluster-1/port")
	"$cli" -h 127.0.0.1 -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
	local slaves
	slaves=$("$cli" -h 127.0.0.1 -p "$port" cluster nodes 2>/dev/null | grep -c ' slave ' || true)
	if ((slaves < masters * replicas_per_master)); then
		log "warning: the cluster in $state has $slaves replicas, not $((masters * replicas_per_master));" \
			"run scripts/redis-down.sh and this script again for a cluster with replicas"
	fi
}

# tail_logs shows the end of every logfile, for a failure report.
tail_logs() {
	local f
	for f in "$state"/*/redis.log; do
		[[ -f $f ]] || continue
		printf '\n==> %s <==\n' "$f" >&2
		tail -n 20 "$f" >&2 || true
	done
}

# On failure: report the logs, then stop whatever this run started, so a
# failed start leaves no server behind.
cleanup_on_failure() {
	local rc=$?
	if ((rc != 0)); then
		log "failed; log tails follow"
		tail_logs
		TENANCY_REDIS_STATE_DIR=$state "$here/redis-down.sh" >&2 || true
	fi
	exit "$rc"
}

# start_server NAME [extra redis-server arguments...] starts one daemonized
# server in $state/NAME and prints its port once it answers PING. A port
# taken between the check and the bind is retried with another port.
start_server() {
	local name=$1 dir=$state/$1 port attempt deadline pid
	shift
	mkdir -p "$dir"
	for ((attempt = 1; attempt <= 5; attempt++)); do
		port=$(free_port)
		: >"$dir/redis.log"
		rm -f "$dir/redis.pid" "$dir/nodes.conf"
		echo "$port" >"$dir/port"
		"$server" \
			--bind 127.0.0.1 --port "$port" \
			--dir "$dir" --daemonize yes \
			--pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
			--save '' --appendonly no \
			"$@" </dev/null >/dev/null || die "$name: $server exited with status $?"
		deadline=$((SECONDS + timeout))
		while ((SECONDS < deadline)); do
			if [[ $(redis_ping "$port") == PONG ]]; then
				log "$name listening on 127.0.0.1:$port"
				echo "$port"
				return 0
			fi
			if grep -q 'Address already in use' "$dir/redis.log" 2>/dev/null; then
				break
			fi
			pid=$(cat "$dir/redis.pid" 2>/dev/null || true)
			if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
				die "$name (pid $pid) exited during start-up"
			fi
			sleep 0.1
		done
		if ! grep -q 'Address already in use' "$dir/redis.log" 2>/dev/null; then
			die "$name did not answer PING on 127.0.0.1:$port within ${timeout}s"
		fi
		log "$name: port $port was taken meanwhile, trying another"
	done
	die "$name: could not bind a free port after $((attempt - 1)) attempts"
}

if healthy; then
	log "servers in $state are already running"
	cat "$state/env"
	exit 0
fi
if [[ -e $state ]]; then
	if [[ -f $state/$marker ]]; then
		log "stopping the leftovers of an earlier run in $state"
		TENANCY_REDIS_STATE_DIR=$state "$here/redis-down.sh" >&2
	elif [[ -n $(ls -A "$state") ]]; then
		die "$state exists, is not empty and was not made by this script; set TENANCY_REDIS_STATE_DIR"
	fi
fi

mkdir -p "$state"
state=$(cd "$state" && pwd)
touch "$state/$marker"
trap cleanup_on_failure EXIT

standalone=$(start_server standalone)

cluster=()
for ((i = 1; i <= nodes; i++)); do
	# repl-diskless-sync-delay 0: a replica's first sync starts at once
	# rather than after the default 5 s wait for more replicas.
	port=$(start_server "cluster-$i" \
		--cluster-enabled yes \
		--cluster-config-file nodes.conf \
		--cluster-node-timeout "$node_timeout" \
		--repl-diskless-sync-delay 0)
	cluster+=("127.0.0.1:$port")
done

# redis-cli makes the first $masters nodes masters and gives each one of
# the others as a replica.
log "creating the cluster: ${cluster[*]}"
"$cli" --cluster create "${cluster[@]}" --cluster-replicas "$replicas_per_master" --cluster-yes \
	</dev/null >"$state/cluster-create.log" 2>&1 || {
	cat "$state/cluster-create.log" >&2
	die "redis-cli --cluster create failed"
}

# Every node must see the whole cluster before a test can rely on it: a
# client that lands on a node still gossiping gets CLUSTERDOWN. Every
# replica must have finished its first sync, or a test that fails over
# would promote an empty node.
deadline=$((SECONDS + timeout))
for addr in "${cluster[@]}"; do
	port=${addr##*:}
	until "$cli" -h 127.0.0.1 -p "$port" cluster info 2>/dev/null |
		grep -q '^cluster_state:ok' &&
		"$cli" -h 127.0.0.1 -p "$port" cluster info 2>/dev/null |
		grep -q "^cluster_known_nodes:$nodes" &&
		"$cli" -h 127.0.0.1 -p "$port" info replication 2>/dev/null |
		tr -d '\r' | awk -F: '
			$1 == "role" { role = $2 }
			$1 == "master_link_status" { link = $2 }
			$1 == "master_sync_in_progress" { sync = $2 }
			END { exit !(role == "master" || (link == "up" && sync == "0")) }'; do
		if ((SECONDS >= deadline)); then
			"$cli" -h 127.0.0.1 -p "$port" cluster info >&2 || true
			"$cli" -h 127.0.0.1 -p "$port" info replication >&2 || true
			die "$addr is not ok (cluster state, known nodes or replication) within ${timeout}s"
		fi
		sleep 0.2
	done
done
log "cluster_state:ok on all $nodes nodes ($masters masters, $replicas_per_master replica each), node timeout ${node_timeout} ms"

addrs=$(
	IFS=,
	echo "${cluster[*]}"
)
{
	echo "export TENANCY_REDIS_ADDR=127.0.0.1:$standalone"
	echo "export TENANCY_REDIS_CLUSTER_ADDRS=$addrs"
} >"$state/env"
trap - EXIT
cat "$state/env"

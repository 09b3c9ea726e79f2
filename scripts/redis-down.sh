#!/usr/bin/env bash
# Stops every Redis server that scripts/redis-up.sh started and removes its
# state directory. Safe to run twice, and after a failed or partial start.
#
# Environment:
#   TENANCY_REDIS_STATE_DIR   state directory (default: <repo>/.redis)
#   REDIS_CLI                 binary (default: redis-cli)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
state=${TENANCY_REDIS_STATE_DIR:-$root/.redis}
cli=${REDIS_CLI:-redis-cli}
marker=.tenancy-redis

# A closed stderr must not stop the servers from being stopped.
log() { printf 'redis-down: %s\n' "$*" >&2 || true; }

if [[ ! -d $state ]]; then
	log "nothing to stop ($state does not exist)"
	exit 0
fi
if [[ ! -f $state/$marker ]]; then
	log "error: $state was not made by redis-up.sh; not touching it"
	exit 1
fi

# is_redis succeeds when pid $1 is a running redis-server, so that a stale
# pidfile never makes us signal an unrelated process that reused the pid. A
# zombie counts as gone: a daemonized server's parent is init, which in a
# container may take seconds to reap it.
is_redis() {
	local stat comm state
	if [[ -d /proc/self ]]; then
		read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
		comm=${stat#*(}
		comm=${comm%)*}
		state=${stat##*) }
		state=${state%% *}
	else
		read -r state comm < <(ps -o stat= -o comm= -p "$1" 2>/dev/null) || return 1
		comm=${comm##*/}
	fi
	[[ $comm == redis-server* && $state != Z* ]]
}

# redis_ping prints PONG when a server answers on 127.0.0.1:$1.
redis_ping() { timeout 5 "$cli" -h 127.0.0.1 -p "$1" ping 2>/dev/null || true; }

# wait_gone waits up to $2 tenths of a second for pid $1 to exit.
wait_gone() {
	local i
	for ((i = 0; i < $2; i++)); do
		is_redis "$1" || return 0
		sleep 0.1
	done
	return 1
}

# stop stops the server described by directory $1: SHUTDOWN NOSAVE on its
# port first (there is nothing to save), then TERM and KILL on its pid.
stop() {
	local dir=$1 name pid="" port=""
	name=$(basename "$dir")
	[[ -f $dir/redis.pid ]] && pid=$(<"$dir/redis.pid")
	[[ $pid =~ ^[0-9]+$ ]] && is_redis "$pid" || pid=""
	[[ -f $dir/port ]] && port=$(<"$dir/port")
	if [[ $port =~ ^[0-9]+$ ]] && [[ $(redis_ping "$port") == PONG ]]; then
		timeout 5 "$cli" -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
		if [[ -z $pid ]]; then
			# No usable pidfile: the port is all there is to check.
			[[ $(redis_ping "$port") != PONG ]] || {
				log "error: $name on port $port has no usable pidfile and ignored SHUTDOWN"
				return 1
			}
			log "stopped $name (port $port)"
			return 0
		fi
		if wait_gone "$pid" 50; then
			log "stopped $name (pid $pid)"
			return 0
		fi
	fi
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	if wait_gone "$pid" 50; then
		log "terminated $name (pid $pid)"
		return 0
	fi
	kill -KILL "$pid" 2>/dev/null || true
	if ! wait_gone "$pid" 20; then
		log "error: $name (pid $pid) survived SIGKILL"
		return 1
	fi
	log "killed $name (pid $pid)"
}

status=0
for dir in "$state"/*/; do
	[[ -d $dir ]] || continue
	stop "${dir%/}" || status=1
done
if ((status == 0)); then
	rm -rf -- "$state"
	log "removed $state"
fi
exit "$status"

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

log() { printf 'redis-down: %s\n' "$*" >&2; }

if [[ ! -d $state ]]; then
	log "nothing to stop ($state does not exist)"
	exit 0
fi
if [[ ! -f $state/$marker ]]; then
	log "error: $state was not made by redis-up.sh; not touching it"
	exit 1
fi

# is_redis succeeds when pid $1 is alive and is a redis-server, so that a
# stale pidfile never makes us signal an unrelated process that reused the
# pid.
is_redis() {
	kill -0 "$1" 2>/dev/null || return 1
	[[ $(cat "/proc/$1/comm" 2>/dev/null || ps -p "$1" -o comm= 2>/dev/null || true) == redis-server* ]]
}

# wait_gone waits up to $2 tenths of a second for pid $1 to exit.
wait_gone() {
	local i
	for ((i = 0; i < $2; i++)); do
		is_redis "$1" || return 0
		sleep 0.1
	done
	return 1
}

# stop stops the server described by directory $1: SHUTDOWN NOSAVE first
# (there is nothing to save), then TERM, then KILL.
stop() {
	local dir=$1 pid port
	[[ -f $dir/redis.pid ]] || return 0
	pid=$(<"$dir/redis.pid")
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	is_redis "$pid" || return 0
	if [[ -f $dir/port ]]; then
		port=$(<"$dir/port")
		timeout 5 "$cli" -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
		wait_gone "$pid" 50 && {
			log "stopped $(basename "$dir") (pid $pid)"
			return 0
		}
	fi
	kill -TERM "$pid" 2>/dev/null || true
	wait_gone "$pid" 50 && {
		log "terminated $(basename "$dir") (pid $pid)"
		return 0
	}
	kill -KILL "$pid" 2>/dev/null || true
	wait_gone "$pid" 20 || {
		log "error: $(basename "$dir") (pid $pid) survived SIGKILL"
		return 1
	}
	log "killed $(basename "$dir") (pid $pid)"
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

# scripts/lib/compose.sh: helpers shared by the compose scripts
# (compose-smoke.sh, compose-two-groups-smoke.sh, chaos.sh). Source it
# after setting:
#
#   LOG_TAG   prefix of log lines (smoke, groups, chaos)
#   COMPOSE   the docker-compose command (with -f FILE if not the default)
#   MQCTL     the host's mqctl binary
#   SEEDS     comma-separated published gRPC addresses for cluster status
#   NODES     the compose services, space-separated
#
# and t0=$SECONDS. The scripts keep their own teardown traps; compose_down
# is the part they share.

log() { printf '[%s %3ds] %s\n' "$LOG_TAG" "$((SECONDS - t0))" "$*"; }
die() { log "FAIL: $*"; exit 1; }

# cid NODE: the container id of a compose service.
cid() { $COMPOSE ps -q "$1"; }

# in_node NODE ARGS...: runs mqctl inside NODE's container against NODE
# (nodes advertise NODE:9876, which resolves only on the compose network).
in_node() {
	local node=$1
	shift
	$COMPOSE exec -T "$node" /usr/local/bin/mqctl --server "$node:9876" "$@"
}

# status_lines: the cluster status JSON from the host, compacted, one node
# per line.
status_lines() {
	"$MQCTL" --server "$SEEDS" --timeout 3s cluster status --json 2>/dev/null | tr -d ' \n\t' |
		sed 's/},{/}\n{/g' | grep '"node_id"' || true
}

# field NAME: the value of JSON field NAME on each input line.
field() { sed -nE "s/.*\"$1\":\"?([^\",}]*)\"?.*/\1/p"; }

# wait_until SECONDS WHAT CMD...: polls CMD every second.
wait_until() {
	local deadline=$((SECONDS + $1)) what=$2
	shift 2
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || die "timed out waiting for $what"
		sleep 1
	done
}

# all_healthy: every node's container reports healthy (its HEALTHCHECK).
all_healthy() {
	local n st
	for n in $NODES; do
		st=$(docker inspect -f '{{.State.Health.Status}}' "$(cid "$n")" 2>/dev/null || echo none)
		[ "$st" = healthy ] || return 1
	done
}

# converged: every node reachable, one leader, equal CommitLog ends (one
# broker group).
converged() {
	local lines want
	want=$(wc -w <<<"$NODES")
	lines=$(status_lines)
	[ "$(grep -c . <<<"$lines")" -eq "$want" ] || return 1
	grep -q '"reachable":false' <<<"$lines" && return 1
	[ "$(grep -c '"role":"leader"' <<<"$lines")" -eq 1 ] || return 1
	[ "$(field commitlog_end <<<"$lines" | sort -u | wc -l)" -eq 1 ]
}

# leader: the node id of a leader in the cluster status.
leader() { status_lines | grep '"role":"leader"' | field node_id | head -n1; }

# compose_down RC TAIL: on a failure (RC not 0) print the last TAIL log
# lines of every service; then remove the stack and its volumes.
compose_down() {
	if [ "$1" -ne 0 ]; then
		log "failed (exit $1); last logs:"
		$COMPOSE logs --no-color --tail "$2" 2>&1 | sed 's/^/    /' || true
	fi
	log "teardown: $COMPOSE down -v"
	$COMPOSE down -v --remove-orphans >/dev/null 2>&1 || log "warning: docker-compose down failed"
}

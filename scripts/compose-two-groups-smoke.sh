#!/usr/bin/env bash
# compose-two-groups-smoke.sh: end-to-end test of the two-group deployment
# (docker-compose.two-groups.yml: g1 = a1-a3, g2 = b1-b3, one gossip
# cluster).
#
# Builds the image (make image; SKIP_IMAGE=1 reuses it; RAFTMQ_IMAGE names
# it, default raftmq:dev), starts the
# six nodes, waits until all are healthy and each group has one leader,
# creates a topic through a node of g1, checks that a node of g2 answers
# its route with queues in both groups, produces through g2 and checks that
# messages landed in both groups, consumes everything through g1, stops
# g2's leader and sees writes to the topic continue, then tears down with
# `docker-compose down -v` (always). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

COMPOSE="${COMPOSE:-docker-compose} -f docker-compose.two-groups.yml"
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-raftmqgroups}
MQCTL=bin/mqctl
SEEDS=127.0.0.1:19880,127.0.0.1:19883
NODES="a1 a2 a3 b1 b2 b3"
TOPIC=spread
COUNT=200
t0=$SECONDS

LOG_TAG=groups
# shellcheck source=lib/compose.sh
. scripts/lib/compose.sh

teardown() {
	local rc=$?
	compose_down "$rc" 20
	exit "$rc"
}
trap teardown EXIT

# two_leaders: six reachable nodes, one leader in each group.
two_leaders() {
	local lines
	lines=$(status_lines)
	[ "$(grep -c . <<<"$lines")" -eq 6 ] || return 1
	grep -q '"reachable":false' <<<"$lines" && return 1
	[ "$(grep '"role":"leader"' <<<"$lines" | field group | sort -u | tr '\n' ' ')" = "g1 g2 " ]
}

export RAFTMQ_IMAGE=${RAFTMQ_IMAGE:-raftmq:dev}
if [ "${SKIP_IMAGE:-0}" != 1 ]; then
	log "building the image $RAFTMQ_IMAGE"
	make image IMAGE="$RAFTMQ_IMAGE" >/dev/null
fi
log "starting two groups of three nodes"
$COMPOSE up -d >/dev/null 2>&1 || { $COMPOSE up -d; exit 1; }
wait_until 120 "six healthy containers" all_healthy
wait_until 60 "one leader per group in the cluster status" two_leaders
log "cluster of two groups is up"
status_lines | sed 's/^/    /'

in_node a1 topic create "$TOPIC" --queues 2 >/dev/null
routes=$(in_node b2 topic describe "$TOPIC" --json | tr -d ' \n\t')
groups=$(grep -o '"group":"[^"]*"' <<<"$routes" | sort | uniq -c | tr -s ' ' | tr '\n' ';')
[ "$groups" = " 2 \"group\":\"g1\"; 2 \"group\":\"g2\";" ] || die "route via b2 should list 2 queues in each group, got: $groups"
log "b2 answers the route of a topic created through a1: 2 queues in g1, 2 in g2"

ids=$(in_node b1 produce "$TOPIC" --body m --count "$COUNT" --json | field msg_id)
[ "$(grep -c . <<<"$ids")" -eq "$COUNT" ] || die "produce through b1: $(grep -c . <<<"$ids") of $COUNT stored"
in_g1=$(grep -c '^g1:' <<<"$ids" || true)
in_g2=$(grep -c '^g2:' <<<"$ids" || true)
[ "$in_g1" -gt 0 ] && [ "$in_g2" -gt 0 ] || die "messages per group: g1=$in_g1 g2=$in_g2"
log "produced $COUNT through b1: $in_g1 stored in g1, $in_g2 in g2"

got=$(in_node a2 consume "$TOPIC" --group readers --count "$COUNT" --idle 15s --json | grep -c '"msg_id"' || true)
[ "$got" -eq "$COUNT" ] || die "consumed $got of $COUNT through a2"
log "consumed all $COUNT through a2"

old=$(status_lines | grep '"role":"leader"' | grep '"group":"g2"' | field node_id | head -n1)
[ -n "$old" ] || die "g2 has no leader"
log "stopping g2's leader $old"
stop_start=$SECONDS
$COMPOSE stop -t 20 "$old" >/dev/null 2>&1
probe() { in_node a3 produce "$TOPIC" --body after --count 20 --timeout 3s --json 2>/dev/null | field msg_id | grep -q '^g2:'; }
wait_until 60 "writes into g2 after stopping $old" probe
log "writes into g2 continue $((SECONDS - stop_start))s after stopping $old (the stop included)"
log "SUMMARY: ok; 6 nodes in 2 groups, routes from any node, $COUNT messages over both groups produced and consumed, g2 failover; total $((SECONDS - t0))s"

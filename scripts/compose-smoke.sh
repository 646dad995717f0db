#!/usr/bin/env bash
# compose-smoke.sh: end-to-end test of the docker-compose deployment.
#
# Builds the image (make image), starts the three-node group of
# docker-compose.yml (it forms itself through gossip, --bootstrap-expect 3),
# waits until every node is healthy, creates a topic, produces and consumes,
# stops the leader's container and measures how long until writes succeed
# through another node, starts it again, waits until all three CommitLogs
# are equal, consumes everything and checks the count. The cluster is
# always torn down with `docker-compose down -v`. Exits non-zero on any
# failure. Needs docker, docker-compose and Go (for make image).
#
# Produce and consume run inside the containers (docker-compose exec ...
# mqctl): nodes advertise nX:9876, which resolves only on the compose
# network. Health and cluster status run from the host with bin/mqctl on
# the published ports 127.0.0.1:19876-19878.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

COMPOSE=${COMPOSE:-docker-compose}
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-raftmqsmoke}
MQCTL=bin/mqctl
SEEDS=127.0.0.1:19876,127.0.0.1:19877,127.0.0.1:19878
TOPIC=smoke
BATCH=100
t0=$SECONDS

NODES="n1 n2 n3"
LOG_TAG=smoke
# shellcheck source=lib/compose.sh
. scripts/lib/compose.sh

teardown() {
	local rc=$?
	compose_down "$rc" 40
	exit "$rc"
}
trap teardown EXIT

# produce NODE COUNT PREFIX: COUNT messages through NODE; fails unless all
# COUNT were stored.
produce() {
	local got
	got=$(in_node "$1" produce "$TOPIC" --body "$3" --count "$2" --json | grep -c '"msg_id"' || true)
	[ "$got" -eq "$2" ] || die "produce through $1: $got of $2 stored"
}

log "building the image"
make image >/dev/null
log "starting the cluster"
$COMPOSE up -d >/dev/null 2>&1 || { $COMPOSE up -d; exit 1; }

wait_until 120 "three healthy containers" all_healthy
for p in 19876 19877 19878; do "$MQCTL" health --server "127.0.0.1:$p" >/dev/null || die "health on :$p"; done
wait_until 60 "a converged cluster status" converged
log "cluster healthy and converged"
status_lines | sed 's/^/    /'

in_node n1 topic create "$TOPIC" --queues 4 >/dev/null
produce n2 "$BATCH" before
got=$(in_node n3 consume "$TOPIC" --group warmup --count "$BATCH" --idle 15s --json | grep -c '"msg_id"' || true)
[ "$got" -eq "$BATCH" ] || die "consumed $got of $BATCH"
log "produced and consumed $BATCH messages"

old=$(leader)
[ -n "$old" ] || die "no leader"
other=n1
[ "$old" = n1 ] && other=n2
log "stopping the leader $old"
stop_start=$SECONDS
$COMPOSE stop -t 20 "$old" >/dev/null 2>&1
probe() { in_node "$other" produce "$TOPIC-probe" --body probe --timeout 2s >/dev/null 2>&1; }
wait_until 60 "a write through $other after stopping $old" probe
failover=$((SECONDS - stop_start))
log "writes continue through $other ${failover}s after stopping $old (the stop itself included)"
produce "$other" "$BATCH" during
new=$(status_lines | grep '"role":"leader"' | field node_id | head -n1)
log "new leader: ${new:-unknown}"

log "starting $old again"
$COMPOSE start "$old" >/dev/null 2>&1
catch_start=$SECONDS
wait_until 90 "$old to catch up (equal CommitLog ends)" converged
log "$old caught up in $((SECONDS - catch_start))s"
status_lines | sed 's/^/    /'

want=$((2 * BATCH))
got=$(in_node "$old" consume "$TOPIC" --group final --idle 10s --json | grep -c '"msg_id"' || true)
[ "$got" -eq "$want" ] || die "consumed $got messages through $old, want $want"
log "consumed all $got messages through $old"

log "SUMMARY: ok; healthy cluster, $want messages produced and consumed, leader $old stopped -> writes via $other after ${failover}s (new leader ${new:-?}), $old caught up; total $((SECONDS - t0))s"

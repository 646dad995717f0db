#!/usr/bin/env bash
# bench-vs-nats.sh runs the same workloads on a three-node raftmq group and
# a three-node NATS JetStream cluster (sync_interval: always) on 127.0.0.1,
# then on one node of each (R1), and prints one table row per workload:
#
#   sync   one producer, one synchronous send per message (waits for each ack)
#   async  4 producers with 500 messages in flight each
#   cons   one consumer group member reading the async workload's messages back
#
# with msg/s of both, the ratio raftmq/NATS, p50/p99 latency (sync and async:
# per message for raftmq; NATS's async latency is per batch, so it is not
# shown), and bytes written per node per message (/proc/PID/io write_bytes
# deltas of the server processes, averaged over the nodes).
#
# Both clusters run side by side and every workload runs ROUNDS times,
# alternating which system goes first, so that drift in the machine
# (another tenant, the VM's memory state) falls on both alike. The table
# shows the median of each figure over the rounds and the ratio of the
# medians; the ratio of each round is printed below it, so a single lucky
# or unlucky run shows as such.
#
# Each round's sync workload also runs bin/syncfloor (internal/syncfloor):
# the same chain of processes with raw TCP frames and a majority's
# O_DIRECT write + fdatasync and nothing else, the floor this machine
# allows. Below the table both systems' sync p50 is given as a multiple of
# it, which tells what is the machine's and what is the broker's.
#
# nats-server and the nats CLI are built with `go install` into a temporary
# directory (module proxy versions below). If that fails the NATS columns
# say "n/a" and the raftmq half still runs.
#
# Usage: scripts/bench-vs-nats.sh          (from the repository root)
# Environment: SYNC_MSGS (default 2000), ASYNC_MSGS (default 200000),
#   SIZE (default 1024), BASE_PORT (default 24000), KEEP=1 keeps the
#   temporary directory; REPLICAS (default "3 1"), WORKLOADS (default
#   "sync async cons"), ROUNDS (default 4: each system goes first in
#   half of them), SKIP_NATS=1 runs the raftmq half only,
#   RAFTMQ_FLAGS adds daemon flags (e.g. "--raft-log-store boltdb"),
#   CLIENT_BATCH is the raftmq client batch of the async workload
#   (default 500: like NATS's --batch 500, one window per producer).
set -euo pipefail

NATS_SERVER_VERSION=v2.15.2
NATSCLI_VERSION=v0.5.0
SYNC_MSGS=${SYNC_MSGS:-2000}
ASYNC_MSGS=${ASYNC_MSGS:-200000}
SIZE=${SIZE:-1024}
BASE_PORT=${BASE_PORT:-24000}
REPLICAS=${REPLICAS:-3 1}
WORKLOADS=${WORKLOADS:-sync async cons}
RAFTMQ_FLAGS=${RAFTMQ_FLAGS:-}
CLIENT_BATCH=${CLIENT_BATCH:-500}
ROUNDS=${ROUNDS:-4}
ROUND=1

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
TMP=$(mktemp -d)
PIDS=()

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [[ ${KEEP:-0} == 1 ]]; then
		echo "kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench-vs-nats: $*" >&2; }

# want WORKLOAD: whether WORKLOADS names it.
want() { [[ " $WORKLOADS " == *" $1 "* ]]; }

# sum_proc FILE PROGRAM PID... prints the sum over the processes of the
# number the awk PROGRAM reads from /proc/PID/FILE (0 for a process gone).
sum_proc() {
	local file=$1 prog=$2 pid sum=0 v
	shift 2
	for pid in "$@"; do
		v=$(awk "$prog" "/proc/$pid/$file" 2>/dev/null || echo 0)
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

# write_bytes PID... prints the sum of write_bytes of the processes.
write_bytes() { sum_proc io '/^write_bytes:/ {print $2}' "$@"; }

# DISK is the block device holding the temporary directory (for
# /proc/diskstats); disk_stat prints its sectors written and milliseconds
# busy, and disk_rate BEFORE AFTER SECONDS prints "MB/s written, % busy"
# of the whole device (other processes' I/O included).
DISK=$(basename "$(df --output=source "$TMP" | tail -1)")
disk_stat() { awk -v d="$DISK" '$3 == d { print $10, $13 }' /proc/diskstats; }
disk_rate() {
	awk -v b="$1" -v a="$2" -v s="$3" 'BEGIN {
		split(b, x, " "); split(a, y, " ");
		if (s > 0 && x[1] != "") printf "%.0f/%.0f%%", (y[1] - x[1]) * 512 / s / 1e6, (y[2] - x[2]) / s / 10; else print "n/a"
	}'
}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# cpu_ticks PID... prints the CPU time (user+system, clock ticks) of the
# processes; cpu_us_msg DELTA MSGS prints it in microseconds per message.
cpu_ticks() { sum_proc stat '{ print $14 + $15 }' "$@"; }
HZ=$(getconf CLK_TCK)
cpu_us_msg() { awk -v d="$1" -v m="$2" -v hz="$HZ" 'BEGIN { if (m > 0) printf "%.0f", d * 1e6 / hz / m; else print "n/a" }'; }

# per_node_msg DELTA NODES MSGS prints DELTA/NODES/MSGS with no decimals.
per_node_msg() {
	awk -v d="$1" -v n="$2" -v m="$3" 'BEGIN { if (m > 0) printf "%.0f", d / n / m; else print "n/a" }'
}

wait_port() { # host:port
	local i
	for i in $(seq 1 300); do
		if (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	log "timed out waiting for $1"
	return 1
}

# ---------------------------------------------------------------- install
NATS_OK=1
NATSBIN="$TMP/natsbin"
mkdir -p "$NATSBIN"
if [[ ${SKIP_NATS:-0} == 1 ]]; then
	NATS_OK=0
	log "SKIP_NATS=1: running the raftmq half only"
fi
[[ $NATS_OK == 1 ]] && log "go install nats-server $NATS_SERVER_VERSION and natscli $NATSCLI_VERSION into $NATSBIN"
if [[ $NATS_OK == 1 ]] && ! GOBIN=$NATSBIN go install "github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION" >"$TMP/install-server.log" 2>&1; then
	log "NATS SKIPPED: go install nats-server@$NATS_SERVER_VERSION failed (see below); running the raftmq half only"
	tail -5 "$TMP/install-server.log" >&2
	NATS_OK=0
fi
if [[ $NATS_OK == 1 ]] && ! GOBIN=$NATSBIN go install "github.com/nats-io/natscli/nats@$NATSCLI_VERSION" >"$TMP/install-cli.log" 2>&1; then
	log "NATS SKIPPED: go install natscli/nats@$NATSCLI_VERSION failed (see below); running the raftmq half only"
	tail -5 "$TMP/install-cli.log" >&2
	NATS_OK=0
fi
log "make build"
make build >/dev/null

# Results: R[<system>.<replicas>.<workload>.<field>]
declare -A R

# ---------------------------------------------------------------- NATS
NATS_PIDS=()
start_nats() {
	local i routes="" port cport
	for i in 1 2 3; do
		routes+="nats-route://127.0.0.1:$((BASE_PORT + 10 + i)),"
	done
	routes=${routes%,}
	for i in 1 2 3; do
		port=$((BASE_PORT + i))
		cport=$((BASE_PORT + 10 + i))
		mkdir -p "$TMP/nats$i"
		cat >"$TMP/nats$i/n.conf" <<-EOF
			server_name: nats$i
			listen: 127.0.0.1:$port
			jetstream {
			  store_dir: "$TMP/nats$i/js"
			  sync_interval: always
			}
			cluster {
			  name: bench
			  listen: 127.0.0.1:$cport
			  routes: [$routes]
			}
		EOF
		"$NATSBIN/nats-server" -c "$TMP/nats$i/n.conf" >"$TMP/nats$i/log" 2>&1 &
		PIDS+=($!)
		NATS_PIDS+=($!)
	done
	for i in 1 2 3; do wait_port "127.0.0.1:$((BASE_PORT + i))"; done
	local url="nats://127.0.0.1:$((BASE_PORT + 1))"
	for i in $(seq 1 100); do
		if "$NATSBIN/nats" -s "$url" account info >/dev/null 2>&1; then return 0; fi
		sleep 0.2
	done
	log "NATS JetStream did not become ready"
	return 1
}

# nats_parse FILE KEY prints msgs/sec of the "stats:" line (KEY=rate), or
# its P50/P99 in ms (KEY=p50|p99).
nats_parse() {
	local line
	line=$(grep 'stats:' "$1" | tail -1)
	case $2 in
	rate) sed -E 's/.*stats: ([0-9,]+) msgs\/sec.*/\1/' <<<"$line" | tr -d , ;;
	p50 | p99)
		local k=P50
		[[ $2 == p99 ]] && k=P99
		grep -oE "$k: [0-9,.]+us" <<<"$line" | head -1 | sed -E 's/.*: ([0-9,.]+)us/\1/' | tr -d , |
			awk '{ if ($1 != "") printf "%.2f", $1 / 1000 }'
		;;
	esac
}

# nats_run R WORKLOAD ARGS...: one nats bench run on stream bench-rR.
nats_run() {
	local r=$1 w=$2 out="$TMP/nats-r$1-$2-$ROUND.out" before after msgs
	shift 2
	before=$(write_bytes "${NATS_PIDS[@]}")
	local d0 t0 c0 c1
	d0=$(disk_stat)
	t0=$(now)
	c0=$(cpu_ticks "${NATS_PIDS[@]}")
	if ! "$NATSBIN/nats" -s "nats://127.0.0.1:$((BASE_PORT + 1))" bench js "$@" --no-progress \
		--size "$SIZE" --stream "bench-r$r" >"$out" 2>&1; then
		log "nats bench js $* failed:"
		tail -5 "$out" >&2
		return 0
	fi
	after=$(write_bytes "${NATS_PIDS[@]}")
	R[nats.$r.$w.disk]=$(disk_rate "$d0" "$(disk_stat)" "$(secs "$t0" "$(now)")")
	c1=$(cpu_ticks "${NATS_PIDS[@]}")
	msgs=$(grep -oE 'msgs=[0-9,]+' "$out" | head -1 | sed 's/msgs=//' | tr -d , || true)
	R[nats.$r.$w.cpu]=$(cpu_us_msg $((c1 - c0)) "$msgs")
	R[nats.$r.$w.rate]=$(nats_parse "$out" rate)
	if [[ $w == sync ]]; then
		R[nats.$r.$w.p50]=$(nats_parse "$out" p50)
		R[nats.$r.$w.p99]=$(nats_parse "$out" p99)
	fi
	R[nats.$r.$w.bpm]=$(per_node_msg $((after - before)) "$r" "$msgs")
}

# nats_workload R WORKLOAD: one run of WORKLOAD on stream bench-rR; consume
# first fills the stream (unmeasured) when async is not among WORKLOADS.
nats_workload() {
	local r=$1 w=$2
	[[ $NATS_UP == 1 ]] || return 0
	case $w in
	sync)
		log "NATS R$r: sync (round $ROUND)"
		nats_run "$r" sync pub sync --create --replicas "$r" --msgs "$SYNC_MSGS" --clients 1 "bench.r$r"
		;;
	async)
		log "NATS R$r: async 4x500 (round $ROUND)"
		nats_run "$r" async pub async --create --replicas "$r" --purge --clients 4 --batch 500 --msgs "$ASYNC_MSGS" "bench.r$r"
		;;
	cons)
		if ! want async; then
			nats_run "$r" fill pub async --create --replicas "$r" --purge --clients 4 --batch 500 --msgs "$ASYNC_MSGS" "bench.r$r"
		fi
		log "NATS R$r: consume (round $ROUND)"
		nats_run "$r" cons consume --clients 1 --msgs "$ASYNC_MSGS"
		;;
	esac
}

# ---------------------------------------------------------------- raftmq
RAFTMQ_PIDS=()
# start_raftmq N PORTBASE: N nodes of one group with static peers.
start_raftmq() {
	local n=$1 base=$2 i peers="" args
	RAFTMQ_PIDS=()
	for i in $(seq 1 "$n"); do
		peers+="n$i=127.0.0.1:$((base + 10 + i))=127.0.0.1:$((base + i)),"
	done
	peers=${peers%,}
	for i in $(seq 1 "$n"); do
		mkdir -p "$TMP/raftmq-$base-$i/data"
		args=(--node-id "n$i" --group bench --data-dir "$TMP/raftmq-$base-$i/data"
			--grpc-addr "127.0.0.1:$((base + i))" --raft-addr "127.0.0.1:$((base + 10 + i))"
			--peers "$peers" --bootstrap --log-level warn)
		# shellcheck disable=SC2206 # RAFTMQ_FLAGS is split on purpose
		args+=($RAFTMQ_FLAGS)
		bin/raftmq "${args[@]}" >"$TMP/raftmq-$base-$i/log" 2>&1 &
		PIDS+=($!)
		RAFTMQ_PIDS+=($!)
	done
	for i in $(seq 1 "$n"); do wait_port "127.0.0.1:$((base + i))"; done
	for i in $(seq 1 200); do
		if bin/mqctl -s "127.0.0.1:$((base + 1))" --timeout 1s cluster status 2>/dev/null | grep -q leader; then
			return 0
		fi
		sleep 0.1
	done
	log "raftmq group of $n did not elect a leader"
	return 1
}

stop_raftmq() {
	local pid
	for pid in "${RAFTMQ_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${RAFTMQ_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}

# json_field FILE FIELD prints a number of mqctl's --json report.
json_field() {
	grep -E "\"$2\":" "$1" | head -1 | sed -E 's/.*: *([0-9.e+-]+),?/\1/'
}

# raftmq_run R SERVERS WORKLOAD MODE ARGS...
raftmq_run() {
	local r=$1 servers=$2 w=$3 out="$TMP/raftmq-r$1-$3-$ROUND.out" before after msgs
	shift 3
	before=$(write_bytes "${RAFTMQ_PIDS[@]}")
	local d0 t0 c0 c1
	d0=$(disk_stat)
	t0=$(now)
	c0=$(cpu_ticks "${RAFTMQ_PIDS[@]}")
	if ! bin/mqctl -s "$servers" --timeout 30s --json bench "$@" --size "$SIZE" >"$out" 2>"$out.err"; then
		log "mqctl bench $* failed:"
		tail -5 "$out.err" >&2
	fi
	after=$(write_bytes "${RAFTMQ_PIDS[@]}")
	R[raftmq.$r.$w.disk]=$(disk_rate "$d0" "$(disk_stat)" "$(secs "$t0" "$(now)")")
	c1=$(cpu_ticks "${RAFTMQ_PIDS[@]}")
	msgs=$(json_field "$out" messages || true) # none if the run failed early
	# A run that stored nothing has no rate, latency or cost to report:
	# its round shows n/a and counts in no median or goal.
	[[ -n $msgs && $msgs != 0 ]] || return 0
	R[raftmq.$r.$w.cpu]=$(cpu_us_msg $((c1 - c0)) "$msgs")
	R[raftmq.$r.$w.rate]=$(printf '%.0f' "$(json_field "$out" msg_per_sec)")
	if [[ $w != cons ]]; then
		R[raftmq.$r.$w.p50]=$(awk -v v="$(json_field "$out" p50)" 'BEGIN { printf "%.2f", v / 1000 }')
		R[raftmq.$r.$w.p99]=$(awk -v v="$(json_field "$out" p99)" 'BEGIN { printf "%.2f", v / 1000 }')
	fi
	R[raftmq.$r.$w.bpm]=$(per_node_msg $((after - before)) "$r" "$msgs")
}

# floor_workload R: one run of bin/syncfloor, the machine's floor for the
# synchronous workload: the same chain (client, leader, R-1 followers, a
# majority's O_DIRECT write + fdatasync) as R+1 processes with raw TCP
# frames and nothing else in the path. Like the brokers' runs it has no
# warm-up; its p50 is kept in microseconds' precision (0.19 ms rounded to
# 0.01 ms would move a ratio by 3 %).
floor_workload() {
	local r=$1 out="$TMP/floor-r$1-$ROUND.out"
	log "floor R$r: syncfloor (round $ROUND)"
	if ! bin/syncfloor --replicas "$r" --count "$SYNC_MSGS" --warmup 0 --size "$SIZE" --dir "$TMP" --json >"$out" 2>"$out.err"; then
		log "syncfloor failed:"
		tail -5 "$out.err" >&2
		return 0
	fi
	R[floor.$r.sync.rate]=$(printf '%.0f' "$(json_field "$out" msg_per_sec)")
	R[floor.$r.sync.p50]=$(awk -v v="$(json_field "$out" p50)" 'BEGIN { printf "%.3f", v / 1000 }')
	R[floor.$r.sync.p99]=$(awk -v v="$(json_field "$out" p99)" 'BEGIN { printf "%.2f", v / 1000 }')
	R[floor.$r.sync.cpu]=$(printf '%.0f' "$(json_field "$out" server_cpu_us_per_msg)")
}

# raftmq_workload R SERVERS WORKLOAD: one run of WORKLOAD on the group at
# SERVERS. Each async run adds ASYNC_MSGS messages to topic bench-rR-async
# and each consume reads the next ASYNC_MSGS of them as group bench-rR;
# consume first fills the topic (unmeasured) when async is not among
# WORKLOADS.
raftmq_workload() {
	local r=$1 servers=$2 w=$3
	[[ $RAFTMQ_UP == 1 ]] || return 0
	case $w in
	sync)
		log "raftmq R$r: sync (round $ROUND)"
		raftmq_run "$r" "$servers" sync produce --topic "bench-r$r" --queues 8 --producers 1 --inflight 1 --count "$SYNC_MSGS"
		;;
	async | fill)
		log "raftmq R$r: async 4x500 (round $ROUND)"
		raftmq_run "$r" "$servers" "$w" produce --topic "bench-r$r-async" --queues 8 --producers 4 --inflight 500 \
			--batch "$CLIENT_BATCH" --count "$ASYNC_MSGS"
		;;
	cons)
		want async || raftmq_workload "$r" "$servers" fill
		log "raftmq R$r: consume (round $ROUND)"
		raftmq_run "$r" "$servers" cons consume --topic "bench-r$r-async" --group "bench-r$r" --count "$ASYNC_MSGS" --batch 256
		;;
	esac
}

# ---------------------------------------------------------------- rounds
FIELDS="rate p50 p99 bpm cpu disk"

# keep_round SYSTEM R WORKLOAD files this round's figures of the run under
# their round number.
keep_round() {
	local k=$1.$2.$3 f
	for f in $FIELDS; do
		if [[ -n ${R[$k.$f]:-} ]]; then
			R[$k.$f.$ROUND]=${R[$k.$f]}
			unset "R[$k.$f]"
		fi
	done
}

# median FORMAT NUMBER... prints the median of the numbers (the mean of
# the middle two for an even count) with the printf FORMAT; nothing for
# none.
median() {
	local fmt=$1
	shift
	[[ $# -gt 0 ]] || return 0
	printf '%s\n' "$@" | sort -g | awk -v f="$fmt" '{ v[NR] = $1 } END {
		printf f "\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	}'
}

# summarize SYSTEM R WORKLOAD sets each field to its median over the rounds
# (disk: that of the round whose rate is nearest the median rate).
summarize() {
	local k=$1.$2.$3 f i vals mid fmt
	for f in rate p50 p99 bpm cpu; do
		vals=()
		for i in $(seq 1 "$ROUNDS"); do
			# Numbers only: a failed run's figures are "n/a".
			[[ ${R[$k.$f.$i]:-} =~ ^[0-9.]+$ ]] && vals+=("${R[$k.$f.$i]}")
		done
		fmt=%.0f
		[[ $f == p50 || $f == p99 ]] && fmt=%.2f
		[[ $1 == floor && $f == p50 ]] && fmt=%.3f # see floor_workload
		mid=$(median "$fmt" "${vals[@]}")
		[[ -n $mid ]] && R[$k.$f]=$mid
	done
	local best=""
	for i in $(seq 1 "$ROUNDS"); do
		[[ -n ${R[$k.disk.$i]:-} ]] || continue
		if [[ -z $best ]] || awk -v a="${R[$k.rate.$i]:-0}" -v b="${R[$k.rate.$best]:-0}" -v m="${R[$k.rate]:-0}" \
			'BEGIN { d = a - m; e = b - m; exit !(d * d < e * e) }'; then
			best=$i
		fi
	done
	[[ -z $best ]] || R[$k.disk]=${R[$k.disk.$best]}
	return 0
}

# ---------------------------------------------------------------- table
# ratio A B prints A/B, or n/a unless both are plain non-negative numbers
# and B is positive (a figure that failed to parse is no ratio).
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else print "n/a" }'
}
v() { echo "${R[$1]:-n/a}"; }
# p50_ratio A B [SUFFIX] prints A's p50 over B's (SUFFIX: one round's).
p50_ratio() {
	if [[ -n ${R[$1.p50${3:-}]:-} && -n ${R[$2.p50${3:-}]:-} ]]; then ratio "${R[$1.p50${3:-}]}" "${R[$2.p50${3:-}]}"; else echo "-"; fi
}
lat() {
	if [[ -n ${R[$1.p50]:-} ]]; then echo "${R[$1.p50]}/${R[$1.p99]}"; else echo "-"; fi
}

print_table() {
	local r w name
	echo
	echo "raftmq vs NATS JetStream, $SIZE B messages, $(nproc) cores, $(date -u +%Y-%m-%d)"
	echo "sync=$SYNC_MSGS msgs (1 producer, wait for each ack); async=$ASYNC_MSGS msgs (4 producers x 500 in flight); cons=reads the async messages back"
	echo "latency p50/p99 in ms; B/msg/node = bytes written per message per server process;"
	echo "disk = MB/s written to $DISK and % of the time it was busy during the run (whole device: other processes count too);"
	echo "CPU = user+system CPU of all server processes per message, in microseconds"
	echo "medians over $ROUNDS round(s), the systems alternating; ratio = raftmq/NATS msg/s, p50 ratio = raftmq/NATS p50"
	printf '%-16s %12s %12s %8s %16s %16s %9s %12s %12s %12s %12s %10s %10s\n' workload "raftmq msg/s" "NATS msg/s" ratio \
		"raftmq p50/p99" "NATS p50/p99" "p50 ratio" "raftmq B/msg" "NATS B/msg" "raftmq disk" "NATS disk" "raftmq CPU" "NATS CPU"
	for r in $REPLICAS; do
		for w in $WORKLOADS; do
			case $w in
			sync) name="R$r sync x1" ;;
			async) name="R$r async 4x500" ;;
			cons) name="R$r consume" ;;
			esac
			printf '%-16s %12s %12s %8s %16s %16s %9s %12s %12s %12s %12s %10s %10s\n' "$name" "$(v "raftmq.$r.$w.rate")" "$(v "nats.$r.$w.rate")" \
				"$(ratio "${R[raftmq.$r.$w.rate]:-}" "${R[nats.$r.$w.rate]:-}")" \
				"$(lat "raftmq.$r.$w")" "$(lat "nats.$r.$w")" "$(p50_ratio "raftmq.$r.$w" "nats.$r.$w")" \
				"$(v "raftmq.$r.$w.bpm")" "$(v "nats.$r.$w.bpm")" \
				"$(v "raftmq.$r.$w.disk")" "$(v "nats.$r.$w.disk")" "$(v "raftmq.$r.$w.cpu")" "$(v "nats.$r.$w.cpu")"
		done
	done
	if ((ROUNDS > 1)); then
		echo
		echo "each round's ratio (raftmq/NATS):"
		for r in $REPLICAS; do
			for w in $WORKLOADS; do
				printf '  R%s %-6s msg/s:' "$r" "$w"
				for i in $(seq 1 "$ROUNDS"); do printf ' %s' "$(ratio "${R[raftmq.$r.$w.rate.$i]:-}" "${R[nats.$r.$w.rate.$i]:-}")"; done
				if [[ $w == sync ]]; then
					printf '   p50:'
					for i in $(seq 1 "$ROUNDS"); do printf ' %s' "$(p50_ratio "raftmq.$r.$w" "nats.$r.$w" ".$i")"; done
				fi
				echo
			done
		done
	fi
	print_floor
	print_goals
	if [[ $NATS_OK == 0 && ${SKIP_NATS:-0} != 1 ]]; then
		echo "NATS was not run: installing it with go install failed (see above)."
	fi
}

# print_floor prints the synchronous rows against bin/syncfloor's: how
# many times the floor of the same machine each system's p50 is.
print_floor() {
	want sync || return 0
	local r line=""
	for r in $REPLICAS; do
		[[ -n ${R[floor.$r.sync.p50]:-} ]] || continue
		line+=$(printf '\n  R%s sync x1: floor p50/p99 %s ms; p50 over the floor: raftmq %s, NATS %s; server CPU per message (us): floor %s, raftmq %s, NATS %s' \
			"$r" "$(lat "floor.$r.sync")" "$(p50_ratio "raftmq.$r.sync" "floor.$r.sync")" "$(p50_ratio "nats.$r.sync" "floor.$r.sync")" \
			"$(v "floor.$r.sync.cpu")" "$(v "raftmq.$r.sync.cpu")" "$(v "nats.$r.sync.cpu")")
	done
	[[ -n $line ]] || return 0
	echo
	printf 'the machine'"'"'s floor (bin/syncfloor: the same processes, raw TCP frames and O_DIRECT fsyncs, no broker;\n'
	printf 'NATS'"'"'s CPU counts its three servers at R1 too, its R1 stream living on one of them):%b\n' "$line"
}

# goal_rounds OP THRESHOLD VALUE... prints how many of the rounds' ratios
# (n/a and - skipped) meet the goal, as met/rounds.
goal_rounds() {
	local op=$1 thr=$2 x met=0 n=0
	shift 2
	for x in "$@"; do
		# Only positive numbers are ratios of two real figures.
		awk -v a="$x" 'BEGIN { exit !(a ~ /^[0-9.]+$/ && a > 0) }' || continue
		n=$((n + 1))
		if awk -v a="$x" -v t="$thr" -v op="$op" 'BEGIN { exit !(op == ">=" ? a >= t : a <= t) }'; then
			met=$((met + 1))
		fi
	done
	echo "$met/$n"
}

# print_goals says, for the R3 workloads that ran against both systems,
# in how many rounds each goal of issue #6 held: async and consume at
# least 2x NATS's msg/s, synchronous p50 at most 0.6x NATS's.
print_goals() {
	[[ " $REPLICAS " == *" 3 "* ]] || return 0
	local w i vals line=""
	for w in $WORKLOADS; do
		vals=()
		case $w in
		sync)
			for i in $(seq 1 "$ROUNDS"); do vals+=("$(p50_ratio "raftmq.3.sync" "nats.3.sync" ".$i" || echo n/a)"); done
			line+=$(printf '\n  sync p50 ratio <= 0.6:     %s rounds (median %s)' "$(goal_rounds '<=' 0.6 "${vals[@]}")" "$(p50_ratio raftmq.3.sync nats.3.sync || echo n/a)")
			;;
		async | cons)
			for i in $(seq 1 "$ROUNDS"); do vals+=("$(ratio "${R[raftmq.3.$w.rate.$i]:-}" "${R[nats.3.$w.rate.$i]:-}" || echo n/a)"); done
			line+=$(printf '\n  %-5s msg/s ratio >= 2:    %s rounds (median %s)' "$w" "$(goal_rounds '>=' 2 "${vals[@]}")" \
				"$(ratio "${R[raftmq.3.$w.rate]:-}" "${R[nats.3.$w.rate]:-}" || echo n/a)")
			;;
		esac
	done
	[[ -n $line ]] || return 0
	echo
	printf 'goals at R3 (issue #6), rounds in which each held:%b\n' "$line"
}

NATS_UP=0
if [[ $NATS_OK == 1 ]]; then
	log "starting three nats-server processes (JetStream, sync_interval: always)"
	start_nats && NATS_UP=1
fi
for r in $REPLICAS; do
	base=$((BASE_PORT + 100 * r))
	log "starting $r raftmq process(es) ${RAFTMQ_FLAGS:-(default flags)}"
	RAFTMQ_UP=1
	start_raftmq "$r" "$base" || { stop_raftmq; RAFTMQ_UP=0; }
	servers=""
	for i in $(seq 1 "$r"); do servers+="127.0.0.1:$((base + i)),"; done
	servers=${servers%,}
	for ROUND in $(seq 1 "$ROUNDS"); do
		for w in sync async cons; do
			want "$w" || continue
			# Alternate which system goes first (the floor: first in
			# even rounds, last in odd ones).
			if ((ROUND % 2)); then
				nats_workload "$r" "$w"
				raftmq_workload "$r" "$servers" "$w"
				[[ $w != sync ]] || floor_workload "$r"
			else
				[[ $w != sync ]] || floor_workload "$r"
				raftmq_workload "$r" "$servers" "$w"
				nats_workload "$r" "$w"
			fi
			keep_round nats "$r" "$w"
			keep_round raftmq "$r" "$w"
			keep_round floor "$r" "$w"
		done
	done
	stop_raftmq
	for w in $WORKLOADS; do
		summarize nats "$r" "$w"
		summarize raftmq "$r" "$w"
	done
	want sync && summarize floor "$r" sync
done
for pid in "${NATS_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
for pid in "${NATS_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
print_table

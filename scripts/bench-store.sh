#!/usr/bin/env bash
# bench-store.sh runs the store benchmarks (store/bench_test.go) on the real
# file system and prints a compact table: name, MB/s, ns/op and x-raw (the
# benchmark's MB/s over the raw disk's 1 MiB write+fdatasync MB/s, measured
# once per process).
#
# Usage: scripts/bench-store.sh [extra go test flags, e.g. -cpuprofile cpu.prof]
# Environment:
#   BENCHTIME  -benchtime (default 2s)
#   BENCH      -bench pattern (default: all store benchmarks)
#   GO         go binary (default go)
#
# The full go test output is shown as it runs; the table follows it.
# Benchmarks write into $TMPDIR (or /tmp): check `df -h /tmp` first.
set -euo pipefail

cd "$(dirname "$0")/.."

GO=${GO:-go}
BENCHTIME=${BENCHTIME:-2s}
BENCH=${BENCH:-'BenchmarkRawDisk|BenchmarkAppend|BenchmarkGetMessages|BenchmarkReadMessage|BenchmarkQueryByKey'}

out=$(mktemp "${TMPDIR:-/tmp}/bench-store.XXXXXX")
trap 'rm -f "$out"' EXIT

"$GO" test -run '^$' -bench "$BENCH" -benchtime "$BENCHTIME" -benchmem "$@" ./store/ 2>&1 | tee "$out"

echo
awk '
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	mbs = "-"; ns = "-"; xr = "-"
	for (i = 3; i <= NF; i++) {
		if ($i == "ns/op") ns = $(i-1)
		else if ($i == "MB/s") mbs = $(i-1)
		else if ($i == "x-raw") xr = $(i-1)
	}
	rows[++n] = sprintf("%-52s %10s %14s %7s", name, mbs, ns, xr)
}
END {
	if (n == 0) { print "no benchmark results" > "/dev/stderr"; exit 1 }
	printf "%-52s %10s %14s %7s\n", "name", "MB/s", "ns/op", "x-raw"
	for (i = 1; i <= n; i++) print rows[i]
}' "$out"

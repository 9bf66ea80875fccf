#!/usr/bin/env bash
# scripts/profile.sh — where a server's cycles go under one ws-bench load.
# Starts ws-server pinned to CPU 0 under `perf record -e cpu-clock` (these
# VMs have no hardware counters, and attaching with -p records nothing),
# loads it from CPU 1 with ws-bench, stops it with SIGINT, and prints the
# flat profile (self time per symbol) and the user/kernel split.
# Usage: scripts/profile.sh NAME [--backend epoll|uring] -- WS-BENCH ARGS...
#   e.g. scripts/profile.sh echo-1k -- --mode echo -c 1000 -k 16 -s 1024 -d 5
# Output: $OUT/NAME.txt (default OUT=bench/profiles, git-ignored). docs/performance.md
# has the profiles taken with it.
set -euo pipefail
cd "$(dirname "$0")/.."
# perf is needed here only, not by the build or the tests: installed on first use.
command -v perf >/dev/null || scripts/setup.sh linux-perf
name=${1:?usage: scripts/profile.sh NAME [--backend B] [--mode M] -- WS-BENCH ARGS...}; shift
backend=epoll; mode=echo
while (($#)) && [[ $1 != -- ]]; do
  case $1 in
    --backend) backend=$2; shift ;;
    --mode) mode=$2; shift ;;
    *) echo "profile: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[[ ${1:-} == -- ]] && shift
BUILD=${WSRING_BUILD:-build/release}
OUT=${OUT:-bench/profiles}
mkdir -p "$OUT"
work=$(mktemp -d /tmp/wsring-profile.XXXXXX)
trap 'rm -rf "$work"' EXIT
taskset -c 0 perf record -q -e cpu-clock -F 1999 -o "$work/perf.data" -- \
  "$BUILD/ws-server" --mode "$mode" --backend "$backend" --threads 1 --host 127.0.0.1 --port 0 \
  --idle-timeout 0 --ping-interval 0 >"$work/server.out" 2>&1 &
perf_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/server.out" 2>/dev/null && break; sleep 0.05; done
port=$(grep -o 'listening on [^ ]*' "$work/server.out" | sed 's/.*://')
server_pid=$(pgrep -P "$perf_pid" -f ws-server | head -1)
path=/; [[ $mode == pubsub ]] && path=/bench
taskset -c 1 "$BUILD/ws-bench" --url "ws://127.0.0.1:$port$path" --server-pid "$server_pid" \
  --no-progress "$@" >"$work/bench.out" 2>&1 || true
kill -INT "$server_pid"; wait "$perf_pid" || true
{
  echo "# $name: ws-server --mode $mode --backend $backend --threads 1; ws-bench $*"
  tail -n 12 "$work/bench.out"
  echo "# user vs kernel (samples)"
  perf report -i "$work/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -E "^ +[0-9]" | head -8
  echo "# self time per symbol"
  perf report -i "$work/perf.data" --no-children --sort sym --stdio 2>/dev/null | grep -E "^ +[0-9]" | head -40
} | tee "$OUT/$name.txt"

#!/usr/bin/env bash
# `make bench` (full, < 15 min) and `make bench-quick` (= --quick, < 2 min):
#   1. the Google Benchmark micro suite (every build/release/bench_*);
#   2. the ws-bench load matrix: ws-server (each backend that exists) and the
#      plain tcp-echo-server (ws-bench --raw: same frame bytes, no WebSocket
#      work — the physical limit), each server pinned to CPU 0 and ws-bench
#      to CPU 1, over CONNS x BYTES x INFLIGHT, repetitions interleaved
#      (A, B, A, B ...) and the median reported; then broadcast fan-out,
#      connect rate and the server's resident memory per idle connection;
#      then wss:// (ws-server --tls-cert, test certificates from
#      scripts/make-test-certs.sh) beside plain ws:// in the same run: echo,
#      full and resumed TLS handshakes, memory per idle TLS connection;
#      then permessage-deflate (--deflate, --deflate-takeover) beside no
#      deflate: broadcast and echo of JSON-like text, memory per connection;
#      then pub/sub (ws-server --mode pubsub, issue 12): broadcast to 1,000
#      receivers with wsring.v1 and history beside raw receivers without
#      history, replay from history, and HTTP publishes;
#      then a cluster through Redis (ws-server --redis, issue 13; its own
#      redis-server): broadcast from a publisher on node A to 1,000
#      receivers on node B beside the same load on one node, and HTTP
#      publishes through Redis beside one node's own;
#   3. a markdown table of every ws-server figure as a ratio to the plain TCP
#      figure of the same point, bench/results/latest.json and a PNG
#      (bench/results/latest.png, gnuplot) of throughput and latency.
# Anything not built yet is skipped with a message. WSRING_BUILD picks the
# build directory (default build/release). `--only SECTION` (micro, echo,
# tls, deflate, pubsub, cluster; repeatable) runs only those sections and merges their
# points into the existing bench/results/latest.json, each update recorded
# in its "updates" list, so the file never holds a partial run alone.
# Other people's servers join the echo section: `--server NAME=COMMAND`
# (repeatable) starts COMMAND (a shell command line running an echo
# WebSocket server in the foreground; `{port}` in it, or else $PORT, is a
# free port on 127.0.0.1; NAME@PORT=COMMAND for a server with a fixed port,
# NAME/PATH=COMMAND for a URL path other than /) pinned to CPU 0 in its own
# process group, waits until the port accepts, and runs it through the echo
# matrix, connect rate and idle memory interleaved with ours (the start
# order rotating every repetition); `--server-broadcast NAME=COMMAND` does
# the same for the broadcast rows (a server relaying every message to every
# connection). `--baseline NAME` (default tcp-echo, else the first
# --server) is what the ratios are to; `--servers-only` runs only the
# --server ones. `--point CONNS:SIZE:INFLIGHT` (repeatable) runs the echo
# matrix at those points instead of its grid. `--reps N` runs N
# repetitions of each figure (default 3, --quick 1): on a noisy VM the
# ratios table's "paired" column, the spread of the per-repetition ratios,
# says how many are needed. See docs/benchmarking.md, "Comparing other servers".
set -uo pipefail
cd "$(dirname "$0")/.."

QUICK=0
ONLY=()
# Other people's servers (--server, --server-broadcast): their names in the
# order given, and per KIND:NAME (e: echo, b: broadcast) the command and
# the fixed port of NAME@PORT=COMMAND, if any.
EXT=() EXT_B=()
declare -A EXT_CMD EXT_FIXED EXT_PATH
BASELINE="" SERVERS_ONLY=0
POINTS=()  # --point CONNS:SIZE:INFLIGHT: the echo matrix's points, instead of its grid
REPS_GIVEN=""  # --reps N
usage() {
  echo "usage: $0 [--quick] [--only micro|echo|tls|deflate|pubsub|cluster]... [--server NAME[@PORT][/PATH]=COMMAND]..." >&2
  echo "       [--server-broadcast NAME[@PORT][/PATH]=COMMAND]... [--baseline NAME] [--servers-only]" >&2
  echo "       [--point CONNS:SIZE:INFLIGHT]... [--reps N]" >&2
  exit 2
}
add_server() {  # add_server e|b SPEC: records NAME[@PORT][/PATH]=COMMAND of --server / --server-broadcast
  local kind=$1 spec=$2 name port="" path=/
  [[ $spec == *=* ]] || { echo "bench: --server wants NAME=COMMAND, not '$spec'" >&2; exit 2; }
  name=${spec%%=*}
  if [[ $name == */* ]]; then path=/${name#*/} name=${name%%/*}; fi  # the URL's path (default /)
  [[ $path =~ ^[A-Za-z0-9._~/-]*$ ]] || { echo "bench: bad URL path '$path' for server '$name'" >&2; exit 2; }
  if [[ $name == *@* ]]; then port=${name#*@} name=${name%%@*}; fi
  if [[ ! $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ || -n $port && ! $port =~ ^[0-9]+$ ]]; then
    echo "bench: bad server name '${spec%%=*}' (letters, digits, . _ -; NAME@PORT for a fixed port)" >&2; exit 2
  fi
  # our own servers' names, and the prefixes the report reads as ours
  case $name in tcp-echo | ws-* | wss-* | plain-* | bcast-* | z-* | ps-* | cl-*)
    echo "bench: server name '$name' is taken by ours (tcp-echo, ws-*, bcast-*, ...): pick another" >&2; exit 2 ;;
  esac
  [[ -n ${EXT_CMD[$kind:$name]:-} ]] && { echo "bench: server '$name' given twice" >&2; exit 2; }
  [[ -n ${spec#*=} ]] || { echo "bench: server '$name' has an empty command" >&2; exit 2; }
  EXT_CMD[$kind:$name]=${spec#*=} EXT_FIXED[$kind:$name]=$port EXT_PATH[$kind:$name]=$path
  if [[ $kind == e ]]; then EXT+=("$name"); else EXT_B+=("$name"); fi
}
while (($#)); do
  case $1 in
    --quick) QUICK=1 ;;
    --only) ONLY+=("${2:?--only needs a section: micro, echo, tls, deflate, pubsub or cluster}"); shift ;;
    --server) add_server e "${2:?--server needs NAME=COMMAND}"; shift ;;
    --server-broadcast) add_server b "${2:?--server-broadcast needs NAME=COMMAND}"; shift ;;
    --baseline) BASELINE=${2:?--baseline needs a server name}; shift ;;
    --servers-only) SERVERS_ONLY=1 ;;
    --point)
      [[ ${2:-} =~ ^[1-9][0-9]*:[1-9][0-9]*:[1-9][0-9]*$ ]] ||
        { echo "bench: --point wants CONNS:SIZE:INFLIGHT (e.g. 100:65536:4), not '${2:-}'" >&2; exit 2; }
      POINTS+=("$2"); shift ;;
    --reps)
      [[ ${2:-} =~ ^[1-9][0-9]?$ ]] || { echo "bench: --reps wants a count from 1 to 99, not '${2:-}'" >&2; exit 2; }
      REPS_GIVEN=$2; shift ;;
    *) usage ;;
  esac
  shift
done
if ((SERVERS_ONLY && ${#EXT[@]} + ${#EXT_B[@]} == 0)); then
  echo "bench: --servers-only needs at least one --server or --server-broadcast" >&2; exit 2
fi
want() {  # want SECTION: true when it runs in this invocation
  ((SERVERS_ONLY)) && [[ $1 != echo ]] && return 1  # only the echo section runs other servers
  ((${#ONLY[@]} == 0)) && return 0
  local o; for o in "${ONLY[@]}"; do [[ $o == "$1" ]] && return 0; done
  return 1
}
BUILD=${WSRING_BUILD:-build/release}
RESULTS=${WSRING_BENCH_RESULTS:-bench/results}  # where latest.json goes (a scratch folder for trials)
WORK=$(mktemp -d /tmp/wsring-bench.XXXXXX)
mkdir -p "$RESULTS" "$WORK/runs" "$WORK/procs"
T0=$SECONDS

if ((QUICK)); then
  REPS=1; DUR=1; WARM=0.3; MICRO_MIN=0.01
  CONNS=(100); SIZES=(16 1024); WINDOWS=(16)
  BCAST_RECV=(200); IDLE_CONNS=2000; Z_RECV=200; Z_CONNS=1000; PS_RECV=200
else
  REPS=3; DUR=3; WARM=1; MICRO_MIN=0.05
  CONNS=(100 1000); SIZES=(16 1024 65536); WINDOWS=(1 16)
  BCAST_RECV=(1000 10000); IDLE_CONNS=10000; Z_RECV=1000; Z_CONNS=10000; PS_RECV=1000
fi
REPS=${REPS_GIVEN:-$REPS}

# 10,000 idle connections need that many descriptors in each process.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

declare -A PORT PID PGRP URL_PATH  # PGRP, URL_PATH: an external server's process group and path
cleanup() {
  for name in "${!PGRP[@]}"; do kill -KILL -- "-${PGRP[$name]}" 2>/dev/null; done
  for name in "${!PID[@]}"; do kill "${PID[$name]}" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

have() {  # have BINARY: true when built, else says what is skipped
  [[ -x $BUILD/$1 ]] && return 0
  echo "bench: $1 is not built in $BUILD: skipping what needs it"
  return 1
}

# start_server NAME CPU CMD... and stop_server NAME: scripts/bench_lib.sh
# (shared with scripts/bench_auth.sh).
source scripts/bench_lib.sh

# ---- other people's servers (--server, --server-broadcast) ------------------------
SERVER_WAIT=${WSRING_BENCH_SERVER_WAIT:-20}  # seconds a server may take to accept on its port

port_accepts() {  # port_accepts PORT: true when 127.0.0.1:PORT takes a TCP connection
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

free_port() {  # a port nothing listens on now (the kernel's pick; freed again at once)
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# listener_pid PGRP PORT: the process of that group holding the socket that
# listens on PORT (ws-bench --server-pid samples it), else PGRP itself. A
# server of several processes is sampled by its listener only.
listener_pid() {
  /usr/bin/python3 scripts/listener_pid.py "$1" "$2"
}

# start_external NAME e|b: the user's command for NAME (echo or broadcast),
# run by bash in a session of its own (setsid: one process group to stop,
# whatever it forks) pinned to CPU 0 like ours, its port in {port} and
# $PORT; waits (SERVER_WAIT s at most) until the port accepts. Records
# PORT[NAME], PID[NAME] (the listening process) and PGRP[NAME].
start_external() {
  local name=$1 cmd=${EXT_CMD[$2:$1]} port=${EXT_FIXED[$2:$1]} log=$WORK/$1.log pid t0=$SECONDS
  if [[ -n $port ]] && port_accepts "$port"; then
    echo "bench: server $name: something already listens on its fixed port 127.0.0.1:$port; stop it first"
    return 1
  fi
  [[ -n $port ]] || port=$(free_port)
  cmd=${cmd//\{port\}/$port}
  : >"$log"
  env PORT="$port" setsid taskset -c 0 bash -c "$cmd" </dev/null >"$log" 2>&1 &
  pid=$!  # setsid needs no fork here (we are no group leader): this is the session's leader
  PGRP[$name]=$pid
  while ! port_accepts "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "bench: server $name exited before accepting on 127.0.0.1:$port: $(tail -c 300 "$log" | tr '\n' ' ')"
      stop_external "$name"; return 1
    fi
    if ((SECONDS - t0 >= SERVER_WAIT)); then
      echo "bench: server $name did not accept on 127.0.0.1:$port within ${SERVER_WAIT} s" \
        "(command: $cmd): $(tail -c 300 "$log" | tr '\n' ' ')"
      stop_external "$name"; return 1
    fi
    sleep 0.1
  done
  PORT[$name]=$port PID[$name]=$(listener_pid "$pid" "$port") URL_PATH[$name]=${EXT_PATH[$2:$name]}
}

stop_external() {  # stop_external NAME: SIGTERM to its process group, SIGKILL after 5 s
  local name=$1 g=${PGRP[$1]:-} i
  [[ -n $g ]] || return 0
  kill -TERM -- "-$g" 2>/dev/null
  for i in $(seq 50); do kill -0 -- "-$g" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$g" 2>/dev/null
  wait "$g" 2>/dev/null
  unset "PGRP[$name]" "PID[$name]" "PORT[$name]"
}

stop_any() {  # stop_any NAME: ours or an external one
  if [[ -n ${PGRP[$1]:-} ]]; then stop_external "$1"; else stop_server "$1"; fi
}

# With other servers in the run, each repetition starts at the next server
# (ws-bench's first run after a pause tends to differ a little: no server
# is always first). Without them the order stays ours as it always was.
ROTATE=0; ((${#EXT[@]} + ${#EXT_B[@]})) && ROTATE=1
in_order() {  # in_order REP NAME...: the names, rotated by REP - 1 when ROTATE
  local rep=$1 i; shift
  for ((i = 0; i < $#; i++)); do
    local k=$(((i + ROTATE * (rep - 1)) % $# + 1))
    echo "${!k}"
  done
}

# bench_run NAME TAG REP ARGS...: one ws-bench run against server NAME,
# pinned to CPU 1, its JSON kept as runs/TAG@NAME@REP.json.
bench_run() {
  local name=$1 tag=$2 rep=$3; shift 3
  local raw=() url="ws://127.0.0.1:${PORT[$name]}/"
  [[ $name == ps-* || $name == cl-* ]] && url+=bench  # pub/sub: the path names the topic
  [[ $name == tcp-echo ]] && raw=(--raw)
  [[ -n ${PGRP[$name]:-} ]] && url="ws://127.0.0.1:${PORT[$name]}${URL_PATH[$name]}"  # --server's own path
  [[ $name == wss-* ]] && url="wss://127.0.0.1:${PORT[$name]}/" && raw=(--ca "$WORK/certs/ca.pem")
  [[ $name == z-deflate || $name == z-takeover ]] && raw=(--deflate)  # offer permessage-deflate
  local json=$WORK/runs/$tag@$name@$rep.json
  timeout -k 5 120 taskset -c 1 "$BUILD/ws-bench" --url "$url" "${raw[@]}" \
    --server-pid "${PID[$name]}" --json "$json" --no-progress --quiet "$@" >"$WORK/last.out" 2>&1
  local rc=$?
  /usr/bin/python3 - "$json" "$name" "$tag" "$rc" <<'EOF'
import json, sys
path, name, tag, rc = sys.argv[1:]
try:
    d = json.load(open(path))
except Exception:
    print("  %-28s %-14s FAILED (exit %s, no JSON)" % (tag, name, rc)); sys.exit()
s = d.get("server") or {}
if d["config"]["mode"] == "idle":
    print("  %-28s %-14s %6d open, server rss %8.0f bytes per connection, errors %d%s" % (
        tag, name, d["connections"]["opened"], s.get("rss_per_connection_bytes", 0), d["errors"]["total"],
        "" if rc == "0" else "  (exit %s)" % rc)); sys.exit()
print("  %-28s %-14s %12.0f/s  %12.0f per server-CPU-s  p50 %9.1f  p99 %9.1f us  errors %d%s" % (
    tag, name, d["msgs_per_sec"], s.get("msgs_per_cpu_sec", 0), d["latency_us"]["p50"], d["latency_us"]["p99"],
    d["errors"]["total"], "" if rc == "0" else "  (exit %s)" % rc))
EOF
  if [[ $rc -ne 0 ]]; then sed 's/^/    /' "$WORK/last.out" | tail -5; fi
}

echo "wsring bench ($( ((QUICK)) && echo quick || echo full )): build $BUILD, $(nproc) CPUs, servers on CPU 0, ws-bench on CPU 1"

# ---- 1. micro benchmarks ------------------------------------------------------
shopt -s nullglob
micro=()
if want micro; then
  echo; echo "== micro benchmarks (Google Benchmark, min time ${MICRO_MIN}s)"
  micro=("$BUILD"/bench_*)
fi
want micro && ! ((${#micro[@]})) && echo "bench: no bench_* binaries in $BUILD: skipping the micro suite"
for b in "${micro[@]}"; do
  [[ -x $b ]] || continue
  echo "-- $(basename "$b")"
  timeout -k 5 300 taskset -c 1 "$b" --benchmark_min_time="$MICRO_MIN" \
    --benchmark_out="$WORK/micro-$(basename "$b").json" --benchmark_out_format=json \
    || echo "bench: $(basename "$b") failed"
done

# ---- 2. load matrix ------------------------------------------------------------
SERVERS=()
if want echo && have ws-bench; then
  if ((!SERVERS_ONLY)) && have tcp-echo-server && start_server tcp-echo 0 "$BUILD/tcp-echo-server" --host 127.0.0.1 --port 0; then
    SERVERS+=(tcp-echo)
  fi
  if ((!SERVERS_ONLY)) && have ws-server; then
    for backend in epoll uring; do
      name=ws-$backend
      start_server "$name" 0 "$BUILD/ws-server" --mode echo --host 127.0.0.1 --port 0 --threads 1 \
        --backend "$backend" --idle-timeout 0 --ping-interval 0 || continue
      if ! grep -q "backend=$backend" "$WORK/$name.log"; then
        echo "bench: ws-server has no $backend backend yet: skipping it"
        stop_server "$name"; continue
      fi
      SERVERS+=("$name")
    done
  fi
  for name in "${EXT[@]}"; do  # asked for by name: one that does not start ends the run
    start_external "$name" e || exit 1
    SERVERS+=("$name")
  done
fi

if ((${#SERVERS[@]})); then
  echo; echo "== echo matrix: ${SERVERS[*]}; $REPS repetition(s) of ${DUR}s (+${WARM}s warm-up), interleaved"
  MATRIX=("${POINTS[@]}")  # --point's, else the grid
  if ((${#MATRIX[@]} == 0)); then
    for c in "${CONNS[@]}"; do
      for s in "${SIZES[@]}"; do
        for k in "${WINDOWS[@]}"; do MATRIX+=("$c:$s:$k"); done
      done
    done
  fi
  for point in "${MATRIX[@]}"; do
    IFS=: read -r c s k <<<"$point"
    for rep in $(seq "$REPS"); do
      for name in $(in_order "$rep" "${SERVERS[@]}"); do
        bench_run "$name" "echo-c$c-s$s-k$k" "$rep" --mode echo -c "$c" -s "$s" -k "$k" \
          -d "$DUR" --warmup "$WARM" --connect-timeout 30
      done
    done
  done

  echo; echo "== connect rate (16 at a time)"
  for rep in $(seq "$REPS"); do
    for name in $(in_order "$rep" "${SERVERS[@]}"); do
      bench_run "$name" connect-c16 "$rep" --mode connect -c 16 -d "$DUR" --warmup "$WARM"
    done
  done
  for name in "${SERVERS[@]}"; do stop_any "$name"; done

  ((SERVERS_ONLY && ${#EXT_B[@]} == 0)) ||
    { echo; echo "== broadcast: ${BCAST_RECV[*]} receivers, 64-byte messages, 1 publisher keeping 16 in flight"; }
  if ((${#EXT_B[@]})); then
    # other broadcast servers: ours (unless --servers-only) and theirs all
    # started, then every point's repetitions interleaved
    BCAST=()
    for backend in epoll uring; do
      if ((SERVERS_ONLY)) || [[ ! -x $BUILD/ws-server ]]; then break; fi
      name=bcast-$backend
      if start_server "$name" 0 "$BUILD/ws-server" --mode broadcast --host 127.0.0.1 --port 0 --threads 1 \
           --backend "$backend" --idle-timeout 0 --ping-interval 0 && grep -q "backend=$backend" "$WORK/$name.log"; then
        BCAST+=("$name")
      else
        echo "bench: ws-server does not run the $backend backend here: no broadcast figures for it"
        stop_server "$name"
      fi
    done
    for name in "${EXT_B[@]}"; do
      start_external "$name" b || exit 1
      BCAST+=("$name")
    done
    for r in "${BCAST_RECV[@]}"; do
      for rep in $(seq "$REPS"); do
        for name in $(in_order "$rep" "${BCAST[@]}"); do
          bench_run "$name" "broadcast-r$r" "$rep" --mode broadcast -c "$r" --publishers 1 \
            -s 64 -k 16 -d "$DUR" --warmup "$WARM" --connect-timeout 60
        done
      done
    done
    for name in "${BCAST[@]}"; do stop_any "$name"; done
  elif ((!SERVERS_ONLY)) && have ws-server; then
    for backend in epoll uring; do
      name=bcast-$backend
      if start_server "$name" 0 "$BUILD/ws-server" --mode broadcast --host 127.0.0.1 --port 0 --threads 1 \
           --backend "$backend" --idle-timeout 0 --ping-interval 0 && grep -q "backend=$backend" "$WORK/$name.log"; then
        for r in "${BCAST_RECV[@]}"; do
          for rep in $(seq "$REPS"); do
            bench_run "$name" "broadcast-r$r" "$rep" --mode broadcast -c "$r" --publishers 1 \
              -s 64 -k 16 -d "$DUR" --warmup "$WARM" --connect-timeout 60
          done
        done
      else
        echo "bench: ws-server does not run the $backend backend here: no broadcast figures for it"
      fi
      stop_server "$name"
    done
  fi

  echo; echo "== resident memory per idle connection ($IDLE_CONNS connections, a fresh server each, then again on it)"
  for name in "${SERVERS[@]}"; do
    case $name in
      tcp-echo) start_server "$name" 0 "$BUILD/tcp-echo-server" --host 127.0.0.1 --port 0 || continue ;;
      ws-*) start_server "$name" 0 "$BUILD/ws-server" --mode echo --host 127.0.0.1 --port 0 --threads 1 \
              --backend "${name#ws-}" --idle-timeout 0 --ping-interval 0 || continue ;;
      *) start_external "$name" e || continue ;;
    esac
    sleep 0.3  # let the fresh server settle before its baseline is read
    bench_run "$name" "idle-c$IDLE_CONNS" 1 --mode idle -c "$IDLE_CONNS" -d 2 --warmup 1 --connect-timeout 60
    # Warm: the same again on the same server. A fresh figure includes
    # one-time costs (a reactor's buffers, the first slab chunks, pages
    # of a free list); what a second round adds is what connections cost.
    bench_run "$name" "idle-c$IDLE_CONNS-warm" 1 --mode idle -c "$IDLE_CONNS" -d 2 --warmup 1 --connect-timeout 60
    stop_any "$name"
    # Pinged (ours only: another server's keep-alive is its own business):
    # a fresh server that pings after 1 s of silence, measured after that
    # round (3 s warm-up). The points above run with pings off, and a ping
    # round once left a write block's page resident per connection.
    if [[ $name == ws-* ]]; then
      start_server "$name" 0 "$BUILD/ws-server" --mode echo --host 127.0.0.1 --port 0 --threads 1 \
        --backend "${name#ws-}" --idle-timeout 0 --ping-interval 1 || continue
      sleep 0.3
      bench_run "$name" "idle-c$IDLE_CONNS-pinged" 1 --mode idle -c "$IDLE_CONNS" -d 2 --warmup 3 --connect-timeout 60
      stop_server "$name"
    fi
  done
elif want echo; then
  echo "bench: no server and ws-bench pair to run: skipping the load matrix"
fi

# ---- 2b. wss:// beside ws:// ------------------------------------------------------
# tls-* points: the same server binary with and without --tls-cert, one
# backend at a time, interleaved; the report gives each wss figure as a
# ratio to the ws figure of the same point and run.
if ! want tls; then :
elif have ws-bench && have ws-server && scripts/make-test-certs.sh "$WORK/certs" >/dev/null 2>&1; then
  TLS_ARGS=(--tls-cert "$WORK/certs/server.pem" --tls-key "$WORK/certs/server-key.pem")
  TLS_SERVERS=()
  for backend in epoll uring; do
    for scheme in ws wss; do
      name=$scheme-$backend
      [[ $scheme == ws ]] && name=plain-$backend
      args=(--mode echo --host 127.0.0.1 --port 0 --threads 1 --backend "$backend" --idle-timeout 0 --ping-interval 0)
      [[ $scheme == wss ]] && args+=("${TLS_ARGS[@]}")
      start_server "$name" 0 "$BUILD/ws-server" "${args[@]}" || continue
      if ! grep -q "backend=$backend" "$WORK/$name.log"; then stop_server "$name"; continue; fi
      TLS_SERVERS+=("$name")
    done
  done
  if ((${#TLS_SERVERS[@]})); then
    echo; echo "== wss:// beside ws://: ${TLS_SERVERS[*]}"
    for s in "${SIZES[@]}"; do
      for rep in $(seq "$REPS"); do
        for name in "${TLS_SERVERS[@]}"; do
          bench_run "$name" "tls-echo-c100-s$s-k16" "$rep" --mode echo -c 100 -s "$s" -k 16 \
            -d "$DUR" --warmup "$WARM" --connect-timeout 30
        done
      done
    done
    for rep in $(seq "$REPS"); do
      for name in "${TLS_SERVERS[@]}"; do
        bench_run "$name" tls-connect-full "$rep" --mode connect -c 16 -d "$DUR" --warmup "$WARM"
        [[ $name == wss-* ]] && bench_run "$name" tls-connect-resumed "$rep" --mode connect -c 16 \
          -d "$DUR" --warmup "$WARM" --tls-resume
      done
    done
    for name in "${TLS_SERVERS[@]}"; do stop_server "$name"; done
    for name in "${TLS_SERVERS[@]}"; do  # a fresh server each: its RSS baseline is clean
      args=(--mode echo --host 127.0.0.1 --port 0 --threads 1 --backend "${name#*-}" --idle-timeout 0 --ping-interval 0)
      [[ $name == wss-* ]] && args+=("${TLS_ARGS[@]}")
      start_server "$name" 0 "$BUILD/ws-server" "${args[@]}" || continue
      sleep 0.3  # let the fresh server settle before its baseline is read
      bench_run "$name" "tls-idle-c$IDLE_CONNS" 1 --mode idle -c "$IDLE_CONNS" -d 2 --warmup 1 --connect-timeout 120
      stop_server "$name"
    done
  fi
else
  echo "bench: no ws-server/ws-bench, or no test certificates (openssl): skipping wss://"
fi

# ---- 2c. permessage-deflate beside plain ------------------------------------------
# z-* points: ws-server (epoll, one thread) without --deflate (z-plain), with
# --deflate (z-deflate: shared contexts) and with --deflate --deflate-takeover
# (z-takeover); ws-bench offers the extension to the latter two. JSON-like
# payloads throughout. Broadcast: 1 KiB to Z_RECV receivers (compress once
# per message); echo: 1 KiB; memory: the server's peak RSS per connection
# while Z_CONNS connections each exchange compressed messages (contexts are
# made at the first message, so an idle figure would hide them). The report
# gives each figure as a ratio to z-plain's in the same run.
z_server() {  # z_server NAME MODE: a fresh one-thread epoll server of that variant
  local args=(--mode "$2" --host 127.0.0.1 --port 0 --threads 1 --backend epoll --idle-timeout 0 --ping-interval 0)
  case $1 in
    z-deflate) args+=(--deflate) ;;
    z-takeover) args+=(--deflate --deflate-takeover) ;;
  esac
  start_server "$1" 0 "$BUILD/ws-server" "${args[@]}"
}
if ! want deflate; then :
elif have ws-bench && have ws-server; then
  Z_VARIANTS=(z-plain z-deflate z-takeover)
  echo; echo "== permessage-deflate: ${Z_VARIANTS[*]} (JSON-like payloads)"
  for rep in $(seq "$REPS"); do
    for name in z-plain z-deflate; do  # takeover cannot share a broadcast frame: not a broadcast point
      z_server "$name" broadcast || continue
      bench_run "$name" "z-broadcast-r$Z_RECV-s1024" "$rep" --mode broadcast -c "$Z_RECV" --publishers 1 \
        -s 1024 -k 16 --payload json -d "$DUR" --warmup "$WARM" --connect-timeout 60
      stop_server "$name"
    done
    for name in "${Z_VARIANTS[@]}"; do
      z_server "$name" echo || continue
      bench_run "$name" z-echo-c100-s1024-k16 "$rep" --mode echo -c 100 -s 1024 -k 16 --payload json \
        -d "$DUR" --warmup "$WARM" --connect-timeout 30
      stop_server "$name"
    done
  done
  for name in "${Z_VARIANTS[@]}"; do
    z_server "$name" echo || continue
    sleep 0.3  # let the fresh server settle before its baseline is read
    bench_run "$name" "z-memory-c$Z_CONNS" 1 --mode echo -c "$Z_CONNS" -s 1024 -k 1 --payload json \
      -d 2 --warmup 1 --connect-timeout 120
    stop_server "$name"
  done
else
  echo "bench: no ws-server/ws-bench: skipping permessage-deflate"
fi

# ---- 2d. pub/sub: wsring.v1, history, replay, HTTP publish (issue 12) ----------------
# ps-* points: ws-server --mode pubsub (epoll, one thread), a fresh server per
# run, topic "bench". ps-raw is pub/sub as it was before issue 12: raw
# receivers, --history-size 0. ps-hist: the same receivers with the default
# history on (1,000 per topic: every publish is also kept as a wsring.v1
# frame). ps-v1: history on and every connection speaking wsring.v1
# (ws-bench --subprotocol wsring.v1: a position prefix on every delivery,
# checked by the receivers). Broadcast: PS_RECV receivers, 64-byte messages,
# one publisher keeping 16 in flight; the issue's target is ps-v1 within
# 10 % of ps-raw per server-CPU-second. Replay (ps-v1 server): 16
# connections each looping connect ?since= → 1,000 replayed → close. HTTP
# publish (ps-v1 server, --api-key): 16 keep-alive connections, 16 POSTs in
# flight each, 64-byte bodies, no subscribers (history keeps every message).
ps_server() {  # ps_server NAME: a fresh one-thread epoll pub/sub server of that variant
  local args=(--mode pubsub --host 127.0.0.1 --port 0 --threads 1 --backend epoll --idle-timeout 0 --ping-interval 0)
  case $1 in
    ps-raw) args+=(--history-size 0) ;;
    ps-v1) args+=(--api-key bench) ;;
  esac
  start_server "$1" 0 "$BUILD/ws-server" "${args[@]}"
}
if ! want pubsub; then :
elif have ws-bench && have ws-server && "$BUILD/ws-server" --help 2>&1 | grep -q -- --api-key; then
  echo; echo "== pub/sub (issue 12): ps-raw ps-hist ps-v1; $PS_RECV receivers x 64 B, replay, HTTP publish"
  for rep in $(seq "$REPS"); do
    for name in ps-raw ps-hist ps-v1; do
      ps_server "$name" || continue
      v1=(); [[ $name == ps-v1 ]] && v1=(--subprotocol wsring.v1)
      bench_run "$name" "ps-broadcast-r$PS_RECV-s64" "$rep" --mode broadcast -c "$PS_RECV" --publishers 1 \
        -s 64 -k 16 "${v1[@]}" -d "$DUR" --warmup "$WARM" --connect-timeout 60
      stop_server "$name"
    done
    ps_server ps-v1 || continue
    bench_run ps-v1 ps-replay-c16-h1000 "$rep" --mode replay -c 16 --history 1000 -s 64 -d "$DUR" --warmup "$WARM"
    bench_run ps-v1 ps-http-c16-k16 "$rep" --mode http-publish -c 16 -k 16 -s 64 --api-key bench \
      -d "$DUR" --warmup "$WARM"
    stop_server ps-v1
  done
else
  echo "bench: no ws-bench/ws-server with pub/sub history and --api-key: skipping pub/sub"
fi

# ---- 2e. a cluster through Redis (issue 13) ------------------------------------------
# cl-* points: ws-server --mode pubsub (epoll, one thread, default history,
# --api-key), topic "bench", a fresh node per run, and a redis-server of our
# own per repetition (a free port, no persistence, its own folder, killed by
# PID; never a system service). Every server process (the single node,
# nodes A and B, redis-server) is pinned to CPU 0 and ws-bench alone to
# CPU 1, as in the other sections: on two CPUs the cluster's three
# processes share one core, so read per-CPU-second figures, not rates.
#   cl-broadcast-r$PS_RECV-s64: one publisher keeping 16 in flight, 64 B, to
#     PS_RECV raw receivers. On cl-single (one node, no --redis) every
#     connection goes to it; on cl-b the publisher connects to node A
#     (ws-bench --publish-url) and the receivers to node B: each message
#     goes A → Redis (EVALSHA) → channel → B → 1,000 sockets, its latency
#     stamped and read on ws-bench's one clock. The issue's target: cl-b's
#     deliveries per server-CPU-second (node B's) within 20 % of cl-single's.
#   cl-http-c16-k16: HTTP publishes (16 keep-alive x 16 pipelined, 64 B, no
#     subscribers) on cl-single and on cl-a (node A with --redis alone: each
#     publish answered once Redis has sequenced it).
# Node A's and redis-server's CPU seconds over each run come from
# /proc/PID/stat (utime + stime, all threads) read before and after it,
# shown as a percentage of a core over warm-up + measure (while receivers
# connect both are idle) and as CPU-µs per publish; beside the server's and
# ws-bench's own CPU % that shows which process is the limit.
proc_ticks() {  # proc_ticks PID: its user + system clock ticks so far, or nothing
  [[ -n ${1:-} && -r /proc/$1/stat ]] || return 0
  local stat f
  stat=$(<"/proc/$1/stat")
  read -r -a f <<<"${stat##*) }"  # fields 3.. (the command name may hold spaces)
  echo $((f[11] + f[12]))         # fields 14 and 15: utime, stime
}

start_redis() {  # start_redis NAME CPU: our own redis-server on a free port; PORT[NAME], PID[NAME]
  local name=$1 cpu=$2 port pid
  mkdir -p "$WORK/$name"
  : >"$WORK/$name.log"  # not a line of the last one (start_server says why)
  port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  taskset -c "$cpu" redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
    --dir "$WORK/$name" >"$WORK/$name.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    if grep -q "Ready to accept connections" "$WORK/$name.log"; then
      PORT[$name]=$port PID[$name]=$pid
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench: redis-server did not start: $(tail -3 "$WORK/$name.log" | tr '\n' ' ' | cut -c1-200)"
  kill "$pid" 2>/dev/null
  return 1
}

cl_server() {  # cl_server NAME [--redis URL]: a fresh one-thread epoll pub/sub node
  local name=$1; shift
  start_server "$name" 0 "$BUILD/ws-server" --mode pubsub --host 127.0.0.1 --port 0 --threads 1 --backend epoll \
    --idle-timeout 0 --ping-interval 0 --api-key bench "$@"
}

# cl_run NAME TAG REP ARGS...: bench_run, plus node A's and redis-server's
# CPU over it (when they run), kept as procs/TAG@NAME@REP.json.
cl_run() {
  local name=$1 tag=$2 rep=$3 a0 r0
  a0=$(proc_ticks "${PID[cl-a]:-}") r0=$(proc_ticks "${PID[cl-redis]:-}")
  bench_run "$@"
  /usr/bin/python3 - "$WORK/runs/$tag@$name@$rep.json" "$WORK/procs/$tag@$name@$rep.json" \
    "$a0" "$(proc_ticks "${PID[cl-a]:-}")" "$r0" "$(proc_ticks "${PID[cl-redis]:-}")" <<'EOF'
import json, os, sys
run, out, a0, a1, r0, r1 = sys.argv[1:]
try:
    d = json.load(open(run))
except Exception:
    sys.exit()
c = d["config"]
load = c["warmup"] + c["duration"]
if c["mode"] == "broadcast":  # every publish of the run (warm-up, measure)
    pubs = sum(p["published"] for p in d.get("publishers", []))
else:  # http-publish: the measured rate over warm-up + measure
    pubs = d["msgs_per_sec"] * load
doc, said = {"load_seconds": load, "publishes": pubs}, []
for key, label, t0, t1 in (("node_a", "node A", a0, a1), ("redis", "redis-server", r0, r1)):
    if not t0 or not t1: continue
    cpu = (int(t1) - int(t0)) / os.sysconf("SC_CLK_TCK")
    doc.update({key + "_cpu_s": cpu, key + "_cpu_percent": 100 * cpu / load,
                key + "_us_per_publish": 1e6 * cpu / pubs if pubs else None})
    said.append("%s %.2f CPU-s (%.0f%% of a core, %.1f us per publish)" % (label, cpu, 100 * cpu / load,
                                                                           1e6 * cpu / pubs if pubs else 0))
json.dump(doc, open(out, "w"))
if said: print("  %-28s %s" % ("", "; ".join(said)))
EOF
}

if ! want cluster; then :
elif have ws-bench && have ws-server && "$BUILD/ws-server" --help 2>&1 | grep -q -- --api-key; then
  REDIS=0
  if ! "$BUILD/ws-server" --help 2>&1 | grep -q -- --redis; then
    echo "bench: ws-server has no --redis yet: only the single-node cluster rows"
  elif ! command -v redis-server >/dev/null; then
    echo "bench: no redis-server (scripts/setup.sh installs it): only the single-node cluster rows"
  else
    REDIS=1
  fi
  echo; echo "== cluster through Redis (issue 13): cl-single beside cl-a → redis → cl-b; $PS_RECV receivers x 64 B," \
    "HTTP publish; nodes and redis-server on CPU 0"
  CL_BCAST=(--mode broadcast -c "$PS_RECV" --publishers 1 -s 64 -k 16 -d "$DUR" --warmup "$WARM" --connect-timeout 60)
  CL_HTTP=(--mode http-publish -c 16 -k 16 -s 64 --api-key bench -d "$DUR" --warmup "$WARM")
  for rep in $(seq "$REPS"); do
    cl_server cl-single && cl_run cl-single "cl-broadcast-r$PS_RECV-s64" "$rep" "${CL_BCAST[@]}"
    stop_server cl-single
    cl_server cl-single && cl_run cl-single cl-http-c16-k16 "$rep" "${CL_HTTP[@]}"
    stop_server cl-single
    ((REDIS)) || continue
    start_redis cl-redis 0 || continue
    redis=(--redis "redis://127.0.0.1:${PORT[cl-redis]}")
    # node A alone first: no node still subscribed to "bench" takes the
    # channel's messages while it publishes
    cl_server cl-a "${redis[@]}" && cl_run cl-a cl-http-c16-k16 "$rep" "${CL_HTTP[@]}"
    stop_server cl-a
    if cl_server cl-a "${redis[@]}" && cl_server cl-b "${redis[@]}"; then
      cl_run cl-b "cl-broadcast-r$PS_RECV-s64" "$rep" "${CL_BCAST[@]}" --publish-url "ws://127.0.0.1:${PORT[cl-a]}/bench"
    fi
    stop_server cl-a; stop_server cl-b; stop_server cl-redis
  done
else
  echo "bench: no ws-bench/ws-server with pub/sub and --api-key: skipping the cluster"
fi

# ---- 3. report -------------------------------------------------------------------
echo
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
CPU_MODEL=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)
# the other servers of this run, for the report: KIND NAME FIXED-PORT PATH COMMAND, one a line
for name in "${EXT[@]}"; do
  printf 'echo\t%s\t%s\t%s\t%s\n' "$name" "${EXT_FIXED[e:$name]}" "${EXT_PATH[e:$name]}" "${EXT_CMD[e:$name]}"
done >"$WORK/external.tsv"
for name in "${EXT_B[@]}"; do
  printf 'broadcast\t%s\t%s\t%s\t%s\n' "$name" "${EXT_FIXED[b:$name]}" "${EXT_PATH[b:$name]}" "${EXT_CMD[b:$name]}"
done >>"$WORK/external.tsv"
/usr/bin/python3 - "$WORK" "$RESULTS" "$QUICK" "$COMMIT" "$CPU_MODEL" "$(nproc)" "$REPS" "${ONLY[*]:-}" "$BASELINE" <<'EOF'
import glob, json, os, platform, statistics, sys, time
work, results, quick, commit, cpu, ncpu, reps, only, baseline = sys.argv[1:]
external = []  # this run's other servers, in the order given
for line in open(os.path.join(work, "external.tsv")):
    kind, name, port, path, command = line.rstrip("\n").split("\t", 4)
    external.append({"name": name, "kind": kind, "command": command, "fixed_port": int(port) if port else None,
                     "path": path})

runs = {}
for path in glob.glob(os.path.join(work, "runs", "*.json")):
    tag, server, rep = os.path.basename(path)[:-5].split("@")
    try:
        doc = json.load(open(path))
    except Exception:
        continue
    procs = os.path.join(work, "procs", os.path.basename(path))  # cluster: node A's and Redis' CPU
    if os.path.exists(procs):
        doc["_procs"] = json.load(open(procs))
    doc["_rep"] = rep  # pairs it with the other servers' same repetition (interleaved: close in time)
    runs.setdefault((tag, server), []).append(doc)

def med(docs, f):
    vals = [f(d) for d in docs]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None

def srv(d, k):  # one of ws-bench's figures about the server (None without --server-pid)
    return (d.get("server") or {}).get(k)

def summary(docs):
    s = {
        "repetitions": len(docs),
        "msgs_per_sec": med(docs, lambda d: d["msgs_per_sec"]),
        "mb_per_sec": med(docs, lambda d: d["mb_per_sec"]),
        "msgs_per_server_cpu_sec": med(docs, lambda d: srv(d, "msgs_per_cpu_sec")),
        "server_cpu_percent": med(docs, lambda d: srv(d, "cpu_percent")),
        "client_cpu_percent": med(docs, lambda d: d["client"]["cpu_percent"]),
        "p50_us": med(docs, lambda d: d["latency_us"]["p50"]),
        "p90_us": med(docs, lambda d: d["latency_us"]["p90"]),
        "p99_us": med(docs, lambda d: d["latency_us"]["p99"]),
        "p99_9_us": med(docs, lambda d: d["latency_us"]["p99_9"]),
        "max_us": med(docs, lambda d: d["latency_us"]["max"]),
        "fairness_min": med(docs, lambda d: d["fairness"]["min"]),
        "fairness_max": med(docs, lambda d: d["fairness"]["max"]),
        "rss_per_connection_bytes": med(docs, lambda d: srv(d, "rss_per_connection_bytes")),
        "peak_rss_per_connection_bytes": med(docs, lambda d: (srv(d, "rss_bytes_max") - srv(d, "rss_bytes_before_connect"))
                                             / d["connections"]["opened"]
                                             if srv(d, "rss_bytes_max") and d["connections"]["opened"] else None),
        "received_wire_ratio": med(docs, lambda d: (d.get("deflate") or {}).get("received_ratio")),
        "errors": sum(d["errors"]["total"] for d in docs),
        "lost": sum(p["lost"] for d in docs for p in d.get("publishers", [])),
        "reordered": sum(p["reordered"] for d in docs for p in d.get("publishers", [])),
        "replay_cycles_per_sec": med(docs, lambda d: d["replay"]["cycles"] / d["measured_seconds"]
                                     if d.get("replay") and d["measured_seconds"] else None),
    }
    for k in ("node_a_cpu_percent", "node_a_us_per_publish", "redis_cpu_percent", "redis_us_per_publish"):
        v = med(docs, lambda d: (d.get("_procs") or {}).get(k))
        if v is not None: s[k] = v
    return s

points = {}
for (tag, server), docs in sorted(runs.items()):
    points.setdefault(tag, {})[server] = summary(docs)

micro = {}
for path in glob.glob(os.path.join(work, "micro-*.json")):
    try:
        doc = json.load(open(path))
    except Exception:
        continue
    micro[os.path.basename(path)[6:-5]] = [
        {k: b.get(k) for k in ("name", "real_time", "cpu_time", "time_unit", "bytes_per_second", "items_per_second")}
        for b in doc.get("benchmarks", [])]

report = {
    "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "commit": commit, "quick": quick == "1",
    "machine": {"cpu": cpu, "cpus": int(ncpu), "kernel": platform.release()},
    "method": {"server_cpu": 0, "ws_bench_cpu": 1, "repetitions": int(reps), "statistic": "median"},
    "points": points, "micro": micro,
}
# --only: the sections run now replace their points in the last full report;
# everything else (and its provenance) is kept, and the update is recorded.
latest = os.path.join(results, "latest.json")
measured = points  # this run's points only (errors are reported for these)
if only and os.path.exists(latest):
    old = json.load(open(latest))
    update = {"generated": report["generated"], "commit": commit, "quick": quick == "1",
              "repetitions": int(reps), "sections": only.split(), "points": sorted(points),
              "loadavg": [round(x, 2) for x in os.getloadavg()]}  # other work on the machine, 1/5/15 min
    old_points = old.get("points", {})
    # Say which rows below were not measured now, and when they were: the
    # tables print every point of the file, and a row from another day (or
    # another build) reads like one of this run's.
    earlier = {}
    for t in sorted(set(old_points) - set(points)):
        src = next((u for u in reversed(old.get("updates", [])) if t in u.get("points", [])), old)
        earlier.setdefault("%s, commit %s" % (src.get("generated", "?"), src.get("commit", "?")), []).append(t)
    if earlier:
        print("bench: --only: %d point(s) in the tables below are from earlier runs (%s), not measured now:"
              % (sum(map(len, earlier.values())), latest))
        for when, tags in sorted(earlier.items()):
            print("  %s: %s" % (when, " ".join(tags)))
    old_points.update(points)
    if not micro: micro = old.get("micro", {})
    report = {k: v for k, v in old.items() if not k.startswith("table_")}
    report.update(points=old_points, micro=micro, updates=old.get("updates", []) + [update])
    points = old_points
servers = sorted({s for p in points.values() for s in p if s.startswith("ws-")})
# Other people's servers (--server, --server-broadcast) appear in the echo
# section's points under their own names: anything not named as ours.
OURS = ("tcp-echo", "ws-", "wss-", "plain-", "bcast-", "z-", "ps-", "cl-")
ECHO_SECTION = ("echo-", "connect-", "idle-", "broadcast-")
seen = lambda prefixes: {s for t, p in points.items() if t.startswith(prefixes) for s in p if not s.startswith(OURS)}
given = list(dict.fromkeys(e["name"] for e in external))
other = [n for n in given if n in seen(ECHO_SECTION)] + sorted(seen(ECHO_SECTION) - set(given))
echo_other = [n for n in other if n in seen(("echo-",))]
has_tcp = any("tcp-echo" in p for t, p in points.items() if t.startswith("echo-"))
if not baseline:
    baseline = "tcp-echo" if has_tcp or not echo_other else echo_other[0]
if other or given:
    kept = [e for e in report.get("servers_external", []) if e["name"] in other and e["name"] not in given]
    report["servers_external"] = kept + external
    report["baseline"] = baseline
    if not any(baseline in p for p in points.values()):
        print("bench: the baseline %s has no points: its ratios are —" % baseline)
base, B = baseline, ("TCP" if baseline == "tcp-echo" else baseline)

def fmt(v, unit=""):
    if v is None: return "—"
    if v >= 1e6: return "%.2f M%s" % (v / 1e6, unit)
    if v >= 1e3: return "%.1f k%s" % (v / 1e3, unit)
    return "%.0f%s" % (v, unit)

def ratio(a, b):
    return "%.2f" % (a / b) if a and b else "—"

lines = []
echo = sorted((t for t in points if t.startswith("echo-")),
              key=lambda t: [int(x[1:]) for x in t.split("-")[1:]])
if echo:
    # the baseline's columns first, then each other server's with its ratio
    # to it (without other servers: TCP, then ws-epoll and ws-uring)
    cols = [x for x in ["tcp-echo"] + servers + echo_other if x != base and (x != "tcp-echo" or has_tcp)]
    head = "| conns | bytes | in-flight | %s msgs/s | %s msgs/CPU-s |" % (B, B)
    rule = "|---:|---:|---:|---:|---:|"
    for s in cols:
        head += " %s msgs/s (×%s) | %s msgs/CPU-s (×%s) | %s p99 µs |" % (s, B, s, B, s)
        rule += "---:|---:|---:|"
    head += " %s p99 µs | ws-bench CPU %% (%s%s) |" % (B, B, "".join(" / " + s for s in cols))
    lines += [head, rule + "---:|---:|"]
    for t in echo:
        c, s_, k = (x[1:] for x in t.split("-")[1:])
        tcp = points[t].get(base, {})
        row = "| %s | %s | %s | %s | %s |" % (c, s_, k, fmt(tcp.get("msgs_per_sec")), fmt(tcp.get("msgs_per_server_cpu_sec")))
        for s in cols:
            w = points[t].get(s, {})
            row += " %s (%s) | %s (%s) | %s |" % (
                fmt(w.get("msgs_per_sec")), ratio(w.get("msgs_per_sec"), tcp.get("msgs_per_sec")),
                fmt(w.get("msgs_per_server_cpu_sec")), ratio(w.get("msgs_per_server_cpu_sec"), tcp.get("msgs_per_server_cpu_sec")),
                "%.0f" % w["p99_us"] if w.get("p99_us") is not None else "—")
        row += " %s |" % ("%.0f" % tcp["p99_us"] if tcp.get("p99_us") is not None else "—")
        cpus = [points[t].get(s, {}).get("client_cpu_percent") for s in [base] + cols]
        row += " %s |" % " / ".join("%.0f" % c if c is not None else "—" for c in cpus)
        lines.append(row)
    report["table_echo"] = lines[:]

extra = ["", "| figure | server | value | per server-CPU-second | p50 µs | p99 µs | ×%s |" % B, "|---|---|---:|---:|---:|---:|---:|"]
for t in sorted(points):
    if t.startswith(("echo-", "tls-", "z-", "ps-", "cl-")): continue
    tcp = points[t].get(base, {})
    for s, v in sorted(points[t].items()):
        if t.startswith("idle-"):
            val = "%s B/conn" % fmt(v.get("rss_per_connection_bytes"))
            r = ratio(v.get("rss_per_connection_bytes"), tcp.get("rss_per_connection_bytes")) if s != base else ""
            conns, _, when = t[6:].partition("-")
            what = "%s idle connections%s" % (conns, {
                "warm": ", second round on the same server",
                "pinged": ", after a round of keep-alive pings (--ping-interval 1)"}.get(when, ""))
            extra.append("| resident memory, %s | %s | %s | — | — | — | %s |" % (what, s, val, r))
        else:
            what = "connect+upgrade+close /s (16 at a time)" if t.startswith("connect") else \
                   "broadcast deliveries/s, %s receivers" % t.split("-r")[-1]
            r = ratio(v.get("msgs_per_sec"), tcp.get("msgs_per_sec")) if s != base and tcp else ""
            extra.append("| %s | %s | %s | %s | %s | %s | %s |" % (what, s, fmt(v.get("msgs_per_sec")),
                         fmt(v.get("msgs_per_server_cpu_sec")), "%.0f" % v["p50_us"] if v.get("p50_us") else "—",
                         "%.0f" % v["p99_us"] if v.get("p99_us") else "—", r))
if len(extra) > 3:
    lines += extra
    report["table_other"] = extra[1:]

# With other servers: every figure of theirs and ours as a ratio to the
# baseline's at the same point (broadcast: to the baseline if it
# broadcasts, else to bcast-epoll), also kept as "ratios" in the JSON.
if other:
    keys = (("msgs_per_sec", "msgs/s"), ("msgs_per_server_cpu_sec", "per server-CPU-s"), ("p99_us", "p99 latency"),
            ("rss_per_connection_bytes", "memory per idle conn"))
    # Beside the ratio of medians, the ratios of each repetition to the
    # baseline's same repetition, per server-CPU-second: their spread is
    # the run's own noise (0.55-2.0 within one run on a busy VM), so a
    # median ratio whose range straddles 1 has not shown a difference.
    def paired(t, name, to):
        cpu = lambda d: srv(d, "msgs_per_cpu_sec")
        ref = {d["_rep"]: cpu(d) for d in runs.get((t, to), [])}
        return sorted(cpu(d) / ref[d["_rep"]] for d in runs.get((t, name), []) if cpu(d) and ref.get(d["_rep"]))
    rl = ["", "ratios to %s (medians; > 1: more messages, more latency or more memory than it;"
          " paired: min-max of the per-repetition ratios per server-CPU-s)" % base,
          "", "| point | server | / | " + " | ".join("%s ×" % k[1] for k in keys) + " | paired × |",
          "|---|---|---|" + "---:|" * (len(keys) + 1)]
    order = ["tcp-echo"] + servers + ["bcast-epoll", "bcast-uring"] + other
    report["ratios"] = {}
    for t in sorted((t for t in points if t.startswith(ECHO_SECTION)),
                    key=lambda t: (ECHO_SECTION.index(t.split("-")[0] + "-"), [int(x[1:]) if x[1:].isdigit() else 0 for x in t.split("-")[1:]])):
        to = base if base in points[t] else "bcast-epoll" if t.startswith("broadcast-") and "bcast-epoll" in points[t] else None
        if to is None: continue
        b = points[t][to]
        for name in (n for n in order if n in points[t] and n != to):
            v = points[t][name]
            r = {k: v[k] / b[k] for k, _ in keys if v.get(k) and b.get(k)
                 and (k == "rss_per_connection_bytes") == t.startswith("idle-")}  # memory: idle points only
            pr = paired(t, name, to) if not t.startswith("idle-") else []
            if pr: r["per_cpu_paired"] = pr
            report["ratios"].setdefault(t, {})[name] = dict(r, to=to)
            rl.append("| %s | %s | %s | %s | %s |" % (t, name, to, " | ".join("%.3f" % r[k] if k in r else "—" for k, _ in keys),
                                                       "%.2f-%.2f" % (pr[0], pr[-1]) if pr else "—"))
    if len(rl) > 5:  # a server beside the baseline
        lines += rl
        report["table_ratios"] = rl[3:]

# wss:// beside ws:// (same binary, same run): each wss figure as a ratio to
# the plain figure of the same backend and point (memory: wss / ws).
tls = ["", "| wss:// point | backend | ws:// per server-CPU-s | wss:// per server-CPU-s | wss/ws | wss:// p99 µs |",
       "|---|---|---:|---:|---:|---:|"]
for t in sorted(p for p in points if p.startswith("tls-")):
    for b in ("epoll", "uring"):
        plain, sec = points[t].get("plain-" + b, {}), points[t].get("wss-" + b, {})
        if not sec: continue
        if t.startswith("tls-idle-"):
            tls.append("| resident memory per idle connection, %s | %s | %s B | %s B | %s | — |" % (
                t[9:], b, fmt(plain.get("rss_per_connection_bytes")), fmt(sec.get("rss_per_connection_bytes")),
                ratio(sec.get("rss_per_connection_bytes"), plain.get("rss_per_connection_bytes"))))
            continue
        what = {"tls-connect-full": "connect+upgrade+close, full handshakes",
                "tls-connect-resumed": "connect+upgrade+close, resumed (ws:// column: plain)"}.get(t, t[4:])
        if t == "tls-connect-resumed": plain = points.get("tls-connect-full", {}).get("plain-" + b, {})
        tls.append("| %s | %s | %s | %s | %s | %s |" % (what, b, fmt(plain.get("msgs_per_server_cpu_sec")),
                   fmt(sec.get("msgs_per_server_cpu_sec")),
                   ratio(sec.get("msgs_per_server_cpu_sec"), plain.get("msgs_per_server_cpu_sec")),
                   "%.0f" % sec["p99_us"] if sec.get("p99_us") is not None else "—"))
if len(tls) > 3:
    lines += tls
    report["table_tls"] = tls[1:]

# permessage-deflate beside plain (same run): each figure as a ratio to z-plain's.
zl = ["", "| permessage-deflate point | server | per server-CPU-s | msgs/s | / z-plain | wire ratio | p99 µs |",
      "|---|---|---:|---:|---:|---:|---:|"]
for t in sorted(p for p in points if p.startswith("z-")):
    ref = points[t].get("z-plain", {})
    for name in ("z-plain", "z-deflate", "z-takeover"):
        v = points[t].get(name)
        if not v: continue
        wire = "%.2f" % v["received_wire_ratio"] if v.get("received_wire_ratio") else "—"
        if t.startswith("z-memory-"):
            zl.append("| peak server memory per connection exchanging 1 KiB, %s connections | %s | %s B | — | %s | %s | — |" % (
                t[10:], name, fmt(v.get("peak_rss_per_connection_bytes")),
                ratio(v.get("peak_rss_per_connection_bytes"), ref.get("peak_rss_per_connection_bytes")), wire))
            continue
        zl.append("| %s | %s | %s | %s | %s | %s | %s |" % (t[2:], name, fmt(v.get("msgs_per_server_cpu_sec")),
                  fmt(v.get("msgs_per_sec")), ratio(v.get("msgs_per_server_cpu_sec"), ref.get("msgs_per_server_cpu_sec")),
                  wire, "%.0f" % v["p99_us"] if v.get("p99_us") is not None else "—"))
if len(zl) > 3:
    lines += zl
    report["table_deflate"] = zl[1:]

# pub/sub (same run): broadcast per server-CPU-second as a ratio to ps-raw
# (raw receivers, no history: pub/sub before issue 12); replay and HTTP
# publish as absolute figures.
pl = ["", "| pub/sub point | server | per server-CPU-s | msgs/s | / ps-raw per CPU-s | p99 µs | errors |",
      "|---|---|---:|---:|---:|---:|---:|"]
for t in sorted(p for p in points if p.startswith("ps-")):
    ref = points[t].get("ps-raw", {})
    for name in ("ps-raw", "ps-hist", "ps-v1"):
        v = points[t].get(name)
        if not v: continue
        kind = t.split("-")[1]  # ps-<kind>-...
        what = {"broadcast": "broadcast deliveries, %s receivers x 64 B" % t.split("-")[2][1:],
                "replay": "replayed msgs, 16 conns x 1,000 (%s cycles/s)" % fmt(v.get("replay_cycles_per_sec")),
                "http": "HTTP publishes, 16 keep-alive x 16 pipelined, 64 B"}[kind]
        pl.append("| %s | %s | %s | %s | %s | %s | %d |" % (what, name, fmt(v.get("msgs_per_server_cpu_sec")),
                  fmt(v.get("msgs_per_sec")),
                  ratio(v.get("msgs_per_server_cpu_sec"), ref.get("msgs_per_server_cpu_sec")) if ref else "—",
                  "%.0f" % v["p99_us"] if v.get("p99_us") is not None else "—", v["errors"]))
if len(pl) > 3:
    lines += pl
    report["table_pubsub"] = pl[1:]

# a cluster through Redis (same run): node B's deliveries per server-CPU-
# second as a ratio to one node's without Redis (issue 13's target: within
# 20 %), and where the CPU went: the server ws-bench sampled (the single
# node, node B, or node A for HTTP), node A and redis-server from /proc,
# ws-bench itself.
cl = ["", "| cluster point | server | msgs/s | per server-CPU-s | / cl-single per CPU-s | p50 µs | p99 µs "
      "| CPU % of a core: server / node A / redis / ws-bench | CPU-µs per publish: node A / redis | errors |",
      "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
num = lambda v, k, f="%.0f": f % v[k] if v.get(k) is not None else "—"
for t in sorted(p for p in points if p.startswith("cl-")):
    ref = points[t].get("cl-single", {})
    for name in ("cl-single", "cl-b", "cl-a"):
        v = points[t].get(name)
        if not v: continue
        what = {"broadcast": "broadcast deliveries, 1 publisher, %s receivers × 64 B" % t.split("-")[2][1:],
                "http": "HTTP publishes, 16 keep-alive × 16 pipelined, 64 B"}[t.split("-")[1]]
        where = {"cl-single": "cl-single (one node, no Redis)", "cl-b": "cl-b (receivers; publisher on cl-a)",
                 "cl-a": "cl-a (--redis)"}[name]
        cl.append("| %s | %s | %s | %s | %s | %s | %s | %s / %s / %s / %s | %s / %s | %d |" % (
            what, where, fmt(v.get("msgs_per_sec")), fmt(v.get("msgs_per_server_cpu_sec")),
            ratio(v.get("msgs_per_server_cpu_sec"), ref.get("msgs_per_server_cpu_sec")) if ref else "—",
            num(v, "p50_us"), num(v, "p99_us"), num(v, "server_cpu_percent"), num(v, "node_a_cpu_percent"),
            num(v, "redis_cpu_percent"), num(v, "client_cpu_percent"), num(v, "node_a_us_per_publish", "%.1f"),
            num(v, "redis_us_per_publish", "%.1f"), v["errors"]))
if len(cl) > 3:
    lines += cl
    report["table_cluster"] = cl[1:]

errors = sum(v["errors"] for p in measured.values() for v in p.values())
report["errors_total"] = sum(v["errors"] for p in points.values() for v in p.values())
json.dump(report, open(latest, "w"), indent=1)
print("\n".join(lines) if lines else "(no load figures)")
if errors:
    print("\nbench: %d errors were reported by ws-bench: see the runs above" % errors)

# gnuplot data: one row per echo point, one column pair per server.
order = [base] + cols if echo else []
with open(os.path.join(work, "plot.dat"), "w") as f:
    # a comment, not a row: gnuplot's histograms would take it for the first
    # point and the xrange below would then cut off the last
    f.write("# point " + " ".join("%s_tput %s_p50 %s_p99 %s_p999" % (s, s, s, s) for s in order) + "\n")
    for t in echo:
        label = t[5:].replace("-", "/")
        vals = []
        for s in order:
            v = points[t].get(s, {})
            vals += [v.get("msgs_per_sec") or 0, v.get("p50_us") or 0, v.get("p99_us") or 0, v.get("p99_9_us") or 0]
        f.write('"%s" ' % label + " ".join("%g" % x for x in vals) + "\n")
with open(os.path.join(work, "plot.servers"), "w") as f:
    f.write(" ".join(order))
if other and len(order) > 1:  # a third panel: throughput as a ratio to the baseline (its column is the first)
    with open(os.path.join(work, "plot.ratio"), "w") as f:
        f.write(base)
EOF

if [[ -s $WORK/plot.dat ]] && [[ $(wc -l <"$WORK/plot.dat") -gt 1 ]]; then
  if command -v gnuplot >/dev/null; then
    read -r -a order <"$WORK/plot.servers"
    ratio_base=""; [[ -s $WORK/plot.ratio ]] && ratio_base=$(<"$WORK/plot.ratio")
    {
      echo "set terminal pngcairo size 1400,$([[ -n $ratio_base ]] && echo 1300 || echo 900) font 'sans,9'"
      echo "set output '$RESULTS/latest.png'"
      if [[ -n $ratio_base ]]; then
        echo "set multiplot layout 3,1 title 'echo: ${order[*]} (ws-bench, servers on CPU 0, client on CPU 1, median of $REPS)' noenhanced"
      else
        echo "set multiplot layout 2,1 title 'wsring echo: ws-server vs plain TCP echo (ws-bench, server on CPU 0, client on CPU 1, median of $REPS)'"
      fi
      echo "set style data histograms; set style histogram clustered gap 1; set style fill solid 0.8 border -1"
      npoints=$(($(wc -l <"$WORK/plot.dat") - 1))
      echo "set key top right; set grid ytics; set xtics rotate by -30 font ',8'; set xrange [-0.6:$npoints-0.4]"
      echo "set yrange [0:*]"
      echo "set ylabel 'messages/s'; set title 'throughput per point (conns/bytes/in-flight)'"
      plot="plot"
      for i in "${!order[@]}"; do
        plot+=" '$WORK/plot.dat' using $((2 + 4 * i)):xtic(1) title '${order[$i]}',"
      done
      echo "${plot%,}"
      echo "set yrange [*:*]; set logscale y; set ylabel 'latency, us (log)'; set title 'latency percentiles per point: p50, p99, p99.9'"
      [[ -n $ratio_base ]] && echo "set key outside right top"  # more servers: 3 entries each
      plot="plot"
      for i in "${!order[@]}"; do
        plot+=" '$WORK/plot.dat' using $((3 + 4 * i)):xtic(1) title '${order[$i]} p50',"
        plot+=" '' using $((4 + 4 * i)) title '${order[$i]} p99',"
        plot+=" '' using $((5 + 4 * i)) title '${order[$i]} p99.9',"
      done
      echo "${plot%,}"
      if [[ -n $ratio_base ]]; then
        echo "unset logscale y; set yrange [0:*]; set ylabel 'x $ratio_base'; set title 'throughput as a ratio to $ratio_base' noenhanced"
        plot="plot"
        for i in "${!order[@]}"; do
          ((i)) && plot+=" '$WORK/plot.dat' using (\$$((2 + 4 * i))/\$2):xtic(1) title '${order[$i]}' noenhanced,"
        done
        echo "${plot%,}"
      fi
      echo "unset multiplot"
    } >"$WORK/plot.gp"
    if gnuplot "$WORK/plot.gp" 2>"$WORK/gnuplot.err"; then
      echo; echo "bench: wrote $RESULTS/latest.json and $RESULTS/latest.png"
    else
      echo "bench: gnuplot failed: $(head -3 "$WORK/gnuplot.err")"
    fi
  else
    echo "bench: gnuplot is not installed (scripts/setup.sh installs gnuplot-nox): no PNG"
  fi
else
  echo "bench: wrote $RESULTS/latest.json (no echo points, so no PNG)"
fi
echo "bench: done in $((SECONDS - T0)) s"

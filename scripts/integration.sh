#!/usr/bin/env bash
# Runs the integration suites against the binaries in $WSRING_BUILD:
#   tests/integration/test_*.py   Python unittest, with Debian's python3-websockets
#   tests/integration/*.test.mjs  Node's test runner, with npm's ws
# WSRING_FILTER=threads keeps only the multi-threaded tests (for TSan).
# WSRING_BACKENDS="epoll uring" runs every suite once per backend (default epoll);
# a server that falls back to another backend fails that suite, or skips it with
# WSRING_ALLOW_FALLBACK=1.
# WSRING_TLS=1 runs the suites over TLS (wss://, https): every server gets the
# test certificate, every client trusts the test CA with verification on. That
# pass leaves out what always runs both ways or is not about the transport:
# test_tls.py and tls.test.mjs (always TLS), browser.test.mjs (ws and wss
# itself), test_cli.py (command lines), test_ws_bench.py (ws-bench's own
# wss:// tests choose their servers), test_bench_harness.py (bench.sh's
# plain echo matrix with another server beside ours, ~45 s),
# test_ab_script.py (scripts/ab.py's rounds, which choose their scheme) and
# test_harness.py (the harness itself).
# Test certificates: made once per run (scripts/make-test-certs.sh) into a
# temporary directory, or taken from $WSRING_CERTS.
# Lanes: each Python module runs as its own unittest process and the Node
# suites as one more, WSRING_LANES of them at once (default: one per CPU),
# the slowest first; each one's output is printed whole when it ends. Most
# suites wait on servers, timers and clients rather than compute, so on two
# CPUs this halves the release pass (550 → 281 s) and the TLS pass (285 →
# 138 s).
# Optional: WSRING_CONNS (concurrent clients, default 2000), and test names as
# arguments to run only those Python tests (e.g. test_echo.EchoTest_epoll),
# in one process.
set -euo pipefail
cd "$(dirname "$0")/../tests/integration"
: "${WSRING_BUILD:?set WSRING_BUILD to a build directory}"
WSRING_BUILD=$(cd "$WSRING_BUILD" && pwd)  # the suites run from tests/integration
export WSRING_BUILD
[[ -x $WSRING_BUILD/ws-server ]] || { echo "integration: no ws-server in $WSRING_BUILD"; exit 1; }
# 2,000 concurrent clients need that many descriptors on both ends.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if (($(ulimit -n) < 4500)); then
  echo "integration: ulimit -n is $(ulimit -n); the concurrency test needs ~4,500" >&2
fi
if [[ -z ${WSRING_CERTS:-} ]]; then
  WSRING_CERTS=$(mktemp -d /tmp/wsring-certs.XXXXXX)
  certs_made=$WSRING_CERTS
  trap 'rm -rf "$certs_made"' EXIT
  ../../scripts/make-test-certs.sh "$WSRING_CERTS" >/dev/null
fi
export WSRING_CERTS
shopt -s nullglob
py=(test_*.py); js=(*.test.mjs)
if [[ ${WSRING_TLS:-0} != 0 ]]; then
  export WSRING_TLS=1
  skip=" test_tls.py test_cli.py test_ws_bench.py test_bench_harness.py test_ab_script.py test_harness.py tls.test.mjs browser.test.mjs "
  keep=(); for f in "${py[@]}"; do [[ $skip == *" $f "* ]] || keep+=("$f"); done; py=("${keep[@]}")
  keep=(); for f in "${js[@]}"; do [[ $skip == *" $f "* ]] || keep+=("$f"); done; js=("${keep[@]}")
  echo "integration: over TLS (wss://), certificates in $WSRING_CERTS"
fi
# Hard ceilings so a hung server can never hang the run (the tests time out first).
PY_LIMIT=${WSRING_PY_LIMIT:-1200}; JS_LIMIT=${WSRING_JS_LIMIT:-600}
if (($#)); then
  timeout -k 10 "$PY_LIMIT" /usr/bin/python3 -m unittest -v "$@"
  exit
fi
LANES=${WSRING_LANES:-$(nproc)}
[[ $LANES =~ ^[1-9][0-9]*$ ]] || { echo "integration: WSRING_LANES wants a count, got '$LANES'" >&2; exit 2; }

# Jobs: "node" (every Node suite, one `node --test`) or a Python module's name.
# The slowest start first, so that no long one is left running alone at the
# end (release build, seconds, measured one at a time: test_bench_harness 144,
# test_ws_bench 111, node 56, test_cluster 41, test_quiet 38, test_pubsub 37,
# test_idle 31, test_deflate 25; every other module under 16).
slowest_first=(test_bench_harness test_ws_bench node test_cluster test_quiet test_pubsub test_idle test_deflate)
jobs_todo=()
want_node=0
if ((${#js[@]})) && [[ -z ${WSRING_FILTER:-} ]]; then
  if [[ ! -d node_modules/ws || ! -d node_modules/playwright-core ]]; then
    echo "integration: npm's ws or playwright-core is missing; run: (cd tests/integration && npm install)" >&2
    exit 1
  fi
  want_node=1
fi
modules=("${py[@]%.py}")
for j in "${slowest_first[@]}"; do
  if [[ $j == node ]]; then ((want_node)) && jobs_todo+=(node)
  elif [[ " ${modules[*]} " == *" $j "* ]]; then jobs_todo+=("$j"); fi
done
for m in "${modules[@]}"; do [[ " ${jobs_todo[*]} " == *" $m "* ]] || jobs_todo+=("$m"); done

logs=$(mktemp -d /tmp/wsring-lanes.XXXXXX)
declare -A name_of=() began=()  # by PID: each job's name, when it started
# On any exit (a failure, Ctrl-C, CI's ceiling): each running job is asked
# to stop with SIGINT, which timeout passes on and Python turns into
# KeyboardInterrupt, so the suites' own cleanups stop their servers; what is
# left after 5 s is killed with its process group (timeout made one).
# Their output so far is printed, so that a run cut short shows where.
cleanup() {
  local p stopped
  stopped=$(jobs -pr)
  if [[ -n $stopped ]]; then
    kill -INT $stopped 2>/dev/null
    for _ in {1..50}; do [[ -z $(jobs -pr) ]] && break; sleep 0.1; done
    for p in $(jobs -pr); do kill -KILL -- "-$p" 2>/dev/null; done
    for p in $stopped; do
      echo "----- ${name_of[$p]:-?}: stopped unfinished, $((SECONDS - ${began[$p]:-0})) s"
      cat "$logs/${name_of[$p]:-?}.log" 2>/dev/null
    done
  fi
  rm -rf "$logs" "${certs_made:-}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_job() {  # start_job NAME: timeout gives each job a process group of its own
  local j=$1
  if [[ $j == node ]]; then
    timeout -k 10 "$JS_LIMIT" node --test --test-timeout=120000 "${js[@]}" >"$logs/$j.log" 2>&1 &
  else
    timeout -k 10 "$PY_LIMIT" /usr/bin/python3 -m unittest -v "$j" >"$logs/$j.log" 2>&1 &
  fi
  name_of[$!]=$j; began[$!]=$SECONDS
}

failed=(); ran=0; running=0; next=0
finish_one() {  # waits for any job, prints its output whole, counts it
  local pid rc=0 j
  wait -n -p pid || rc=$?
  j=${name_of[$pid]}; running=$((running - 1))
  echo "----- $j: $( ((rc == 0)) && echo ok || echo "FAILED (exit $rc)"), $((SECONDS - ${began[$pid]})) s"
  cat "$logs/$j.log"
  ran=$((ran + $(grep -oP '^Ran \K[0-9]+(?= tests?)' "$logs/$j.log" || echo 0)))
  ((rc == 0)) || failed+=("$j")
}
t0=$SECONDS
while ((next < ${#jobs_todo[@]} || running)); do
  if ((next < ${#jobs_todo[@]} && running < LANES)); then
    start_job "${jobs_todo[next]}"; next=$((next + 1)); running=$((running + 1))
  else
    finish_one
  fi
done
echo "integration: ${#jobs_todo[@]} jobs in $LANES lanes, $((SECONDS - t0)) s; $ran Python tests ran;" \
     "$( ((${#failed[@]})) && echo "FAILED: ${failed[*]}" || echo "none failed")"
((${#failed[@]} == 0))

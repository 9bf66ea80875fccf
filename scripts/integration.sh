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
# wss:// tests choose their servers) and test_bench_harness.py (bench.sh's
# plain echo matrix with another server beside ours, ~45 s).
# Test certificates: made once per run (scripts/make-test-certs.sh) into a
# temporary directory, or taken from $WSRING_CERTS.
# Optional: WSRING_CONNS (concurrent clients, default 2000), and test names as
# arguments to run only those Python tests (e.g. test_echo.EchoTest_epoll).
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
  trap 'rm -rf "$WSRING_CERTS"' EXIT
  ../../scripts/make-test-certs.sh "$WSRING_CERTS" >/dev/null
fi
export WSRING_CERTS
shopt -s nullglob
py=(test_*.py); js=(*.test.mjs)
if [[ ${WSRING_TLS:-0} != 0 ]]; then
  export WSRING_TLS=1
  skip=" test_tls.py test_cli.py test_ws_bench.py test_bench_harness.py tls.test.mjs browser.test.mjs "
  keep=(); for f in "${py[@]}"; do [[ $skip == *" $f "* ]] || keep+=("$f"); done; py=("${keep[@]}")
  keep=(); for f in "${js[@]}"; do [[ $skip == *" $f "* ]] || keep+=("$f"); done; js=("${keep[@]}")
  echo "integration: over TLS (wss://), certificates in $WSRING_CERTS"
fi
status=0
# Hard ceilings so a hung server can never hang the run (the tests time out first).
PY_LIMIT=${WSRING_PY_LIMIT:-1200}; JS_LIMIT=${WSRING_JS_LIMIT:-600}
if (($#)); then
  timeout -k 10 "$PY_LIMIT" /usr/bin/python3 -m unittest -v "$@" || status=1
  exit $status
fi
if ((${#py[@]})); then
  timeout -k 10 "$PY_LIMIT" /usr/bin/python3 -m unittest -v "${py[@]%.py}" || status=1
fi
if ((${#js[@]})) && [[ -z ${WSRING_FILTER:-} ]]; then
  if [[ ! -d node_modules/ws || ! -d node_modules/playwright-core ]]; then
    echo "integration: npm's ws or playwright-core is missing; run: (cd tests/integration && npm install)" >&2
    status=1
  else
    timeout -k 10 "$JS_LIMIT" node --test --test-timeout=120000 "${js[@]}" || status=1
  fi
fi
exit $status

#!/usr/bin/env bash
# Runs the integration suites against the binaries in $WSRING_BUILD:
#   tests/integration/test_*.py   Python unittest, with Debian's python3-websockets
#   tests/integration/*.test.mjs  Node's test runner, with npm's ws
# WSRING_FILTER=threads keeps only the multi-threaded tests (for TSan).
set -euo pipefail
cd "$(dirname "$0")/../tests/integration"
: "${WSRING_BUILD:?set WSRING_BUILD to a build directory}"
[[ -x $WSRING_BUILD/ws-server ]] || { echo "integration: no ws-server in $WSRING_BUILD"; exit 1; }
shopt -s nullglob
py=(test_*.py); js=(*.test.mjs)
status=0
if ((${#py[@]})); then
  /usr/bin/python3 -m unittest -v "${py[@]%.py}" || status=1
fi
if ((${#js[@]})) && [[ -z ${WSRING_FILTER:-} ]]; then
  node --test "${js[@]}" || status=1
fi
exit $status

#!/usr/bin/env bash
# `make test`: builds every tree and runs every test.
#   0. Docs: every file and file:function the docs name exists (check_docs.py).
#   1. Release build (g++): unit tests (ctest) + integration tests driving the
#      real binaries with Python `websockets`, Node `ws` and headless Chromium,
#      then every suite again over TLS (wss://, WSRING_TLS=1). The suites run
#      in lanes, one per CPU (scripts/integration.sh, WSRING_LANES).
#   2. ASan+UBSan build: unit tests + integration tests again, and a TLS subset.
#   3. TSan build: the unit tests of the layers that start threads (core, net,
#      modes, cluster) + the multi-threaded integration tests.
#   4. clang 14 libFuzzer build: each fuzzer for FUZZ_SMOKE_SECONDS (default 30: twelve
#      fuzzers, one per CPU at a time; `make fuzz` runs them longer).
# Prints one "N passed, N failed" line at the end; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
export JOBS=${JOBS:-$(nproc)}
FUZZ_SMOKE_SECONDS=${FUZZ_SMOKE_SECONDS:-30}
passed=0; failed=0; failures=()

stage() {  # stage NAME COMMAND...: run one step, count it, keep going on failure
  local name=$1; shift
  echo; echo "=== $name"
  local t0=$SECONDS
  if "$@"; then
    passed=$((passed + 1)); echo "=== $name: ok ($((SECONDS - t0)) s)"
  else
    failed=$((failed + 1)); failures+=("$name"); echo "=== $name: FAILED ($((SECONDS - t0)) s)"
  fi
}

integration() {  # integration BUILD_DIR [FILTER]: the Python and Node suites against that build, per backend
  local dir=$1 filter=${2:-}
  WSRING_BUILD=$PWD/$dir WSRING_FILTER=$filter WSRING_BACKENDS="$(backends "$dir")" scripts/integration.sh
}

integration_tls() {  # integration_tls BUILD_DIR [PYTHON TESTS...]: the same over TLS (all suites, or those named)
  local dir=$1; shift
  WSRING_TLS=1 WSRING_BUILD=$PWD/$dir WSRING_BACKENDS="$(backends "$dir")" scripts/integration.sh "$@"
}

backends() {  # the backends this machine can run: epoll always, uring where the kernel allows it
  local out
  out=$(timeout 1 "$1/ws-server" --backend uring --host 127.0.0.1 --port 0 --threads 1 2>&1)
  if grep -q "backend=uring" <<<"$out"; then echo "epoll uring"
  else echo "note: io_uring unavailable here, integration tests run on epoll only" >&2; echo "epoll"; fi
}

scripts/setup.sh || exit 1

stage "docs references"    bash -c 'scripts/check_docs.py --self-test && scripts/check_docs.py'
stage "metric names self-test" scripts/check_metric_names.py --self-test

stage "build release"      make --no-print-directory release
stage "unit tests"         ctest --test-dir build/release --output-on-failure
stage "integration tests"  integration build/release
stage "integration (tls)"  integration_tls build/release
stage "install + find_package" scripts/test_package.sh build/release

stage "build asan"         make --no-print-directory asan
stage "unit tests (asan)"  ctest --test-dir build/asan --output-on-failure
stage "integration (asan)" integration build/asan
# Over TLS under ASan: the suites whose bytes cross the TLS layer in every way
# (sizes, fragments, errors, deadlines, backpressure, shutdown); the rest ran
# over TLS in the release stage. test_tls and the Node/browser suites already
# ran above, in the plain pass.
stage "integration (asan, tls)" integration_tls build/asan test_echo test_protocol test_limits test_http test_shutdown

stage "build tsan"         make --no-print-directory tsan
stage "unit tests (tsan)"  ctest --test-dir build/tsan --output-on-failure
stage "integration (tsan)" integration build/tsan threads

stage "build fuzz (clang)" make --no-print-directory fuzz-build
stage "fuzz smoke"         scripts/fuzz.sh "$FUZZ_SMOKE_SECONDS"

echo
((failed)) && printf 'failed stage: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed"
((failed == 0))

#!/usr/bin/env bash
# Installs, only when missing, everything the build, the tests and the
# benchmarks need on a fresh Debian 12 machine, and says what it installs.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ clang libclang-rt-14-dev lld cmake ninja-build pkg-config make
  libssl-dev openssl liburing-dev zlib1g-dev libdeflate-dev
  libgtest-dev libgmock-dev libbenchmark-dev libsimdjson-dev
  python3 python3-websockets
  python3-jwt python3-cryptography  # issue 15: tokens made by the tests (test_auth.py)
  gnuplot-nox procps strace
  prometheus  # issue 15: promtool checks GET /metrics and deploy/*.yml (the service itself is not wanted: see below)
  redis-server nginx libhiredis-dev  # issue 13: the Redis bridge (hiredis), its cluster tests and scripts/cluster.sh
  chromium libnss3-tools  # the browser test: headless Chromium, certutil for its trust store
)
# Arguments name more, wanted only by the script that asks (profile.sh: linux-perf).
packages+=("$@")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# Node.js and npm: any installation will do (some images ship NodeSource's
# nodejs, which bundles npm and conflicts with Debian's npm package).
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

if ((${#missing[@]})); then
  echo "setup: installing missing Debian packages: ${missing[*]}"
  sudo_cmd=""
  [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Only promtool is wanted from the prometheus package: on a machine run
  # by systemd its postinst starts a Prometheus server on :9090 — stop it.
  if [[ " ${missing[*]} " == *" prometheus "* ]] && [[ -d /run/systemd/system ]]; then
    $sudo_cmd systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi

# Node's `ws`, the second third-party client of the integration tests, and
# playwright-core, which drives the headless Chromium (the third).
if [[ ! -d tests/integration/node_modules/ws || ! -d tests/integration/node_modules/playwright-core ]]; then
  echo "setup: installing npm packages ws, playwright-core into tests/integration/node_modules"
  (cd tests/integration && npm install --no-audit --no-fund --silent)
fi

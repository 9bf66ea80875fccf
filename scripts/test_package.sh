#!/usr/bin/env bash
# scripts/test_package.sh [BUILD_DIR]: wsring as a library, the way another
# project gets it. Installs a wsring build into a temporary prefix
# (cmake --install), checks what landed there, then builds tests/package, a
# project of its own, with find_package(wsring) against that prefix and runs
# it (an echo round trip through the installed libraries). Removes
# everything it made; exits non-zero on any failure.
#   BUILD_DIR  an existing build tree to install (e.g. build/release; it is
#              brought up to date first, a no-op when it is). Without it, a
#              fresh Release tree is configured and built in the temporary
#              directory (libraries and apps only: minutes, not seconds).
# Not for sanitizer or fuzz trees: their libraries need a consumer built with
# the same -fsanitize flags, which tests/package is not.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wsring-package.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
say() { echo "test_package: $*"; }

build=${1:-}
if [[ -n $build ]]; then
  [[ -f $build/CMakeCache.txt ]] || { say "$build is not a configured build tree" >&2; exit 1; }
else
  build=$tmp/build
  say "configuring a fresh tree in $build"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWSRING_TESTS=OFF -DWSRING_BENCH=OFF >/dev/null
fi
# Regenerates the install rules too when CMakeLists.txt changed.
cmake --build "$build" -j "${JOBS:-$(nproc)}" >"$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; exit 1; }

# What a consumer relies on is there: headers under include/wsring/<layer>/,
# the package config, a library, the server binary.
missing=0
for f in include/wsring/proto/handshake.hpp include/wsring/net/server.hpp \
         include/wsring/cluster/redis_broker.hpp bin/ws-server; do
  [[ -e $prefix/$f ]] || { say "not installed: $f" >&2; missing=1; }
done
config=$(find "$prefix" -name wsringConfig.cmake -print -quit)
[[ -n $config ]] || { say "not installed: wsringConfig.cmake" >&2; missing=1; }
if [[ -z $(find "$prefix" -name libwsring_net.a -print -quit) ]]; then
  say "not installed: libwsring_net.a" >&2; missing=1
fi
((missing == 0)) || exit 1
# The installed package must stand alone: no path into the source or build tree.
if grep -rlF -e "$PWD" -e "$(cd "$build" && pwd)" "$(dirname "$config")"; then
  say "the package config above names the source or build tree" >&2; exit 1
fi

# The consumer, copied out of the tree so nothing of it can reach wsring's
# sources; built with the compiler that built the libraries.
cp -r tests/package "$tmp/consumer-src"
cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
cmake -S "$tmp/consumer-src" -B "$tmp/consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$tmp/consumer.log" || { cat "$tmp/consumer.log"; exit 1; }
found=$(sed -n 's/^wsring_DIR:PATH=//p' "$tmp/consumer/CMakeCache.txt")
[[ $found == "$prefix"/* ]] || { say "find_package(wsring) found $found, not the test prefix" >&2; exit 1; }
cmake --build "$tmp/consumer" >>"$tmp/consumer.log" || { cat "$tmp/consumer.log"; exit 1; }
timeout 30 "$tmp/consumer/package_test"
say "ok: installed $(find "$prefix" -type f | wc -l) files, find_package(wsring) from $found, consumer ran"

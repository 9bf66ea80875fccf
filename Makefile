# A thin front for CMake (the real build is CMakeLists.txt).
#   make            build the Release tree (build/release)
#   make run        build and start ws-server in echo mode on 127.0.0.1:9001
#   make cluster    build, then Redis + 3 nodes + nginx on 127.0.0.1:9001 (scripts/cluster.sh; CLUSTER_ARGS="--shards 3")
#   make test       build everything and run every test: unit, integration,
#                   ASan+UBSan, TSan and a fuzz smoke pass
#   make bench      micro benchmarks + the ws-bench load matrix (< 15 min)
#   make bench-quick  a short version (< 2 min)
#   make bench-auth   what auth costs: echo, pub/sub, upgrades with and without
#                   tokens (scripts/bench_auth.sh, ~2 min; docs/auth.md)
#   make fuzz       run every fuzzer for FUZZ_SECONDS (default 300)
JOBS ?= $(shell nproc)
PORT ?= 9001
FUZZ_SECONDS ?= 300
CMAKE_GEN := -G Ninja

.PHONY: all setup release asan tsan fuzz-build run cluster test bench bench-quick bench-auth fuzz clean

all: release

setup:
	@scripts/setup.sh

# Two compilers cover every file: release and tsan use g++ 12, asan and the
# fuzzers clang 14. Warnings are errors in all four trees. Every header is
# also compiled alone once per compiler (release, asan), and the tsan tree
# builds the unit tests of the layers that start threads.
CMAKE_COMMON := $(CMAKE_GEN) -DWSRING_WERROR=ON
build/release/build.ninja: | setup
	CXX=g++ cmake -S . -B build/release $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=Release
build/asan/build.ninja: | setup
	CXX=clang++-14 cmake -S . -B build/asan $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWSRING_SANITIZE=address -DWSRING_BENCH=OFF
build/tsan/build.ninja: | setup
	CXX=g++ cmake -S . -B build/tsan $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWSRING_SANITIZE=thread -DWSRING_BENCH=OFF -DWSRING_HEADER_CHECKS=OFF \
	  -DWSRING_TEST_LAYERS="core;net;modes;cluster"
build/fuzz/build.ninja: | setup
	CXX=clang++-14 cmake -S . -B build/fuzz $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWSRING_FUZZ=ON -DWSRING_HEADER_CHECKS=OFF

release: build/release/build.ninja
	cmake --build build/release -j $(JOBS)
asan: build/asan/build.ninja
	cmake --build build/asan -j $(JOBS)
tsan: build/tsan/build.ninja
	cmake --build build/tsan -j $(JOBS)
fuzz-build: build/fuzz/build.ninja
	cmake --build build/fuzz -j $(JOBS)

run: release
	@echo "ws-server: ws://127.0.0.1:$(PORT)/  (Ctrl-C stops it)"
	build/release/ws-server --mode echo --host 127.0.0.1 --port $(PORT)

cluster: release
	scripts/cluster.sh --port $(PORT) $(CLUSTER_ARGS)

test: setup
	scripts/test.sh

bench: release
	scripts/bench.sh

bench-quick: release
	scripts/bench.sh --quick

bench-auth: release
	scripts/bench_auth.sh

fuzz: fuzz-build
	scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf build

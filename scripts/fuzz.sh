#!/usr/bin/env bash
# Runs every fuzzer in build/fuzz for SECONDS each (default 60), starting from
# the seed corpus in fuzz/corpus/<name>/ with the dictionary fuzz/<name>.dict
# when there is one. New inputs go to a scratch copy, never into the repo.
# Any crash, leak, timeout or out-of-memory makes the script fail.
# FUZZ_JOBS fuzzers run at once (default: one per CPU; each is one process on
# one core), so `make test`'s 30-second pass over twelve fuzzers takes about
# three minutes on two cores, not six.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
at_once=${FUZZ_JOBS:-$(nproc)}
# 0 or a non-number would wait forever for a free slot: refused.
[[ $at_once =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: FUZZ_JOBS must be a positive number, not '$at_once'" >&2; exit 2; }
scratch=$(mktemp -d /tmp/wsring-fuzz.XXXXXX)
# Interrupted, the fuzzers still running go too (each is the child of a
# run_one subshell), not on into a deleted folder.
stop_all() {
  local p
  for p in $(jobs -p); do pkill -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
  rm -rf "$scratch"
}
trap stop_all EXIT

# run_one NAME: one fuzzer in $scratch/NAME/, its log in $scratch/NAME.log,
# and $scratch/NAME.ok once it ended without a finding.
run_one() {
  local name=$1 work=$scratch/$1
  mkdir -p "$work"
  [[ -d fuzz/corpus/$name ]] && cp -r "fuzz/corpus/$name/." "$work/"
  local dict=()
  [[ -f fuzz/$name.dict ]] && dict=(-dict="fuzz/$name.dict")
  if "build/fuzz/$name" "$work" "${dict[@]}" -max_total_time="$seconds" -timeout=10 \
       -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/" >"$work.log" 2>&1; then
    touch "$work.ok"
  fi
}

names=()
for fuzzer in build/fuzz/fuzz_*; do
  [[ -x $fuzzer ]] || continue
  name=$(basename "$fuzzer")
  names+=("$name")
  while (($(jobs -rp | wc -l) >= at_once)); do wait -n || true; done
  echo "fuzz: $name for ${seconds}s"
  run_one "$name" &
done
wait

status=0
for name in "${names[@]}"; do
  if [[ -f $scratch/$name.ok ]]; then
    echo "fuzz: $name: $(grep -E "^Done" "$scratch/$name.log" | tail -1)"
  else
    echo "fuzz: $name FAILED"; tail -40 "$scratch/$name.log"; status=1
    # The input that did it outlives the scratch folder (replay: build/fuzz/NAME FILE).
    mkdir -p build/fuzz/findings
    cp "$scratch/$name"/{crash,leak,timeout,oom,slow-unit}-* build/fuzz/findings/ 2>/dev/null &&
      echo "fuzz: $name's finding kept in build/fuzz/findings/"
  fi
done
((${#names[@]})) || { echo "fuzz: no fuzzers in build/fuzz (make fuzz-build)"; status=1; }
exit $status

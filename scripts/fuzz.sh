#!/usr/bin/env bash
# Runs every fuzzer in build/fuzz for SECONDS each (default 60), starting from
# the seed corpus in fuzz/corpus/<name>/ with the dictionary fuzz/<name>.dict
# when there is one. New inputs go to a scratch copy, never into the repo.
# Any crash, leak, timeout or out-of-memory makes the script fail.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
status=0
for fuzzer in build/fuzz/fuzz_*; do
  [[ -x $fuzzer ]] || continue
  name=$(basename "$fuzzer")
  work=$(mktemp -d)
  [[ -d fuzz/corpus/$name ]] && cp -r "fuzz/corpus/$name/." "$work/"
  dict=()
  [[ -f fuzz/$name.dict ]] && dict=(-dict="fuzz/$name.dict")
  echo "fuzz: $name for ${seconds}s"
  if ! "$fuzzer" "$work" "${dict[@]}" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/" >"$work.log" 2>&1; then
    echo "fuzz: $name FAILED"; tail -40 "$work.log"; status=1
  else
    grep -E "stat::number_of_executed_units|Done" "$work.log" | tail -2
  fi
  rm -rf "$work" "$work.log"
done
exit $status

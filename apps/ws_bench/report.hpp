// Turning a bench_result into what people read: the summary table printed at
// the end of a run, and the same figures (and more: per-second timeline,
// faults by kind, per-publisher tallies) as JSON for scripts/bench.sh and
// anyone else's tooling. Also the exit status a run earns.
#pragma once
#include <string>

#include "apps/ws_bench/options.hpp"
#include "apps/ws_bench/run.hpp"

namespace wsring::bench {

void print_summary(const bench_options& opts, const bench_result& r);

// Writes the JSON document to `path`; returns "" or what went wrong.
std::string write_json(const bench_options& opts, const bench_result& r, const std::string& path);

// 0: clean; 1: faults were counted, the set-up did not complete, or the
// window counted no message at all (idle mode aside).
int exit_status(const bench_options& o, const bench_result& r);

}  // namespace wsring::bench

// The coordinator: splits the connections over the worker threads, walks
// the run through its phases (set-up → warm-up → measure → drain → closing),
// samples the server's and its own CPU and memory at the edges of the
// measured window, prints the live line once a second, and gathers every
// worker's counts into one bench_result. Read next: report.hpp.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "apps/ws_bench/options.hpp"
#include "apps/ws_bench/proc_stats.hpp"
#include "apps/ws_bench/run_stats.hpp"

namespace wsring::bench {

struct second_sample {
    double t = 0;  // seconds since the measured window opened
    double msgs_per_s = 0;
    double mb_per_s = 0;
    double p99_us = 0;
    std::uint64_t faults = 0;  // total so far
};

struct bench_result {
    worker_stats total;
    std::size_t conns_requested = 0;  // receivers + publishers in broadcast
    double setup_s = 0;               // time to open every connection
    double measured_s = 0;            // wall time of the measured window
    bool setup_complete = false;
    // --server-pid: before connecting, at the window's open and close, peak.
    proc_sample server_base, server_start, server_end;
    std::uint64_t server_rss_max = 0;
    proc_sample self_start, self_end;
    std::vector<std::uint64_t> published;  // broadcast: per publisher, whole run
    std::string since;                     // replay: "E:O", where each connection asked to start
    std::vector<second_sample> timeline;
};

bench_result run_bench(const bench_options& opts);

}  // namespace wsring::bench

// ws-bench: a load generator for any WebSocket server, and the harness behind
// `make bench`. main() only wires the pieces: parse the options
// (ws_bench/options.hpp), check the descriptor limit, run the phases
// (ws_bench/run.hpp: one epoll worker per thread, ws_bench/worker.hpp), then
// print the summary and the JSON (ws_bench/report.hpp).
// Read docs/benchmarking.md for how to measure a server fairly with it.
#include <cstdio>

#include "apps/ws_bench/fd_limit.hpp"
#include "apps/ws_bench/options.hpp"
#include "apps/ws_bench/proc_stats.hpp"
#include "apps/ws_bench/report.hpp"
#include "apps/ws_bench/run.hpp"

int main(int argc, char** argv) {
    using namespace wsring::bench;
    bench_options opts;
    std::string err = parse_options(argc, argv, opts);
    if (err == "help") {
        print_help(argv[0]);
        return 0;
    }
    if (!err.empty()) {
        std::fprintf(stderr, "ws-bench: %s\n", err.c_str());
        return 2;
    }
    std::size_t sockets = opts.mode == bench_mode::broadcast ? opts.conns + opts.publishers : opts.conns;
    if (auto limit = ensure_fd_limit(sockets, opts.threads); !limit.empty()) {
        std::fprintf(stderr, "ws-bench: %s\n", limit.c_str());
        return 2;
    }
    if (opts.server_pid && !process_exists(opts.server_pid)) {
        std::fprintf(stderr, "ws-bench: --server-pid %d: no such process in /proc\n", opts.server_pid);
        return 2;
    }
    bench_result r = run_bench(opts);
    if (!opts.quiet) print_summary(opts, r);
    if (!opts.json_path.empty()) {
        if (auto e = write_json(opts, r, opts.json_path); !e.empty()) {
            std::fprintf(stderr, "ws-bench: %s\n", e.c_str());
            return 2;
        }
    }
    return exit_status(r);
}

// ws-bench: a load generator for any WebSocket server, and the harness behind
// `make bench`. main() only wires the pieces: parse the options
// (ws_bench/options.hpp), make every set-up check that can fail before any
// load (the --json destination, the descriptor limit, --server-pid, a server
// at --url), run the phases (ws_bench/run.hpp: one epoll worker per thread,
// ws_bench/worker.hpp), then print the summary and the JSON
// (ws_bench/report.hpp). Exit status: 0 clean, 1 errors counted, 2 usage or
// set-up. Read docs/benchmarking.md for how to measure a server fairly with it.
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "apps/ws_bench/fd_limit.hpp"
#include "apps/ws_bench/options.hpp"
#include "apps/ws_bench/proc_stats.hpp"
#include "apps/ws_bench/report.hpp"
#include "apps/ws_bench/run.hpp"
#include "net/tls_context.hpp"

namespace {

using namespace wsring::bench;

constexpr int exit_setup = 2;

// Where --json goes, settled before the run so that a path that cannot be
// written costs a second, not a whole run. "-" is stdout: the summary table
// (printf in report.cpp) is then moved to stderr by pointing descriptor 1 at
// stderr, and the JSON goes to the real stdout, kept in `stdout_fd`.
struct json_destination {
    std::string path;      // "" when there is no --json
    bool created = false;  // we created the file: remove it if the run never starts
    int stdout_fd = -1;    // --json -: the real stdout

    bool to_stdout() const { return path == "-"; }

    // Opens (without truncating: an old report survives a failed set-up)
    // or creates the file, to learn now whether it can be written.
    std::string prepare() {
        if (path.empty()) return {};
        if (to_stdout()) {
            std::fflush(stdout);
            stdout_fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
            if (stdout_fd < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
                return std::string("--json -: cannot use stdout: ") + std::strerror(errno);
            return {};
        }
        int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        created = fd >= 0;
        if (fd < 0 && errno == EEXIST) fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0) return "--json " + path + ": cannot write: " + std::strerror(errno);
        close(fd);
        return {};
    }

    void discard() {
        if (created) unlink(path.c_str());
    }

    std::string write(const bench_options& opts, const bench_result& r) const {
        if (path.empty()) return {};
        if (!to_stdout()) return write_json(opts, r, path);
        std::fflush(stdout);  // the table, now on stderr, before the JSON
        return write_json_to_fd(opts, r, stdout_fd);
    }

    // write_json (report.hpp) takes a path: give it an anonymous in-memory
    // file, then copy that to `fd`. (Not /dev/stdout: reopening it would
    // truncate a file the shell opened for appending, `>> runs.jsonl`.)
    static std::string write_json_to_fd(const bench_options& opts, const bench_result& r, int fd) {
        int mem = memfd_create("ws-bench-json", MFD_CLOEXEC);
        if (mem < 0) return std::string("--json -: memfd_create: ") + std::strerror(errno);
        std::string err = write_json(opts, r, "/proc/self/fd/" + std::to_string(mem));
        char buf[65536];
        ssize_t n = 0;
        lseek(mem, 0, SEEK_SET);
        while (err.empty() && (n = read(mem, buf, sizeof buf)) > 0)
            for (ssize_t done = 0; done < n;) {
                ssize_t w = ::write(fd, buf + done, static_cast<std::size_t>(n - done));
                if (w < 0 && errno == EINTR) continue;
                if (w < 0) {
                    err = std::string("--json -: writing stdout: ") + std::strerror(errno);
                    break;
                }
                done += w;
            }
        close(mem);
        return err;
    }
};

// One plain TCP connect to --url before any load, bounded by
// --connect-timeout: a server that is not there (refused, unreachable,
// silent) is a set-up failure the user hears about at once, not a run whose
// every connection fails. It sends nothing, so the server sees one
// connection opened and closed before the run.
std::string probe_server(const bench_options& opts) {
    const url& u = opts.target;
    int fd = socket(u.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::string("socket: ") + std::strerror(errno);
    int err = 0;
    if (connect(fd, reinterpret_cast<const sockaddr*>(&u.addr), u.addr_len) != 0) err = errno;
    if (err == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int ready = poll(&p, 1, static_cast<int>(opts.connect_timeout * 1000));
        socklen_t len = sizeof err;
        if (ready == 0) err = ETIMEDOUT;
        else if (ready < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    }
    close(fd);
    if (err == 0) return {};
    return "cannot connect to " + u.host_header() + " (--url " + opts.url_text + "): " + std::strerror(err);
}

// wss://: one client context for every worker (--ca FILE or the system's
// store, or --insecure); a CA file that cannot be read is a set-up failure.
std::string load_tls(bench_options& opts) {
    if (!opts.target.tls) return {};
    std::string why;
    auto ctx = wsring::net::tls_context::load_client(opts.ca_file, opts.insecure, why);
    if (!ctx) return "--ca: " + why;
    opts.tls = std::make_shared<const wsring::net::tls_context>(std::move(*ctx));
    return {};
}

// The checks after parsing, in order; "" when the run may start.
std::string set_up(bench_options& opts, json_destination& json) {
    if (auto e = load_tls(opts); !e.empty()) return e;
    if (auto e = json.prepare(); !e.empty()) return e;
    std::size_t sockets = opts.mode == bench_mode::broadcast ? opts.conns + opts.publishers
                          : opts.mode == bench_mode::replay  ? opts.conns + 1  // + the filler
                                                             : opts.conns;
    if (auto e = ensure_fd_limit(sockets, opts.threads); !e.empty()) return e;
    if (opts.server_pid && !process_exists(opts.server_pid))
        return "--server-pid " + std::to_string(opts.server_pid) + ": no such process in /proc";
    return probe_server(opts);
}

}  // namespace

int main(int argc, char** argv) {
    bench_options opts;
    std::string err = parse_options(argc, argv, opts);
    if (err == "help") {
        print_help(argv[0]);
        return 0;
    }
    if (!err.empty()) {
        std::fprintf(stderr, "ws-bench: %s\n", err.c_str());
        return exit_setup;
    }
    json_destination json{.path = opts.json_path};
    if (auto e = set_up(opts, json); !e.empty()) {
        json.discard();
        std::fprintf(stderr, "ws-bench: %s\n", e.c_str());
        return exit_setup;
    }
    bench_result r = run_bench(opts);
    if (!opts.quiet) print_summary(opts, r);
    if (auto e = json.write(opts, r); !e.empty()) {
        std::fprintf(stderr, "ws-bench: %s\n", e.c_str());
        return exit_setup;
    }
    return exit_status(opts, r);
}

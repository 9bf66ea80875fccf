// Parsing ws-bench's arguments: "--name VALUE", "--name=VALUE" and the short
// forms -c -s -k -d. Every numeric value is range-checked here, so the rest
// of the program can trust bench_options.
#include "apps/ws_bench/options.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace wsring::bench {

const char* mode_name(bench_mode m) {
    switch (m) {
        case bench_mode::echo: return "echo";
        case bench_mode::broadcast: return "broadcast";
        case bench_mode::connect: return "connect";
        case bench_mode::idle: return "idle";
    }
    return "?";
}

void print_help(const char* argv0) {
    std::printf(
        "usage: %s --url ws://HOST:PORT/PATH [options]\n"
        "\n"
        "A load generator for any WebSocket server (RFC 6455 client side: real\n"
        "upgrade, masked frames, every echoed payload length-checked).\n"
        "\n"
        "modes (--mode):\n"
        "  echo       each connection keeps -k messages outstanding; counts echoes\n"
        "             and their round-trip latency (server in echo mode)\n"
        "  broadcast  -c receivers plus --publishers senders; counts deliveries/s,\n"
        "             publish-to-delivery latency, loss and reordering per publisher\n"
        "  connect    connect + upgrade + close cycles per second, -c at a time\n"
        "  idle       opens -c connections, holds them -d seconds, closes cleanly\n"
        "\n"
        "options:\n"
        "  --url URL           ws://host:port/path (default ws://127.0.0.1:9001/)\n"
        "  --mode M            echo | broadcast | connect | idle (default echo)\n"
        "  -c, --conns N       connections (receivers in broadcast) (default 100)\n"
        "  -s, --size BYTES    payload bytes per message (default 16; broadcast >= 28)\n"
        "  -k, --inflight N    messages outstanding per connection (default 1);\n"
        "                      broadcast: per-publisher window when --rate is 0\n"
        "  -d, --duration S    measured seconds (idle: hold time) (default 5)\n"
        "  --warmup S          seconds of load before measuring (default 1)\n"
        "  --threads T         load generator threads, one epoll loop each (default 1)\n"
        "  --text | --binary   message type (default binary)\n"
        "  --verify            compare every payload byte, not only lengths\n"
        "  --raw               no HTTP upgrade: send the same frame bytes to a plain\n"
        "                      TCP echo server (tcp-echo-server): the physical limit\n"
        "  --publishers P      broadcast publishers (default 1)\n"
        "  --rate R            broadcast messages/s per publisher (default 0: as fast\n"
        "                      as the -k window allows)\n"
        "  --server-pid PID    sample the server's CPU time and memory from /proc and\n"
        "                      report messages per server-CPU-second\n"
        "  --json FILE         write every figure as JSON\n"
        "  --progress | --no-progress   live line each second (default: on a tty)\n"
        "  --connect-timeout S seconds allowed to open all connections (default 10)\n"
        "  --quiet             no summary table\n"
        "  -h, --help          this text\n"
        "\n"
        "exit status: 0 clean run, 1 errors were counted, 2 bad usage or set-up.\n",
        argv0);
}

namespace {

// One flag's value, parsed as a number within [lo, hi].
bool number(std::string_view text, double lo, double hi, double& out) {
    std::string s(text);
    char* end = nullptr;
    out = std::strtod(s.c_str(), &end);
    return !s.empty() && *end == '\0' && out >= lo && out <= hi;
}

template <class T>
std::string set_number(std::string_view name, std::string_view v, double lo, double hi, T& field) {
    double d = 0;
    if (!number(v, lo, hi, d))
        return std::string(name) + " wants a number in [" + std::to_string(static_cast<long long>(lo)) + ", " +
               std::to_string(static_cast<long long>(hi)) + "], got '" + std::string(v) + "'";
    field = static_cast<T>(d);
    return {};
}

std::string set_mode(std::string_view v, bench_mode& m) {
    for (bench_mode c : {bench_mode::echo, bench_mode::broadcast, bench_mode::connect, bench_mode::idle})
        if (v == mode_name(c)) {
            m = c;
            return {};
        }
    return "--mode wants echo, broadcast, connect or idle, got '" + std::string(v) + "'";
}

// Applies one option that takes a value.
std::string apply(std::string_view name, std::string_view v, bench_options& o) {
    if (name == "--url") return o.url_text = std::string(v), std::string{};
    if (name == "--mode") return set_mode(v, o.mode);
    if (name == "-c" || name == "--conns") return set_number(name, v, 1, 1e6, o.conns);
    if (name == "-s" || name == "--size") return set_number(name, v, 0, 1 << 30, o.size);
    if (name == "-k" || name == "--inflight") return set_number(name, v, 1, 65536, o.inflight);
    if (name == "-d" || name == "--duration") return set_number(name, v, 0.1, 86400, o.duration);
    if (name == "--warmup") return set_number(name, v, 0, 3600, o.warmup);
    if (name == "--threads") return set_number(name, v, 1, 256, o.threads);
    if (name == "--publishers") return set_number(name, v, 1, 4096, o.publishers);
    if (name == "--rate") return set_number(name, v, 0, 1e9, o.rate);
    if (name == "--server-pid") return set_number(name, v, 1, 1 << 30, o.server_pid);
    if (name == "--json") return o.json_path = std::string(v), std::string{};
    if (name == "--connect-timeout") return set_number(name, v, 0.1, 3600, o.connect_timeout);
    return "unknown option '" + std::string(name) + "' (see --help)";
}

bool apply_flag(std::string_view a, bench_options& o) {
    if (a == "--text") o.text = true;
    else if (a == "--binary") o.text = false;
    else if (a == "--raw") o.raw = true;
    else if (a == "--verify") o.verify = true;
    else if (a == "--progress") o.progress = 1;
    else if (a == "--no-progress") o.progress = 0;
    else if (a == "--quiet") o.quiet = true;
    else return false;
    return true;
}

// Checks that need several options together.
std::string check(bench_options& o) {
    if (auto err = parse_url(o.url_text, o.target); !err.empty()) return "--url: " + err;
    if (o.mode == bench_mode::broadcast && o.size < 28)
        return "broadcast messages carry a 28-byte header (publisher, sequence, timestamp): use -s 28 or more";
    if (o.mode == bench_mode::broadcast && o.raw) return "--raw has no broadcast server to talk to: use echo";
    if (o.threads > o.conns + (o.mode == bench_mode::broadcast ? o.publishers : 0))
        o.threads = o.conns;  // an idle thread would only add noise
    return {};
}

}  // namespace

std::string parse_options(int argc, char** argv, bench_options& o) {
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "-h" || a == "--help") return "help";
        if (apply_flag(a, o)) continue;
        std::string_view value;
        if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string_view::npos) {
            value = a.substr(eq + 1);
            a = a.substr(0, eq);
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            return "option '" + std::string(a) + "' needs a value (see --help)";
        }
        if (auto err = apply(a, value, o); !err.empty()) return err;
    }
    return check(o);
}

}  // namespace wsring::bench

// ws-bench's command line: one designated-initializer struct holding every
// knob, the parser that fills it (with the checks a user needs to hear about
// before any socket opens) and the --help text. Nothing here touches the
// network. Read next: url.hpp, then worker.hpp.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "apps/ws_bench/payload.hpp"
#include "apps/ws_bench/url.hpp"

namespace wsring::net {
class tls_context;
}

namespace wsring::bench {

enum class bench_mode : std::uint8_t { echo, broadcast, connect, idle, replay, http_publish };

const char* mode_name(bench_mode m);

struct bench_options {
    std::string url_text = "ws://127.0.0.1:9001/";
    url target;
    // broadcast --publish-url: where the publishers connect (another node of
    // a cluster); without it publish_target is a copy of target.
    std::string publish_url_text;
    url publish_target;
    bench_mode mode = bench_mode::echo;
    unsigned conns = 100;           // -c: connections (receivers in broadcast)
    std::size_t size = 16;          // -s: payload bytes
    unsigned inflight = 1;          // -k: outstanding messages per connection
    double duration = 5;            // -d: measured seconds (idle: hold time)
    double warmup = 1;              // --warmup: seconds run but not counted
    unsigned threads = 1;           // --threads
    bool text = false;              // --text | --binary
    bool type_given = false;        // --text or --binary was given (json defaults to text)
    payload_kind payload = payload_kind::random;  // --payload random|json
    bool deflate = false;           // --deflate: offer permessage-deflate (RFC 7692)
    int deflate_level = 6;          // --deflate-level: zlib level of our compressor
    bool raw = false;               // --raw: plain TCP, same frame bytes, no upgrade
    bool verify = false;            // --verify: compare every payload byte
    unsigned publishers = 1;        // broadcast: --publishers
    double rate = 0;                // broadcast: messages/s per publisher (0 = window)
    std::string subprotocol;        // --subprotocol: offered on every connection ("" = none)
    std::uint64_t history = 1000;   // replay: --history H, messages published, then replayed per connection
    std::string api_key;            // http-publish: --api-key ("" = no Authorization header)
    // --header "Name: value" (repeatable): extra lines of every upgrade
    // request, checked and kept as "Name: value" (a token, say).
    std::vector<std::string> headers;
    int server_pid = 0;             // --server-pid: sample /proc/PID
    std::string json_path;          // --json FILE
    int progress = -1;              // --progress/--no-progress; -1 = when stderr is a tty
    double connect_timeout = 10;    // seconds to open every connection
    bool quiet = false;             // no summary table (JSON only)
    bool per_connection = false;    // --per-connection: each connection's count too
    // wss:// only:
    std::string ca_file;            // --ca FILE: PEM CA certificates ("" = the system's)
    bool insecure = false;          // --insecure: check no certificate, no name
    bool tls_resume = false;        // --tls-resume: reconnects offer the last session
    std::shared_ptr<const net::tls_context> tls;  // built by main's set-up for wss://
};

// Parses argv into `out`. Returns an empty string on success, "help" when
// --help was asked, or a message naming the bad argument.
std::string parse_options(int argc, char** argv, bench_options& out);

void print_help(const char* argv0);

}  // namespace wsring::bench

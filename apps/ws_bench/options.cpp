// Parsing ws-bench's arguments: "--name VALUE", "--name=VALUE" and the short
// forms -c -s -k -d; flags take no value or "=true"/"=false". Values are
// parsed by apps/cmdline.hpp (shared with ws-server), so every numeric value
// is range-checked here and the rest of the program can trust bench_options.
#include "apps/ws_bench/options.hpp"

#include <cstdio>
#include <string_view>

#include "apps/cmdline.hpp"
#include "proto/handshake.hpp"

namespace wsring::bench {

const char* mode_name(bench_mode m) {
    switch (m) {
        case bench_mode::echo: return "echo";
        case bench_mode::broadcast: return "broadcast";
        case bench_mode::connect: return "connect";
        case bench_mode::idle: return "idle";
        case bench_mode::replay: return "replay";
        case bench_mode::http_publish: return "http-publish";
    }
    return "?";
}

void print_help(const char* argv0) {
    std::printf(
        "usage: %s --url ws[s]://HOST:PORT/PATH [options]\n"
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
        "  replay     (ws-server --mode pubsub, wsring.v1) publishes --history H\n"
        "             messages to the URL's topic, then -c connections each loop:\n"
        "             connect with ?since=E:O (the position before them), receive\n"
        "             the H replayed messages, close; counts replayed messages/s\n"
        "  http-publish  -c keep-alive HTTP connections each keep -k pipelined\n"
        "             POST /publish/TOPIC (TOPIC: the URL's path) in flight;\n"
        "             counts 200 answers with a JSON offset per second\n"
        "\n"
        "options:\n"
        "  --url URL           ws://host:port/path (default ws://127.0.0.1:9001/), or\n"
        "                      wss://host:port/path for TLS (port 443 if none)\n"
        "  --publish-url URL   broadcast: the publishers connect here, the receivers to\n"
        "                      --url (default: --url): one node publishes, another\n"
        "                      delivers (ws-server --redis); same scheme as --url\n"
        "  --ca FILE           wss://: trust the PEM CA certificates in FILE (default:\n"
        "                      the system's store); the server's name is checked too\n"
        "  --insecure          wss://: check no certificate and no name (a server with a\n"
        "                      self-signed certificate); never the default\n"
        "  --tls-resume        wss://: a reconnecting worker offers the session of its\n"
        "                      last connection (connect mode: resumed handshakes; the\n"
        "                      default is a full handshake every time)\n"
        "  --mode M            echo | broadcast | connect | idle | replay | http-publish\n"
        "                      (default echo)\n"
        "  -c, --conns N       connections (receivers in broadcast) (default 100)\n"
        "  -s, --size BYTES    payload bytes per message (default 16; broadcast >= 28)\n"
        "  -k, --inflight N    messages outstanding per connection (default 1);\n"
        "                      broadcast: per-publisher window when --rate is 0\n"
        "  -d, --duration S    measured seconds (idle: hold time) (default 5)\n"
        "  --warmup S          seconds of load before measuring (default 1)\n"
        "  --threads T         load generator threads, one epoll loop each (default 1)\n"
        "  --text | --binary   message type (default binary; text with --payload json)\n"
        "  --payload P         random | json (default random): what a message holds;\n"
        "                      random is fixed bytes (printable with --text) and only\n"
        "                      the stamp changes; json is ASCII text like {\"seq\":..,\n"
        "                      \"user\":..,\"text\":\"lorem ipsum ..\"} cut to -s bytes,\n"
        "                      its user and words drawn anew for every message from\n"
        "                      one small vocabulary (--verify regenerates them from\n"
        "                      the stamp): compressible like chat, for --deflate\n"
        "  --deflate           offer permessage-deflate (RFC 7692) with\n"
        "                      client_max_window_bits; when the server agrees, every\n"
        "                      message is sent compressed and compressed replies are\n"
        "                      inflated before they are checked; the summary shows\n"
        "                      the agreement and payload vs wire bytes\n"
        "  --deflate-level N   zlib level 1..9 of ws-bench's own compressor (default 6,\n"
        "                      as browsers); 1 keeps the generator from being the limit\n"
        "  --verify            compare every payload byte, not only lengths\n"
        "  --raw               no HTTP upgrade: send the same frame bytes to a plain\n"
        "                      TCP echo server (tcp-echo-server): the physical limit\n"
        "  --publishers P      broadcast publishers (default 1)\n"
        "  --rate R            broadcast messages/s per publisher (default 0: as fast\n"
        "                      as the -k window allows)\n"
        "  --subprotocol P     offer subprotocol P on every connection; only wsring.v1\n"
        "                      (ws-server --mode pubsub): every delivery's position\n"
        "                      prefix is stripped and checked (offsets contiguous after\n"
        "                      the !position notice; gaps and repeats are faults)\n"
        "  --history H         replay: messages published before the run and replayed\n"
        "                      by each connection (default 1000; at most the server's\n"
        "                      --history-size)\n"
        "  --api-key KEY       http-publish: sent as \"Authorization: apikey KEY\"\n"
        "  --header \"N: V\"     add the line N: V to every upgrade request (repeatable),\n"
        "                      e.g. --header \"Authorization: Bearer TOKEN\"; N is an\n"
        "                      HTTP token, V holds no CR, LF or other control character;\n"
        "                      not a header ws-bench writes itself (Host, Upgrade,\n"
        "                      Connection, Sec-WebSocket-*). A token can also go in\n"
        "                      the URL's query: --url \"ws://HOST:PORT/PATH?token=T\"\n"
        "  --server-pid PID    sample the server's CPU time and memory from /proc and\n"
        "                      report messages per server-CPU-second\n"
        "  --json FILE         write every figure as JSON to FILE (checked before the\n"
        "                      run: a FILE that cannot be written is a set-up failure);\n"
        "                      FILE '-' is stdout, and the summary table then goes to\n"
        "                      stderr so stdout holds only the JSON\n"
        "  --progress | --no-progress   live line each second (default: on a tty)\n"
        "  --connect-timeout S seconds allowed to open all connections (default 10)\n"
        "  --quiet             no summary table\n"
        "  --per-connection    each connection's count of completed messages, in the\n"
        "                      summary and in --json (fairness.per_connection): who\n"
        "                      was starved, or favoured, and by how much\n"
        "  -h, --help          this text\n"
        "\n"
        "Sizes take K, M or G (1K = 1024); seconds take up to 3 decimals. A flag may be\n"
        "written --flag=true or --flag=false.\n"
        "\n"
        "exit status:\n"
        "  0  clean run\n"
        "  1  errors were counted, not every connection opened, or the window\n"
        "     counted no message at all (idle mode aside)\n"
        "  2  bad usage or set-up, before any load: an unknown option or bad value,\n"
        "     a --json FILE that cannot be written, too few file descriptors, no\n"
        "     --server-pid process, or no server accepting TCP connections at --url\n",
        argv0);
}

namespace {

// A whole number in [lo, hi] into any integer field.
template <class T>
std::string count(std::string_view v, std::uint64_t lo, std::uint64_t hi, T& field) {
    std::uint64_t n = 0;
    std::string err = cmdline::parse_uint(v, lo, hi, n);
    if (err.empty()) field = static_cast<T>(n);
    return err;
}

// Decimal seconds (or a rate) with at most three places, bounds in
// thousandths, into a double.
std::string decimal(std::string_view v, std::uint64_t lo, std::uint64_t hi, double& field) {
    std::uint64_t thousandths = 0;
    std::string err = cmdline::parse_thousandths(v, lo, hi, thousandths);
    if (err.empty()) field = static_cast<double>(thousandths) / 1000.0;
    return err;
}

std::string set_payload(std::string_view v, payload_kind& k) {
    for (payload_kind c : {payload_kind::random, payload_kind::json})
        if (v == payload_kind_name(c)) {
            k = c;
            return {};
        }
    return "wants random or json, got '" + std::string(v) + "'";
}

// --header "Name: value": one field line by RFC 9112 §5.1 (a token name
// right before the colon, no control character but HTAB in the value, so
// no CR or LF can split the request), stored as "Name: value". The headers
// ws-bench writes itself are refused: a second Host or Sec-WebSocket-Key
// would make a request the server must reject (RFC 6455 §4.2.1).
std::string add_header(std::string_view v, std::vector<std::string>& headers) {
    proto::http_header h;
    if (!proto::parse_field_line(v, h))
        return "wants \"Name: value\" (a token name, a colon, no CR, LF or other control character), got '" +
               std::string(v) + "'";
    for (std::string_view own : {"Host", "Upgrade", "Connection"})
        if (proto::iequals(h.name, own)) return "ws-bench writes " + std::string(own) + " itself";
    if (h.name.size() >= 14 && proto::iequals(h.name.substr(0, 14), "Sec-WebSocket-"))
        return "ws-bench writes the Sec-WebSocket-* headers itself (--subprotocol, --deflate)";
    headers.push_back(std::string(h.name) + ": " + std::string(h.value));
    return {};
}

std::string set_mode(std::string_view v, bench_mode& m) {
    for (bench_mode c : {bench_mode::echo, bench_mode::broadcast, bench_mode::connect, bench_mode::idle,
                         bench_mode::replay, bench_mode::http_publish})
        if (v == mode_name(c)) {
            m = c;
            return {};
        }
    return "wants echo, broadcast, connect, idle, replay or http-publish, got '" + std::string(v) + "'";
}

// Every option that takes a value: its spellings and where it goes.
struct value_option {
    std::string_view short_name;  // "" when it has none
    std::string_view name;
    std::string (*set)(std::string_view, bench_options&);
};

constexpr value_option value_options[] = {
    {"", "--url", [](std::string_view v, bench_options& o) {
         o.url_text = v;
         return std::string{};
     }},
    {"", "--publish-url", [](std::string_view v, bench_options& o) {
         o.publish_url_text = v;
         return v.empty() ? std::string("needs a URL (ws://HOST:PORT/PATH)") : std::string{};
     }},
    {"", "--mode", [](std::string_view v, bench_options& o) { return set_mode(v, o.mode); }},
    {"", "--payload", [](std::string_view v, bench_options& o) { return set_payload(v, o.payload); }},
    {"-c", "--conns", [](std::string_view v, bench_options& o) { return count(v, 1, 1'000'000, o.conns); }},
    {"-s", "--size", [](std::string_view v, bench_options& o) {
         std::uint64_t n = 0;
         std::string err = cmdline::parse_size(v, 0, 1u << 30, n);
         if (err.empty()) o.size = static_cast<std::size_t>(n);
         return err;
     }},
    {"-k", "--inflight", [](std::string_view v, bench_options& o) { return count(v, 1, 65536, o.inflight); }},
    {"-d", "--duration", [](std::string_view v, bench_options& o) { return decimal(v, 100, 86'400'000, o.duration); }},
    {"", "--warmup", [](std::string_view v, bench_options& o) { return decimal(v, 0, 3'600'000, o.warmup); }},
    {"", "--threads", [](std::string_view v, bench_options& o) { return count(v, 1, 256, o.threads); }},
    {"", "--publishers", [](std::string_view v, bench_options& o) { return count(v, 1, 4096, o.publishers); }},
    {"", "--deflate-level", [](std::string_view v, bench_options& o) { return count(v, 1, 9, o.deflate_level); }},
    {"", "--rate", [](std::string_view v, bench_options& o) { return decimal(v, 0, 1'000'000'000'000, o.rate); }},
    {"", "--subprotocol", [](std::string_view v, bench_options& o) {
         o.subprotocol = v;
         return v == "wsring.v1" ? std::string{} : "ws-bench reads only wsring.v1, got '" + std::string(v) + "'";
     }},
    {"", "--history", [](std::string_view v, bench_options& o) { return count(v, 1, 1'000'000, o.history); }},
    {"", "--api-key", [](std::string_view v, bench_options& o) {
         o.api_key = v;
         return v.empty() ? std::string("needs a key") : std::string{};
     }},
    {"", "--header", [](std::string_view v, bench_options& o) { return add_header(v, o.headers); }},
    {"", "--server-pid", [](std::string_view v, bench_options& o) { return count(v, 1, 1u << 30, o.server_pid); }},
    {"", "--json", [](std::string_view v, bench_options& o) {
         o.json_path = v;
         return v.empty() ? std::string("needs a value (a file, or - for stdout)") : std::string{};
     }},
    {"", "--ca", [](std::string_view v, bench_options& o) {
         o.ca_file = v;
         return v.empty() ? std::string("needs a file of PEM CA certificates") : std::string{};
     }},
    {"", "--connect-timeout",
     [](std::string_view v, bench_options& o) { return decimal(v, 100, 3'600'000, o.connect_timeout); }},
};

// Every flag: `on` is true for a bare flag, else its "=value".
struct flag_option {
    std::string_view name;
    void (*set)(bench_options&, bool on);
};

constexpr flag_option flag_options[] = {
    {"--text", [](bench_options& o, bool on) { o.text = on; o.type_given = true; }},
    {"--binary", [](bench_options& o, bool on) { o.text = !on; o.type_given = true; }},
    {"--deflate", [](bench_options& o, bool on) { o.deflate = on; }},
    {"--raw", [](bench_options& o, bool on) { o.raw = on; }},
    {"--verify", [](bench_options& o, bool on) { o.verify = on; }},
    {"--progress", [](bench_options& o, bool on) { o.progress = on ? 1 : 0; }},
    {"--no-progress", [](bench_options& o, bool on) { o.progress = on ? 0 : 1; }},
    {"--quiet", [](bench_options& o, bool on) { o.quiet = on; }},
    {"--per-connection", [](bench_options& o, bool on) { o.per_connection = on; }},
    {"--insecure", [](bench_options& o, bool on) { o.insecure = on; }},
    {"--tls-resume", [](bench_options& o, bool on) { o.tls_resume = on; }},
};

const value_option* find_value_option(std::string_view name) {
    for (const auto& v : value_options)
        if (name == v.name || (!v.short_name.empty() && name == v.short_name)) return &v;
    return nullptr;
}

const flag_option* find_flag(std::string_view name) {
    for (const auto& f : flag_options)
        if (name == f.name) return &f;
    return nullptr;
}

// replay and http-publish talk to ws-server --mode pubsub; --subprotocol
// belongs to the WebSocket modes that receive positions.
std::string check_pubsub(bench_options& o) {
    bool replay = o.mode == bench_mode::replay, http = o.mode == bench_mode::http_publish;
    if (replay) o.subprotocol = "wsring.v1";  // positions are what replay is about
    if (!o.subprotocol.empty() && o.mode != bench_mode::broadcast && !replay)
        return "--subprotocol is for broadcast (and replay, which always offers wsring.v1)";
    if (replay && o.size < echo_header_bytes) return "replay messages carry an 8-byte sequence stamp: use -s 8 or more";
    if (replay && o.target.path.find('?') != std::string::npos) return "replay adds ?since= itself: give --url without a query";
    if (!o.api_key.empty() && !http) return "--api-key is for http-publish";
    if (!o.headers.empty() && (http || o.raw))
        return "--header goes in the WebSocket upgrade, which --raw and http-publish do not send";
    if (http && (o.raw || o.deflate || o.target.tls)) return "http-publish is plain HTTP/1.1 over ws:// (no --raw, --deflate or wss://)";
    if (http && o.target.path.size() < 2) return "http-publish needs a topic: --url ws://HOST:PORT/TOPIC";
    if ((replay || http) && o.raw) return "--raw has no pub/sub server to talk to: use echo";
    return {};
}

// --publish-url: parsed and resolved like --url. One scheme for both, as
// main builds one TLS context from --url's.
std::string check_publish_url(bench_options& o) {
    if (o.publish_url_text.empty()) {
        o.publish_target = o.target;
        return {};
    }
    if (o.mode != bench_mode::broadcast) return "--publish-url is for broadcast (its publishers)";
    if (auto err = parse_url(o.publish_url_text, o.publish_target); !err.empty()) return "--publish-url: " + err;
    if (o.publish_target.tls != o.target.tls) return "--publish-url and --url must both be ws:// or both wss://";
    return {};
}

// Checks that need several options together.
std::string check(bench_options& o) {
    if (auto err = parse_url(o.url_text, o.target); !err.empty()) return "--url: " + err;
    if (auto err = check_publish_url(o); !err.empty()) return err;
    if (o.mode == bench_mode::broadcast && o.size < 28)
        return "broadcast messages carry a 28-byte header (publisher, sequence, timestamp): use -s 28 or more";
    if (o.mode == bench_mode::broadcast && o.raw) return "--raw has no broadcast server to talk to: use echo";
    if (auto err = check_pubsub(o); !err.empty()) return err;
    if (o.raw && o.target.tls) return "--raw is the plain TCP baseline: use a ws:// URL";
    if (o.raw && o.deflate) return "--deflate is negotiated in the HTTP upgrade, which --raw skips: drop one";
    if (o.deflate_level != 6 && !o.deflate) return "--deflate-level needs --deflate";
    if (o.payload == payload_kind::json && !o.type_given) o.text = true;
    if (!o.target.tls && (!o.ca_file.empty() || o.insecure || o.tls_resume))
        return "--ca, --insecure and --tls-resume are for wss:// URLs";
    if (!o.ca_file.empty() && o.insecure) return "--ca and --insecure contradict each other: pick one";
    if (o.threads > o.conns + (o.mode == bench_mode::broadcast ? o.publishers : 0))
        o.threads = o.conns;  // an idle thread would only add noise
    return {};
}

}  // namespace

std::string parse_options(int argc, char** argv, bench_options& o) {
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg.size() < 2 || arg[0] != '-')
            return "unexpected argument '" + std::string(arg) + "' (ws-bench takes only options; see --help)";
        // "--name=value"; short options take their value as the next argument.
        std::size_t eq = arg.rfind("--", 0) == 0 ? arg.find('=') : std::string_view::npos;
        std::string_view name = arg.substr(0, eq);
        bool inline_value = eq != std::string_view::npos;
        std::string_view value = inline_value ? arg.substr(eq + 1) : std::string_view{};
        std::string err;
        bool is_help = name == "-h" || name == "--help";
        const flag_option* flag = find_flag(name);
        if (is_help || flag) {
            bool on = true;
            if (inline_value) err = cmdline::parse_bool(value, on);
            if (err.empty() && is_help && on) return "help";
            if (err.empty() && flag) flag->set(o, on);
        } else if (const value_option* opt = find_value_option(name)) {
            if (!inline_value && i + 1 >= argc) return std::string(name) + " needs a value (see --help)";
            err = opt->set(inline_value ? value : std::string_view(argv[++i]), o);
        } else {
            return "unknown option '" + std::string(name) + "' (see --help)";
        }
        if (!err.empty()) return std::string(name) + ": " + err;
    }
    return check(o);
}

}  // namespace wsring::bench

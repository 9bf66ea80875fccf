// One table of options: name, value kind, help line, and where the value
// goes. Values are parsed by apps/cmdline.hpp (shared with ws-bench):
// durations take decimal seconds at millisecond resolution ("0.5"), sizes an
// optional K/M/G suffix (binary: 1K = 1024), and nothing overflows, rounds
// or trails garbage silently. Both "--opt value" and "--opt=value"; a flag
// takes no value or "=true"/"=false".
#include "apps/ws_server/options.hpp"

#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <set>
#include <sstream>
#include <string_view>
#include <thread>
#include <vector>

#include "apps/cmdline.hpp"

namespace wsring::apps {

namespace {

using std::chrono::milliseconds;

// Timeouts beyond about 115 days are surely a typo.
constexpr milliseconds max_timeout{10'000'000'000};

// A setter parses its value and stores it; it returns "" or the reason the
// value was refused. A flag's setter gets "true" when no "=value" was given.
struct option {
    const char* name;
    const char* arg;   // nullptr: a flag
    const char* help;
    std::function<std::string(const cli&)> show_default;
    std::function<std::string(std::string_view, cli&)> set;
};

// The size options: bytes, at least 1 (0 would refuse every message or
// header, or stop every connection reading at once).
template <class Store>
auto size_setter(Store store) {
    return [store](std::string_view v, cli& c) {
        std::uint64_t n = 0;
        std::string err = cmdline::parse_size(v, 1, std::numeric_limits<std::size_t>::max(), n);
        if (err.empty()) store(c, static_cast<std::size_t>(n));
        return err;
    };
}

// A timeout in seconds: `min` is 0 where 0 means "never" (or "at once" for
// the shutdown drain), 1 ms where 0 would only mean "time out at once".
auto time_setter(milliseconds net::session_options::*member, milliseconds min) {
    return [member, min](std::string_view v, cli& c) {
        return cmdline::parse_seconds(v, min, max_timeout, c.server.session.*member);
    };
}

auto show_time(milliseconds net::session_options::*member) {
    return [member](const cli& c) { return cmdline::seconds_text(c.server.session.*member); };
}

// A flag stored in a bool of the cli.
template <class Field>
auto flag_setter(Field field) {
    return [field](std::string_view v, cli& c) { return cmdline::parse_bool(v, field(c)); };
}

// One of a fixed set of words.
std::string one_of(std::string_view v, std::initializer_list<std::string_view> words) {
    std::string list;
    for (std::string_view w : words) {
        if (v == w) return {};
        list += (list.empty() ? "" : ", ") + std::string(w);
    }
    return "'" + std::string(v) + "' is not one of " + list;
}

std::vector<option> table() {
    return {
        {"mode", "echo|broadcast|pubsub", "what the server does with a message",
         [](const cli& c) { return c.mode; },
         [](std::string_view v, cli& c) {
             std::string err = one_of(v, {"echo", "broadcast", "pubsub"});
             if (err.empty()) c.mode = v;
             return err;
         }},
        {"host", "ADDR", "address to listen on", [](const cli& c) { return c.server.host; },
         [](std::string_view v, cli& c) {
             c.server.host = v;
             return v.empty() ? std::string("needs a value") : std::string{};
         }},
        {"port", "PORT", "TCP port (0: any free port, printed at start)",
         [](const cli& c) { return std::to_string(c.server.port); },
         [](std::string_view v, cli& c) {
             std::uint64_t n = 0;
             std::string err = cmdline::parse_uint(v, 0, 65535, n);
             if (err.empty()) c.server.port = static_cast<std::uint16_t>(n);
             return err;
         }},
        {"threads", "N", "reactor threads, one listener each (0: one per core)",
         [](const cli&) {
             return "0 (one per core: " + std::to_string(std::thread::hardware_concurrency()) + " here)";
         },
         [](std::string_view v, cli& c) {
             std::uint64_t n = 0;
             std::string err = cmdline::parse_uint(v, 0, 1024, n);
             if (err.empty()) c.server.threads = static_cast<unsigned>(n);
             return err;
         }},
        {"backend", "epoll|uring", "I/O backend (uring falls back to epoll, saying why)",
         [](const cli& c) { return c.backend; },
         [](std::string_view v, cli& c) {
             std::string err = one_of(v, {"epoll", "uring"});
             if (!err.empty()) return err;
             c.backend = v;
             c.server.backend = v == "uring" ? net::backend_kind::uring : net::backend_kind::epoll;
             return err;
         }},
        {"max-message", "BYTES", "largest message accepted (beyond: close 1009)",
         [](const cli& c) { return std::to_string(c.server.session.max_message); },
         size_setter([](cli& c, std::size_t n) { c.server.session.max_message = n; })},
        {"max-connections", "N", "open WebSockets, all threads (beyond: 503)",
         [](const cli& c) { return std::to_string(c.server.session.max_connections); },
         [](std::string_view v, cli& c) {
             return cmdline::parse_uint(v, 1, cmdline::no_limit, c.server.session.max_connections);
         }},
        {"max-connections-per-ip", "N",
         "open WebSockets from one client address, all threads (beyond: 503; 0: no limit)",
         [](const cli& c) { return std::to_string(c.per_address.max_connections_per_ip); },
         [](std::string_view v, cli& c) {
             std::uint64_t n = 0;
             std::string err = cmdline::parse_uint(v, 0, std::numeric_limits<std::uint32_t>::max(), n);
             if (err.empty()) c.per_address.max_connections_per_ip = static_cast<std::uint32_t>(n);
             return err;
         }},
        {"max-handshakes-per-ip-per-s", "N",
         "upgrade attempts per second from one client address, bursts up to N (beyond: 429; 0: no limit)",
         [](const cli& c) { return std::to_string(static_cast<std::uint64_t>(c.per_address.handshakes_per_s)); },
         [](std::string_view v, cli& c) {
             std::uint64_t n = 0;
             std::string err = cmdline::parse_uint(v, 0, 1'000'000, n);
             if (err.empty()) c.per_address.handshakes_per_s = static_cast<double>(n);
             return err;
         }},
        {"trusted-proxy", "ADDR[/BITS]",
         "repeatable: a proxy (e.g. nginx) whose X-Forwarded-For names the client for the per-IP limits",
         nullptr,
         [](std::string_view v, cli& c) {
             auto n = net::ip_network::parse(v);
             if (!n) return "'" + std::string(v) + "' is not an address or ADDR/BITS";
             c.server.session.trusted_proxies.push_back(*n);
             return std::string{};
         }},
        {"max-header", "BYTES", "HTTP request header block (beyond: 431)",
         [](const cli& c) { return std::to_string(c.server.session.max_header); },
         size_setter([](cli& c, std::size_t n) { c.server.session.max_header = n; })},
        {"max-backpressure", "BYTES",
         "queued output per connection: echo stops reading it (resumes at 1/4); "
         "broadcast/pubsub treat the receiver as a slow consumer",
         [](const cli& c) { return std::to_string(c.server.session.high_water); },
         size_setter([](cli& c, std::size_t n) {
             c.server.session.high_water = n;
             c.server.session.low_water = n / 4;
             c.fanout.max_backpressure = n;
         })},
        {"slow-consumer", "close|skip",
         "broadcast/pubsub receiver past --max-backpressure: close 1008, or skip messages",
         [](const cli& c) { return c.fanout.slow == modes::slow_consumer_policy::skip ? "skip" : "close"; },
         [](std::string_view v, cli& c) {
             std::string err = one_of(v, {"close", "skip"});
             if (err.empty())
                 c.fanout.slow = v == "skip" ? modes::slow_consumer_policy::skip : modes::slow_consumer_policy::close;
             return err;
         }},
        {"no-echo-self", nullptr,
         "broadcast/pubsub: do not send a message back to its sender (=false: do send it)", nullptr,
         [](std::string_view v, cli& c) {
             bool on = false;
             std::string err = cmdline::parse_bool(v, on);
             if (err.empty()) c.fanout.echo_self = !on;
             return err;
         }},
        {"history-size", "N",
         "pubsub/broadcast: messages kept per topic for wsring.v1 clients that come back with "
         "?since= (0: no history; positions still work)",
         [](const cli& c) { return std::to_string(c.fanout.history.max_messages); },
         [](std::string_view v, cli& c) {
             std::uint64_t n = 0;
             std::string err = cmdline::parse_uint(v, 0, std::numeric_limits<std::uint32_t>::max(), n);
             if (err.empty()) c.fanout.history.max_messages = static_cast<std::size_t>(n);
             return err;
         }},
        {"history-ttl", "S", "pubsub/broadcast: seconds a message stays in history (0: no age limit)",
         [](const cli& c) { return cmdline::seconds_text(c.fanout.history.ttl); },
         [](std::string_view v, cli& c) {
             return cmdline::parse_seconds(v, milliseconds(0), max_timeout, c.fanout.history.ttl);
         }},
        {"history-max-bytes", "BYTES", "pubsub/broadcast: history of all topics together, oldest dropped first",
         [](const cli& c) { return std::to_string(c.fanout.history.max_bytes); },
         size_setter([](cli& c, std::size_t n) { c.fanout.history.max_bytes = n; })},
        {"api-key", "KEY",
         "pubsub/broadcast: serve POST /publish/<topic> to callers sending "
         "'Authorization: apikey KEY' (without it: no HTTP publish)",
         nullptr,
         [](std::string_view v, cli& c) {
             c.fanout.api_key = v;
             return v.empty() ? std::string("needs a key") : std::string{};
         }},
        {"redis", "URL",
         "pubsub/broadcast: share topics with other nodes through Redis at "
         "redis://HOST:PORT; repeat to spread topics over several (docs/cluster.md)",
         nullptr,
         [](std::string_view v, cli& c) {
             std::string why;
             auto a = cluster::parse_redis_url(v, why);
             if (a) c.redis.push_back(std::move(*a));
             return why;
         }},
        {"metrics-port", "PORT",
         "serve GET /metrics (Prometheus) on this port of --host only, plain HTTP, instead of the "
         "WebSocket port (0: any free port, printed at start)",
         nullptr,
         [](std::string_view v, cli& c) {
             std::uint64_t n = 0;
             std::string err = cmdline::parse_uint(v, 0, 65535, n);
             if (err.empty()) c.metrics_port = static_cast<std::uint16_t>(n);
             return err;
         }},
        {"web", "DIR",
         "serve the files of DIR to plain GET/HEAD, read once at startup; / and /chat/<room> "
         "answer index.html (the chat demo: --web web --mode pubsub)",
         nullptr,
         [](std::string_view v, cli& c) {
             c.web = v;
             return v.empty() ? std::string("needs a folder") : std::string{};
         }},
        {"jwt-secret", "SECRET",
         "every upgrade needs a JWT (Authorization: Bearer, or ?token=) signed HS256 with SECRET "
         "(visible in ps: prefer --jwt-secret-file)",
         nullptr,
         [](std::string_view v, cli& c) {
             c.access.jwt_secret = v;
             return v.empty() ? std::string("needs a secret") : std::string{};
         }},
        {"jwt-secret-file", "FILE", "as --jwt-secret, the secret read from FILE (one trailing newline dropped)",
         nullptr,
         [](std::string_view v, cli& c) {
             c.access.jwt_secret_file = v;
             return v.empty() ? std::string("needs a file") : std::string{};
         }},
        {"jwt-public-key", "FILE",
         "every upgrade needs a JWT signed with this PEM public key (RSA: RS256, EC P-256: ES256)",
         nullptr,
         [](std::string_view v, cli& c) {
             c.access.jwt_public_key = v;
             return v.empty() ? std::string("needs a file") : std::string{};
         }},
        {"jwt-issuer", "ISS", "with a JWT key: the token's iss must be ISS", nullptr,
         [](std::string_view v, cli& c) {
             c.access.issuer = v;
             return v.empty() ? std::string("needs a value") : std::string{};
         }},
        {"jwt-audience", "AUD", "with a JWT key: the token's aud must be or contain AUD", nullptr,
         [](std::string_view v, cli& c) {
             c.access.audience = v;
             return v.empty() ? std::string("needs a value") : std::string{};
         }},
        {"jwt-leeway", "S",
         "with a JWT key: whole seconds of clock skew allowed on exp and nbf; a connection is "
         "closed 1008 at exp + this",
         [](const cli& c) { return std::to_string(c.access.leeway_s); },
         [](std::string_view v, cli& c) {
             std::uint64_t n = 0;
             std::string err = cmdline::parse_uint(v, 0, 3600, n);
             if (err.empty()) c.access.leeway_s = static_cast<std::int64_t>(n);
             return err;
         }},
        {"acl", "FILE",
         "with a JWT key: JSON mapping each role to the topic patterns it may subscribe and "
         "publish to (docs/auth.md); without it a valid token may do everything",
         nullptr,
         [](std::string_view v, cli& c) {
             c.access.acl = v;
             return v.empty() ? std::string("needs a file") : std::string{};
         }},
        {"allowed-origin", "PATTERN",
         "repeatable: an upgrade whose Origin matches none of these ('*' wildcard) gets 403 "
         "(requests without Origin pass unless --require-origin)",
         nullptr,
         [](std::string_view v, cli& c) {
             c.access.allowed_origins.emplace_back(v);
             return v.empty() ? std::string("needs a pattern") : std::string{};
         }},
        {"require-origin", nullptr, "refuse upgrades without an Origin header (403)", nullptr,
         flag_setter([](cli& c) -> bool& { return c.access.require_origin; })},
        {"handshake-timeout", "S", "seconds to send a complete HTTP request",
         show_time(&net::session_options::handshake_timeout),
         time_setter(&net::session_options::handshake_timeout, milliseconds(1))},
        {"idle-timeout", "S", "seconds of silence before close 1001 (0: never)",
         show_time(&net::session_options::idle_timeout),
         time_setter(&net::session_options::idle_timeout, milliseconds(0))},
        {"ping-interval", "S", "seconds of silence before a ping; no pong in as long: close (0: never)",
         show_time(&net::session_options::ping_interval),
         time_setter(&net::session_options::ping_interval, milliseconds(0))},
        {"close-timeout", "S", "seconds to wait for the peer's close frame / EOF",
         show_time(&net::session_options::close_timeout),
         time_setter(&net::session_options::close_timeout, milliseconds(1))},
        {"shutdown-timeout", "S", "seconds SIGINT/SIGTERM waits for connections to close (0: none)",
         [](const cli& c) { return cmdline::seconds_text(c.server.reactor.shutdown_timeout); },
         [](std::string_view v, cli& c) {
             return cmdline::parse_seconds(v, milliseconds(0), max_timeout, c.server.reactor.shutdown_timeout);
         }},
        {"tls-cert", "FILE",
         "PEM certificate chain (server first): the port then speaks only TLS (wss://); "
         "needs --tls-key",
         nullptr,
         [](std::string_view v, cli& c) {
             c.tls_cert = v;
             return v.empty() ? std::string("needs a file") : std::string{};
         }},
        {"tls-key", "FILE", "PEM private key of --tls-cert (unencrypted)", nullptr,
         [](std::string_view v, cli& c) {
             c.tls_key = v;
             return v.empty() ? std::string("needs a file") : std::string{};
         }},
        {"deflate", nullptr,
         "negotiate permessage-deflate (RFC 7692) with clients that offer it; by default "
         "without context takeover, one compressor per thread for every connection",
         nullptr, flag_setter([](cli& c) -> bool& { return c.server.session.deflate.enabled; })},
        {"deflate-takeover", nullptr,
         "with --deflate: keep compression contexts per connection (better ratio; up to "
         "about 310 KiB allocated, ~110 KiB resident, per connection that has sent and received "
         "compressed messages)",
         nullptr, flag_setter([](cli& c) -> bool& { return c.server.session.deflate.takeover; })},
        {"deflate-level", "N", "with --deflate: zlib compression level, 1 (fast) to 9 (small)",
         [](const cli& c) { return std::to_string(c.server.session.deflate.level); },
         [](std::string_view v, cli& c) {
             std::uint64_t n = 0;
             std::string err = cmdline::parse_uint(v, 1, 9, n);
             if (err.empty()) c.server.session.deflate.level = static_cast<int>(n);
             return err;
         }},
        {"deflate-window", "BITS",
         "with --deflate: our compressor's largest window, 2^BITS bytes (9..15; less memory "
         "per context, worse ratio)",
         [](const cli& c) { return std::to_string(c.server.session.deflate.window_bits); },
         [](std::string_view v, cli& c) {
             std::uint64_t n = 0;
             std::string err = cmdline::parse_uint(v, 9, 15, n);
             if (err.empty()) c.server.session.deflate.window_bits = static_cast<std::uint8_t>(n);
             return err;
         }},
        {"deflate-mem-level", "N",
         "with --deflate: zlib memLevel 1..9, the hash table's size (2^(N+9) bytes per "
         "compressor; 4 saves about 60 KiB per --deflate-takeover connection for a little ratio)",
         [](const cli& c) { return std::to_string(c.server.session.deflate.mem_level); },
         [](std::string_view v, cli& c) {
             std::uint64_t n = 0;
             std::string err = cmdline::parse_uint(v, 1, 9, n);
             if (err.empty()) c.server.session.deflate.mem_level = static_cast<int>(n);
             return err;
         }},
        {"deflate-threshold", "BYTES", "with --deflate: shorter messages are sent uncompressed",
         [](const cli& c) { return std::to_string(c.server.session.deflate.threshold); },
         [](std::string_view v, cli& c) {
             std::uint64_t n = 0;
             std::string err = cmdline::parse_size(v, 0, std::numeric_limits<std::uint32_t>::max(), n);
             if (err.empty()) c.server.session.deflate.threshold = static_cast<std::size_t>(n);
             return err;
         }},
        {"log-format", "text|json",
         "operator log lines as 'ws-server: ...' text, or one JSON object per line (time, level, "
         "program, event, msg); stdout and stderr either way",
         [](const cli& c) { return c.log_format == net::log_format::json ? "json" : "text"; },
         [](std::string_view v, cli& c) {
             std::string err = one_of(v, {"text", "json"});
             if (err.empty()) c.log_format = v == "json" ? net::log_format::json : net::log_format::text;
             return err;
         }},
        {"log-level", "error|warn|info|debug", "the least severe log lines written (never one per message)",
         [](const cli& c) { return std::string(net::name(c.log_level)); },
         [](std::string_view v, cli& c) {
             using net::log_level;
             for (auto l : {log_level::error, log_level::warn, log_level::info, log_level::debug})
                 if (v == net::name(l)) {
                     c.log_level = l;
                     return std::string{};
                 }
             return one_of(v, {"error", "warn", "info", "debug"});
         }},
        {"config", "FILE",
         "read options from FILE, one 'option = value' per line ('#' starts a comment line; a "
         "flag alone or '= true'); options on the command line win; SIGHUP reads it again",
         nullptr,
         [](std::string_view v, cli& c) {
             c.config = v;
             return v.empty() ? std::string("needs a file") : std::string{};
         }},
        {"help", nullptr, "print this help and exit", nullptr,
         [](std::string_view v, cli& c) { return cmdline::parse_bool(v, c.help); }},
    };
}

// The option names argv sets (and --config's value): a file's line for one
// of them is skipped, so the command line wins option by option.
std::set<std::string, std::less<>> given_names(int argc, char** argv, std::string& config) {
    std::set<std::string, std::less<>> names;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a.substr(0, 2) != "--") continue;
        a.remove_prefix(2);
        const auto eq = a.find('=');
        names.emplace(a.substr(0, eq));
        if (a.substr(0, eq) == "config")
            config = eq != std::string_view::npos ? std::string(a.substr(eq + 1)) : i + 1 < argc ? argv[i + 1] : "";
    }
    return names;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

// --config FILE: each line "name = value", "name" (a flag) or a comment;
// errors name the file and line. Values run to the end of the line (a
// secret or a pattern may hold '#'), so comments are whole lines only.
std::string apply_config(const std::vector<option>& opts, const std::string& path,
                         const std::set<std::string, std::less<>>& given, cli& out) {
    std::ifstream in(path);
    if (!in) return "--config: cannot read " + path;
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        const std::string where = path + ":" + std::to_string(n) + ": ";
        std::string_view l = trim(line);
        if (l.empty() || l.front() == '#') continue;
        const auto eq = l.find('=');
        std::string_view name = trim(l.substr(0, eq));
        if (name.substr(0, 2) == "--") name.remove_prefix(2);
        if (name == "config") return where + "a config file cannot name another (--config)";
        if (name == "help") return where + "'help' is not a setting";
        if (given.count(name)) continue;  // the command line wins
        std::string arg(name);
        if (eq != std::string_view::npos) arg += "=" + std::string(trim(l.substr(eq + 1)));
        int i = 0;
        if (std::string why = cmdline::apply_long_option(opts, 0, nullptr, i, arg, out); !why.empty())
            return where + why;
    }
    return {};
}

}  // namespace

bool parse_cli(int argc, char** argv, cli& out, std::string& error) {
    auto opts = table();
    std::string config;
    const auto given = given_names(argc, argv, config);
    if (given.count("config")) {
        if (config.empty()) {
            error = "--config needs a value (FILE)";
            return false;
        }
        if (error = apply_config(opts, config, given, out); !error.empty()) return false;
    }
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "-h") arg = "--help";
        if (arg.substr(0, 2) != "--") {
            error = "unexpected argument '" + std::string(arg) + "' (ws-server takes only options; see --help)";
            return false;
        }
        arg.remove_prefix(2);
        if (error = cmdline::apply_long_option(opts, argc, argv, i, arg, out); !error.empty()) return false;
    }
    // A knob without the feature would be silently ignored: say so instead.
    const auto& z = out.server.session.deflate;
    const net::deflate_options plain{};
    if (!z.enabled && (z.takeover || z.level != plain.level || z.window_bits != plain.window_bits ||
                       z.mem_level != plain.mem_level || z.threshold != plain.threshold)) {
        error = "the --deflate-* options need --deflate";
        return false;
    }
    if (out.mode == "echo" && !out.fanout.api_key.empty()) {
        error = "--api-key needs --mode pubsub or broadcast (echo has no topics to publish to)";
        return false;
    }
    if (out.mode == "echo" && !out.redis.empty()) {
        error = "--redis needs --mode pubsub or broadcast (echo has no topics to share)";
        return false;
    }
    if (std::string why = check(out.access); !why.empty()) {
        error = why;
        return false;
    }
    if (out.tls_cert.empty() != out.tls_key.empty()) {
        error = out.tls_cert.empty() ? "--tls-key needs --tls-cert" : "--tls-cert needs --tls-key";
        return false;
    }
    return true;
}

std::string help_text() {
    cli defaults;
    std::ostringstream o;
    o << "usage: ws-server [options]\n"
         "A WebSocket (RFC 6455) server: one reactor per thread; GET /healthz answers 200.\n"
         "SIGINT/SIGTERM: close every connection with 1001, wait, exit 0.\n"
         "Sizes take K, M or G (1K = 1024); seconds take up to 3 decimals. A flag may be\n"
         "written --flag=true or --flag=false. A bad option or value: one line on stderr, exit 2.\n"
         "\noptions:\n";
    for (const auto& opt : table()) {
        std::string left = std::string("  --") + opt.name + (opt.arg ? std::string(" ") + opt.arg : "");
        o << left;
        o << std::string(left.size() < 34 ? 34 - left.size() : 1, ' ') << opt.help;
        if (opt.show_default) o << " [default: " << opt.show_default(defaults) << "]";
        o << "\n";
    }
    return o.str();
}

}  // namespace wsring::apps

// One table of options: name, value kind, help line, and where the value
// goes. Durations take fractional seconds ("0.5"), sizes take an optional
// K/M/G suffix (binary: 1K = 1024). Both "--opt value" and "--opt=value".
#include "apps/ws_server/options.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string_view>
#include <vector>

namespace wsring::apps {

namespace {

using std::chrono::milliseconds;

bool parse_u64(std::string_view s, std::uint64_t& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

bool parse_size(std::string_view s, std::uint64_t& out) {
    std::uint64_t scale = 1;
    if (!s.empty()) {
        switch (s.back()) {
        case 'k': case 'K': scale = 1ull << 10; break;
        case 'm': case 'M': scale = 1ull << 20; break;
        case 'g': case 'G': scale = 1ull << 30; break;
        default: break;
        }
        if (scale != 1) s.remove_suffix(1);
    }
    if (!parse_u64(s, out)) return false;
    out *= scale;
    return true;
}

bool parse_seconds(std::string_view s, milliseconds& out) {
    std::string tmp(s);
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(tmp.c_str(), &end);
    if (tmp.empty() || *end != '\0' || errno != 0 || !std::isfinite(v) || v < 0 || v > 1e7)
        return false;
    out = milliseconds(static_cast<std::int64_t>(std::llround(v * 1000)));
    return true;
}

std::string seconds_text(milliseconds d) {
    std::ostringstream o;
    o << static_cast<double>(d.count()) / 1000.0;
    return o.str();
}

struct option {
    const char* name;
    const char* arg;   // nullptr: a flag
    const char* help;
    std::function<std::string(const cli&)> show_default;
    std::function<bool(std::string_view, cli&)> set;
};

std::vector<option> table() {
    auto size_opt = [](auto member) {
        return [member](std::string_view v, cli& c) {
            std::uint64_t n = 0;
            if (!parse_size(v, n) || n == 0) return false;
            c.server.session.*member = static_cast<std::size_t>(n);
            return true;
        };
    };
    auto time_opt = [](milliseconds net::session_options::*member) {
        return [member](std::string_view v, cli& c) {
            return parse_seconds(v, c.server.session.*member);
        };
    };
    auto show_time = [](milliseconds net::session_options::*member) {
        return [member](const cli& c) { return seconds_text(c.server.session.*member); };
    };
    return {
        {"mode", "echo|broadcast|pubsub", "what the server does with a message",
         [](const cli& c) { return c.mode; },
         [](std::string_view v, cli& c) {
             c.mode = v;
             return v == "echo" || v == "broadcast" || v == "pubsub";
         }},
        {"host", "ADDR", "address to listen on", [](const cli& c) { return c.server.host; },
         [](std::string_view v, cli& c) {
             c.server.host = v;
             return !v.empty();
         }},
        {"port", "PORT", "TCP port (0: any free port, printed at start)",
         [](const cli& c) { return std::to_string(c.server.port); },
         [](std::string_view v, cli& c) {
             std::uint64_t n = 0;
             if (!parse_u64(v, n) || n > 65535) return false;
             c.server.port = static_cast<std::uint16_t>(n);
             return true;
         }},
        {"threads", "N", "reactor threads, one listener each (0: one per core)",
         [](const cli&) { return std::to_string(std::thread::hardware_concurrency()); },
         [](std::string_view v, cli& c) {
             std::uint64_t n = 0;
             if (!parse_u64(v, n) || n > 1024) return false;
             c.server.threads = static_cast<unsigned>(n);
             return true;
         }},
        {"backend", "epoll|uring", "I/O backend", [](const cli& c) { return c.backend; },
         [](std::string_view v, cli& c) {
             c.backend = v;
             c.server.backend = v == "uring" ? net::backend_kind::uring : net::backend_kind::epoll;
             return v == "epoll" || v == "uring";
         }},
        {"max-message", "BYTES", "largest message accepted (beyond: close 1009)",
         [](const cli& c) { return std::to_string(c.server.session.max_message); },
         size_opt(&net::session_options::max_message)},
        {"max-connections", "N", "open WebSockets, all threads (beyond: 503)",
         [](const cli& c) { return std::to_string(c.server.session.max_connections); },
         [](std::string_view v, cli& c) { return parse_u64(v, c.server.session.max_connections); }},
        {"max-header", "BYTES", "HTTP request header block (beyond: 431)",
         [](const cli& c) { return std::to_string(c.server.session.max_header); },
         size_opt(&net::session_options::max_header)},
        {"max-backpressure", "BYTES",
         "queued output per connection: echo stops reading it (resumes at 1/4); "
         "broadcast/pubsub treat the receiver as a slow consumer",
         [](const cli& c) { return std::to_string(c.server.session.high_water); },
         [](std::string_view v, cli& c) {
             std::uint64_t n = 0;
             if (!parse_size(v, n) || n == 0) return false;
             c.server.session.high_water = static_cast<std::size_t>(n);
             c.server.session.low_water = static_cast<std::size_t>(n / 4);
             c.fanout.max_backpressure = static_cast<std::size_t>(n);
             return true;
         }},
        {"slow-consumer", "close|skip",
         "broadcast/pubsub receiver past --max-backpressure: close 1008, or skip messages",
         [](const cli& c) { return c.fanout.slow == net::slow_consumer_policy::skip ? "skip" : "close"; },
         [](std::string_view v, cli& c) {
             c.fanout.slow = v == "skip" ? net::slow_consumer_policy::skip : net::slow_consumer_policy::close;
             return v == "close" || v == "skip";
         }},
        {"no-echo-self", nullptr, "broadcast/pubsub: do not send a message back to its sender",
         nullptr,
         [](std::string_view, cli& c) {
             c.fanout.echo_self = false;
             return true;
         }},
        {"handshake-timeout", "S", "seconds to send a complete HTTP request",
         show_time(&net::session_options::handshake_timeout),
         time_opt(&net::session_options::handshake_timeout)},
        {"idle-timeout", "S", "seconds of silence before close 1001 (0: never)",
         show_time(&net::session_options::idle_timeout),
         time_opt(&net::session_options::idle_timeout)},
        {"ping-interval", "S", "seconds of silence before a ping; no pong in as long: close (0: never)",
         show_time(&net::session_options::ping_interval),
         time_opt(&net::session_options::ping_interval)},
        {"close-timeout", "S", "seconds to wait for the peer's close frame / EOF",
         show_time(&net::session_options::close_timeout),
         time_opt(&net::session_options::close_timeout)},
        {"shutdown-timeout", "S", "seconds SIGINT/SIGTERM waits for connections to close",
         [](const cli& c) { return seconds_text(c.server.reactor.shutdown_timeout); },
         [](std::string_view v, cli& c) { return parse_seconds(v, c.server.reactor.shutdown_timeout); }},
        {"help", nullptr, "print this help and exit", nullptr,
         [](std::string_view, cli& c) {
             c.help = true;
             return true;
         }},
    };
}

}  // namespace

bool parse_cli(int argc, char** argv, cli& out, std::string& error) {
    auto opts = table();
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "-h") arg = "--help";
        if (arg.substr(0, 2) != "--") {
            error = "unexpected argument '" + std::string(arg) + "'";
            return false;
        }
        arg.remove_prefix(2);
        std::string_view value;
        bool inline_value = false;
        if (auto eq = arg.find('='); eq != std::string_view::npos) {
            value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
            inline_value = true;
        }
        const option* o = nullptr;
        for (auto& cand : opts)
            if (arg == cand.name) o = &cand;
        if (!o) {
            error = "unknown option --" + std::string(arg);
            return false;
        }
        if (o->arg && !inline_value) {
            if (i + 1 >= argc) {
                error = "--" + std::string(arg) + " needs a value (" + o->arg + ")";
                return false;
            }
            value = argv[++i];
        }
        if (!o->set(value, out)) {
            error = "bad value '" + std::string(value) + "' for --" + std::string(arg) +
                    (o->arg ? std::string(" (") + o->arg + ")" : "");
            return false;
        }
    }
    if (out.server.session.low_water > out.server.session.high_water)
        out.server.session.low_water = out.server.session.high_water / 4;
    return true;
}

std::string help_text() {
    cli defaults;
    std::ostringstream o;
    o << "usage: ws-server [options]\n"
         "A WebSocket (RFC 6455) server: one reactor per thread; GET /healthz answers 200.\n"
         "SIGINT/SIGTERM: close every connection with 1001, wait, exit 0.\n\noptions:\n";
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

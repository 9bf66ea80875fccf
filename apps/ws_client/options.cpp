// One table of options: name, value kind, help line, default, and where the
// value goes (the shape of apps/ws_server/options.cpp). Durations are
// decimal seconds at millisecond resolution ("0.5"); sizes take K/M/G.
// Both "--opt value" and "--opt=value"; a flag takes no value or "=true".
#include "apps/ws_client/options.hpp"

#include <functional>
#include <sstream>
#include <string_view>
#include <vector>

#include "apps/cmdline.hpp"

namespace wsring::apps {

namespace {

using std::chrono::milliseconds;
using net::ws_client_options;

constexpr milliseconds max_time{86'400'000};  // a day: beyond is surely a typo

struct option {
    const char* name;
    const char* arg;  // nullptr: a flag
    const char* help;
    std::function<std::string(const client_cli&)> show_default;
    std::function<std::string(std::string_view, client_cli&)> set;
};

// A duration of the client's options; `min` 0 where 0 means "never".
auto time_setter(milliseconds ws_client_options::*member, milliseconds min) {
    return [member, min](std::string_view v, client_cli& c) {
        return cmdline::parse_seconds(v, min, max_time, c.client.*member);
    };
}
auto show_time(milliseconds ws_client_options::*member) {
    return [member](const client_cli& c) { return cmdline::seconds_text(c.client.*member); };
}
auto backoff_setter(milliseconds core::backoff_policy::*member, milliseconds min) {
    return [member, min](std::string_view v, client_cli& c) {
        return cmdline::parse_seconds(v, min, max_time, c.client.backoff.*member);
    };
}
auto show_backoff(milliseconds core::backoff_policy::*member) {
    return [member](const client_cli& c) { return cmdline::seconds_text(c.client.backoff.*member); };
}
auto flag(bool client_cli::*member) {
    return [member](std::string_view v, client_cli& c) { return cmdline::parse_bool(v, c.*member); };
}

std::vector<option> table() {
    return {
        {"hex", nullptr, "write binary messages as one line of hex each (default: the raw bytes)", nullptr,
         flag(&client_cli::hex)},
        {"header", "'K: V'", "an extra request header (repeatable)", nullptr,
         [](std::string_view v, client_cli& c) {
             const auto colon = v.find(':');
             if (colon == 0 || colon == std::string_view::npos) return std::string("expects 'Name: value'");
             if (v.find_first_of("\r\n") != std::string_view::npos) return std::string("no line breaks allowed");
             c.client.headers.emplace_back(v);
             return std::string{};
         }},
        {"subprotocol", "NAME", "offer this subprotocol (repeatable; --resume offers wsring.v1)", nullptr,
         [](std::string_view v, client_cli& c) {
             if (v.empty()) return std::string("needs a value");
             c.client.subprotocols.emplace_back(v);
             return std::string{};
         }},
        {"reconnect", nullptr, "after any loss, connect again (backoff with full jitter) until stdin ends",
         nullptr, [](std::string_view v, client_cli& c) { return cmdline::parse_bool(v, c.client.reconnect); }},
        {"backoff-base", "S", "--reconnect: attempt n waits random [0, min(cap, base*2^n)]",
         show_backoff(&core::backoff_policy::base), backoff_setter(&core::backoff_policy::base, milliseconds(0))},
        {"backoff-cap", "S", "--reconnect: the longest wait (a 503's Retry-After may exceed it)",
         show_backoff(&core::backoff_policy::cap), backoff_setter(&core::backoff_policy::cap, milliseconds(0))},
        {"stable", "S", "--reconnect: a connection open this long starts the backoff over",
         show_backoff(&core::backoff_policy::stable), backoff_setter(&core::backoff_policy::stable, milliseconds(0))},
        {"max-attempts", "N", "--reconnect: give up after N failed attempts in a row (0: never)",
         [](const client_cli& c) { return std::to_string(c.client.max_attempts); },
         [](std::string_view v, client_cli& c) {
             std::uint64_t n = 0;
             std::string err = cmdline::parse_uint(v, 0, 1'000'000, n);
             if (err.empty()) c.client.max_attempts = static_cast<unsigned>(n);
             return err;
         }},
        {"resume", nullptr, "speak wsring.v1: print payloads without their position, come back with ?since=",
         nullptr, flag(&client_cli::resume)},
        {"positions", nullptr, "--resume: print each message's position line too", nullptr,
         flag(&client_cli::positions)},
        {"deflate", nullptr,
         "offer permessage-deflate (RFC 7692): messages compressed both ways if the server agrees", nullptr,
         [](std::string_view v, client_cli& c) { return cmdline::parse_bool(v, c.client.deflate); }},
        {"ca", "FILE", "wss://: trust the PEM certificates in FILE instead of the system's CA store", nullptr,
         [](std::string_view v, client_cli& c) {
             if (v.empty()) return std::string("needs a file");
             c.ca_file = v;
             return std::string{};
         }},
        {"insecure", nullptr, "wss://: check no certificate and no host name (a self-signed test server)",
         nullptr, flag(&client_cli::insecure)},
        {"max-queued", "SIZE",
         "messages waiting for the connection (or for a slow server) past this: stop reading stdin until "
         "they drain",
         [](const client_cli& c) { return std::to_string(c.client.max_queued); },
         [](std::string_view v, client_cli& c) {
             std::uint64_t n = 0;
             std::string err = cmdline::parse_size(v, 1, std::uint64_t{1} << 40, n);
             if (err.empty()) c.client.max_queued = static_cast<std::size_t>(n);
             return err;
         }},
        {"ping-interval", "S", "send a ping this often (0: never)", show_time(&ws_client_options::ping_interval),
         time_setter(&ws_client_options::ping_interval, milliseconds(0))},
        {"idle-timeout", "S", "nothing received for this long: connection lost (0: never)",
         show_time(&ws_client_options::idle_timeout), time_setter(&ws_client_options::idle_timeout, milliseconds(0))},
        {"connect-timeout", "S", "TCP connect, per address", show_time(&ws_client_options::connect_timeout),
         time_setter(&ws_client_options::connect_timeout, milliseconds(1))},
        {"handshake-timeout", "S", "connected to 101 Switching Protocols",
         show_time(&ws_client_options::handshake_timeout),
         time_setter(&ws_client_options::handshake_timeout, milliseconds(1))},
        {"close-timeout", "S", "our close to theirs, and theirs to the server's TCP close (RFC 6455 §7.1.1)",
         show_time(&ws_client_options::close_timeout), time_setter(&ws_client_options::close_timeout, milliseconds(1))},
        {"max-message", "SIZE", "largest message accepted, inflated size with --deflate (1009 past it)",
         [](const client_cli& c) { return std::to_string(c.client.max_message); },
         [](std::string_view v, client_cli& c) {
             std::uint64_t n = 0;
             std::string err = cmdline::parse_size(v, 1, std::uint64_t{1} << 31, n);
             if (err.empty()) c.client.max_message = static_cast<std::size_t>(n);
             return err;
         }},
        {"backend", "epoll|uring", "the loop's I/O backend (uring falls back to epoll where unavailable)",
         [](const client_cli& c) {
             return std::string(c.client.backend == net::backend_kind::uring ? "uring" : "epoll");
         },
         [](std::string_view v, client_cli& c) {
             if (v != "epoll" && v != "uring") return std::string("expected epoll or uring");
             c.client.backend = v == "uring" ? net::backend_kind::uring : net::backend_kind::epoll;
             return std::string{};
         }},
        {"help", nullptr, "print this help and exit", nullptr, flag(&client_cli::help)},
    };
}

// The checks across options, after all were read.
std::string check(client_cli& out) {
    if (out.help) return {};
    if (out.client.url.empty()) return "needs a URL (ws[s]://HOST[:PORT]/PATH)";
    net::ws_url u;
    if (auto err = net::parse_ws_url(out.client.url, u); !err.empty()) return out.client.url + ": " + err;
    if (!u.tls && (!out.ca_file.empty() || out.insecure)) return "--ca and --insecure are for wss:// URLs";
    if (!out.ca_file.empty() && out.insecure) return "--ca and --insecure contradict each other: pick one";
    if (out.positions && !out.resume) return "--positions needs --resume";
    if (out.client.backoff.cap < out.client.backoff.base) return "--backoff-cap is below --backoff-base";
    if (out.resume) out.client.subprotocols.emplace_back("wsring.v1");
    return {};
}

}  // namespace

bool parse_cli(int argc, char** argv, client_cli& out, std::string& error) {
    const auto opts = table();
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "-h") arg = "--help";
        if (!arg.starts_with("--")) {
            if (!out.client.url.empty()) {
                error = "unexpected argument '" + std::string(arg) + "' (one URL only; see --help)";
                return false;
            }
            out.client.url = arg;
            continue;
        }
        arg.remove_prefix(2);
        if (error = cmdline::apply_long_option(opts, argc, argv, i, arg, out); !error.empty()) return false;
    }
    error = check(out);
    return error.empty();
}

std::string help_text() {
    client_cli defaults;
    std::ostringstream o;
    o << "usage: ws-client [options] ws[s]://HOST[:PORT]/PATH\n"
         "A WebSocket (RFC 6455) client: each stdin line is sent as a text message;\n"
         "each message received is written to stdout (text + newline; binary raw or --hex).\n"
         "stdin EOF closes with 1000. Seconds take up to 3 decimals; sizes K, M or G.\n"
         "wss:// checks the server's certificate and name against the system's CAs (or --ca).\n"
         "\nexit status (the last connection's end):\n"
         "  0  closed with 1000 (stdin EOF, or the server's 1000)\n"
         "  1  setup failed before connecting (e.g. an unreadable --ca file)\n"
         "  2  usage error (bad option or URL)\n"
         "  3  could not connect: refused, a TLS failure (a certificate not trusted),\n"
         "     or the handshake was refused (e.g. 503)\n"
         "  4  closed with a code other than 1000: the server's, or ours when the server\n"
         "     broke a rule (1002, 1009 past --max-message...); code and reason on stderr\n"
         "  5  connection lost without a close frame (1006), idle timeout included\n"
         "\noptions:\n";
    for (const auto& opt : table()) {
        std::string left = std::string("  --") + opt.name + (opt.arg ? std::string(" ") + opt.arg : "");
        o << left << std::string(left.size() < 26 ? 26 - left.size() : 1, ' ') << opt.help;
        if (opt.show_default) o << " [default: " << opt.show_default(defaults) << "]";
        o << "\n";
    }
    return o.str();
}

}  // namespace wsring::apps

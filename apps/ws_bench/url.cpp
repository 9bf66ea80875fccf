// Splitting and resolving ws:// and wss:// URLs (RFC 6455 §3: ws-URI = "ws:"
// "//" host [ ":" port ] path [ "?" query ], wss-URI the same over TLS). The query stays part of the path, as the
// request-target of §4.1 requires. IPv6 literals go in brackets.
#include "apps/ws_bench/url.hpp"

#include <netdb.h>

#include <cstring>

namespace wsring::bench {

std::string url::host_header() const {
    bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

namespace {

// Splits "host[:port]" (host may be "[v6]") into its parts.
std::string split_authority(const std::string& auth, url& out) {
    std::string port_text;
    if (!auth.empty() && auth[0] == '[') {
        auto close = auth.find(']');
        if (close == std::string::npos) return "unterminated [IPv6] host";
        out.host = auth.substr(1, close - 1);
        if (close + 1 < auth.size()) {
            if (auth[close + 1] != ':') return "junk after ]";
            port_text = auth.substr(close + 2);
        }
    } else {
        auto colon = auth.rfind(':');
        out.host = auth.substr(0, colon);
        if (colon != std::string::npos) port_text = auth.substr(colon + 1);
    }
    if (out.host.empty()) return "no host";
    if (!port_text.empty()) {
        char* end = nullptr;
        long p = std::strtol(port_text.c_str(), &end, 10);
        if (*end != '\0' || p < 1 || p > 65535) return "bad port '" + port_text + "'";
        out.port = static_cast<std::uint16_t>(p);
    }
    return {};
}

std::string resolve(url& out) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    std::string port = std::to_string(out.port);
    int rc = getaddrinfo(out.host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0) return "cannot resolve '" + out.host + "': " + gai_strerror(rc);
    std::memcpy(&out.addr, res->ai_addr, res->ai_addrlen);
    out.addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return {};
}

}  // namespace

std::string parse_url(const std::string& text, url& out) {
    std::string rest;
    if (text.rfind("ws://", 0) == 0) {
        rest = text.substr(5);
        out.port = 80;
    } else if (text.rfind("wss://", 0) == 0) {
        rest = text.substr(6);
        out.port = 443;
        out.tls = true;
    } else {
        return "the URL must start with ws:// or wss:// (got '" + text + "')";
    }
    auto slash = rest.find_first_of("/?");
    std::string auth = rest.substr(0, slash);
    out.path = slash == std::string::npos ? "/" : rest.substr(slash);
    if (out.path[0] == '?') out.path = "/" + out.path;
    if (auto err = split_authority(auth, out); !err.empty()) return err + " in '" + text + "'";
    return resolve(out);
}

}  // namespace wsring::bench

// ws://HOST:PORT/PATH (or wss://) for ws-bench: split into host, port and
// path, and resolved once to an IPv4/IPv6 socket address every connection
// reuses.
#pragma once
#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace wsring::bench {

struct url {
    std::string host;                  // as written (used for the Host header)
    std::uint16_t port = 80;
    std::string path = "/";
    bool tls = false;                  // wss:// (RFC 6455 §3: port 443 by default)
    sockaddr_storage addr{};           // resolved address
    socklen_t addr_len = 0;

    std::string host_header() const;   // "host:port"
};

// Parses and resolves `text`. Returns "" on success or what went wrong.
std::string parse_url(const std::string& text, url& out);

}  // namespace wsring::bench

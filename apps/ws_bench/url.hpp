// ws://HOST:PORT/PATH for ws-bench: split into host, port and path, and
// resolved once to an IPv4/IPv6 socket address every connection reuses.
// wss:// is refused with a clear message until TLS lands.
#pragma once
#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace wsring::bench {

struct url {
    std::string host;                  // as written (used for the Host header)
    std::uint16_t port = 80;
    std::string path = "/";
    sockaddr_storage addr{};           // resolved address
    socklen_t addr_len = 0;

    std::string host_header() const;   // "host:port"
};

// Parses and resolves `text`. Returns "" on success or what went wrong.
std::string parse_url(const std::string& text, url& out);

}  // namespace wsring::bench

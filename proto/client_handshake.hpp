// The opening handshake, client side (RFC 6455 §4.1): the request with a
// fresh random Sec-WebSocket-Key, and the check of the server's response
// (101, Upgrade, Connection, Sec-WebSocket-Accept, no subprotocol or
// extension the client did not ask for). The one extension a client may
// offer is permessage-deflate (RFC 7692): the checker takes the agreed
// parameters from the answer; what they mean for framing is the caller's.
// Used by ws-bench and the tests. Read next: permessage_deflate.hpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proto/handshake.hpp"
#include "proto/permessage_deflate.hpp"

namespace wsring::proto {

// 16 random bytes from OpenSSL's CSPRNG, base64-encoded (§4.1: 24 chars).
std::string make_client_key();

struct client_request_options {
    std::string host{};  // Host header, e.g. "127.0.0.1:9001"
    std::string path = "/";
    std::vector<std::string> subprotocols{};
    std::string origin{};                      // optional
    std::vector<std::string> extra_headers{};  // "Name: value" lines, optional
    // Sec-WebSocket-Extensions value, optional: format_deflate_offer(cfg),
    // and give the checker the same `cfg`.
    std::string extensions{};
};

// The request bytes for `key` (from make_client_key()).
std::string make_client_request(const client_request_options& opts, std::string_view key);

class response_checker {
public:
    enum class status : std::uint8_t { need_more, accepted, rejected };

    // `key` is the Sec-WebSocket-Key that was sent; `offered` the
    // subprotocols the client offered; `deflate_offer` the config whose
    // format_deflate_offer() went out (nullopt: no extension offered, and
    // any extension in the answer fails the handshake).
    response_checker(std::string key, std::vector<std::string> offered = {},
                     std::size_t max_header_bytes = 8192,
                     std::optional<deflate_client_config> deflate_offer = std::nullopt);

    // Consumes response bytes up to the blank line (any split); `consumed`
    // says how many bytes of `in` belonged to the response: the rest are frames.
    status feed(std::span<const std::byte> in, std::size_t& consumed);

    int http_status() const { return http_status_; }
    const std::string& protocol() const { return protocol_; }  // chosen subprotocol
    const std::string& error() const { return error_; }        // why rejected
    // Once accepted: the permessage-deflate parameters both sides agreed
    // (RFC 7692 §7.1), or nullopt when none was offered or the server declined.
    const std::optional<deflate_params>& deflate() const { return deflate_; }

private:
    status check();
    bool parse_status_line(std::string_view line);
    status fail(std::string why);
    status check_extensions(std::string_view list);
    std::string expected_accept_;
    std::vector<std::string> offered_;
    std::optional<deflate_client_config> deflate_offer_;
    std::optional<deflate_params> deflate_;
    header_block_reader reader_;
    status status_ = status::need_more;  // sticky once decided
    int http_status_ = 0;
    std::string protocol_;
    std::string error_;
};

}  // namespace wsring::proto

// The opening handshake, server side (RFC 6455 §4.2): an incremental
// HTTP/1.1 request parser with a cap on the header block, the validation
// rules of §4.2.1, the Sec-WebSocket-Accept computation (§4.2.2, §1.3), the
// subprotocol choice, and the 101 response or a precise 4xx.
//
// The parser accepts the request in any split, one byte at a time included.
// Bytes after the blank line that ends the request are frames: feed() says
// where the request ended so the caller hands the rest to the decoder.
// A plain GET (no Upgrade) parses fine and is reported as such, so a server
// can answer e.g. /healthz on the same port.
// Read next: client_handshake.hpp for the other side.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proto/error.hpp"

namespace wsring::proto {

// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), RFC 6455 §4.2.2.
std::string accept_key(std::string_view sec_websocket_key);

struct http_header {
    std::string_view name;   // as sent; compare case-insensitively (RFC 9110 §5.1)
    std::string_view value;  // leading/trailing whitespace removed
};

// A parsed request. Views point into the parser's own buffer: valid while
// the parser lives and is not reset.
struct http_request {
    std::string_view method;
    std::string_view target;  // request-target as sent: path + optional ?query
    std::string_view path;    // target up to '?'
    std::string_view query;   // after '?', empty if none
    int version_minor = 0;    // HTTP/1.<minor>
    std::vector<http_header> headers;

    // First header with this name (case-insensitive), or empty.
    std::string_view header(std::string_view name) const;
    // How many header lines carry this name (case-insensitive).
    std::size_t count(std::string_view name) const;
    // True when any header named `name` holds `token` in its comma-separated
    // list, compared case-insensitively (RFC 9110 §5.6.1), e.g.
    // has_token("Connection", "upgrade") for "Connection: keep-alive, Upgrade".
    bool has_token(std::string_view name, std::string_view token) const;
    // True when the request asks for a WebSocket upgrade at all (an Upgrade
    // header naming websocket): anything else is plain HTTP.
    bool wants_websocket() const;
};

// Collects an HTTP/1.x header block (start line + fields + blank line) from
// a byte stream fed in any split, up to a cap. Each byte is looked at once:
// the search for the blank line resumes where the last feed() stopped.
// Lines end in CRLF or a bare LF (RFC 9112 §2.2 lets a recipient accept
// LF); empty lines before the start line are skipped (also §2.2).
// Shared by request_parser and response_checker.
class header_block_reader {
public:
    enum class status : std::uint8_t { need_more, complete, too_large };

    explicit header_block_reader(std::size_t max_bytes) : max_bytes_(max_bytes) {}

    // Takes bytes from `in` up to and including the blank line; `consumed`
    // says how many. Once complete, further calls consume nothing.
    status feed(std::span<const std::byte> in, std::size_t& consumed);

    // The block so far: after `complete`, start line to blank line inclusive
    // (leading empty lines excluded).
    std::string_view block() const;
    // The start line (without its line ending) once it has arrived, else
    // empty: lets a parser reject garbage before the whole block is in.
    std::string_view first_line() const;
    void reset();  // frees the buffer

private:
    char at(std::size_t pos, std::span<const std::byte> in) const;
    void append(std::span<const std::byte> in, std::size_t n);
    std::size_t max_bytes_;
    std::string buf_;
    std::size_t line_start_ = 0;  // offset in buf_ of the line being read
    std::size_t skipped_ = 0;     // leading empty-line bytes (kept for the cap)
    std::size_t first_end_ = 0;   // end of the start line's text, 0 until seen
    bool complete_ = false;
};

// Parses one field line "name: value" (RFC 9112 §5). False for an empty or
// non-token name, whitespace before the colon, a missing colon, a line that
// starts with whitespace (obs-fold, §5.2) or a control character in the value.
bool parse_field_line(std::string_view line, http_header& out);

// ASCII case-insensitive equality (header names, tokens).
bool iequals(std::string_view a, std::string_view b);

// True when the comma-separated `list` (RFC 9110 §5.6.1) holds `token`,
// compared case-insensitively; empty elements and OWS are ignored.
bool list_has_token(std::string_view list, std::string_view token);

class request_parser {
public:
    enum class status : std::uint8_t {
        need_more,  // feed more bytes
        complete,   // request() is ready; `consumed` marks its end
        too_large,  // header block over the cap: error::request_too_large → 431
        malformed,  // not HTTP/1.x syntax (RFC 9112): error::malformed_request → 400
    };

    explicit request_parser(std::size_t max_header_bytes = 8192);

    // Consumes bytes from `in` up to and including the blank line that ends
    // the header block; sets `consumed` to how many bytes of `in` it took.
    // Bytes after that are not the request's.
    status feed(std::span<const std::byte> in, std::size_t& consumed);

    const http_request& request() const { return request_; }
    void reset();  // frees the buffer

private:
    status parse();
    bool parse_request_line(std::string_view line);
    header_block_reader reader_;  // the header block so far
    http_request request_;
    status status_ = status::need_more;  // sticky once not need_more
    bool line_checked_ = false;          // request line already validated early
};

// What the server offers; the handshake chooses from it.
struct handshake_policy {
    // Subprotocols in server preference order: the first one the client also
    // offers is chosen; none offered in common → no Sec-WebSocket-Protocol.
    std::vector<std::string> subprotocols;
};

// The server's answer to an upgrade request.
struct handshake_result {
    error err = error::none;    // the §4.2.1 rule the request broke, or none
    std::string response;       // the complete HTTP response bytes to send
    std::string_view protocol;  // chosen subprotocol (points into the request)
    bool accepted() const { return err == error::none; }
    int status() const { return http_status(err); }  // 101, or the error's status
};

// Validates `req` per RFC 6455 §4.2.1 and builds the response: 101 with
// Sec-WebSocket-Accept, or the first rule broken as a handshake error
// (error.hpp: bad_method … bad_sec_key) answered by error_response().
// The version is checked before the key. docs/protocol.md §1.4 lists every rule.
// `extensions`, when not empty, is the Sec-WebSocket-Extensions value the
// 101 answers with (§9.1; the caller negotiated it, e.g. negotiate_deflate).
handshake_result accept_upgrade(const http_request& req, const handshake_policy& policy = {},
                                std::string_view extensions = {});

// The complete HTTP response refusing a request with handshake error `e`:
// http_status(e), the header its rule requires (405: "Allow: GET", 426:
// "Sec-WebSocket-Version: 13"), Connection: close and describe(e) as the
// one-line body.
std::string error_response(error e);

// A complete plain HTTP/1.1 response with a text body and Connection: close
// (used for /healthz, 404, 431, 503 and the like). `extra_headers` is
// inserted verbatim (each line ending in \r\n).
std::string http_response(int status, std::string_view body, std::string_view extra_headers = {});

// The standard reason phrase for a status code ("Switching Protocols", ...).
std::string_view reason_phrase(int status);

}  // namespace wsring::proto

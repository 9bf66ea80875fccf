// Plain HTTP/1.1 requests with a body, on the WebSocket port (the publish
// API): how long the body is (RFC 9112 §6), whether the connection stays
// open after the answer (RFC 9112 §9.3), and the answer's bytes. Sans-IO:
// the session (net/session.cpp) reads the body and keeps the connection.
// Read next: net/session.cpp, "plain HTTP".
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "proto/handshake.hpp"

namespace wsring::proto {

enum class body_status : std::uint8_t {
    none,         // no Content-Length, no Transfer-Encoding: no body (RFC 9112 §6.3 rule 7)
    length,       // `length` bytes follow the header block
    bad_length,   // Content-Length not a decimal number, or several that differ: 400
    unsupported,  // Transfer-Encoding (chunked or any other): 501 (we need the length up front)
};
struct body_framing {
    body_status status = body_status::none;
    std::uint64_t length = 0;
};
body_framing request_body(const http_request& req);

// RFC 9112 §9.3: HTTP/1.1 stays open unless "Connection: close"; HTTP/1.0
// only with "Connection: keep-alive".
bool wants_keep_alive(const http_request& req);

// A complete response: status line, Content-Type, Content-Length,
// "Connection: keep-alive" or "Connection: close", `extra_headers` (whole
// lines ending in CRLF), the blank line, the body.
std::string http_answer_bytes(int status, std::string_view content_type, std::string_view body,
                              bool keep_alive, std::string_view extra_headers = {});

}  // namespace wsring::proto

// The client side of the publish API (ws-server --api-key): a POST's bytes,
// and reading the server's HTTP/1.1 answers back from a keep-alive stream
// that carries several pipelined ones in any split. An answer ends where its
// Content-Length says (RFC 9112 §6.3 rule 6); one without it could only end
// at the close, which a keep-alive client cannot wait for, so it is refused,
// as is Transfer-Encoding (RFC 9112 §6.3 rule 4: we asked for neither).
// Sans-IO: results point into the caller's bytes. Tested byte by byte by
// tests/integration/test_ws_bench.py against a scripted server.
// Read next: http_publish_mode.cpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace wsring::bench {

// "POST /publish/<topic> HTTP/1.1" with Host, Authorization (when `api_key`
// is not empty), Content-Type (text/plain or application/octet-stream) and
// Content-Length: everything before a body of `body_size` bytes.
std::string publish_request_head(std::string_view host, std::string_view topic, std::string_view api_key,
                                 bool text, std::size_t body_size);

struct http_answer {
    int status = 0;                 // 100..599
    bool close = false;             // "Connection: close": the server ends the connection
    std::string_view content_type;  // as sent
    std::string_view body;
};

enum class answer_status : std::uint8_t {
    need_more,  // no whole answer at the front yet
    complete,   // `out` and `used` are set
    malformed,  // `why` says how; the stream cannot be trusted after it
};

// Header blocks past this are malformed (the server's are ~100 bytes).
inline constexpr std::size_t max_answer_head = 8192;

// Reads one whole answer at the front of `in` (CRLF line endings only).
answer_status parse_answer(std::span<const std::byte> in, http_answer& out, std::size_t& used, std::string& why);

// The publish answer's body, {"epoch":"<epoch>","offset":<N>}: the two
// fields wherever they sit in one flat JSON object. False if either is
// missing or not of its type (epoch: a valid wsring.v1 epoch; offset ≥ 1).
bool parse_publish_body(std::string_view body, std::string_view& epoch, std::uint64_t& offset);

}  // namespace wsring::bench

// One named error per RFC 6455 rule a peer can break, and what each earns:
// a close code (§7.4.1) for frame and message errors, an HTTP status for
// handshake errors (§4.2.1). Every value is written out and never changes
// meaning (ws-bench reports count by it): a new error takes a free value in
// its group's range. name() is the one place the enumerator names live.
// Read next: decoder.hpp (frame/message errors), handshake.hpp (HTTP errors).
#pragma once
#include <cstdint>
#include <string_view>

#include "proto/opcode.hpp"

namespace wsring::proto {

enum class error : std::uint8_t {
    none = 0,
    // --- frame layer, RFC 6455 §5.2 (→ 1002 protocol error)
    reserved_bits = 1,             // RSV1-3 set with no extension that owns them
    reserved_opcode = 2,           // opcode 0x3-0x7 or 0xB-0xF
    control_fragmented = 3,        // §5.5: control frames MUST NOT be fragmented
    control_too_long = 4,          // §5.5: control payload > 125 bytes
    unmasked_client_frame = 5,     // §5.1: a server MUST close on an unmasked frame
    masked_server_frame = 6,       // §5.1: a client MUST close on a masked frame
    length_msb_set = 7,            // §5.2: 64-bit length with the top bit set
    // --- message layer, RFC 6455 §5.4
    unexpected_continuation = 8,   // continuation frame with no message in progress
    expected_continuation = 9,     // new data frame while a fragmented message is open
    message_too_big = 10,          // → 1009
    invalid_utf8 = 11,             // §8.1 → 1007
    // --- close frame payload, RFC 6455 §5.5.1, §7.4
    close_payload_one_byte = 12,   // a 1-byte close payload cannot hold a code
    invalid_close_code = 13,       // code outside the ranges allowed on the wire
    invalid_close_reason = 14,     // reason not valid UTF-8 → 1007
    // --- permessage-deflate, RFC 7692 §6.2
    deflate_corrupt = 15,          // a compressed message that does not inflate → 1007
    // 16-31: free for frame, message and close errors.

    // --- opening handshake, server side, RFC 6455 §4.2.1 (→ an HTTP status;
    // the connection never opened, so no close code applies)
    bad_method = 32,               // item 1: method is not GET → 405
    bad_http_version = 33,         // item 1: older than HTTP/1.1 → 400
    no_host = 34,                  // item 2: no Host header → 400
    duplicate_host = 35,           // RFC 9112 §3.2: more than one Host → 400
    no_upgrade_websocket = 36,     // item 3: Upgrade lacks the token websocket → 400
    no_connection_upgrade = 37,    // item 4: Connection lacks the token upgrade → 400
    no_sec_version = 38,           // item 6: no Sec-WebSocket-Version → 426
    bad_sec_version = 39,          // item 6: not exactly "13" → 426
    no_sec_key = 40,               // item 5: no Sec-WebSocket-Key → 400
    duplicate_sec_key = 41,        // item 5: more than one Sec-WebSocket-Key → 400
    bad_sec_key = 42,              // item 5: not base64 of 16 bytes → 400
    // --- the request's HTTP/1.1 framing (request_parser's verdicts)
    malformed_request = 43,        // not HTTP/1.x syntax (RFC 9112) → 400
    request_too_large = 44,        // header block over the cap → 431 (RFC 6585 §5)
    // 45-63: free for handshake errors.
};

// The enumerator's own name ("bad_sec_key"), or "unknown" for a value that
// names none. For logs, reports and tests; stable like the values.
std::string_view name(error e);

// A short human reason: a close frame's reason (≤ 123 bytes) for a frame or
// message error, the one-line response body for a handshake error.
std::string_view describe(error e);

// True for the handshake range (bad_method … request_too_large).
constexpr bool is_handshake_error(error e) {
    return e >= error::bad_method && e <= error::request_too_large;
}

// The close code to send when *Failing the WebSocket Connection* for `e`.
// Handshake errors never reach a close frame (1002 if asked).
close_code to_close_code(error e);

// The HTTP status that answers a request failing with `e`: 101 for none,
// 405 / 426 / 431 / 400 for handshake errors (400 for any other error).
int http_status(error e);

}  // namespace wsring::proto

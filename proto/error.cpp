// The one table of error names and reasons, and the close code (§7.4.1) or
// HTTP status (§4.2.1) each error earns. A switch without `default`, so the
// compiler (-Wswitch) names any enumerator added without its entry.
#include "proto/error.hpp"

namespace wsring::proto {

namespace {

struct error_text {
    std::string_view name;    // the enumerator, as spelled in error.hpp
    std::string_view reason;  // what a peer or a log reader sees
};

error_text text_of(error e) {
    switch (e) {
    case error::none: return {"none", "no error"};
    case error::reserved_bits: return {"reserved_bits", "reserved bits set"};
    case error::reserved_opcode: return {"reserved_opcode", "reserved opcode"};
    case error::control_fragmented: return {"control_fragmented", "fragmented control frame"};
    case error::control_too_long: return {"control_too_long", "control frame payload over 125 bytes"};
    case error::unmasked_client_frame: return {"unmasked_client_frame", "client frame not masked"};
    case error::masked_server_frame: return {"masked_server_frame", "server frame masked"};
    case error::length_msb_set: return {"length_msb_set", "64-bit length with the top bit set"};
    case error::unexpected_continuation:
        return {"unexpected_continuation", "continuation frame without a message"};
    case error::expected_continuation:
        return {"expected_continuation", "new data frame inside a fragmented message"};
    case error::message_too_big: return {"message_too_big", "message too big"};
    case error::invalid_utf8: return {"invalid_utf8", "invalid UTF-8 in text message"};
    case error::close_payload_one_byte: return {"close_payload_one_byte", "close payload of one byte"};
    case error::invalid_close_code: return {"invalid_close_code", "invalid close code"};
    case error::invalid_close_reason: return {"invalid_close_reason", "invalid UTF-8 in close reason"};
    case error::deflate_corrupt: return {"deflate_corrupt", "compressed message does not inflate"};
    // The handshake reasons are response bodies: they name the header to fix.
    case error::bad_method: return {"bad_method", "method must be GET"};
    case error::bad_http_version: return {"bad_http_version", "HTTP/1.1 or later required"};
    case error::no_host: return {"no_host", "missing Host header"};
    case error::duplicate_host: return {"duplicate_host", "more than one Host header"};
    case error::no_upgrade_websocket:
        return {"no_upgrade_websocket", "Upgrade header must include websocket"};
    case error::no_connection_upgrade:
        return {"no_connection_upgrade", "Connection header must include upgrade"};
    case error::no_sec_version:
        return {"no_sec_version", "missing Sec-WebSocket-Version (this server speaks 13)"};
    case error::bad_sec_version:
        return {"bad_sec_version", "unsupported Sec-WebSocket-Version (this server speaks 13)"};
    case error::no_sec_key: return {"no_sec_key", "missing Sec-WebSocket-Key"};
    case error::duplicate_sec_key: return {"duplicate_sec_key", "more than one Sec-WebSocket-Key"};
    case error::bad_sec_key: return {"bad_sec_key", "Sec-WebSocket-Key must be base64 of 16 bytes"};
    case error::malformed_request: return {"malformed_request", "malformed HTTP request"};
    case error::request_too_large: return {"request_too_large", "request header fields too large"};
    }
    return {"unknown", "unknown error"};  // a value no enumerator names
}

}  // namespace

std::string_view name(error e) { return text_of(e).name; }

std::string_view describe(error e) { return text_of(e).reason; }

close_code to_close_code(error e) {
    switch (e) {
    case error::message_too_big: return close_code::message_too_big;  // RFC 6455 §7.4.1: 1009
    case error::invalid_utf8:
    case error::invalid_close_reason:
    case error::deflate_corrupt: return close_code::invalid_payload;  // §7.4.1: 1007
    case error::none: return close_code::normal;
    default: return close_code::protocol_error;  // §7.4.1: 1002
    }
}

int http_status(error e) {
    switch (e) {
    case error::none: return 101;
    case error::bad_method: return 405;  // RFC 9110 §15.5.6, sent with Allow: GET
    case error::no_sec_version:
    case error::bad_sec_version: return 426;  // RFC 6455 §4.4, with the version we speak
    case error::request_too_large: return 431;  // RFC 6585 §5
    default: return 400;  // RFC 6455 §4.2.1: "HTTP/1.1 400 Bad Request"
    }
}

}  // namespace wsring::proto

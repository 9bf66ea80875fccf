// Maps each rule broken to its §7.4.1 close code and a short reason.
#include "proto/error.hpp"

namespace wsring::proto {

close_code to_close_code(error e) {
    switch (e) {
    case error::message_too_big: return close_code::message_too_big;  // RFC 6455 §7.4.1: 1009
    case error::invalid_utf8:
    case error::invalid_close_reason: return close_code::invalid_payload;  // §7.4.1: 1007
    case error::none: return close_code::normal;
    default: return close_code::protocol_error;  // §7.4.1: 1002
    }
}

std::string_view describe(error e) {
    switch (e) {
    case error::none: return "no error";
    case error::reserved_bits: return "reserved bits set";
    case error::reserved_opcode: return "reserved opcode";
    case error::control_fragmented: return "fragmented control frame";
    case error::control_too_long: return "control frame payload over 125 bytes";
    case error::unmasked_client_frame: return "client frame not masked";
    case error::masked_server_frame: return "server frame masked";
    case error::length_msb_set: return "64-bit length with the top bit set";
    case error::unexpected_continuation: return "continuation frame without a message";
    case error::expected_continuation: return "new data frame inside a fragmented message";
    case error::message_too_big: return "message too big";
    case error::invalid_utf8: return "invalid UTF-8 in text message";
    case error::close_payload_one_byte: return "close payload of one byte";
    case error::invalid_close_code: return "invalid close code";
    case error::invalid_close_reason: return "invalid UTF-8 in close reason";
    }
    return "unknown error";
}

}  // namespace wsring::proto

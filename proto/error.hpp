// One named error per RFC 6455 rule a peer can break, and the close code
// (§7.4.1) or HTTP status (§4.2.1) each one earns. Enumerator values never
// change meaning: add new ones at the end of their group.
// Read next: decoder.hpp (frame/message errors), handshake.hpp (HTTP errors).
#pragma once
#include <cstdint>
#include <string_view>

#include "proto/opcode.hpp"

namespace wsring::proto {

enum class error : std::uint8_t {
    none = 0,
    // --- frame layer, RFC 6455 §5.2 (→ 1002 protocol error)
    reserved_bits,           // RSV1-3 set with no extension that owns them
    reserved_opcode,         // opcode 0x3-0x7 or 0xB-0xF
    control_fragmented,      // §5.5: control frames MUST NOT be fragmented
    control_too_long,        // §5.5: control payload > 125 bytes
    unmasked_client_frame,   // §5.1: a server MUST close on an unmasked frame
    masked_server_frame,     // §5.1: a client MUST close on a masked frame
    length_msb_set,          // §5.2: 64-bit length with the top bit set
    // --- message layer, RFC 6455 §5.4
    unexpected_continuation, // continuation frame with no message in progress
    expected_continuation,   // new data frame while a fragmented message is open
    message_too_big,         // → 1009
    invalid_utf8,            // §8.1 → 1007
    // --- close frame payload, RFC 6455 §5.5.1, §7.4
    close_payload_one_byte,  // a 1-byte close payload cannot hold a code
    invalid_close_code,      // code outside the ranges allowed on the wire
    invalid_close_reason,    // reason not valid UTF-8 → 1007
};

// The close code to send when *Failing the WebSocket Connection* for `e`.
close_code to_close_code(error e);

// A short human reason, suitable as a close frame's reason (≤ 123 bytes).
std::string_view describe(error e);

}  // namespace wsring::proto

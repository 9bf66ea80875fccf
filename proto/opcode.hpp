// The small vocabulary of RFC 6455 every other proto/ file speaks: frame
// opcodes (§5.2, §11.8), close codes (§7.4.1), and which side of the
// connection a codec plays (§5.1: who masks). No behaviour lives here.
// Read next: frame_header.hpp.
#pragma once
#include <cstdint>

namespace wsring::proto {

// RFC 6455 §5.2, §11.8. Values are the wire values.
enum class opcode : std::uint8_t {
    continuation = 0x0,
    text = 0x1,
    binary = 0x2,
    close = 0x8,
    ping = 0x9,
    pong = 0xA,
};

// RFC 6455 §5.5: opcodes with the high bit set are control frames.
constexpr bool is_control(opcode op) { return (static_cast<std::uint8_t>(op) & 0x8) != 0; }

// RFC 6455 §5.2: 0x3-0x7 and 0xB-0xF are reserved.
constexpr bool is_reserved(std::uint8_t op) { return (op >= 0x3 && op <= 0x7) || op >= 0xB; }

// RFC 6455 §7.4.1. Values are the wire values.
enum class close_code : std::uint16_t {
    normal = 1000,
    going_away = 1001,
    protocol_error = 1002,
    unsupported_data = 1003,
    no_status = 1005,        // MUST NOT be sent: "no status code was actually present"
    abnormal = 1006,         // MUST NOT be sent: closed without a close frame
    invalid_payload = 1007,  // e.g. non-UTF-8 text
    policy_violation = 1008,
    message_too_big = 1009,
    mandatory_extension = 1010,
    internal_error = 1011,
    service_restart = 1012,  // IANA registry (RFC 6455 §11.7)
    try_again_later = 1013,
};

// RFC 6455 §5.1: a client masks every frame it sends, a server never does.
// A codec is told which side it is on.
enum class role : std::uint8_t { client, server };

}  // namespace wsring::proto

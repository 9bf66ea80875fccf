// The body of a close frame (RFC 6455 §5.5.1): empty, or a 2-octet status
// code in network order followed by a UTF-8 reason. Which codes may appear
// on the wire (§7.4.1, §7.4.2, the IANA registry of §11.7) is decided here,
// once, for the decoder (checking a peer) and the encoder (cutting a reason).
// Read next: decoder.cpp, where a close frame becomes an event.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "proto/error.hpp"
#include "proto/opcode.hpp"

namespace wsring::proto {

inline constexpr std::size_t max_close_reason = 123;  // 125 - the 2-octet code

// True for a code a peer may send (RFC 6455 §7.4.1, §7.4.2).
bool is_valid_wire_close_code(std::uint16_t code);

struct close_payload {
    close_code code = close_code::no_status;  // no_status when the body is empty
    std::span<std::byte> reason;              // points into the parsed body
    error err = error::none;                  // the rule broken, if any
};

// Splits and checks a close frame's (unmasked) body.
close_payload parse_close_payload(std::span<std::byte> body);

// The longest prefix of `reason` of at most `limit` bytes that does not cut
// a UTF-8 sequence in two.
std::string_view cut_on_utf8_boundary(std::string_view reason, std::size_t limit = max_close_reason);

}  // namespace wsring::proto

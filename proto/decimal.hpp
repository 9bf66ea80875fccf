// A decimal number as protocols write them (RFC 9110 §8.6's 1*DIGIT, an
// offset of wsring.v1): digits only — no sign, no spaces — within 64 bits.
#pragma once
#include <charconv>
#include <cstdint>
#include <string_view>
#include <system_error>

namespace wsring::proto {

// False for an empty string, any other character, or a value past 2^64 - 1
// (`out` untouched then).
inline bool parse_decimal(std::string_view s, std::uint64_t& out) {
    std::uint64_t v = 0;
    // from_chars takes no '+' and, for an unsigned type, no '-'.
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return false;
    out = v;
    return true;
}

}  // namespace wsring::proto

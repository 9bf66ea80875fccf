// The bulk UTF-8 path: skips runs of ASCII a word at a time and falls back to
// the DFA in utf8.cpp for everything else. Must agree with feed_scalar byte
// for byte (fuzz/fuzz_utf8.cpp checks it).
#include <cstring>

#include "proto/utf8.hpp"

namespace wsring::proto {

bool utf8_validator::feed(std::span<const std::byte> chunk) {
    const std::byte* p = chunk.data();
    const std::byte* end = p + chunk.size();
    while (p < end) {
        if (state_ == accept) {
            // 8 ASCII bytes at a time while on a code point boundary.
            while (end - p >= 8) {
                std::uint64_t w;
                std::memcpy(&w, p, 8);
                if (w & 0x8080808080808080ull) break;
                p += 8;
            }
            if (p == end) break;
        }
        state_ = step(state_, static_cast<std::uint8_t>(*p++));
        if (state_ == reject) return false;
    }
    return true;
}

}  // namespace wsring::proto

// The scalar UTF-8 DFA: one transition per byte, straight from Unicode
// Table 3-7 ("Well-Formed UTF-8 Byte Sequences"). Clear rather than fast;
// utf8_fast.cpp (with the vector kernels of utf8_simd.cpp) must agree with
// it chunk for chunk, and uses it at chunk boundaries.
#include "proto/utf8.hpp"

namespace wsring::proto {

utf8_validator::state utf8_validator::step(state s, std::uint8_t b) {
    auto in = [b](int lo, int hi) { return b >= lo && b <= hi; };
    switch (s) {
    case accept:
        if (b < 0x80) return accept;
        if (in(0xC2, 0xDF)) return tail1;       // C0, C1 would be overlong
        if (b == 0xE0) return after_e0;
        if (in(0xE1, 0xEC) || in(0xEE, 0xEF)) return tail2;
        if (b == 0xED) return after_ed;
        if (b == 0xF0) return after_f0;
        if (in(0xF1, 0xF3)) return tail3;
        if (b == 0xF4) return after_f4;
        return reject;                          // 80..C1, F5..FF never start
    case tail1: return in(0x80, 0xBF) ? accept : reject;
    case tail2: return in(0x80, 0xBF) ? tail1 : reject;
    case tail3: return in(0x80, 0xBF) ? tail2 : reject;
    case after_e0: return in(0xA0, 0xBF) ? tail1 : reject;
    case after_ed: return in(0x80, 0x9F) ? tail1 : reject;
    case after_f0: return in(0x90, 0xBF) ? tail2 : reject;
    case after_f4: return in(0x80, 0x8F) ? tail2 : reject;
    case reject: return reject;
    }
    return reject;
}

bool utf8_validator::feed_scalar(std::span<const std::byte> chunk) {
    for (std::byte b : chunk) {
        state_ = step(state_, static_cast<std::uint8_t>(b));
        if (state_ == reject) return false;  // fail fast (RFC 6455 §8.1)
    }
    return true;
}

bool is_valid_utf8(std::span<const std::byte> text) {
    utf8_validator v;
    return v.feed(text) && v.complete();
}

}  // namespace wsring::proto

// UTF-8 validation for text messages and close reasons (RFC 6455 §8.1:
// invalid UTF-8 → *Fail the WebSocket Connection* with 1007), per RFC 3629
// and Unicode Table 3-7: no overlongs, no surrogates, nothing above U+10FFFF.
//
// Incremental: the validator carries its state across fragments and read
// boundaries, and fails fast at the first byte that no valid text could have
// there, even in the middle of a fragment. utf8.cpp holds the scalar DFA (the
// reference); utf8_fast.cpp the bulk path chosen at run time (AVX-512 or
// AVX2 kernels in utf8_simd.cpp; the level follows base/cpu_features.hpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace wsring::proto {

class utf8_validator {
public:
    // Feeds the next chunk of a text. Returns false as soon as the bytes
    // seen so far cannot be the start of valid UTF-8; the state then sticks.
    // A sequence cut at the end of `chunk` is fine: it may finish in the next.
    bool feed(std::span<const std::byte> chunk);

    // Scalar reference path only (tests, fuzzers, benchmarks).
    bool feed_scalar(std::span<const std::byte> chunk);

    // True when the text so far is valid and ends on a code point boundary;
    // ask at the end of a message (FIN).
    bool complete() const { return state_ == accept; }
    bool failed() const { return state_ == reject; }
    void reset() { state_ = accept; }

    // DFA states (Unicode Table 3-7), public for the fast path in utf8_fast.cpp.
    enum state : std::uint8_t {
        accept = 0,  // on a code point boundary
        tail1,       // one more 80..BF
        tail2,       // two more 80..BF
        tail3,       // three more 80..BF
        after_e0,    // E0: next A0..BF (no overlong 3-byte forms)
        after_ed,    // ED: next 80..9F (no surrogates U+D800..DFFF)
        after_f0,    // F0: next 90..BF (no overlong 4-byte forms)
        after_f4,    // F4: next 80..8F (nothing above U+10FFFF)
        reject,
    };
    static state step(state s, std::uint8_t byte);

private:
    state state_ = accept;
};

// One-shot check of a whole text.
bool is_valid_utf8(std::span<const std::byte> text);
inline bool is_valid_utf8(std::string_view text) {
    return is_valid_utf8(std::as_bytes(std::span(text.data(), text.size())));
}

}  // namespace wsring::proto

// Differential fuzzer for UTF-8 validation (RFC 6455 §8.1): the dispatched
// feed at an input-chosen SIMD level and chunking must fail at the same
// chunk as the scalar DFA (feed_scalar, the reference in utf8.cpp) fed the
// same chunks, agree on complete(), and is_valid_utf8 on the whole text
// must agree with the DFA fed it in one piece.
// Input: [level][4 chunk lengths][text...]
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "base/cpu_features.hpp"
#include "proto/utf8.hpp"

using namespace wsring::base;
using namespace wsring::proto;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 5) return 0;
    const auto level = static_cast<simd_level>(data[0] % 4);
    if (!force_simd_level(level)) reset_simd_level();
    const std::uint8_t* lens = data + 1;
    auto text = std::as_bytes(std::span(data + 5, size - 5));

    utf8_validator fast, slow;
    bool fast_ok = true, slow_ok = true;
    std::size_t at = 0;
    for (std::size_t i = 0; at < text.size() && fast_ok; ++i) {
        std::size_t len = std::min<std::size_t>(lens[i % 4], text.size() - at);
        if (i > 4096) len = text.size() - at;  // all-zero lengths: finish in one piece
        auto chunk = text.subspan(at, len);
        fast_ok = fast.feed(chunk);
        slow_ok = slow.feed_scalar(chunk);
        if (fast_ok != slow_ok) std::abort();  // fail-fast at different chunks
        at += len;
    }
    if (fast_ok && fast.complete() != slow.complete()) std::abort();
    if (fast.failed() != slow.failed()) std::abort();

    utf8_validator whole;
    const bool reference = whole.feed_scalar(text) && whole.complete();
    if (is_valid_utf8(text) != reference) std::abort();
    if (at == text.size() && (fast_ok && fast.complete()) != reference) std::abort();
    return 0;
}

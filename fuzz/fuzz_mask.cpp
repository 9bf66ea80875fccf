// Differential fuzzer for masking (RFC 6455 §5.3): every path, and the
// dispatched apply_mask at an input-chosen level, applied over input-chosen
// splits with the phase carried across them, must equal the byte-at-a-time
// reference on the whole payload. The payload is copied to a heap block of
// its exact size, so ASan reports any read or write past either end.
// Input: [level][4 key octets][phase][2 chunk lengths][payload...]
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "proto/mask.hpp"

using namespace wsring::base;
using namespace wsring::proto;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 8) return 0;
    const auto level = static_cast<simd_level>(data[0] % 4);
    mask_key key;
    std::memcpy(&key, data + 1, 4);
    const std::size_t phase = data[5] % 4;
    const std::uint8_t lens[2] = {data[6], data[7]};
    const std::size_t n = size - 8;

    auto want = std::make_unique<std::byte[]>(n);
    std::memcpy(want.get(), data + 8, n);
    const std::size_t want_phase = apply_mask_scalar({want.get(), n}, key, phase);

    for (int dispatched = 0; dispatched < 2; ++dispatched) {
        if (dispatched && !force_simd_level(level)) reset_simd_level();
        auto got = std::make_unique<std::byte[]>(n);
        std::memcpy(got.get(), data + 8, n);
        std::size_t at = 0, p = phase;
        for (std::size_t i = 0; at < n; ++i) {
            std::size_t len = std::min<std::size_t>(n - at, lens[i % 2] ? lens[i % 2] : n);
            std::span<std::byte> chunk(got.get() + at, len);
            p = dispatched ? apply_mask(chunk, key, p) : apply_mask_at(level, chunk, key, p);
            at += len;
        }
        if (p != want_phase || std::memcmp(got.get(), want.get(), n) != 0) std::abort();
    }
    return 0;
}

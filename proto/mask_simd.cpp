// The wide masking path: 8 octets per step with a 64-bit key. A placeholder
// for the SIMD dispatch; must agree with apply_mask_scalar.
#include <cstring>

#include "proto/mask.hpp"

namespace wsring::proto {

std::size_t apply_mask(std::span<std::byte> data, mask_key key, std::size_t phase) {
    mask_key k = rotate_key(key, phase & 3);
    std::uint64_t k64 = (std::uint64_t{k} << 32) | k;
    std::byte* p = data.data();
    std::size_t n = data.size(), i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, p + i, 8);
        w ^= k64;
        std::memcpy(p + i, &w, 8);
    }
    return apply_mask_scalar(data.subspan(i), key, (phase + i) & 3);
}

}  // namespace wsring::proto

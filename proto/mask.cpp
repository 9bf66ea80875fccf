// The scalar reference for RFC 6455 §5.3 masking, one octet at a time, and
// the key rotation every wide path starts from. The wide paths and the
// run-time choice between them live in mask_simd.cpp.
#include "proto/mask.hpp"

#include <array>
#include <bit>
#include <cstring>

namespace wsring::proto {

mask_key rotate_key(mask_key key, std::size_t phase) {
    // Octet `phase` of the wire order must come first in memory: on a
    // little-endian CPU the first octet is the low byte, so rotate right.
    int bits = static_cast<int>(8 * (phase & 3));
    if constexpr (std::endian::native == std::endian::little)
        return std::rotr(key, bits);
    else
        return std::rotl(key, bits);
}

std::size_t apply_mask_scalar(std::span<std::byte> data, mask_key key, std::size_t phase) {
    std::array<std::byte, 4> k{};
    std::memcpy(k.data(), &key, 4);
    for (std::byte& b : data) {
        b ^= k[phase & 3];  // RFC 6455 §5.3: j = i MOD 4
        ++phase;
    }
    return phase & 3;
}

}  // namespace wsring::proto

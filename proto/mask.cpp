// The scalar reference for RFC 6455 §5.3 masking, and the run-time choice of
// the fastest implementation this CPU supports (see mask_simd.cpp).
#include "proto/mask.hpp"

#include <array>
#include <cstring>

namespace wsring::proto {

mask_key rotate_key(mask_key key, std::size_t phase) {
    // Work on the octets, not the integer, so the result is byte-order free.
    std::array<std::byte, 4> in{}, out{};
    std::memcpy(in.data(), &key, 4);
    for (std::size_t i = 0; i < 4; ++i) out[i] = in[(i + phase) & 3];
    mask_key rotated;
    std::memcpy(&rotated, out.data(), 4);
    return rotated;
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

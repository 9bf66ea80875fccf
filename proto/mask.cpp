// The scalar reference for RFC 6455 §5.3 masking, one octet at a time. The
// small-payload path and the key rotation are inline in mask.hpp; the wide
// paths and the run-time choice between them live in mask_simd.cpp.
#include "proto/mask.hpp"

#include <array>
#include <cstring>

namespace wsring::proto {

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

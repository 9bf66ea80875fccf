// Writing the RFC 6455 §5.2 frame header: the first two octets, the 16- or
// 64-bit extended length in network order, and the masking key, kept as the 4
// octets of the wire (see mask.hpp). Reading is inline in frame_header.hpp
// (it runs once per received frame). Which headers are allowed is decided in
// decoder.cpp.
#include "proto/frame_header.hpp"

#include <cstring>

namespace wsring::proto {

namespace {

void store_be(std::byte* p, std::uint64_t v, std::size_t n) {
    for (std::size_t i = n; i-- > 0; v >>= 8) p[i] = static_cast<std::byte>(v & 0xFF);
}

}  // namespace

std::size_t encode_header(const frame_header& h, std::byte* out) {
    out[0] = static_cast<std::byte>((h.fin ? 0x80 : 0) | (h.rsv1 ? 0x40 : 0) | (h.rsv2 ? 0x20 : 0) |
                                    (h.rsv3 ? 0x10 : 0) | (h.opcode_bits & 0x0F));
    std::uint8_t mask_bit = h.masked ? 0x80 : 0;
    std::size_t n = 2;
    if (h.length < 126) {  // RFC 6455 §5.2: "the minimal number of bytes MUST be used"
        out[1] = static_cast<std::byte>(mask_bit | h.length);
    } else if (h.length <= 0xFFFF) {
        out[1] = static_cast<std::byte>(mask_bit | 126);
        store_be(out + 2, h.length, 2);
        n = 4;
    } else {
        out[1] = static_cast<std::byte>(mask_bit | 127);
        store_be(out + 2, h.length, 8);
        n = 10;
    }
    if (h.masked) {
        std::memcpy(out + n, &h.key, 4);
        n += 4;
    }
    return n;
}

}  // namespace wsring::proto

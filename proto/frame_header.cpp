// Reading and writing the RFC 6455 §5.2 frame header: the first two octets,
// the 16- or 64-bit extended length in network order, and the masking key,
// which is kept as the 4 octets of the wire (see mask.hpp). Pure layout: which
// headers are allowed is decided in decoder.cpp.
#include "proto/frame_header.hpp"

#include <cstring>

namespace wsring::proto {

namespace {

std::uint64_t load_be(const std::byte* p, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
    return v;
}

void store_be(std::byte* p, std::uint64_t v, std::size_t n) {
    for (std::size_t i = n; i-- > 0; v >>= 8) p[i] = static_cast<std::byte>(v & 0xFF);
}

}  // namespace

header_result decode_header(std::span<const std::byte> in, frame_header& out) {
    if (in.size() < 2) return {0, 2};
    auto b0 = static_cast<std::uint8_t>(in[0]);
    auto b1 = static_cast<std::uint8_t>(in[1]);
    std::size_t len7 = b1 & 0x7F;
    std::size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;  // RFC 6455 §5.2: payload length
    bool masked = (b1 & 0x80) != 0;
    std::size_t size = 2 + ext + (masked ? 4 : 0);
    if (in.size() < size) return {0, size};

    out.fin = (b0 & 0x80) != 0;
    out.rsv1 = (b0 & 0x40) != 0;
    out.rsv2 = (b0 & 0x20) != 0;
    out.rsv3 = (b0 & 0x10) != 0;
    out.opcode_bits = b0 & 0x0F;
    out.masked = masked;
    out.length = ext ? load_be(in.data() + 2, ext) : len7;
    out.key = 0;
    if (masked) std::memcpy(&out.key, in.data() + 2 + ext, 4);
    return {size, size};
}

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

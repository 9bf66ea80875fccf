// The base framing protocol's header (RFC 6455 §5.2):
//
//   0               1               2               3
//   |F|R|R|R| opcode|M| len (7)   | extended len (16 or 64) ... | mask key (0 or 4) |
//
// decode_header() reads one header from the front of a buffer (or says how
// many more bytes it needs); encode_header() writes one. Both inline: they
// run once per frame. Rules about which
// headers are *allowed* live in decoder.cpp, not here. Read next: decoder.hpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "proto/mask.hpp"
#include "proto/opcode.hpp"

namespace wsring::proto {

inline constexpr std::size_t max_header_size = 14;     // 2 + 8 + 4
inline constexpr std::size_t max_control_payload = 125;  // RFC 6455 §5.5

struct frame_header {
    bool fin = true;
    bool rsv1 = false, rsv2 = false, rsv3 = false;
    std::uint8_t opcode_bits = 0;  // raw 4 bits: may be a reserved value
    bool masked = false;
    std::uint64_t length = 0;      // payload length
    mask_key key = 0;              // valid when masked

    opcode op() const { return static_cast<opcode>(opcode_bits); }
};

// Bytes a header takes for this payload length (§5.2: the minimal form).
constexpr std::size_t header_size(std::uint64_t length, bool masked) {
    return (length < 126 ? 2 : length <= 0xFFFF ? 4 : 10) + (masked ? 4 : 0);
}

struct header_result {
    std::size_t size = 0;  // header bytes; 0 when more input is needed
    std::size_t need = 2;  // when size == 0: bytes the header needs in total
};

// Decodes the header at the front of `in`. Does not validate; never reads
// past `in`. Inline: it runs once per frame on the decoder's hot path.
inline header_result decode_header(std::span<const std::byte> in, frame_header& out) {
    if (in.size() < 2) return {0, 2};
    const auto b0 = static_cast<std::uint8_t>(in[0]);
    const auto b1 = static_cast<std::uint8_t>(in[1]);
    const std::size_t len7 = b1 & 0x7F;
    const std::size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;  // RFC 6455 §5.2: payload length
    const bool masked = (b1 & 0x80) != 0;
    const std::size_t size = 2 + ext + (masked ? 4 : 0);
    if (in.size() < size) return {0, size};

    out.fin = (b0 & 0x80) != 0;
    out.rsv1 = (b0 & 0x40) != 0;
    out.rsv2 = (b0 & 0x20) != 0;
    out.rsv3 = (b0 & 0x10) != 0;
    out.opcode_bits = b0 & 0x0F;
    out.masked = masked;
    std::uint64_t length = ext ? 0 : len7;
    for (std::size_t i = 0; i < ext; ++i)  // network byte order
        length = (length << 8) | static_cast<std::uint8_t>(in[2 + i]);
    out.length = length;
    out.key = 0;
    if (masked) std::memcpy(&out.key, in.data() + 2 + ext, 4);
    return {size, size};
}

namespace detail {
inline void store_be(std::byte* p, std::uint64_t v, std::size_t n) {  // network byte order
    for (std::size_t i = n; i-- > 0; v >>= 8) p[i] = static_cast<std::byte>(v & 0xFF);
}
}  // namespace detail

// Writes `h` (in its minimal length form) to `out`, which holds at least
// header_size(h.length, h.masked) bytes. Returns the bytes written. Inline,
// like decode_header: it runs once per frame sent, and out of line it and
// encode_frame were 3 % of the 16 B echo's server time.
inline std::size_t encode_header(const frame_header& h, std::byte* out) {
    out[0] = static_cast<std::byte>((h.fin ? 0x80 : 0) | (h.rsv1 ? 0x40 : 0) | (h.rsv2 ? 0x20 : 0) |
                                    (h.rsv3 ? 0x10 : 0) | (h.opcode_bits & 0x0F));
    std::uint8_t mask_bit = h.masked ? 0x80 : 0;
    std::size_t n = 2;
    if (h.length < 126) {  // RFC 6455 §5.2: "the minimal number of bytes MUST be used"
        out[1] = static_cast<std::byte>(mask_bit | h.length);
    } else if (h.length <= 0xFFFF) {
        out[1] = static_cast<std::byte>(mask_bit | 126);
        detail::store_be(out + 2, h.length, 2);
        n = 4;
    } else {
        out[1] = static_cast<std::byte>(mask_bit | 127);
        detail::store_be(out + 2, h.length, 8);
        n = 10;
    }
    if (h.masked) {
        std::memcpy(out + n, &h.key, 4);  // kept as the 4 octets of the wire (mask.hpp)
        n += 4;
    }
    return n;
}

}  // namespace wsring::proto

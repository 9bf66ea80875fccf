// Frame writing, RFC 6455 §5.2 (minimal length forms), §5.3 (masking with
// the caller's key) and §5.5.1 (close bodies). No allocation: the caller
// sizes `out` with frame_size().
#include "proto/encoder.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "proto/close_payload.hpp"

namespace wsring::proto {

std::size_t encode_unmasked_header(std::span<std::byte> out, opcode op, std::size_t length,
                                   const frame_options& opts) {
    frame_header h;
    h.fin = opts.fin;
    h.rsv1 = opts.rsv1;
    h.opcode_bits = static_cast<std::uint8_t>(op);
    h.length = length;
    return encode_header(h, out.first(max_header_size).data());
}

std::size_t encode_close(std::span<std::byte> out, close_code code, std::string_view reason,
                         std::optional<mask_key> mask) {
    // 1005 "MUST NOT be set as a status code": it means "no code", so it
    // is sent as the empty body (RFC 6455 §7.1.5, §7.4.1).
    if (code == close_code::no_status) return encode_frame(out, opcode::close, {}, {.mask = mask});
    std::array<std::byte, max_control_payload> body{};
    auto c = static_cast<std::uint16_t>(code);
    body[0] = static_cast<std::byte>(c >> 8);  // RFC 6455 §5.5.1: network byte order
    body[1] = static_cast<std::byte>(c & 0xFF);
    std::string_view cut = cut_on_utf8_boundary(reason);
    // ≤ max_close_reason already; the min says so to the compiler, which
    // (g++ 12 with the sanitizers, encode_frame inline) cannot see it and
    // warns of a copy past `body`.
    const std::size_t n = std::min(cut.size(), body.size() - 2);
    if (n != 0) std::memcpy(body.data() + 2, cut.data(), n);
    return encode_frame(out, opcode::close, std::span(body).first(2 + n), {.mask = mask});
}

}  // namespace wsring::proto

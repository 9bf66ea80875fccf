// The send side, sans-IO (RFC 6455 §5.2, §5.3, §5.5.1): writes whole frames
// into caller-provided memory. A server frame is unmasked, so one encoding
// can be shared by every receiver of a broadcast; a client frame is masked
// with a fresh key from the caller.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

#include "proto/frame_header.hpp"

namespace wsring::proto {

// Total bytes of a frame with this payload length.
constexpr std::size_t frame_size(std::size_t payload, bool masked) {
    return header_size(payload, masked) + payload;
}

struct frame_options {
    bool fin = true;
    bool rsv1 = false;                 // RFC 7692: set on a compressed message's first frame
    std::optional<mask_key> mask{};    // clients: a fresh random key per frame (§5.3)
};

// memcpy, but a payload of up to 16 bytes (a chat line, a counter, the
// 16 B echo) is copied inline with two overlapping moves of one width, not
// through a call into libc's memmove: that call was 8 % of the session's
// own time per 16 B reply (bench_session). Every move stays inside [0, n).
inline void copy_payload(std::byte* to, const std::byte* from, std::size_t n) {
    auto two = [&](auto word) {  // the first and the last sizeof(word) bytes
        std::memcpy(&word, from, sizeof word);
        decltype(word) last;
        std::memcpy(&last, from + n - sizeof word, sizeof word);
        std::memcpy(to, &word, sizeof word);
        std::memcpy(to + n - sizeof word, &last, sizeof word);
    };
    if (n >= 8 && n <= 16) return two(std::uint64_t{});
    if (n >= 4 && n < 8) return two(std::uint32_t{});
    if (n > 16) {
        std::memcpy(to, from, n);
        return;
    }
    for (std::size_t i = 0; i < n; ++i) to[i] = from[i];  // 0-3 bytes
}

// Writes header + payload (masked when opts.mask is set) into `out`, which
// holds at least frame_size(payload.size(), opts.mask.has_value()) bytes.
// Returns the bytes written. Inline: a server's small reply is then a
// two-byte header and a copy, with the masking branch folded away.
inline std::size_t encode_frame(std::span<std::byte> out, opcode op, std::span<const std::byte> payload,
                                const frame_options& opts = {}) {
    frame_header h;
    h.fin = opts.fin;
    h.rsv1 = opts.rsv1;
    h.opcode_bits = static_cast<std::uint8_t>(op);
    h.masked = opts.mask.has_value();
    h.length = payload.size();
    h.key = opts.mask.value_or(0);
    std::size_t n = encode_header(h, out.data());
    std::span<std::byte> body = out.subspan(n, payload.size());
    // body.size() is payload.size(); g++ 12 cannot bound the latter once
    // apply_mask is inline (a -Wstringop-overflow false positive).
    copy_payload(body.data(), payload.data(), body.size());
    if (h.masked) apply_mask(body, h.key, 0);  // RFC 6455 §5.3
    return n + payload.size();
}

// Only the header of an unmasked frame with a payload of `length` bytes
// (≤ max_header_size into `out`): a server frame is its header and then the
// payload unchanged (§5.1: servers do not mask), so a caller may send the
// two pieces with one gather write and never copy the payload.
std::size_t encode_unmasked_header(std::span<std::byte> out, opcode op, std::size_t length,
                                   const frame_options& opts = {});

// A close frame (§5.5.1): the 2-byte code in network order, then the reason,
// cut to fit the 125-byte control payload on a UTF-8 boundary. `out` holds at
// least max_header_size + 125 bytes. Returns the bytes written.
std::size_t encode_close(std::span<std::byte> out, close_code code, std::string_view reason,
                         std::optional<mask_key> mask = std::nullopt);

}  // namespace wsring::proto

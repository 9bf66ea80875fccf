// Masking and unmasking of frame payloads (RFC 6455 §5.3): octet i of the
// payload is XORed with octet (i mod 4) of the 4-byte masking key. The same
// function masks and unmasks.
//
// `phase` is how many payload octets came before this chunk (mod 4), so a
// payload split across reads unmasks to the same bytes as in one piece.
// mask.cpp holds the scalar reference; mask_simd.cpp the wide paths chosen
// at run time (one binary runs on any x86-64); small payloads are masked
// inline, here. Read next: utf8.hpp.
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "base/cpu_features.hpp"

namespace wsring::proto {

// The 4 key octets exactly as they appear on the wire, loaded with memcpy:
// on any byte order, XORing a memcpy'd 32-bit word of payload with this key
// masks 4 octets at once.
using mask_key = std::uint32_t;

// XORs `data` in place with `key`, starting at key octet `phase` (0-3).
// Returns the phase for the octet after the last one: (phase + size) % 4.
// Inline for small payloads (a chat-sized message is the common case and
// a call would cost as much as the work); larger ones go to the widest path.
inline std::size_t apply_mask(std::span<std::byte> data, mask_key key, std::size_t phase = 0);

// The byte-at-a-time reference, kept for tests, fuzzers and benchmarks.
std::size_t apply_mask_scalar(std::span<std::byte> data, mask_key key, std::size_t phase = 0);

// Runs the path for `level` (clamped to what this CPU supports), ignoring
// the dispatcher: lets tests, fuzzers and benchmarks compare every path.
std::size_t apply_mask_at(base::simd_level level, std::span<std::byte> data, mask_key key,
                          std::size_t phase = 0);

// Rotates a key so that octet `phase` comes first (what a wide loop uses).
inline mask_key rotate_key(mask_key key, std::size_t phase) {
    // Octet `phase` of the wire order must come first in memory: on a
    // little-endian CPU the first octet is the low byte, so rotate right.
    int bits = static_cast<int>(8 * (phase & 3));
    if constexpr (std::endian::native == std::endian::little)
        return std::rotr(key, bits);
    else
        return std::rotl(key, bits);
}

namespace detail {

// Up to here a dispatched call costs more than the work it saves.
constexpr std::size_t small_payload = 16;

// 8 octets per step, then 4, then single octets, with a key already rotated
// so that its first octet masks p[0]. Small payloads take only this path.
inline void mask_words(std::byte* p, std::size_t n, mask_key k) {
    std::uint64_t k64 = (std::uint64_t{k} << 32) | k;  // both halves = k: byte-order free
    for (; n >= 8; p += 8, n -= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        w ^= k64;
        std::memcpy(p, &w, 8);
    }
    if (n >= 4) {
        std::uint32_t w;
        std::memcpy(&w, p, 4);
        w ^= k;
        std::memcpy(p, &w, 4);
        p += 4;
        n -= 4;
    }
    unsigned char kb[4];
    std::memcpy(kb, &k, 4);
    for (std::size_t i = 0; i < n; ++i) p[i] ^= std::byte{kb[i]};
}

// The widest path this CPU has (mask_simd.cpp), for any size.
void mask_dispatched(std::byte* p, std::size_t n, mask_key k);

}  // namespace detail

inline std::size_t apply_mask(std::span<std::byte> data, mask_key key, std::size_t phase) {
    const mask_key k = rotate_key(key, phase);
    if (data.size() <= detail::small_payload)
        detail::mask_words(data.data(), data.size(), k);
    else
        detail::mask_dispatched(data.data(), data.size(), k);
    return (phase + data.size()) & 3;
}

}  // namespace wsring::proto

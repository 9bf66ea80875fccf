// Masking and unmasking of frame payloads (RFC 6455 §5.3): octet i of the
// payload is XORed with octet (i mod 4) of the 4-byte masking key. The same
// function masks and unmasks.
//
// `phase` is how many payload octets came before this chunk (mod 4), so a
// payload split across reads unmasks to the same bytes as in one piece.
// mask.cpp holds the scalar reference; mask_simd.cpp the wide paths chosen
// at run time (one binary runs on any x86-64). Read next: utf8.hpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "base/cpu_features.hpp"

namespace wsring::proto {

// The 4 key octets exactly as they appear on the wire, loaded with memcpy:
// on any byte order, XORing a memcpy'd 32-bit word of payload with this key
// masks 4 octets at once.
using mask_key = std::uint32_t;

// XORs `data` in place with `key`, starting at key octet `phase` (0-3).
// Returns the phase for the octet after the last one: (phase + size) % 4.
std::size_t apply_mask(std::span<std::byte> data, mask_key key, std::size_t phase = 0);

// The byte-at-a-time reference, kept for tests, fuzzers and benchmarks.
std::size_t apply_mask_scalar(std::span<std::byte> data, mask_key key, std::size_t phase = 0);

// Runs the path for `level` (clamped to what this CPU supports), ignoring
// the dispatcher: lets tests, fuzzers and benchmarks compare every path.
std::size_t apply_mask_at(base::simd_level level, std::span<std::byte> data, mask_key key,
                          std::size_t phase = 0);

// Rotates a key so that octet `phase` comes first (what a wide loop uses).
mask_key rotate_key(mask_key key, std::size_t phase);

}  // namespace wsring::proto

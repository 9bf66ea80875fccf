// Base64 (RFC 4648 §4, the standard alphabet with '=' padding) for the
// handshake: encoding the accept value and the client's key, and a *strict*
// decoder used to check that Sec-WebSocket-Key is 16 bytes (RFC 6455 §4.2.1).
// Strict means: length a multiple of 4, only alphabet characters, padding
// only at the end, and the unused bits of the last symbol zero (RFC 4648
// §3.5), so each byte string has exactly one accepted spelling.
// Read next: handshake.hpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace wsring::proto {

// The padded encoding of `data` (4 * ceil(n / 3) characters).
std::string base64_encode(std::span<const std::byte> data);

// The number of bytes `text` decodes to, or -1 if `text` is not strictly
// valid padded base64. Writes the bytes to `out` when `out` is large enough
// (out.size() >= 3 * text.size() / 4); otherwise only validates.
long base64_decode(std::string_view text, std::span<std::byte> out = {});

}  // namespace wsring::proto

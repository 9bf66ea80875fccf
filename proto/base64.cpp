// Base64 per RFC 4648 §4. Encoding uses OpenSSL's EVP_EncodeBlock; decoding
// is our own, because EVP_DecodeBlock accepts whitespace, ignores bad
// padding bits and reports padded lengths, and the handshake needs a yes/no
// answer on the exact spelling (RFC 4648 §3.3, §3.5).
#include "proto/base64.hpp"

#include <openssl/evp.h>

namespace wsring::proto {

std::string base64_encode(std::span<const std::byte> data) {
    std::string out(4 * ((data.size() + 2) / 3), '\0');
    // EVP_EncodeBlock writes a NUL after the text: give it one byte more.
    out.resize(out.size() + 1);
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(data.data()),
                                  static_cast<int>(data.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

namespace {

// The 6-bit value of a base64 symbol, or -1.
int sextet(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

}  // namespace

long base64_decode(std::string_view text, std::span<std::byte> out) {
    if (text.size() % 4 != 0) return -1;  // RFC 4648 §3.2: padding is required
    std::size_t pad = 0;
    if (!text.empty() && text.back() == '=') pad = text[text.size() - 2] == '=' ? 2 : 1;
    const std::size_t symbols = text.size() - pad;
    const std::size_t bytes = symbols * 6 / 8;
    const bool write = out.size() >= bytes;
    std::uint32_t acc = 0;
    int bits = 0;
    std::size_t o = 0;
    for (std::size_t i = 0; i < symbols; ++i) {
        const int v = sextet(text[i]);  // '=' inside the text lands here too
        if (v < 0) return -1;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (write) out[o] = static_cast<std::byte>((acc >> bits) & 0xFF);
            ++o;
        }
    }
    // RFC 4648 §3.5: the bits left over by the last symbol must be zero.
    if ((acc & ((1u << bits) - 1)) != 0) return -1;
    return static_cast<long>(bytes);
}

}  // namespace wsring::proto

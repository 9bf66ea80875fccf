// Payload layout and checks for ws-bench (see payload.hpp for the layout).
#include "apps/ws_bench/payload.hpp"

#include <algorithm>
#include <cstring>

namespace wsring::bench {

void write_nibbles(std::byte* out, std::uint64_t v, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        unsigned shift = static_cast<unsigned>(4 * (n - 1 - i));
        out[i] = static_cast<std::byte>('a' + ((v >> shift) & 0xF));
    }
}

bool read_nibbles(const std::byte* in, std::size_t n, std::uint64_t& v) {
    v = 0;
    for (std::size_t i = 0; i < n; ++i) {
        unsigned d = static_cast<unsigned>(in[i]) - 'a';
        if (d > 15) return false;
        v = (v << 4) | d;
    }
    return true;
}

void write_broadcast_stamp(std::byte* out, const broadcast_stamp& s) {
    write_nibbles(out, s.publisher, 4);
    write_nibbles(out + 4, s.sequence, 8);
    write_nibbles(out + 12, s.sent_ns, 16);
}

bool read_broadcast_stamp(std::span<const std::byte> payload, broadcast_stamp& s) {
    if (payload.size() < broadcast_header_bytes) return false;
    std::uint64_t pub = 0, seq = 0, ts = 0;
    if (!read_nibbles(payload.data(), 4, pub) || !read_nibbles(payload.data() + 4, 8, seq) ||
        !read_nibbles(payload.data() + 12, 16, ts))
        return false;
    s = {static_cast<std::uint32_t>(pub), static_cast<std::uint32_t>(seq), ts};
    return true;
}

payload_template::payload_template(std::size_t size, bool text, std::uint64_t seed) : bytes_(size) {
    fast_rng rng(seed);
    for (auto& b : bytes_) {
        auto r = rng.next();
        b = static_cast<std::byte>(text ? ' ' + r % 95 : r >> 56);  // text: printable ASCII
    }
    scratch_ = bytes_;
}

bool payload_template::body_matches(std::span<const std::byte> payload, std::size_t from) const {
    if (payload.size() != bytes_.size()) return false;
    from = std::min(from, bytes_.size());
    return std::memcmp(payload.data() + from, bytes_.data() + from, bytes_.size() - from) == 0;
}

}  // namespace wsring::bench

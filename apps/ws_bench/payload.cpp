// Payload layout and checks for ws-bench (see payload.hpp for the layout).
#include "apps/ws_bench/payload.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <string>

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

const char* payload_kind_name(payload_kind k) { return k == payload_kind::json ? "json" : "random"; }

namespace {

// Words for --payload json's text: a small vocabulary, as in real chat and
// API text, so DEFLATE finds repeats (about 3:1 at zlib's default level).
constexpr const char* lorem[] = {
    "lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do",
    "eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna", "aliqua", "enim",
    "ad", "minim", "veniam", "quis", "nostrud", "exercitation", "ullamco", "laboris", "nisi", "aliquip",
    "ex", "ea", "commodo", "consequat", "duis", "aute", "irure", "in", "reprehenderit", "voluptate",
    "velit", "esse", "cillum", "fugiat", "nulla", "pariatur", "excepteur", "sint", "occaecat", "cupidatat",
    "non", "proident", "sunt", "culpa", "qui", "officia", "deserunt", "mollit", "anim", "id", "est", "laborum"};

// {"seq":"<stamp>","user":"user0042","text":"lorem ipsum ..."} in exactly
// `size` ASCII bytes. Too small for the frame around the stamp: the stamp
// first, then the text (offset 0).
std::string json_text(std::size_t size, std::size_t stamp, fast_rng& rng, std::size_t& offset) {
    const std::string head = "{\"seq\":\"", tail = "\"}";
    const bool framed = size >= head.size() + stamp + tail.size();
    offset = framed ? head.size() : 0;
    std::string s = framed ? head : "";
    s.append(std::min(stamp, size), 'a');
    s += "\",\"user\":\"user" + std::to_string(1000 + rng.next() % 9000) + "\",\"text\":\"";
    std::size_t body = framed ? size - tail.size() : size;
    for (std::size_t n = 0; s.size() < body; ++n) {
        s += lorem[rng.next() % std::size(lorem)];
        s += (n % 12 == 11) ? ". " : " ";
    }
    s.resize(body);
    if (framed) s += tail;
    return s;
}

}  // namespace

payload_template::payload_template(std::size_t size, payload_kind kind, bool text, std::size_t stamp,
                                   std::uint64_t seed)
    : bytes_(size) {
    fast_rng rng(seed);
    if (kind == payload_kind::json) {
        std::string s = json_text(size, stamp, rng, stamp_offset_);
        std::memcpy(bytes_.data(), s.data(), size);
    } else {
        for (auto& b : bytes_) {
            auto r = rng.next();
            b = static_cast<std::byte>(text ? ' ' + r % 95 : r >> 56);  // text: printable ASCII
        }
    }
    scratch_ = bytes_;
}

bool payload_template::body_matches(std::span<const std::byte> payload, std::size_t stamp) const {
    if (payload.size() != bytes_.size()) return false;
    std::size_t from = std::min(stamp_offset_ + stamp, bytes_.size());
    return std::memcmp(payload.data(), bytes_.data(), stamp_offset_) == 0 &&
           std::memcmp(payload.data() + from, bytes_.data() + from, bytes_.size() - from) == 0;
}

}  // namespace wsring::bench

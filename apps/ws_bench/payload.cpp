// Payload layout and checks for ws-bench (see payload.hpp for the layout).
#include "apps/ws_bench/payload.hpp"

#include <algorithm>
#include <array>
#include <cstring>
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

// Words for --payload json's text, as in real chat and API text: a small
// vocabulary, so DEFLATE finds repeats even though no two messages say the
// same thing (1 KiB at zlib's default level: 2.45:1 alone, 4.25:1 with
// context takeover). 64 words, so 6 bits of a draw pick one; two end a
// sentence.
constexpr const char* lorem[64] = {
    "lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do",
    "eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna", "aliqua", "enim",
    "ad", "minim", "veniam", "quis", "nostrud", "exercitation", "ullamco", "laboris", "nisi", "aliquip",
    "ex", "ea", "commodo", "consequat", "duis", "aute", "irure", "in", "reprehenderit", "voluptate",
    "velit", "esse", "cillum", "fugiat", "nulla", "pariatur", "excepteur", "sint", "occaecat", "cupidatat",
    "non", "proident", "sunt", "culpa", "qui", "officia", "deserunt", "mollit", "anim", "id", "est", "laborum",
    "aliqua.", "laborum."};

// A word and its space, padded to 16 bytes so that with room to spare it is
// copied as one fixed-size move (a word of 16 or more fails to compile).
struct word {
    char text[16];
    std::size_t len;
};

constexpr std::array<word, 64> vocabulary = [] {
    std::array<word, 64> v{};
    for (std::size_t i = 0; i < v.size(); ++i) {
        std::size_t n = 0;
        for (auto& ch : v[i].text) ch = ' ';
        for (; lorem[i][n] != '\0'; ++n) v[i].text[n] = lorem[i][n];
        v[i].len = n + 1;  // the space after it
    }
    return v;
}();

// splitmix64's finalizer: neighbouring keys give unrelated draws.
constexpr std::uint64_t mix(std::uint64_t x) {
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

// Where the parts of a json payload go; the bytes hold the fixed ones.
struct json_layout {
    std::string bytes;
    std::size_t stamp_at = 0, user_at = 0, text_at = 0, text_end = 0;
};

// {"seq":"<stamp>","user":"user0000","text":"<words>"} in exactly `size`
// ASCII bytes. Too small for the frame around the stamp: the stamp first,
// then the rest cut to size (offset 0).
json_layout json_frame(std::size_t size, std::size_t stamp) {
    const std::string head = "{\"seq\":\"", tail = "\"}";
    const bool framed = size >= head.size() + stamp + tail.size();
    json_layout l;
    l.stamp_at = framed ? head.size() : 0;
    std::string s = framed ? head : "";
    s.append(std::min(stamp, size), 'a');
    s += "\",\"user\":\"user";
    l.user_at = s.size();
    s += "0000\",\"text\":\"";
    l.text_at = s.size();
    l.text_end = framed ? size - tail.size() : size;
    s.resize(l.text_end, ' ');
    if (framed) s += tail;
    l.bytes = std::move(s);
    return l;
}

}  // namespace

payload_template::payload_template(std::size_t size, payload_kind kind, bool text, std::size_t stamp,
                                   std::uint64_t seed)
    : bytes_(size), json_(kind == payload_kind::json), seed_(seed) {
    if (json_) {
        json_layout l = json_frame(size, stamp);
        std::memcpy(bytes_.data(), l.bytes.data(), size);
        stamp_offset_ = l.stamp_at;
        user_at_ = l.user_at;
        text_at_ = l.text_at;
        text_end_ = l.text_end;
    } else {
        fast_rng rng(seed);
        for (auto& b : bytes_) {
            auto r = rng.next();
            b = static_cast<std::byte>(text ? ' ' + r % 95 : r >> 56);  // text: printable ASCII
        }
    }
    scratch_ = bytes_;
    expect_ = bytes_;
}

// The parts of message `key` that vary: the user's digits and the words,
// each clipped at text_end_. Everything else in `out` is left as it was.
void payload_template::write_json(std::span<std::byte> out, std::uint64_t key) const {
    fast_rng rng(mix(seed_ ^ mix(key)));
    char digits[4];
    auto user = 1000 + rng.next() % 9000;
    for (std::size_t i = 4; i-- > 0; user /= 10) digits[i] = static_cast<char>('0' + user % 10);
    for (std::size_t i = 0; i < 4 && user_at_ + i < text_end_; ++i) out[user_at_ + i] = static_cast<std::byte>(digits[i]);
    if (text_at_ >= text_end_) return;
    std::byte* p = out.data() + text_at_;
    std::byte* const end = out.data() + text_end_;
    // Ten words per draw (6 bits each). With room for a whole padded word,
    // one fixed 16-byte move, whose padding the next word overwrites; the
    // bulk goes ten words at a time, with no check between them.
    constexpr auto batch = static_cast<std::ptrdiff_t>(10 * sizeof(word::text));
    while (end - p >= batch) {
        for (std::uint64_t r = rng.next(), i = 0; i < 10; ++i, r >>= 6) {
            const word& w = vocabulary[r & 63];
            std::memcpy(p, w.text, sizeof w.text);
            p += w.len;
        }
    }
    for (std::uint64_t r = rng.next(), i = 0; p < end; ++i, r >>= 6) {
        if (i == 10) r = rng.next(), i = 0;
        const word& w = vocabulary[r & 63];
        auto room = static_cast<std::size_t>(end - p);
        std::size_t n = std::min(w.len, room);
        if (room >= sizeof w.text) std::memcpy(p, w.text, sizeof w.text);
        else std::memcpy(p, w.text, n);
        p += n;
    }
}

std::span<std::byte> payload_template::message(std::uint64_t key) {
    if (json_) write_json(scratch_, key);
    return scratch_;
}

bool payload_template::body_matches(std::span<const std::byte> payload, std::size_t stamp, std::uint64_t key) {
    if (payload.size() != bytes_.size()) return false;
    const std::byte* want = bytes_.data();
    if (json_) {
        write_json(expect_, key);
        want = expect_.data();
    }
    std::size_t from = std::min(stamp_offset_ + stamp, bytes_.size());
    return std::memcmp(payload.data(), want, stamp_offset_) == 0 &&
           std::memcmp(payload.data() + from, want + from, bytes_.size() - from) == 0;
}

}  // namespace wsring::bench

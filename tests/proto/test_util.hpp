// Helpers shared by the proto/ frame tests: byte literals from hex, frames
// built bit by bit (reserved bits and opcodes included), and a decode driver
// that feeds any split of a stream (each chunk in its own exactly-sized heap
// block, so ASan catches a read past a chunk) and records the events.
// expect_same_at_every_split() is the "feed at every split point" check.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <ostream>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proto/decoder.hpp"
#include "proto/encoder.hpp"
#include "proto/frame_header.hpp"

namespace wsring::proto::test {

using bytes = std::vector<std::byte>;

// "81 05 48 65" → bytes; whitespace ignored.
inline bytes hex(std::string_view s) {
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    bytes out;
    int hi = -1;
    for (char c : s) {
        int v = nibble(c);
        if (v < 0) continue;
        if (hi < 0) {
            hi = v;
        } else {
            out.push_back(static_cast<std::byte>(hi * 16 + v));
            hi = -1;
        }
    }
    return out;
}

inline bytes text_bytes(std::string_view s) {
    auto b = std::as_bytes(std::span(s.data(), s.size()));
    return {b.begin(), b.end()};
}

inline bytes operator+(bytes a, const bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// The RFC 6455 §5.7 masking key 37 fa 21 3d, as a mask_key.
inline mask_key rfc_key() {
    bytes k = hex("37 fa 21 3d");
    mask_key key;
    std::memcpy(&key, k.data(), 4);
    return key;
}

// Any header at all, reserved bits and opcodes included; masks the payload
// when `key` is set.
struct raw_frame {
    std::uint8_t op = 0x1;
    bytes payload{};
    bool fin = true;
    bool rsv1 = false, rsv2 = false, rsv3 = false;
    std::optional<mask_key> key{};
};

inline bytes build(const raw_frame& f) {
    frame_header h{.fin = f.fin, .rsv1 = f.rsv1, .rsv2 = f.rsv2, .rsv3 = f.rsv3,
                   .opcode_bits = f.op, .masked = f.key.has_value(),
                   .length = f.payload.size(), .key = f.key.value_or(0)};
    bytes out(header_size(h.length, h.masked) + f.payload.size());
    std::size_t n = encode_header(h, out.data());
    std::copy(f.payload.begin(), f.payload.end(), out.begin() + static_cast<std::ptrdiff_t>(n));
    if (h.masked) apply_mask(std::span(out).subspan(n), h.key, 0);
    return out;
}

// A frame as the peer of `self` sends it: masked when the peer is a client.
inline bytes from_peer(role self, raw_frame f) {
    if (self == role::server) f.key = rfc_key();
    return build(f);
}

// `n` bytes that differ along their length (an offset error shows).
inline bytes filled(std::size_t n) {
    bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::byte>(i * 7 + 3);
    return b;
}

// A JSON-ish message of about `n` bytes, the same for a given seed.
inline bytes json_like(std::size_t n, unsigned seed = 1) {
    static const char* const names[] = {"alice", "bob", "carol", "dave", "erin"};
    std::mt19937 rng(seed);
    std::string s = "[";
    while (s.size() < n) {
        // One draw per statement: the order of a + chain's operands is unspecified.
        const auto id = rng() % 100000, user = rng() % 5, price = rng() % 100000, ts = rng() % 86400;
        s += "{\"id\":" + std::to_string(id) + ",\"user\":\"" + names[user] + "\",\"price\":" +
             std::to_string(price / 100) + "." + std::to_string(price % 100) +
             ",\"tags\":[\"new\",\"sale\"],\"ts\":" + std::to_string(1700000000 + ts) + "},";
    }
    s.resize(n);
    return text_bytes(s);
}

inline constexpr role both_roles[] = {role::server, role::client};

// An event with its payload copied out (events point into buffers that the
// next call may reuse).
struct recorded {
    event_kind kind = event_kind::need_more;
    bytes payload{};
    close_code code = close_code::no_status;
    error err = error::none;
    bool rsv1 = false;
    bool operator==(const recorded&) const = default;
};

inline recorded record(const event& ev) {
    return {ev.kind, bytes(ev.payload.begin(), ev.payload.end()), ev.code, ev.err, ev.rsv1};
}

inline void PrintTo(const recorded& r, std::ostream* os) {
    *os << "{kind=" << static_cast<int>(r.kind) << " len=" << r.payload.size()
        << " code=" << static_cast<int>(r.code) << " err=" << static_cast<int>(r.err)
        << " rsv1=" << r.rsv1 << "}";
}

inline bool terminal(event_kind k) {
    return k == event_kind::close || k == event_kind::protocol_error;
}

// Feeds `stream` cut at `cuts` (ascending offsets) and records every event
// up to the first close or protocol_error.
inline std::vector<recorded> decode_split(role self, decoder_limits lim, const bytes& stream,
                                          const std::vector<std::size_t>& cuts) {
    decoder d(self, lim);
    std::vector<recorded> out;
    std::size_t from = 0;
    for (std::size_t i = 0; i <= cuts.size(); ++i) {
        std::size_t to = i < cuts.size() ? cuts[i] : stream.size();
        bytes chunk(stream.begin() + static_cast<std::ptrdiff_t>(from),
                    stream.begin() + static_cast<std::ptrdiff_t>(to));
        from = to;
        std::span<std::byte> in(chunk);
        for (;;) {
            event ev = d.next(in);
            if (ev.kind == event_kind::need_more) {
                EXPECT_TRUE(in.empty()) << "need_more with input left";
                break;
            }
            out.push_back(record(ev));
            if (terminal(ev.kind)) return out;
        }
    }
    return out;
}

inline std::vector<recorded> decode_all(role self, const bytes& stream, decoder_limits lim = {}) {
    return decode_split(self, lim, stream, {});
}

// The events do not depend on how reads cut the stream: every single cut,
// one byte at a time, and a few random multi-cuts give the unsplit events.
inline void expect_same_at_every_split(role self, const bytes& stream, decoder_limits lim = {},
                                       unsigned seed = 1) {
    const std::vector<recorded> whole = decode_split(self, lim, stream, {});
    for (std::size_t i = 0; i <= stream.size(); ++i)
        ASSERT_EQ(decode_split(self, lim, stream, {i}), whole) << "cut at " << i;
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < stream.size(); ++i) every.push_back(i);
    ASSERT_EQ(decode_split(self, lim, stream, every), whole) << "byte at a time";
    std::mt19937 rng(seed);
    for (int round = 0; round < 50; ++round) {
        std::vector<std::size_t> cuts;
        for (std::size_t at = 0; stream.size() > 0;) {
            at += 1 + rng() % 40;
            if (at >= stream.size()) break;
            cuts.push_back(at);
        }
        ASSERT_EQ(decode_split(self, lim, stream, cuts), whole) << "random round " << round;
    }
}

}  // namespace wsring::proto::test

// Fuzzes the opening handshake (proto/handshake.*, client_handshake.*). The
// first two input bytes choose chunk sizes; the rest is fed to a
// request_parser and a response_checker whole and in those chunks. Checked:
// consumed <= input, split verdict == whole verdict, a 101's accept value is
// accept_key(key) and our own client checker accepts that 101.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "proto/client_handshake.hpp"
#include "proto/handshake.hpp"

using namespace wsring::proto;

#define CHECK(x) ((x) ? (void)0 : std::abort())

namespace {

// Feeds `in` whole (sizes = {0, 0}) or in chunks of 1 + sizes[i % 2] bytes.
template <class Parser>
auto feed(Parser& p, std::span<const std::byte> in, const std::uint8_t* sizes, std::size_t& total) {
    total = 0;
    std::size_t consumed = 0, off = 0, i = 0;
    auto st = p.feed(in.first(0), consumed);
    while (off < in.size() && st == decltype(st)::need_more) {
        const std::size_t n = sizes ? std::min<std::size_t>(1u + sizes[i++ % 2], in.size() - off) : in.size();
        st = p.feed(in.subspan(off, n), consumed);
        CHECK(consumed <= n);
        total += consumed;
        off += n;
    }
    return st;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data + 2), size - 2);
    const handshake_policy policy{.subprotocols = {"chat", "superchat"}};

    request_parser whole(2048), split(2048);
    std::size_t c1 = 0, c2 = 0;
    const auto s1 = feed(whole, in, nullptr, c1);
    CHECK(s1 == feed(split, in, data, c2));
    if (s1 == request_parser::status::complete) {
        CHECK(c1 == c2 && c1 <= in.size());
        const auto r = accept_upgrade(whole.request(), policy);
        CHECK(r.response == accept_upgrade(split.request(), policy).response);
        if (r.accepted()) {
            const auto key = std::string(whole.request().header("Sec-WebSocket-Key"));
            CHECK(r.response.find("\r\nSec-WebSocket-Accept: " + accept_key(key) + "\r\n") != std::string::npos);
            response_checker client(key, {std::string(r.protocol)});
            std::size_t c = 0;
            const auto bytes = std::as_bytes(std::span(r.response.data(), r.response.size()));
            CHECK(client.feed(bytes, c) == response_checker::status::accepted && c == bytes.size());
        }
    }

    // The same bytes as a server's response to the RFC 6455 §1.3 key.
    response_checker w("dGhlIHNhbXBsZSBub25jZQ==", {"chat"}, 2048), s("dGhlIHNhbXBsZSBub25jZQ==", {"chat"}, 2048);
    const auto r1 = feed(w, in, nullptr, c1);
    CHECK(r1 == feed(s, in, data, c2));
    CHECK(w.error() == s.error() && w.http_status() == s.http_status() && w.protocol() == s.protocol());
    if (r1 == response_checker::status::accepted) CHECK(c1 == c2 && c1 <= in.size());
    return 0;
}

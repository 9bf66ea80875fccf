// permessage-deflate through the whole receive path, sans-IO (RFC 7692
// §6, §7.2): a message compressed by proto/deflater, cut into frames at
// every point of its compressed payload (RSV1 on the first frame only),
// read by the decoder at every split of the byte stream, then inflated by
// proto/inflater — and always the original message, for both roles.
// Each piece has its own tests; this one proves they fit together.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proto/decoder.hpp"
#include "proto/deflater.hpp"
#include "proto/inflater.hpp"
#include "tests/proto/test_util.hpp"

namespace wsring::proto {
namespace {

using namespace test;

bytes compress(std::string_view message, deflater& d) {
    bytes out;
    d.compress(std::as_bytes(std::span(message.data(), message.size())), out);
    return out;
}

std::string inflate(const bytes& payload, inflater& i) {
    std::vector<std::byte> out;
    EXPECT_EQ(i.decompress(payload, 1u << 20, out), inflater::status::ok);
    return {reinterpret_cast<const char*>(out.data()), out.size()};
}

// The compressed `z` as two frames cut at `at` (one frame when at == 0).
bytes as_frames(role self, const bytes& z, std::size_t at) {
    if (at == 0) return from_peer(self, {.op = 0x1, .payload = z, .rsv1 = true});
    bytes first(z.begin(), z.begin() + static_cast<std::ptrdiff_t>(at));
    bytes rest(z.begin() + static_cast<std::ptrdiff_t>(at), z.end());
    return from_peer(self, {.op = 0x1, .payload = first, .fin = false, .rsv1 = true}) +
           from_peer(self, {.op = 0x0, .payload = rest});
}

TEST(DeflateRoundTrip, EveryFragmentationAndEveryReadSplitGivesTheMessage_7_2) {
    const std::string message =
        R"({"user":"ada","room":"general","text":"hello there, hello again, hello world"})";
    const decoder_limits lim{.allow_rsv1 = true};
    for (role self : both_roles) {
        deflater d;  // the peer's compressor, no context takeover
        const bytes z = compress(message, d);
        ASSERT_LT(z.size(), message.size());
        for (std::size_t at = 0; at < z.size(); ++at) {
            SCOPED_TRACE(at);
            const bytes stream = as_frames(self, z, at);
            std::vector<recorded> events = decode_all(self, stream, lim);
            ASSERT_EQ(events.size(), 1u);
            EXPECT_TRUE(events[0].rsv1);
            EXPECT_EQ(events[0].payload, z) << "the decoder hands over the compressed bytes";
            inflater i;
            EXPECT_EQ(inflate(events[0].payload, i), message);
            expect_same_at_every_split(self, stream, lim);
        }
    }
}

// With context takeover on both sides a stream of messages stays in step
// however each is fragmented and read.
TEST(DeflateRoundTrip, TakeoverStreamSurvivesAnyFraming_7_2_1) {
    deflater d({.context_takeover = true});
    inflater i({.context_takeover = true});
    const decoder_limits lim{.allow_rsv1 = true};
    for (int n = 0; n < 20; ++n) {
        std::string message = "message " + std::to_string(n) + ": the same words again and again";
        const bytes z = compress(message, d);
        const bytes stream = as_frames(role::server, z, z.size() / 2);
        std::vector<recorded> events = decode_split(role::server, lim, stream, {stream.size() / 3});
        ASSERT_EQ(events.size(), 1u);
        EXPECT_EQ(inflate(events[0].payload, i), message);
    }
}

}  // namespace
}  // namespace wsring::proto

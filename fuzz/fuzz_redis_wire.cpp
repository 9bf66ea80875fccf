// Fuzzes what a node reads back from Redis (cluster/redis_wire.*): the input
// is a channel batch, and whatever parses is written again by
// format_channel_batch and must parse to the same epoch, first offset,
// origin and messages (and format to the same bytes: one canonical form).
// The same bytes, read by hiredis' RESP reader, go to the reply parsers,
// whose answers must keep their promises (offsets rising, none past last).
#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "cluster/redis_wire.hpp"
#include "proto/wsring_v1.hpp"

using namespace wsring::cluster;

#define CHECK(x) ((x) ? (void)0 : std::abort())

namespace {
bool same(const channel_batch& a, const channel_batch& b) {
    if (a.epoch != b.epoch || a.first != b.first || a.origin != b.origin || a.messages.size() != b.messages.size())
        return false;
    for (std::size_t i = 0; i < a.messages.size(); ++i) {
        const auto& x = a.messages[i].payload;
        const auto& y = b.messages[i].payload;
        if (a.messages[i].op != b.messages[i].op || x.size() != y.size() ||
            (!x.empty() && std::memcmp(x.data(), y.data(), x.size()) != 0))
            return false;
    }
    return true;
}

// This hiredis (no maxelements) callocs a "*<count>" array before its
// elements arrive: a big count is an out-of-memory of the reader, not ours.
bool small_arrays(std::string_view text) {
    for (auto star = text.find('*'); star != std::string_view::npos; star = text.find('*', star + 1))
        if (text.substr(star + 1, 5).find_first_not_of("-0123456789") > 4) return false;
    return true;
}

void check_replies(std::string_view text) {
    if (!small_arrays(text)) return;
    redisReader* reader = redisReaderCreate();
    void* out = nullptr;
    if (redisReaderFeed(reader, text.data(), text.size()) == REDIS_OK &&
        redisReaderGetReply(reader, &out) == REDIS_OK && out != nullptr) {
        const auto& r = *static_cast<redisReply*>(out);
        std::string_view epoch;
        std::uint64_t first = 0;
        if (parse_publish_reply(r, epoch, first)) CHECK(wsring::proto::v1::valid_epoch(epoch) && first >= 1);
        sync_reply s;
        const bool synced = parse_sync_reply(r, s);
        for (std::size_t i = 0; synced && i < s.messages.size(); ++i)
            CHECK(s.messages[i].offset >= 1 && s.messages[i].offset <= s.last &&
                  (i == 0 || s.messages[i - 1].offset < s.messages[i].offset));
        freeReplyObject(out);
    }
    redisReaderFree(reader);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    channel_batch b;
    if (parse_channel_batch(text, b)) {
        CHECK(wsring::proto::v1::valid_epoch(b.epoch) && b.first >= 1 && !b.origin.empty());
        const std::string again = format_channel_batch(b.epoch, b.first, b.origin, b.messages);
        channel_batch c;
        CHECK(parse_channel_batch(again, c) && same(b, c));
        CHECK(format_channel_batch(c.epoch, c.first, c.origin, c.messages) == again);
        CHECK(again.size() <= text.size());  // only leading zeros can go
    }
    check_replies(text);
    return 0;
}

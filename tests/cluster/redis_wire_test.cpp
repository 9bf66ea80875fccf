// Tests for cluster/redis_wire.*, without a server: key names, the message
// and channel-batch formats (round trips with payloads full of the
// separators, every malformed header and body, every truncation), and the
// scripts' replies as hiredis' own reader builds them from RESP bytes
// written here. The scripts themselves run in redis_scripts_test.cpp.
#include "cluster/redis_wire.hpp"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace wsring::cluster {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

std::span<const std::byte> as_bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }
std::string_view as_text(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// ---- RESP bytes → a reply tree, through hiredis' parser --------------------

struct reply_free {
    void operator()(redisReply* r) const { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_free>;

reply_ptr read_resp(std::string_view bytes) {
    redisReader* reader = redisReaderCreate();
    void* out = nullptr;
    const bool ok = redisReaderFeed(reader, bytes.data(), bytes.size()) == REDIS_OK &&
                    redisReaderGetReply(reader, &out) == REDIS_OK && out != nullptr;
    redisReaderFree(reader);
    EXPECT_TRUE(ok) << "not one whole RESP reply: " << bytes;
    return reply_ptr(static_cast<redisReply*>(out));
}

std::string bulk(std::string_view s) { return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n"; }
std::string array(std::size_t n) { return "*" + std::to_string(n) + "\r\n"; }
std::string integer(long long v) { return ":" + std::to_string(v) + "\r\n"; }
// One XRANGE entry: [id, [m, msg, t, ms]].
std::string entry(std::string_view id, std::string_view m, std::string_view t) {
    return array(2) + bulk(id) + array(4) + bulk("m") + bulk(m) + bulk("t") + bulk(t);
}
std::string sync_resp(std::string_view epoch, std::string_view last, std::string_view now,
                      const std::vector<std::string>& entries) {
    std::string s = array(4) + bulk(epoch) + bulk(last) + bulk(now) + array(entries.size());
    for (const auto& e : entries) s += e;
    return s;
}

// ---- keys ------------------------------------------------------------------

TEST(RedisKeys, AllThreeCarryTheTopicAsHashTag) {
    const topic_keys k = keys_of("chat/room 1");
    EXPECT_EQ(k.meta, "wsring:{chat/room 1}:meta");
    EXPECT_EQ(k.stream, "wsring:{chat/room 1}:log");
    EXPECT_EQ(k.channel, "wsring:{chat/room 1}");
}

TEST(RedisKeys, ChannelNameGivesItsTopicBack) {
    for (std::string_view topic : {"a"sv, "chat/room 1"sv, "a}b"sv, "{x}"sv})
        EXPECT_EQ(topic_of_channel(keys_of(topic).channel), topic);
}

TEST(RedisKeys, ForeignChannelsHaveNoTopic) {
    for (std::string_view c : {""sv, "wsring:{}"sv, "wsring:{a"sv, "wsring:{a}:meta"sv, "other:{a}"sv, "wsring:a}"sv,
                               "WSRING:{a}"sv})
        EXPECT_TRUE(topic_of_channel(c).empty()) << c;
}

// ---- scripts -----------------------------------------------------------------

TEST(ScriptSource, Sha1IsLowercaseHexOfTheSource) {
    for (const script* s : {&publish_script(), &sync_script()}) {
        EXPECT_FALSE(s->source.empty());
        ASSERT_EQ(s->sha1.size(), 40u);
        EXPECT_EQ(s->sha1.find_first_not_of("0123456789abcdef"), std::string::npos) << s->sha1;
    }
    EXPECT_NE(publish_script().sha1, sync_script().sha1);
}

// ---- messages ----------------------------------------------------------------

TEST(WireMessage, OpLetterThenPayload) {
    std::string out;
    encode_message(proto::opcode::text, as_bytes("hi"), out);
    EXPECT_EQ(out, "thi");
    encode_message(proto::opcode::binary, as_bytes("\0\n:"sv), out);
    EXPECT_EQ(out, "b\0\n:"sv);
    encode_message(proto::opcode::text, {}, out);
    EXPECT_EQ(out, "t") << "the buffer is reset, not appended to";
}

TEST(WireMessage, DecodesWhatEncodeWrites) {
    for (auto op : {proto::opcode::text, proto::opcode::binary}) {
        for (std::string_view payload : {""sv, "x"sv, "a\0b\r\n:9:"sv}) {
            std::string enc;
            encode_message(op, as_bytes(payload), enc);
            wire_message m;
            ASSERT_TRUE(decode_message(enc, m));
            EXPECT_EQ(m.op, op);
            EXPECT_EQ(as_text(m.payload), payload);
            EXPECT_EQ(as_text(m.payload).data(), enc.data() + 1) << "a view into the input";
        }
    }
}

TEST(WireMessage, RejectsEmptyAndUnknownOp) {
    wire_message m;
    for (std::string_view in : {""sv, "x"sv, "T"sv, "\0t"sv, "1:t"sv}) EXPECT_FALSE(decode_message(in, m)) << in;
}

// ---- channel batches ---------------------------------------------------------

TEST(ChannelBatch, FormatIsHeaderLineThenLengthPrefixedMessages) {
    const wire_message msgs[] = {{proto::opcode::text, as_bytes("hello")}, {proto::opcode::binary, as_bytes("\0\n"sv)}};
    EXPECT_EQ(format_channel_batch("E1", 7, "node/0/3", msgs), "E1 7 node/0/3\n6:thello3:b\0\n"sv);
    EXPECT_EQ(format_channel_batch("E1", 7, "o", {}), "E1 7 o\n");
}

TEST(ChannelBatch, RoundTripsPayloadsHoldingEverySeparator) {
    const std::string nasty = std::string("a\nb:c d\0e\r\n12:t", 15);
    const std::string big(70000, ':');
    const wire_message msgs[] = {{proto::opcode::text, as_bytes(nasty)},
                                 {proto::opcode::binary, {}},
                                 {proto::opcode::binary, as_bytes("\0"sv)},
                                 {proto::opcode::text, as_bytes(big)},
                                 {proto::opcode::text, as_bytes("\n")}};
    const std::string epoch(32, 'Z');
    const std::string text = format_channel_batch(epoch, 18446744073709551611ull, "origin with spaces", msgs);
    channel_batch b;
    ASSERT_TRUE(parse_channel_batch(text, b));
    EXPECT_EQ(b.epoch, epoch);
    EXPECT_EQ(b.first, 18446744073709551611ull);
    EXPECT_EQ(b.origin, "origin with spaces");
    ASSERT_EQ(b.messages.size(), std::size(msgs));
    for (std::size_t i = 0; i < b.messages.size(); ++i) {
        EXPECT_EQ(b.messages[i].op, msgs[i].op) << i;
        EXPECT_EQ(as_text(b.messages[i].payload), as_text(msgs[i].payload)) << i;
        const char* p = as_text(b.messages[i].payload).data();
        EXPECT_TRUE(p >= text.data() && p <= text.data() + text.size()) << "views point into the input";
    }
}

TEST(ChannelBatch, HeaderOnlyIsABatchOfNone) {
    channel_batch b;
    b.messages.resize(3);  // stale content is cleared
    ASSERT_TRUE(parse_channel_batch("e 1 o\n", b));
    EXPECT_TRUE(b.messages.empty());
}

TEST(ChannelBatch, RejectsEveryMalformedHeader) {
    channel_batch b;
    for (std::string_view in : {
             ""sv, "e"sv, "e 1 o"sv,                  // no line end
             " 1 o\n"sv,                              // empty epoch
             "e! 1 o\n"sv, "e.x 1 o\n"sv,             // characters an epoch may not hold
             "e\n 1 o\n"sv,                           //
             "e  1 o\n"sv, "e x o\n"sv, "e +1 o\n"sv, // bad decimal
             "e -1 o\n"sv, "e 1x o\n"sv, "e 0x1 o\n"sv,
             "e 0 o\n"sv,                      // offsets start at 1
             "e 18446744073709551616 o\n"sv,   // 2^64
             "e 99999999999999999999999 o\n"sv,
             "e 1\n"sv, "e 1 \n"sv,            // no / empty origin
             "e 1 o\nzz"sv,                    // garbage after the header
         })
        EXPECT_FALSE(parse_channel_batch(in, b)) << in;
    EXPECT_FALSE(parse_channel_batch(std::string(33, 'e') + " 1 o\n", b)) << "epoch longer than 32";
}

TEST(ChannelBatch, RejectsEveryMalformedBody) {
    channel_batch b;
    for (std::string_view in : {
             "e 1 o\n2:t"sv,                    // length past the end
             "e 1 o\n3:ta"sv, "e 1 o\n2:ta2:t"sv,
             "e 1 o\n2:tax"sv,                  // trailing garbage
             "e 1 o\n2:ta\n"sv, "e 1 o\n2:ta:"sv,
             "e 1 o\n0:"sv, "e 1 o\n0:2:ta"sv,  // an empty encoded message has no op
             "e 1 o\n2:xa"sv, "e 1 o\n1:T"sv,   // unknown op
             "e 1 o\n:ta"sv, "e 1 o\n2ta"sv,    // missing length / colon
             "e 1 o\n+2:ta"sv, "e 1 o\n 2:ta"sv, "e 1 o\n-2:ta"sv, "e 1 o\n2 :ta"sv,
             "e 1 o\n18446744073709551617:ta"sv,  // 2^64 + 1 wraps to 1 if unchecked
             "e 1 o\n18446744073709551615:ta"sv,
         })
        EXPECT_FALSE(parse_channel_batch(in, b)) << in;
}

TEST(ChannelBatch, RejectsOffsetsPast2To64) {
    channel_batch b;
    EXPECT_TRUE(parse_channel_batch("e 18446744073709551615 o\n2:ta", b));
    EXPECT_FALSE(parse_channel_batch("e 18446744073709551615 o\n2:ta2:tb", b));
    EXPECT_TRUE(parse_channel_batch("e 18446744073709551614 o\n2:ta2:tb", b));
}

TEST(ChannelBatch, EveryTruncationFailsUnlessItEndsOnAMessage) {
    const wire_message msgs[] = {{proto::opcode::text, as_bytes("ab")},
                                 {proto::opcode::binary, as_bytes("1:t")},
                                 {proto::opcode::text, as_bytes("")}};
    const std::string text = format_channel_batch("ep", 40, "or", msgs);
    // Boundaries: after the header and after each message.
    const std::vector<std::size_t> ends = {9, 9 + 5, 9 + 5 + 6, 9 + 5 + 6 + 3};
    ASSERT_EQ(text.size(), ends.back());
    for (std::size_t n = 0; n <= text.size(); ++n) {
        channel_batch b;
        const auto at = std::find(ends.begin(), ends.end(), n);
        const bool boundary = at != ends.end();
        EXPECT_EQ(parse_channel_batch(std::string_view(text).substr(0, n), b), boundary) << n;
        if (boundary) {
            EXPECT_EQ(b.messages.size(), static_cast<std::size_t>(at - ends.begin())) << n;
        }
    }
}

// ---- publish_script's reply --------------------------------------------------

TEST(PublishReply, EpochAndFirstOffset) {
    const auto r = read_resp(array(2) + bulk("Ab_9-x") + integer(41));
    std::string_view epoch;
    std::uint64_t first = 0;
    ASSERT_TRUE(parse_publish_reply(*r, epoch, first));
    EXPECT_EQ(epoch, "Ab_9-x");
    EXPECT_EQ(first, 41u);
    EXPECT_EQ(epoch.data(), r->element[0]->str) << "a view into the reply";
}

TEST(PublishReply, RejectsEveryOtherShape) {
    for (const std::string& resp : {
             "-ERR boom\r\n"s, "+OK\r\n"s, "$-1\r\n"s, ":5\r\n"s, bulk("e"),
             array(0), array(1) + bulk("e"), array(3) + bulk("e") + integer(1) + integer(1),
             array(2) + bulk("e") + integer(0),            // offsets start at 1
             array(2) + bulk("e") + integer(-3),
             array(2) + bulk("e") + bulk("5"),             // first as a string
             array(2) + integer(5) + integer(5),           // epoch as an integer
             array(2) + bulk("") + integer(1),             // empty epoch
             array(2) + bulk("a b") + integer(1),          // not an epoch
             array(2) + "$-1\r\n" + integer(1),
             array(2) + bulk("e") + "$-1\r\n",
             array(2) + array(1) + bulk("e") + integer(1),
         }) {
        const auto r = read_resp(resp);
        std::string_view epoch = "untouched";
        std::uint64_t first = 0;
        EXPECT_FALSE(parse_publish_reply(*r, epoch, first)) << resp;
    }
}

// ---- sync_script's reply -----------------------------------------------------

TEST(SyncReply, EpochLastAndStoredMessagesWithTheirAge) {
    const std::string binary = std::string("b\0\r\n*2\r\n", 9);
    const auto r = read_resp(sync_resp("ep", "12", "1700000001000",
                                       {entry("0-10", "thello", "1700000000750"),
                                        // fields in the other order, a payload that looks like RESP
                                        array(2) + bulk("0-11") + array(4) + bulk("t") + bulk("1700000001000") +
                                            bulk("m") + bulk(binary),
                                        entry("0-12", "t", "1700000002000")}));  // written "in the future"
    sync_reply s;
    ASSERT_TRUE(parse_sync_reply(*r, s));
    EXPECT_EQ(s.epoch, "ep");
    EXPECT_EQ(s.last, 12u);
    ASSERT_EQ(s.messages.size(), 3u);
    EXPECT_EQ(s.messages[0].offset, 10u);
    EXPECT_EQ(s.messages[0].age_ms, 250u);
    EXPECT_EQ(s.messages[0].message.op, proto::opcode::text);
    EXPECT_EQ(as_text(s.messages[0].message.payload), "hello");
    EXPECT_EQ(s.messages[1].offset, 11u);
    EXPECT_EQ(s.messages[1].age_ms, 0u);
    EXPECT_EQ(s.messages[1].message.op, proto::opcode::binary);
    EXPECT_EQ(as_text(s.messages[1].message.payload), binary.substr(1));
    EXPECT_EQ(s.messages[2].age_ms, 0u) << "a clock step back is age 0, not 2^64 - 1000";
    EXPECT_TRUE(as_text(s.messages[2].message.payload).empty());
}

TEST(SyncReply, NewTopicHasNoMessages) {
    const auto r = read_resp(sync_resp("fresh", "0", "5", {}));
    sync_reply s;
    s.messages.resize(2);
    ASSERT_TRUE(parse_sync_reply(*r, s));
    EXPECT_EQ(s.last, 0u);
    EXPECT_TRUE(s.messages.empty());
}

TEST(SyncReply, LastIsExactUpTo2To64Minus1) {
    const auto r = read_resp(sync_resp("e", "18446744073709551615", "5", {entry("0-18446744073709551615", "tx", "5")}));
    sync_reply s;
    ASSERT_TRUE(parse_sync_reply(*r, s));
    EXPECT_EQ(s.last, 18446744073709551615ull);
    EXPECT_EQ(s.messages.at(0).offset, 18446744073709551615ull);
}

TEST(SyncReply, RejectsEveryOtherShape) {
    const std::string ok = entry("0-1", "ta", "5");
    for (const std::string& resp : {
             "-ERR boom\r\n"s, "$-1\r\n"s, array(0),
             array(3) + bulk("e") + bulk("1") + bulk("5"),
             array(5) + bulk("e") + bulk("1") + bulk("5") + array(0) + array(0),
             array(4) + bulk("e") + integer(1) + bulk("5") + array(0),  // last as an integer
             array(4) + bulk("e") + bulk("1") + integer(5) + array(0),
             array(4) + bulk("e") + bulk("1") + bulk("5") + bulk("x"),  // entries not an array
             array(4) + bulk("e") + bulk("1") + bulk("5") + "*-1\r\n",
             sync_resp("", "1", "5", {}), sync_resp("a:b", "1", "5", {}),
             sync_resp("e", "", "5", {}), sync_resp("e", "-1", "5", {}), sync_resp("e", "1.0", "5", {}),
             sync_resp("e", "18446744073709551616", "5", {}), sync_resp("e", "1e3", "5", {}),
             sync_resp("e", "1", "", {}), sync_resp("e", "1", "x", {}),
             // entries
             sync_resp("e", "1", "5", {bulk("0-1")}),
             sync_resp("e", "1", "5", {array(1) + bulk("0-1")}),
             sync_resp("e", "1", "5", {entry("1-1", "ta", "5")}),   // ids are 0-<offset>
             sync_resp("e", "1", "5", {entry("0-", "ta", "5")}),
             sync_resp("e", "1", "5", {entry("0-x", "ta", "5")}),
             sync_resp("e", "1", "5", {entry("1", "ta", "5")}),
             sync_resp("e", "1", "5", {entry("0-1-1", "ta", "5")}),
             sync_resp("e", "1", "5", {entry("0-0", "ta", "5")}),   // offsets start at 1
             sync_resp("e", "1", "5", {entry("0-2", "ta", "5")}),   // past last
             sync_resp("e", "3", "5", {entry("0-2", "ta", "5"), entry("0-1", "tb", "5")}),  // out of order
             sync_resp("e", "3", "5", {entry("0-2", "ta", "5"), entry("0-2", "tb", "5")}),
             sync_resp("e", "1", "5", {entry("0-1", "xa", "5")}),   // bad op
             sync_resp("e", "1", "5", {entry("0-1", "", "5")}),
             sync_resp("e", "1", "5", {entry("0-1", "ta", "")}),    // bad t
             sync_resp("e", "1", "5", {entry("0-1", "ta", "-5")}),
             sync_resp("e", "1", "5", {array(2) + bulk("0-1") + array(2) + bulk("m") + bulk("ta")}),
             sync_resp("e", "1", "5", {array(2) + bulk("0-1") + array(4) + bulk("m") + bulk("ta") + bulk("m") +
                                       bulk("tb")}),
             sync_resp("e", "1", "5", {array(2) + bulk("0-1") + array(4) + bulk("m") + bulk("ta") + bulk("x") +
                                       bulk("5")}),
             sync_resp("e", "1", "5", {array(2) + bulk("0-1") + array(6) + bulk("m") + bulk("ta") + bulk("t") +
                                       bulk("5") + bulk("x") + bulk("y")}),
             sync_resp("e", "1", "5", {array(2) + bulk("0-1") + array(4) + bulk("m") + bulk("ta") + bulk("t") +
                                       integer(5)}),
             sync_resp("e", "2", "5", {ok, "$-1\r\n"}),
         }) {
        const auto r = read_resp(resp);
        sync_reply s;
        EXPECT_FALSE(parse_sync_reply(*r, s)) << resp;
    }
}

}  // namespace
}  // namespace wsring::cluster

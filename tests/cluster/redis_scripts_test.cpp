// Tests for cluster/redis_wire's two Lua scripts, run by a real redis-server
// (tests/cluster/redis_server_fixture.hpp) over hiredis' blocking API: the
// offsets they hand out, the epochs they create, the stream and the channel
// batch they write, what sync reads back, and that the parsers in
// redis_wire.cpp read the real replies. Skipped without /usr/bin/redis-server.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/redis_wire.hpp"
#include "tests/cluster/redis_server_fixture.hpp"

namespace wsring::cluster {
namespace {

using namespace std::string_view_literals;
using test::redis_server;

std::span<const std::byte> as_bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }
std::string_view as_text(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

struct reply_free {
    void operator()(redisReply* r) const { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_free>;

std::string_view str(const redisReply* r) {
    EXPECT_TRUE(r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
                      r->type == REDIS_REPLY_ERROR))
        << (r ? r->type : -1);
    return r && r->str ? std::string_view(r->str, r->len) : std::string_view();
}

// One blocking hiredis connection, 5 s timeout: a missing reply fails the
// test instead of hanging it.
class connection {
public:
    explicit connection(std::uint16_t port) : c_(redisConnect("127.0.0.1", port)) {
        if (c_ == nullptr || c_->err) throw std::runtime_error("redisConnect failed");
        redisSetTimeout(c_, timeval{5, 0});
    }
    ~connection() { redisFree(c_); }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    reply_ptr operator()(const std::vector<std::string_view>& args) {
        std::vector<const char*> argv;
        std::vector<std::size_t> lens;
        for (auto a : args) {
            argv.push_back(a.data());
            lens.push_back(a.size());
        }
        auto* r = static_cast<redisReply*>(
            redisCommandArgv(c_, static_cast<int>(args.size()), argv.data(), lens.data()));
        EXPECT_NE(r, nullptr) << "connection error: " << c_->errstr;
        return reply_ptr(r);
    }
    reply_ptr next() {  // a pushed message (pub/sub)
        void* r = nullptr;
        EXPECT_EQ(redisGetReply(c_, &r), REDIS_OK) << c_->errstr;
        return reply_ptr(static_cast<redisReply*>(r));
    }

private:
    redisContext* c_;
};

struct publish_args {
    std::string candidate = "E1";
    std::string max = "1000";
    std::string ttl = "0";
    std::string meta_ttl = "0";
    std::string origin = "node-a/0/1";
};

class RedisScripts : public ::testing::Test {
protected:
    void SetUp() override {
        if (!redis_server::available()) GTEST_SKIP() << redis_server::binary << " is not installed";
        server_.emplace();
        db_.emplace(server_->port());
    }

    connection& db() { return *db_; }

    // EVAL publish_script; `messages` are encoded here.
    reply_ptr publish(std::string_view topic, std::vector<wire_message> messages, const publish_args& a = {}) {
        const topic_keys k = keys_of(topic);
        std::vector<std::string> encoded(messages.size());
        for (std::size_t i = 0; i < messages.size(); ++i)
            encode_message(messages[i].op, messages[i].payload, encoded[i]);
        std::vector<std::string_view> args{"EVAL",   publish_script().source, "2",        k.meta,  k.stream, k.channel,
                                           a.candidate, a.max,                a.ttl,      a.meta_ttl, a.origin};
        args.insert(args.end(), encoded.begin(), encoded.end());
        return db()(args);
    }
    // publish() that must succeed: its {epoch, first}.
    std::pair<std::string, std::uint64_t> published(std::string_view topic, std::vector<wire_message> messages,
                                                    const publish_args& a = {}) {
        const reply_ptr r = publish(topic, std::move(messages), a);
        std::string_view epoch;
        std::uint64_t first = 0;
        EXPECT_TRUE(r && parse_publish_reply(*r, epoch, first)) << (r ? str(r.get()) : "no reply");
        return {std::string(epoch), first};
    }
    reply_ptr sync(std::string_view topic, std::string_view from, std::string_view candidate = "S1",
                   std::string_view meta_ttl = "0") {
        const topic_keys k = keys_of(topic);
        return db()({"EVAL", sync_script().source, "2", k.meta, k.stream, candidate, from, meta_ttl});
    }
    std::uint64_t redis_ms() {
        const reply_ptr t = db()({"TIME"});
        return std::stoull(std::string(str(t->element[0]))) * 1000 +
               std::stoull(std::string(str(t->element[1]))) / 1000;
    }
    long long integer(const std::vector<std::string_view>& args) {
        const reply_ptr r = db()(args);
        EXPECT_EQ(r->type, REDIS_REPLY_INTEGER) << str(r.get());
        return r->integer;
    }

    std::optional<redis_server> server_;
    std::optional<connection> db_;
};

wire_message text(std::string_view s) { return {proto::opcode::text, as_bytes(s)}; }
wire_message binary(std::string_view s) { return {proto::opcode::binary, as_bytes(s)}; }

TEST_F(RedisScripts, OffsetsAreContiguousAcrossCalls) {
    EXPECT_EQ(published("t", {text("a"), text("b"), text("c")}).second, 1u);
    EXPECT_EQ(published("t", {text("d"), text("e")}).second, 4u);
    EXPECT_EQ(published("t", {text("f")}).second, 6u);
    EXPECT_EQ(published("other", {text("x")}).second, 1u) << "each topic counts on its own";
    EXPECT_EQ(str(db()({"HGET", keys_of("t").meta, "o"}).get()), "6");
}

TEST_F(RedisScripts, NewTopicTakesTheCandidateEpochAndKeepsIt) {
    EXPECT_EQ(published("t", {text("a")}, {.candidate = "first-1"}).first, "first-1");
    EXPECT_EQ(published("t", {text("b")}, {.candidate = "second"}).first, "first-1");
    EXPECT_EQ(str(db()({"HGET", keys_of("t").meta, "e"}).get()), "first-1");
}

TEST_F(RedisScripts, StreamIdsAreTheOffsetsWithMessageAndRedisTime) {
    const std::uint64_t before = redis_ms();
    published("t", {text("a"), binary(std::string_view("\0\n", 2))});
    published("t", {text("c")});
    const std::uint64_t after = redis_ms();
    const reply_ptr r = db()({"XRANGE", keys_of("t").stream, "-", "+"});
    ASSERT_EQ(r->type, REDIS_REPLY_ARRAY);
    ASSERT_EQ(r->elements, 3u);
    const std::string_view want_m[] = {"ta", std::string_view("b\0\n", 3), "tc"};
    for (std::size_t i = 0; i < 3; ++i) {
        const redisReply* e = r->element[i];
        EXPECT_EQ(str(e->element[0]), "0-" + std::to_string(i + 1));
        ASSERT_EQ(e->element[1]->elements, 4u);
        EXPECT_EQ(str(e->element[1]->element[0]), "m");
        EXPECT_EQ(str(e->element[1]->element[1]), want_m[i]);
        EXPECT_EQ(str(e->element[1]->element[2]), "t");
        const std::uint64_t t = std::stoull(std::string(str(e->element[1]->element[3])));
        EXPECT_GE(t, before);
        EXPECT_LE(t, after);
    }
}

TEST_F(RedisScripts, BigOffsetsAreWrittenAsIntegersNotExponents) {
    // Lua 5.1 would write 2^50 + 1 as 1.1258999068426e+15 through tostring.
    const topic_keys k = keys_of("t");
    db()({"HSET", k.meta, "e", "E9", "o", "1125899906842624"});
    connection sub(server_->port());
    sub({"SUBSCRIBE", k.channel});
    EXPECT_EQ(published("t", {text("a"), text("b")}).second, 1125899906842625u);
    const reply_ptr msg = sub.next();
    ASSERT_TRUE(msg && msg->type == REDIS_REPLY_ARRAY && msg->elements == 3);
    EXPECT_TRUE(str(msg->element[2]).starts_with("E9 1125899906842625 ")) << str(msg->element[2]);
    const reply_ptr ids = db()({"XRANGE", k.stream, "-", "+"});
    ASSERT_EQ(ids->elements, 2u);
    EXPECT_EQ(str(ids->element[1]->element[0]), "0-1125899906842626");
    const reply_ptr s = sync("t", "1125899906842626");
    sync_reply parsed;
    ASSERT_TRUE(parse_sync_reply(*s, parsed));
    EXPECT_EQ(parsed.last, 1125899906842626u);
    ASSERT_EQ(parsed.messages.size(), 1u);
    EXPECT_EQ(parsed.messages[0].offset, 1125899906842626u);
}

TEST_F(RedisScripts, MaxlenTrimsApproximately) {
    std::vector<std::string> payloads;
    for (int i = 0; i < 100; ++i) payloads.push_back("m" + std::to_string(i));
    std::vector<wire_message> batch;
    for (const auto& p : payloads) batch.push_back(text(p));
    for (int round = 0; round < 10; ++round) published("t", batch, {.max = "50"});
    // MAXLEN ~ trims whole macro nodes (stream-node-max-entries, 100): at
    // least 50 stay, and far fewer than the 1000 written.
    const long long len = integer({"XLEN", keys_of("t").stream});
    EXPECT_GE(len, 50);
    EXPECT_LE(len, 50 + 100);
    const reply_ptr last = db()({"XREVRANGE", keys_of("t").stream, "+", "-", "COUNT", "1"});
    ASSERT_EQ(last->elements, 1u);
    EXPECT_EQ(str(last->element[0]->element[0]), "0-1000");
}

TEST_F(RedisScripts, MaxZeroStillNumbersAndPublishesButKeepsNoHistory) {
    connection sub(server_->port());
    sub({"SUBSCRIBE", keys_of("t").channel});
    EXPECT_EQ(published("t", {text("a"), text("b")}, {.max = "0", .ttl = "60000"}).second, 1u);
    EXPECT_EQ(published("t", {text("c")}, {.max = "0"}).second, 3u);
    EXPECT_EQ(integer({"EXISTS", keys_of("t").stream}), 0);
    channel_batch b;
    const reply_ptr m1 = sub.next();
    ASSERT_TRUE(parse_channel_batch(str(m1->element[2]), b));
    EXPECT_EQ(b.first, 1u);
    EXPECT_EQ(b.messages.size(), 2u);
    const reply_ptr m2 = sub.next();
    ASSERT_TRUE(parse_channel_batch(str(m2->element[2]), b));
    EXPECT_EQ(b.first, 3u);
    sync_reply s;
    const reply_ptr r = sync("t", "1");
    ASSERT_TRUE(parse_sync_reply(*r, s));
    EXPECT_EQ(s.last, 3u);
    EXPECT_TRUE(s.messages.empty());
}

TEST_F(RedisScripts, TtlsExpireStreamAndMetaOnlyWhenAsked) {
    published("none", {text("a")});
    EXPECT_EQ(integer({"PTTL", keys_of("none").stream}), -1);
    EXPECT_EQ(integer({"PTTL", keys_of("none").meta}), -1);
    published("ttl", {text("a")}, {.ttl = "60000", .meta_ttl = "120000"});
    const long long stream_ttl = integer({"PTTL", keys_of("ttl").stream});
    const long long meta_ttl = integer({"PTTL", keys_of("ttl").meta});
    EXPECT_GT(stream_ttl, 0);
    EXPECT_LE(stream_ttl, 60000);
    EXPECT_GT(meta_ttl, 60000);
    EXPECT_LE(meta_ttl, 120000);
    sync("synced", "1", "S", "90000");
    const long long synced_ttl = integer({"PTTL", keys_of("synced").meta});
    EXPECT_GT(synced_ttl, 0);
    EXPECT_LE(synced_ttl, 90000);
}

TEST_F(RedisScripts, SubscriberReceivesExactlyTheFormattedBatch) {
    const topic_keys k = keys_of("room/1");
    connection sub(server_->port());
    const reply_ptr confirm = sub({"SUBSCRIBE", k.channel});
    ASSERT_EQ(confirm->type, REDIS_REPLY_ARRAY);
    const std::string nasty("x\n1:t \0:\r\n", 10);
    const std::vector<wire_message> msgs = {text("hello"), binary(nasty), text(""), binary("")};
    const auto [epoch, first] = published("room/1", msgs, {.candidate = "Ep-1", .origin = "node b/2/77"});
    const reply_ptr m = sub.next();
    ASSERT_TRUE(m && m->type == REDIS_REPLY_ARRAY && m->elements == 3);
    EXPECT_EQ(str(m->element[0]), "message");
    EXPECT_EQ(str(m->element[1]), k.channel);
    EXPECT_EQ(topic_of_channel(str(m->element[1])), "room/1");
    EXPECT_EQ(str(m->element[2]), format_channel_batch(epoch, first, "node b/2/77", msgs));
    channel_batch b;
    ASSERT_TRUE(parse_channel_batch(str(m->element[2]), b));
    EXPECT_EQ(b.epoch, "Ep-1");
    EXPECT_EQ(b.first, 1u);
    EXPECT_EQ(b.origin, "node b/2/77");
    ASSERT_EQ(b.messages.size(), msgs.size());
    for (std::size_t i = 0; i < msgs.size(); ++i) {
        EXPECT_EQ(b.messages[i].op, msgs[i].op);
        EXPECT_EQ(as_text(b.messages[i].payload), as_text(msgs[i].payload));
    }
}

TEST_F(RedisScripts, SyncOnANewTopicCreatesItsEpochAtOffsetZero) {
    sync_reply s;
    const reply_ptr r = sync("t", "1", "Sync-E");
    ASSERT_TRUE(parse_sync_reply(*r, s)) << str(r.get());
    EXPECT_EQ(s.epoch, "Sync-E");
    EXPECT_EQ(s.last, 0u);
    EXPECT_TRUE(s.messages.empty());
    EXPECT_EQ(published("t", {text("a")}, {.candidate = "Pub-E"}),
              (std::pair<std::string, std::uint64_t>{"Sync-E", 1}))
        << "publish finds the epoch sync made";
}

TEST_F(RedisScripts, SyncFromTheMiddleReturnsTheRestInOrder) {
    const std::uint64_t before = redis_ms();
    published("t", {text("1"), text("2"), binary("3")});
    published("t", {text("4"), text("5")});
    const reply_ptr r = sync("t", "3");
    const std::uint64_t after = redis_ms();
    sync_reply s;
    ASSERT_TRUE(parse_sync_reply(*r, s)) << str(r.get());
    EXPECT_EQ(s.epoch, "E1");
    EXPECT_EQ(s.last, 5u);
    ASSERT_EQ(s.messages.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(s.messages[i].offset, 3 + i);
        EXPECT_EQ(as_text(s.messages[i].message.payload), std::to_string(3 + i));
        EXPECT_LE(s.messages[i].age_ms, after - before) << "age is Redis time now − t";
    }
    EXPECT_EQ(s.messages[0].message.op, proto::opcode::binary);
    EXPECT_EQ(s.messages[1].message.op, proto::opcode::text);
    sync_reply all;
    const reply_ptr r1 = sync("t", "1");
    ASSERT_TRUE(parse_sync_reply(*r1, all));
    EXPECT_EQ(all.messages.size(), 5u);
    const reply_ptr r0 = sync("t", "0");
    ASSERT_TRUE(parse_sync_reply(*r0, all));
    EXPECT_EQ(all.messages.size(), 5u) << "from 0 is from the start";
}

TEST_F(RedisScripts, SyncFromBeyondTheLastReadsNothing) {
    published("t", {text("1"), text("2")});
    for (std::string_view from : {"3"sv, "4"sv, "1000"sv, "18446744073709551615"sv}) {
        const reply_ptr r = sync("t", from);
        sync_reply s;
        ASSERT_TRUE(parse_sync_reply(*r, s)) << from;
        EXPECT_EQ(s.last, 2u);
        EXPECT_TRUE(s.messages.empty()) << from;
    }
}

TEST_F(RedisScripts, SyncRefusesAFromThatIsNotANumber) {
    for (std::string_view from : {""sv, "-1"sv, "1-2"sv, "+"sv, "0x10"sv}) {
        const reply_ptr r = sync("t", from);
        EXPECT_EQ(r->type, REDIS_REPLY_ERROR) << from;
    }
}

TEST_F(RedisScripts, AfterFlushallANewEpochStartsAtOne) {
    published("t", {text("a"), text("b")}, {.candidate = "Old"});
    db()({"FLUSHALL"});
    const reply_ptr r = sync("t", "3", "New");
    sync_reply s;
    ASSERT_TRUE(parse_sync_reply(*r, s));
    EXPECT_EQ(s.epoch, "New");
    EXPECT_EQ(s.last, 0u);
    EXPECT_EQ(published("t", {text("c")}), (std::pair<std::string, std::uint64_t>{"New", 1}));
}

TEST_F(RedisScripts, ANewEpochDropsTheOldEpochsStream) {
    // The meta hash expired (meta ttl) while the stream did not: the next
    // publish starts a new epoch and its 0-1 must not collide with old ids.
    published("t", {text("a"), text("b"), text("c")}, {.candidate = "Old"});
    db()({"DEL", keys_of("t").meta});
    EXPECT_EQ(published("t", {text("d")}, {.candidate = "New"}), (std::pair<std::string, std::uint64_t>{"New", 1}));
    EXPECT_EQ(integer({"XLEN", keys_of("t").stream}), 1);
    db()({"DEL", keys_of("t").meta});
    const reply_ptr r = sync("t", "1", "Newer");
    sync_reply s;
    ASSERT_TRUE(parse_sync_reply(*r, s));
    EXPECT_EQ(s.epoch, "Newer");
    EXPECT_TRUE(s.messages.empty()) << "old epoch's messages are not the new one's";
}

TEST_F(RedisScripts, PublishRefusesBadArguments) {
    const reply_ptr r = publish("t", {text("a")}, {.max = "many"});
    EXPECT_EQ(r->type, REDIS_REPLY_ERROR);
    EXPECT_EQ(integer({"EXISTS", keys_of("t").meta}), 0) << "nothing written before the check";
}

TEST_F(RedisScripts, EvalshaWorksAfterScriptLoad) {
    const topic_keys k = keys_of("t");
    const reply_ptr missing = db()({"EVALSHA", publish_script().sha1, "2", k.meta, k.stream});
    ASSERT_EQ(missing->type, REDIS_REPLY_ERROR);
    EXPECT_TRUE(str(missing.get()).starts_with("NOSCRIPT")) << str(missing.get());
    for (const script* s : {&publish_script(), &sync_script()}) {
        const reply_ptr loaded = db()({"SCRIPT", "LOAD", s->source});
        EXPECT_EQ(str(loaded.get()), s->sha1) << "our SHA-1 is Redis' SHA-1";
    }
    const reply_ptr p = db()({"EVALSHA", publish_script().sha1, "2", k.meta, k.stream, k.channel, "Sha", "10", "0",
                              "0", "o", "tx"});
    std::string_view epoch;
    std::uint64_t first = 0;
    ASSERT_TRUE(parse_publish_reply(*p, epoch, first)) << str(p.get());
    EXPECT_EQ(epoch, "Sha");
    EXPECT_EQ(first, 1u);
    const reply_ptr s = db()({"EVALSHA", sync_script().sha1, "2", k.meta, k.stream, "X", "1", "0"});
    sync_reply parsed;
    ASSERT_TRUE(parse_sync_reply(*s, parsed)) << str(s.get());
    EXPECT_EQ(parsed.epoch, "Sha");
    ASSERT_EQ(parsed.messages.size(), 1u);
    EXPECT_EQ(as_text(parsed.messages[0].message.payload), "x");
}

}  // namespace
}  // namespace wsring::cluster

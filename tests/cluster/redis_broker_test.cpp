// redis_broker against a real redis-server, without reactors: the test is
// the one reactor. It retains topics in the hub's log as a reactor would,
// reads its inbox (outcomes, "synced") and consumes the ring, so the broker's
// thread, its links and the Lua scripts run for real (and under TSan in the
// tsan tree). What a socket then does with the entries is modes/'s business
// (tests/modes/pubsub_broker_test.cpp).
#include "cluster/redis_broker.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "modes/position_frames.hpp"
#include "proto/encoder.hpp"
#include "proto/wsring_v1.hpp"
#include "redis_server_fixture.hpp"

namespace wsring::cluster {
namespace {

using namespace std::chrono_literals;
using test::redis_server;

// Polls `done` (doing `step` first each time) until it holds or 10 s pass.
bool eventually(const std::function<void()>& step, const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
        step();
        if (done()) return true;
        std::this_thread::sleep_for(2ms);  // the broker's thread works meanwhile
    }
    return false;
}

std::vector<std::byte> frames_of(std::initializer_list<std::string_view> texts) {
    std::vector<std::byte> out;
    for (std::string_view t : texts) {
        const auto payload = std::as_bytes(std::span(t.data(), t.size()));
        const std::size_t at = out.size();
        out.resize(at + proto::frame_size(payload.size(), false));
        proto::encode_frame(std::span(out).subspan(at), proto::opcode::text, payload);
    }
    return out;
}

class RedisBroker : public ::testing::Test {
protected:
    void SetUp() override {
        if (!redis_server::available()) GTEST_SKIP() << "no " << redis_server::binary;
        redis_ = std::make_unique<redis_server>();
        hub_ = std::make_unique<modes::broadcast_hub>(1024, 1, modes::history_options{.remote = true});
        broker_options o;
        o.servers = {{"127.0.0.1", redis_->port()}};
        o.backoff = {.base = 10ms, .cap = 100ms};
        o.unsubscribe_linger = 50ms;
        broker_ = std::make_unique<redis_broker>(*hub_, o);
        hub_->set_broker(broker_.get());
        std::string why;
        ASSERT_TRUE(broker_->start(why)) << why;
    }
    void TearDown() override {
        if (broker_) broker_->stop();
    }

    // The reactor's side: take the inbox and the ring.
    void turn() {
        std::vector<modes::broker_outcome> o;
        std::vector<std::string> s;
        hub_->inbox(0).take(o, s);
        for (auto& x : o) outcomes_.push_back(std::move(x));
        for (auto& x : s) synced_.push_back(std::move(x));
        hub_->entries().poll(0, 256, [&](const modes::broadcast_message& m) { entries_.push_back(m); });
    }

    // Retains `topic` and waits for the broker to sync it.
    modes::topic_position follow(const std::string& topic) {
        modes::topic_position p = hub_->log().retain(topic);
        EXPECT_FALSE(p.synced);
        broker_->want(topic);
        EXPECT_TRUE(eventually([&] { turn(); }, [&] {
            return std::find(synced_.begin(), synced_.end(), topic) != synced_.end();
        }));
        return *hub_->log().position(topic);
    }

    std::unique_ptr<redis_server> redis_;
    std::unique_ptr<modes::broadcast_hub> hub_;
    std::unique_ptr<redis_broker> broker_;
    std::vector<modes::broker_outcome> outcomes_;
    std::vector<std::string> synced_;
    std::vector<modes::broadcast_message> entries_;
};

TEST_F(RedisBroker, AWantedTopicIsSyncedAtOffsetZeroOfANewEpoch) {
    const modes::topic_position p = follow("room");
    EXPECT_TRUE(p.synced);
    EXPECT_TRUE(proto::v1::valid_epoch(p.epoch));
    EXPECT_EQ(p.offset, 0u);
}

TEST_F(RedisBroker, APublishGetsItsOffsetsAndComesBackThroughTheRing) {
    const modes::topic_position p = follow("room");
    ASSERT_TRUE(broker_->publish({0, 7, "room", frames_of({"a", "bb"}), 2}));
    ASSERT_TRUE(eventually([&] { turn(); }, [&] { return !outcomes_.empty() && !entries_.empty(); }));
    ASSERT_EQ(outcomes_.size(), 1u);
    EXPECT_TRUE(outcomes_[0].ok) << outcomes_[0].error;
    EXPECT_EQ(outcomes_[0].ticket, 7u);
    EXPECT_EQ(outcomes_[0].epoch, p.epoch);
    EXPECT_EQ(outcomes_[0].first, 1u);
    ASSERT_EQ(entries_.size(), 1u);
    const modes::broadcast_message& m = entries_[0];
    EXPECT_EQ(m.first_offset, 1u);
    EXPECT_EQ(m.messages, 2u);
    const std::vector<std::byte> plain = frames_of({"a", "bb"});
    EXPECT_TRUE(std::equal(plain.begin(), plain.end(), m.frames.bytes().begin(), m.frames.bytes().end()));
    const std::string prefix = p.epoch + ":1\na";
    ASSERT_GE(m.v1.size(), prefix.size() + 2);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(m.v1.data()) + 2, prefix.size()), prefix);
    EXPECT_EQ(hub_->log().position("room")->offset, 2u);
}

TEST_F(RedisBroker, PublishesQueuedTogetherRunAsOneScriptAndEachHearsItsOwnOffset) {
    follow("room");
    for (std::uint64_t ticket = 1; ticket <= 20; ++ticket)
        ASSERT_TRUE(broker_->publish({0, ticket, "room", frames_of({"m"}), 1}));
    ASSERT_TRUE(eventually([&] { turn(); }, [&] { return outcomes_.size() == 20; }));
    std::vector<std::uint64_t> firsts(21, 0);
    for (const auto& o : outcomes_) {
        ASSERT_TRUE(o.ok) << o.error;
        firsts[o.ticket] = o.first;
    }
    // Offsets 1..20 in the order the publishes were queued.
    for (std::uint64_t ticket = 1; ticket <= 20; ++ticket) EXPECT_EQ(firsts[ticket], ticket);
    ASSERT_TRUE(eventually([&] { turn(); }, [&] { return hub_->log().position("room")->offset == 20; }));
    std::uint64_t next = 1;
    for (const auto& m : entries_) {
        EXPECT_EQ(m.first_offset, next);
        next += m.messages;
    }
    EXPECT_EQ(next, 21u);
    // How many script runs that took depends on how the broker's turns fell
    // (one, or twenty): only the offsets are the contract.
    EXPECT_LE(broker_->stats().published, 20u);
}

TEST_F(RedisBroker, ASecondNodeSyncsTheHistoryAndSeesTheSameOffsets) {
    follow("room");
    ASSERT_TRUE(broker_->publish({0, 1, "room", frames_of({"one", "two", "three"}), 3}));
    ASSERT_TRUE(eventually([&] { turn(); }, [&] { return !outcomes_.empty(); }));

    // Another node on the same Redis: its own hub and broker.
    modes::broadcast_hub hub2(1024, 1, modes::history_options{.remote = true});
    broker_options o;
    o.servers = {{"127.0.0.1", redis_->port()}};
    redis_broker broker2(hub2, o);
    hub2.set_broker(&broker2);
    std::string why;
    ASSERT_TRUE(broker2.start(why)) << why;
    hub2.log().retain("room");
    broker2.want("room");
    std::vector<modes::broker_outcome> out;
    std::vector<std::string> synced;
    ASSERT_TRUE(eventually([&] { hub2.inbox(0).take(out, synced); }, [&] { return !synced.empty(); }));
    const auto p2 = hub2.log().position("room");
    ASSERT_TRUE(p2 && p2->synced);
    EXPECT_EQ(p2->epoch, hub_->log().position("room")->epoch);
    EXPECT_EQ(p2->offset, 3u);
    // The stream became its history: a client that saw offset 1 recovers 2 and 3.
    const auto r = hub2.log().recover("room", {p2->epoch, 1}, 3);
    EXPECT_TRUE(r.recovered);
    std::uint32_t replayed = 0;
    for (const auto& s : r.replay) replayed += s.messages;
    EXPECT_EQ(replayed, 2u);
    broker2.stop();
}

TEST_F(RedisBroker, ARedisThatComesBackEmptyResetsTheTopicThroughTheRing) {
    const modes::topic_position p = follow("room");
    ASSERT_TRUE(broker_->publish({0, 1, "room", frames_of({"one"}), 1}));
    ASSERT_TRUE(eventually([&] { turn(); }, [&] { return !entries_.empty(); }));
    entries_.clear();
    redis_->restart();  // no persistence: the topic is gone
    ASSERT_TRUE(eventually([&] { turn(); }, [&] { return !entries_.empty(); }));
    const modes::broadcast_message& m = entries_[0];
    ASSERT_FALSE(m.reset_epoch.size() == 0) << "expected a reset entry";
    const std::string epoch(reinterpret_cast<const char*>(m.reset_epoch.data()), m.reset_epoch.size());
    EXPECT_NE(epoch, p.epoch);
    EXPECT_EQ(m.messages, 0u);
    EXPECT_EQ(m.first_offset, 1u);
    const std::string notice = proto::v1::unrecovered_notice(epoch, 0);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(m.v1.data()) + 2, notice.size()), notice);
    EXPECT_EQ(hub_->log().position("room")->epoch, epoch);
    EXPECT_GE(broker_->stats().resets, 1u);
}

TEST_F(RedisBroker, PublishesAreRefusedWhileRedisIsDownAndTakenAgainAfter) {
    follow("room");
    redis_->kill_hard();
    ASSERT_TRUE(eventually([] {}, [&] { return !broker_->publish({0, 1, "room", frames_of({"x"}), 1}); }));
    redis_->restart();
    ASSERT_TRUE(eventually([&] { turn(); }, [&] { return broker_->publish({0, 2, "room", frames_of({"y"}), 1}); }));
    ASSERT_TRUE(eventually([&] { turn(); }, [&] {
        return std::any_of(outcomes_.begin(), outcomes_.end(), [](const auto& o) { return o.ticket == 2; });
    }));
    for (const auto& o : outcomes_)
        if (o.ticket == 2) {
            EXPECT_TRUE(o.ok) << o.error;
        }
}

TEST_F(RedisBroker, ATopicNobodyWantsIsForgottenAfterTheLinger) {
    follow("room");
    EXPECT_TRUE(hub_->log().release("room"));
    broker_->unwant("room");
    ASSERT_TRUE(eventually([] {}, [&] { return !hub_->log().position("room").has_value(); }));
    EXPECT_EQ(broker_->stats().unsubscribes, 1u);
}

TEST_F(RedisBroker, ATopicWantedAgainWithinTheLingerStaysSubscribed) {
    follow("room");
    hub_->log().release("room");
    broker_->unwant("room");
    hub_->log().retain("room");  // a reactor's new first subscriber, before the linger ends
    broker_->want("room");
    std::this_thread::sleep_for(200ms);  // well past the 50 ms linger: nothing may happen
    EXPECT_TRUE(hub_->log().position("room").has_value());
    EXPECT_EQ(broker_->stats().unsubscribes, 0u);
    EXPECT_EQ(broker_->stats().subscribes, 1u);
}

TEST(RedisBrokerStart, AnUnreachableRedisIsAClearError) {
    modes::broadcast_hub hub(16, 1, modes::history_options{.remote = true});
    broker_options o;
    o.servers = {{"127.0.0.1", 1}};  // nothing listens on port 1
    o.connect_timeout = 300ms;
    redis_broker b(hub, o);
    std::string why;
    EXPECT_FALSE(b.start(why));
    EXPECT_NE(why.find("cannot reach Redis at 127.0.0.1:1"), std::string::npos) << why;
}

}  // namespace
}  // namespace wsring::cluster

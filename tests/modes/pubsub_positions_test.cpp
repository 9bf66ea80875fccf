// Positions, history and recovery in the pub/sub handler (wsring.v1,
// docs/protocol-v1.md), on the fan-out test bench: two "reactors" driven by
// hand, so every interleaving of "published", "consumed by this reactor"
// and "a subscriber arrives" can be set up exactly. The invariant under all
// of them: a subscriber's offsets are contiguous from the position it was
// told, with nothing twice, whether they came from history or live.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fanout_bench.hpp"
#include "modes/pubsub_handler.hpp"
#include "proto/wsring_v1.hpp"

namespace wsring::modes {
namespace {

using namespace fanout_bench;

// Epochs named e1, e2, ... in order of creation, via a test hub.
struct positions_fixture : ::testing::Test {
    history_options history{};
    fanout_options fo() const { return fanout_options{.history = history}; }
};

std::string at(std::string_view epoch, std::uint64_t offset, std::string_view data) {
    return std::string(epoch) + ":" + std::to_string(offset) + "\n" + std::string(data);
}

// The epoch a fresh subscriber was told, from its "!position E:O" notice.
std::string epoch_of(const std::string& notice) {
    auto colon = notice.rfind(':');
    auto space = notice.find(' ');
    return notice.substr(space + 1, colon - space - 1);
}

using PubsubPositions = positions_fixture;

TEST_F(PubsubPositions, FreshSubscriberLearnsItsPositionThenGetsPrefixedMessages) {
    broadcast_hub hub(64, 1, history);
    fake_reactor r(hub, 0, fo());
    connection& v1 = r.open_v1("/room");
    connection& raw = r.open("/room");
    auto first = r.received(v1);
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0].substr(0, 10), "!position ");
    std::string e = epoch_of(first[0]);
    EXPECT_EQ(first[0], "!position " + e + ":0");
    EXPECT_TRUE(proto::v1::valid_epoch(e));
    r.send(raw, "one");
    r.send(raw, "two");
    r.handler.drain();
    EXPECT_EQ(r.received(v1), (std::vector<std::string>{at(e, 1, "one"), at(e, 2, "two")}));
    EXPECT_EQ(r.received(raw), (std::vector<std::string>{"one", "two"})) << "raw stays byte for byte";
    connection& later = r.open_v1("/room");
    EXPECT_EQ(r.received(later), std::vector<std::string>{"!position " + e + ":2"});
}

// Reactor 1 gets its first subscriber while entries it has not consumed yet
// are in the ring: those were published before the subscriber came and are
// not its (its position says so); the next one is.
TEST_F(PubsubPositions, NewOnAReactorWithEntriesInFlight) {
    broadcast_hub hub(64, 2, history);
    fake_reactor r0(hub, 0, fo()), r1(hub, 1, fo());
    connection& pub = r0.open("/t");
    for (int i = 1; i <= 3; ++i) {
        r0.send(pub, "m" + std::to_string(i));
        r0.handler.drain();  // one entry each; r1 consumes none yet
    }
    connection& sub = r1.open_v1("/t");
    auto notice = r1.received(sub);
    ASSERT_EQ(notice.size(), 1u);
    std::string e = epoch_of(notice[0]);
    EXPECT_EQ(notice[0], "!position " + e + ":3");
    r1.handler.drain();
    EXPECT_TRUE(r1.received(sub).empty()) << "offsets 1..3 came before its position";
    r0.send(pub, "m4");
    r0.handler.drain();
    r1.handler.drain();
    EXPECT_EQ(r1.received(sub), std::vector<std::string>{at(e, 4, "m4")});
}

// A subscriber returns to a reactor that has no subscriber of the topic,
// while the messages it missed are still in the ring for that reactor: the
// replay takes them from history up to the topic's position, and the ring
// entries, when the reactor reaches them, are not sent again.
TEST_F(PubsubPositions, ReplayOnAReactorThatHasNotConsumedThem) {
    broadcast_hub hub(64, 2, history);
    fake_reactor r0(hub, 0, fo()), r1(hub, 1, fo());
    connection& pub = r0.open_v1("/t");
    std::string e = epoch_of(r0.received(pub).at(0));
    for (int i = 1; i <= 5; ++i) {
        r0.send(pub, "m" + std::to_string(i));
        r0.handler.drain();
    }
    r0.received(pub);
    connection& back = r1.open_v1("/t?since=" + e + ":2");
    EXPECT_EQ(r1.received(back), (std::vector<std::string>{at(e, 3, "m3"), at(e, 4, "m4"), at(e, 5, "m5")}));
    r1.handler.drain();
    EXPECT_TRUE(r1.received(back).empty()) << "no duplicate from the ring";
    r0.send(pub, "m6");
    r0.handler.drain();
    r1.handler.drain();
    EXPECT_EQ(r1.received(back), std::vector<std::string>{at(e, 6, "m6")});
    EXPECT_EQ(r1.handler.stats().recovered, 1u);
    EXPECT_EQ(r1.handler.stats().replayed, 3u);
}

// The reactor already has a subscriber of the topic, one that has not had
// the entries in the ring yet: the returning subscriber is replayed only up
// to where that one stands, and both get the rest live, once.
TEST_F(PubsubPositions, ReplayUpToWhereTheReactorsSubscribersStand) {
    broadcast_hub hub(64, 2, history);
    fake_reactor r0(hub, 0, fo()), r1(hub, 1, fo());
    connection& pub = r0.open("/t");
    r0.send(pub, "m1");
    r0.handler.drain();
    r1.handler.drain();
    connection& stay = r1.open_v1("/t");
    std::string e = epoch_of(r1.received(stay).at(0));  // "!position e:1"
    for (int i = 2; i <= 4; ++i) {
        r0.send(pub, "m" + std::to_string(i));
        r0.handler.drain();
    }
    connection& back = r1.open_v1("/t?since=" + e + ":0");
    EXPECT_EQ(r1.received(back), std::vector<std::string>{at(e, 1, "m1")}) << "up to 1: r1 stands there";
    r1.handler.drain();
    const std::vector<std::string> live{at(e, 2, "m2"), at(e, 3, "m3"), at(e, 4, "m4")};
    EXPECT_EQ(r1.received(back), live);
    EXPECT_EQ(r1.received(stay), live);
}

TEST_F(PubsubPositions, NothingMissedMeansNoNoticeAtAll) {
    broadcast_hub hub(64, 1, history);
    fake_reactor r(hub, 0, fo());
    connection& a = r.open_v1("/t");
    std::string e = epoch_of(r.received(a).at(0));
    r.send(a, "x");
    r.handler.drain();
    connection& back = r.open_v1("/t?since=" + e + ":1");
    EXPECT_TRUE(r.received(back).empty());
    r.send(a, "y");
    r.handler.drain();
    EXPECT_EQ(r.received(back), std::vector<std::string>{at(e, 2, "y")});
}

TEST_F(PubsubPositions, UnrecoveredForAStaleEpochAFuturePositionOrATrimmedOffset) {
    history.max_messages = 2;
    broadcast_hub hub(64, 1, history);
    fake_reactor r(hub, 0, fo());
    connection& a = r.open_v1("/t");
    std::string e = epoch_of(r.received(a).at(0));
    for (int i = 1; i <= 5; ++i) r.send(a, "m" + std::to_string(i));
    r.handler.drain();
    const std::string now = "!unrecovered " + e + ":5";
    connection& stale = r.open_v1("/t?since=other:1");
    EXPECT_EQ(r.received(stale), std::vector<std::string>{now});
    connection& future = r.open_v1("/t?since=" + e + ":9");
    EXPECT_EQ(r.received(future), std::vector<std::string>{now});
    connection& trimmed = r.open_v1("/t?since=" + e + ":1");
    EXPECT_EQ(r.received(trimmed), std::vector<std::string>{now}) << "2..3 are gone (size 2)";
    connection& kept = r.open_v1("/t?since=" + e + "%3A3");
    EXPECT_EQ(r.received(kept), (std::vector<std::string>{at(e, 4, "m4"), at(e, 5, "m5")}));
    EXPECT_EQ(r.handler.stats().unrecovered, 3u);
    r.send(a, "m6");
    r.handler.drain();
    EXPECT_EQ(r.received(stale), std::vector<std::string>{at(e, 6, "m6")}) << "live after the notice";
}

// History off and no wsring.v1 subscriber anywhere when it was published:
// nobody encoded the v1 frames; the reactor that then has one does, itself.
TEST_F(PubsubPositions, HistoryOffAndAV1SubscriberNobodyExpected) {
    history.max_messages = 0;
    broadcast_hub hub(64, 2, history);
    fake_reactor r0(hub, 0, fo()), r1(hub, 1, fo());
    connection& pub = r0.open("/t");
    connection& raw = r1.open("/t");
    r0.send(pub, "m1");
    r0.handler.drain();
    connection& v1 = r1.open_v1("/t");
    std::string e = epoch_of(r1.received(v1).at(0));
    EXPECT_EQ(e.empty(), false);
    r1.handler.drain();
    EXPECT_EQ(r1.received(raw), std::vector<std::string>{"m1"});
    EXPECT_EQ(r1.received(v1), std::vector<std::string>{at(e, 1, "m1")})
        << "r1 stood at 0 when it came (it had not consumed m1): m1 is its";
    connection& back = r1.open_v1("/t?since=" + e + ":0");
    EXPECT_EQ(r1.received(back), std::vector<std::string>{"!unrecovered " + e + ":1"}) << "no history";
}

TEST_F(PubsubPositions, MalformedSinceIsRefusedBeforeTheUpgrade) {
    broadcast_hub hub(64, 1, history);
    fake_reactor r(hub, 0, fo());
    for (std::string q : {"since=abc", "since=e:", "since=:1", "since=e:1x", "since=a:1&since=a:2"}) {
        connection& c = r.accept();
        r.feed(c, proto::make_client_request({.host = "h", .path = "/t?" + q, .subprotocols = {"wsring.v1"}},
                                             "dGhlIHNhbXBsZSBub25jZQ=="));
        std::string reply = r.drain_bytes(c);
        EXPECT_EQ(reply.substr(0, 12), "HTTP/1.1 400") << q << ": " << reply;
        EXPECT_NE(c.state, conn_state::open) << q;
        EXPECT_EQ(c.topic, topic_table::none) << q;
    }
    connection& raw = r.open("/t?since=abc");  // raw clients ignore the query, as before
    EXPECT_EQ(raw.state, conn_state::open);
}

// A replay larger than --max-backpressure does not make its subscriber a
// slow consumer at the next live message; a subscriber that then does not
// read at all still is one, once past the cap plus the replay.
TEST_F(PubsubPositions, AReplayDoesNotCountAsSlowness) {
    broadcast_hub hub(64, 1, history);
    fanout_options o = fo();
    o.max_backpressure = 256;
    fake_reactor r(hub, 0, o);
    connection& a = r.open_v1("/t");
    std::string e = epoch_of(r.received(a).at(0));
    const std::string big(100, 'x');
    for (int i = 0; i < 10; ++i) {  // one per turn: `a` reads each, never slow itself
        r.send(a, big);
        r.handler.drain();
        r.received(a);
    }
    connection& back = r.open_v1("/t?since=" + e + ":0");  // ~1 KiB queued, cap 256
    EXPECT_GT(back.out.bytes(), 256u);
    r.send(a, "live");
    r.handler.drain();
    EXPECT_EQ(back.state, conn_state::open);
    EXPECT_EQ(r.handler.stats().slow_closed, 0u);
    auto got = r.received(back);
    ASSERT_EQ(got.size(), 11u);
    EXPECT_EQ(got.back(), at(e, 11, "live"));
    for (int i = 0; i < 3; ++i) {  // now `back` stops reading: a slow consumer again
        r.send(a, big);
        r.handler.drain();
        r.received(a);
    }
    EXPECT_EQ(r.handler.stats().slow_closed, 1u);
    EXPECT_EQ(back.state, conn_state::closing) << "1008 queued";
}

// Every subscriber's offsets stay contiguous, on two reactors, while
// publishers on both send and subscribers come and go with `since`.
TEST_F(PubsubPositions, ContiguousOffsetsUnderChurn) {
    history.max_messages = 100000;
    broadcast_hub hub(1024, 2, history);
    fake_reactor r0(hub, 0, fo()), r1(hub, 1, fo());
    fake_reactor* rs[2] = {&r0, &r1};
    connection& p0 = r0.open("/t");
    connection& p1 = r1.open("/t");
    struct follower {
        fake_reactor* r = nullptr;
        connection* c = nullptr;
        std::string epoch{};
        std::uint64_t last = 0;
        bool fresh = true;
    };
    std::vector<follower> fs;
    for (int i = 0; i < 6; ++i) fs.push_back({.r = rs[i % 2], .c = &rs[i % 2]->open_v1("/t")});
    std::uint64_t sent = 0;
    auto check = [&](follower& f) {
        for (const std::string& m : f.r->received(*f.c)) {
            proto::v1::parsed_message p = proto::v1::parse_message(std::as_bytes(std::span(m.data(), m.size())));
            if (p.kind == proto::v1::message_kind::position) {
                ASSERT_TRUE(f.fresh);
                f.epoch = std::string(p.pos.epoch);
                f.last = p.pos.offset;
                f.fresh = false;
                continue;
            }
            ASSERT_EQ(p.kind, proto::v1::message_kind::data) << m;
            ASSERT_EQ(p.pos.epoch, f.epoch);
            ASSERT_EQ(p.pos.offset, f.last + 1) << "contiguous, nothing twice";
            f.last = p.pos.offset;
        }
    };
    for (int turn = 0; turn < 300; ++turn) {
        for (int k = 0; k < 1 + turn % 3; ++k) {
            r0.send(p0, "a" + std::to_string(++sent));
            r1.send(p1, "b" + std::to_string(++sent));
        }
        if (turn % 2) r0.handler.drain();
        if (turn % 3) r1.handler.drain();
        follower& f = fs[turn % fs.size()];
        check(f);
        if (turn % 7 == 0 && !f.fresh) {  // leave and come back, maybe on the other reactor
            f.r->s.abort(*f.c);
            f.r = rs[(turn / 7) % 2];
            f.c = &f.r->open_v1("/t?since=" + f.epoch + ":" + std::to_string(f.last));
        }
    }
    r0.handler.drain();
    r1.handler.drain();
    r0.handler.drain();
    for (follower& f : fs) {
        check(f);
        EXPECT_EQ(f.last, sent) << "every follower reached the end";
    }
}

}  // namespace
}  // namespace wsring::modes

// Pub/sub with a broker in the hub (multi-node, issue 13), on the fan-out
// test bench: a recording broker stands in for Redis. What the handler must
// do: ask the broker to follow a topic at its first subscriber and let go at
// its last; hand its clients' messages to the broker (never to the ring);
// park wsring.v1 subscribers until the topic is synced; answer refusals
// (1011, "!error", HTTP 503) and defer an HTTP publish's answer to the
// broker's outcome; deliver what the broker puts in the log and the ring,
// resets included ("!unrecovered", or 1012 for raw subscribers). The
// broker's side is played by hand, as cluster/redis_broker_topics.cpp and
// cluster/redis_broker_deliver.cpp do it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fanout_bench.hpp"
#include "modes/broker.hpp"
#include "modes/position_frames.hpp"
#include "modes/pubsub_handler.hpp"
#include "proto/frame_header.hpp"
#include "proto/wsring_v1.hpp"

namespace wsring::modes {
namespace {

using namespace fanout_bench;

struct recording_broker final : broker {
    bool accept = true;  // false: every publish is refused
    std::vector<broker_publish> published;
    std::vector<std::string> wants, unwants;

    bool publish(broker_publish&& p) override {
        if (!accept) return false;
        published.push_back(std::move(p));
        return true;
    }
    void want(std::string_view topic) override { wants.emplace_back(topic); }
    void unwant(std::string_view topic) override { unwants.emplace_back(topic); }
};

// Unmasked server text frames, one per payload.
std::vector<std::byte> server_frames(const std::vector<std::string>& payloads) {
    std::vector<std::byte> out;
    for (const std::string& p : payloads) {
        const std::size_t at = out.size();
        out.resize(at + proto::frame_size(p.size(), false));
        proto::encode_frame(std::span(out).subspan(at), opcode::text, std::as_bytes(std::span(p)));
    }
    return out;
}

std::string close_code_of(const std::string& payload) {
    if (payload.size() < 2) return "none";
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(payload[i]); };
    return std::to_string((byte(0) << 8) | byte(1));
}

std::string post(std::string_view topic, std::string_view body) {
    return "POST /publish/" + std::string(topic) + " HTTP/1.1\r\nHost: h\r\nAuthorization: apikey k\r\n" +
           "Content-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
           std::string(body);
}

// Every reactor's hub has the broker; the log follows it (remote).
struct PubsubBroker : ::testing::Test {
    recording_broker broker;  // outlives the hub and the reactors
    broadcast_hub hub{64, 2, history_options{.remote = true}};
    broadcast_hub::ring::producer producer = hub.entries().make_producer();  // the broker's

    PubsubBroker() { hub.set_broker(&broker); }

    fanout_options fo(bool echo_self = true) const {
        fanout_options o;
        o.echo_self = echo_self;
        o.api_key = "k";
        return o;
    }

    // The broker follows `topic` now (redis_broker's sync_new): the log has
    // its position and history, every reactor hears "synced".
    void sync(std::string_view topic, std::string_view epoch, std::uint64_t last,
              const std::vector<std::string>& history = {}) {
        std::vector<topic_log::stored_message> stored;
        for (std::size_t i = 0; i < history.size(); ++i) {
            const std::uint64_t offset = last - history.size() + 1 + i;
            auto plain = server_frames({history[i]});
            stored.push_back({offset, std::chrono::milliseconds(0), encode_v1_frames(plain, epoch, offset)});
        }
        ASSERT_TRUE(hub.log().sync_remote(topic, epoch, last, std::move(stored)));
        for (std::uint32_t i = 0; i < hub.reactors(); ++i) hub.inbox(i).post_synced(std::string(topic));
    }

    // Messages from the broker's channel (redis_broker's deliver): into the
    // log, and when applied into the ring.
    remote_append deliver(std::string_view topic, std::string_view epoch, std::uint64_t first,
                          const std::vector<std::string>& payloads, broadcast_origin origin = {}) {
        broadcast_message m;
        m.frames = core::shared_buffer::copy_of(server_frames(payloads));
        m.topic = core::shared_buffer::copy_of_text(topic);
        m.messages = static_cast<std::uint32_t>(payloads.size());
        m.first_offset = first;
        m.origin = origin;
        m.v1 = encode_v1_frames(m.frames.bytes(), epoch, first);
        std::uint64_t seq = 0;
        const remote_append r = hub.log().append_remote(topic, epoch, first, m.messages,
                                                        [&](std::string_view, std::uint64_t) {
                                                            seq = producer.claim();
                                                            return m.v1;
                                                        });
        if (r == remote_append::applied) producer.publish_claimed(seq, std::move(m));
        return r;
    }

    // The broker lost the topic's history (redis_broker's reset).
    void reset(std::string_view topic, std::string_view epoch, std::uint64_t last) {
        const std::string notice = proto::v1::unrecovered_notice(epoch, last);
        broadcast_message m;
        m.topic = core::shared_buffer::copy_of_text(topic);
        m.messages = 0;
        m.first_offset = last + 1;
        m.reset_epoch = core::shared_buffer::copy_of_text(epoch);
        m.v1 = core::shared_buffer::copy_of(server_frames({notice}));
        std::uint64_t seq = 0;
        ASSERT_TRUE(hub.log().reset_remote(topic, epoch, last, [&](std::string_view, std::uint64_t) {
            seq = producer.claim();
            return core::shared_buffer{};
        }));
        producer.publish_claimed(seq, std::move(m));
    }
};

// ---- following a topic ------------------------------------------------------------------

TEST_F(PubsubBroker, FirstSubscriberAsksTheBrokerToFollowTheTopicOnce) {
    fake_reactor r(hub, 0, fo());
    r.open("/t");
    r.open_v1("/t");
    EXPECT_EQ(broker.wants, std::vector<std::string>{"t"});
    r.open("/u");
    EXPECT_EQ(broker.wants, (std::vector<std::string>{"t", "u"}));
}

TEST_F(PubsubBroker, ASyncedTopicIsNotWantedAgain) {
    fake_reactor r0(hub, 0, fo()), r1(hub, 1, fo());
    r0.open("/t");
    sync("t", "E", 3);
    r1.open("/t");
    EXPECT_EQ(broker.wants, std::vector<std::string>{"t"}) << "the node follows it already";
}

TEST_F(PubsubBroker, LastSubscriberLeavingLetsTheBrokerGo) {
    fake_reactor r(hub, 0, fo());
    connection& a = r.open("/t");
    connection& b = r.open_v1("/t");
    r.s.abort(a);
    EXPECT_TRUE(broker.unwants.empty()) << "one subscriber is left";
    r.s.abort(b);
    EXPECT_EQ(broker.unwants, std::vector<std::string>{"t"});
}

TEST_F(PubsubBroker, LastSubscriberOfTheNodeNotOfTheReactorUnwants) {
    fake_reactor r0(hub, 0, fo()), r1(hub, 1, fo());
    connection& a = r0.open("/t");
    connection& b = r1.open("/t");
    r0.s.abort(a);
    EXPECT_TRUE(broker.unwants.empty()) << "reactor 1 still has one";
    r1.s.abort(b);
    EXPECT_EQ(broker.unwants, std::vector<std::string>{"t"});
}

// ---- wsring.v1 subscribers wait for the sync ----------------------------------------------

TEST_F(PubsubBroker, V1SubscriberOfAnUnsyncedTopicGetsItsPositionOnlyAfterTheSync) {
    fake_reactor r(hub, 0, fo());
    connection& sub = r.open_v1("/t");
    EXPECT_TRUE(r.received(sub).empty()) << "no position before the broker's";
    r.handler.drain();
    EXPECT_TRUE(r.received(sub).empty());
    sync("t", "E", 7);
    r.handler.drain();
    EXPECT_EQ(r.received(sub), std::vector<std::string>{"!position E:7"});
    r.handler.drain();
    EXPECT_TRUE(r.received(sub).empty()) << "told once";
}

TEST_F(PubsubBroker, ParkedSubscriberWithSinceGetsTheSyncedHistory) {
    fake_reactor r(hub, 0, fo());
    connection& sub = r.open_v1("/t?since=E:5");
    EXPECT_TRUE(r.received(sub).empty());
    sync("t", "E", 7, {"m3", "m4", "m5", "m6", "m7"});
    r.handler.drain();
    EXPECT_EQ(r.received(sub), (std::vector<std::string>{"E:6\nm6", "E:7\nm7"}));
    EXPECT_EQ(r.handler.stats().recovered, 1u);
}

TEST_F(PubsubBroker, ParkedSubscriberWithSinceOutsideTheHistoryIsUnrecovered) {
    fake_reactor r(hub, 0, fo());
    connection& sub = r.open_v1("/t?since=E:1");
    sync("t", "E", 7, {"m5", "m6", "m7"});
    r.handler.drain();
    EXPECT_EQ(r.received(sub), std::vector<std::string>{"!unrecovered E:7"});
}

TEST_F(PubsubBroker, ParkedSubscriberThatLeftIsNotAnswered) {
    fake_reactor r(hub, 0, fo());
    r.open("/t");  // keeps the topic retained
    connection& sub = r.open_v1("/t");
    r.s.abort(sub);
    sync("t", "E", 2);
    r.handler.drain();  // must not touch the closed connection (ASan)
    EXPECT_TRUE(sub.out.empty());
}

// ---- messages from clients go to the broker -------------------------------------------------

TEST_F(PubsubBroker, ClientMessagesGoToTheBrokerAsOneBatchPerTopicNotToTheRing) {
    fake_reactor r(hub, 0, fo());
    connection& sub = r.open("/t");
    sync("t", "E", 0);
    r.handler.drain();
    connection& pub = r.open("/t");
    connection& other = r.open("/u");
    r.send(pub, "one");
    r.send(pub, "two");
    r.send(other, "three");
    EXPECT_TRUE(broker.published.empty()) << "batched until the turn's end";
    r.handler.drain();
    ASSERT_EQ(broker.published.size(), 2u);
    const broker_publish& t = broker.published[0].topic == "t" ? broker.published[0] : broker.published[1];
    const broker_publish& u = broker.published[0].topic == "t" ? broker.published[1] : broker.published[0];
    EXPECT_EQ(t.topic, "t");
    EXPECT_EQ(t.messages, 2u);
    EXPECT_EQ(t.frames, server_frames({"one", "two"}));
    EXPECT_EQ(t.reactor, 0u);
    EXPECT_NE(t.ticket, 0u) << "its publisher can be told of a refusal";
    EXPECT_EQ(u.topic, "u");
    EXPECT_EQ(u.messages, 1u);
    EXPECT_EQ(u.frames, server_frames({"three"}));
    EXPECT_NE(u.ticket, t.ticket);
    r.handler.drain();
    EXPECT_TRUE(r.received(sub).empty()) << "nothing reached the ring: the broker sequences";
    EXPECT_FALSE(hub.entries().has_pending(0));
    EXPECT_EQ(r.handler.stats().published, 3u);
}

TEST_F(PubsubBroker, LargeMessagesGoToTheBrokerToo) {
    fake_reactor r(hub, 0, fo());
    connection& pub = r.open("/t");
    const std::string big(40000, 'b');
    r.send(pub, big);
    r.handler.drain();
    ASSERT_EQ(broker.published.size(), 1u);
    EXPECT_EQ(broker.published[0].frames, server_frames({big}));
    EXPECT_FALSE(hub.entries().has_pending(0)) << "never straight into the ring";
}

TEST_F(PubsubBroker, RefusedPublishClosesARawPublisher1011) {
    broker.accept = false;
    fake_reactor r(hub, 0, fo());
    connection& pub = r.open("/t");
    r.send(pub, "x");
    r.handler.drain();
    r.handler.drain();  // the refusal comes back through the inbox
    auto got = r.received(pub);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(close_code_of(got[0]), "1011");
    EXPECT_EQ(pub.state, conn_state::closing);
    EXPECT_EQ(r.handler.stats().refused, 1u);
}

TEST_F(PubsubBroker, RefusedPublishGivesAV1PublisherAnErrorAndKeepsIt) {
    broker.accept = false;
    fake_reactor r(hub, 0, fo());
    connection& pub = r.open_v1("/t");
    r.send(pub, "x");
    r.handler.drain();
    r.handler.drain();
    EXPECT_EQ(r.received(pub), std::vector<std::string>{"!error redis unavailable"});
    EXPECT_EQ(pub.state, conn_state::open);
    broker.accept = true;
    r.send(pub, "y");
    r.handler.drain();
    EXPECT_EQ(broker.published.size(), 1u) << "it may publish again";
}

TEST_F(PubsubBroker, FailedOutcomeIsAnsweredLikeARefusal) {
    fake_reactor r(hub, 0, fo());
    connection& raw = r.open("/t");
    connection& v1 = r.open_v1("/u");
    r.send(raw, "a");
    r.send(v1, "b");
    r.handler.drain();
    ASSERT_EQ(broker.published.size(), 2u);
    for (const broker_publish& p : broker.published)
        hub.inbox(0).post({p.ticket, false, {}, 0, "redis went away"});
    r.handler.drain();
    auto raw_got = r.received(raw);
    ASSERT_EQ(raw_got.size(), 1u);
    EXPECT_EQ(close_code_of(raw_got[0]), "1011");
    EXPECT_EQ(r.received(v1), std::vector<std::string>{"!error redis went away"});
    EXPECT_EQ(v1.state, conn_state::open);
    EXPECT_EQ(r.handler.stats().refused, 2u);
}

TEST_F(PubsubBroker, OkOutcomeTellsAWebSocketPublisherNothing) {
    fake_reactor r(hub, 0, fo());
    connection& pub = r.open_v1("/t");
    r.send(pub, "a");
    r.handler.drain();
    ASSERT_EQ(broker.published.size(), 1u);
    hub.inbox(0).post({broker.published[0].ticket, true, "E", 1, {}});
    r.handler.drain();
    EXPECT_TRUE(r.received(pub).empty());
    EXPECT_EQ(pub.state, conn_state::open);
}

TEST_F(PubsubBroker, OutcomeForAPublisherThatLeftIsIgnored) {
    fake_reactor r(hub, 0, fo());
    connection& pub = r.open("/t");
    connection& stays = r.open("/t");
    r.send(pub, "a");
    r.handler.drain();
    ASSERT_EQ(broker.published.size(), 1u);
    r.s.abort(pub);
    connection& reused = r.open("/t");  // another connection on the topic
    hub.inbox(0).post({broker.published[0].ticket, false, {}, 0, "late"});
    r.handler.drain();
    EXPECT_TRUE(r.received(reused).empty());
    EXPECT_EQ(reused.state, conn_state::open);
    EXPECT_EQ(stays.state, conn_state::open);
}

// ---- the HTTP publish API: the answer waits for the outcome ------------------------------------

TEST_F(PubsubBroker, HttpPublishIsAnsweredWithThePositionTheBrokerGave) {
    fake_reactor r(hub, 0, fo());
    r.open("/other");  // a WebSocket first: the bench has no reactor to attach
    connection& http = r.accept();
    r.feed(http, post("news", "hello"));
    EXPECT_TRUE(r.drain_bytes(http).empty()) << "deferred until the broker's outcome";
    ASSERT_EQ(broker.published.size(), 1u);
    EXPECT_EQ(broker.published[0].topic, "news");
    EXPECT_EQ(broker.published[0].messages, 1u);
    EXPECT_EQ(broker.published[0].frames, server_frames({"hello"}));
    hub.inbox(0).post({broker.published[0].ticket, true, "E", 42, {}});
    r.handler.drain();
    const std::string answer = r.drain_bytes(http);
    EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 200") << answer;
    EXPECT_NE(answer.find("{\"epoch\":\"E\",\"offset\":42}"), std::string::npos) << answer;
    EXPECT_EQ(http.state, conn_state::handshake) << "keep-alive";
    r.feed(http, post("news", "again"));
    EXPECT_EQ(broker.published.size(), 2u) << "the connection reads again after its answer";
}

TEST_F(PubsubBroker, HttpPublishRefusedIs503AtOnce) {
    broker.accept = false;
    fake_reactor r(hub, 0, fo());
    r.open("/other");
    connection& http = r.accept();
    r.feed(http, post("news", "hello"));
    const std::string answer = r.drain_bytes(http);
    EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 503") << answer;
    EXPECT_NE(answer.find("Retry-After: 1\r\n"), std::string::npos) << answer;
    EXPECT_EQ(r.handler.stats().refused, 1u);
}

TEST_F(PubsubBroker, HttpPublishFailedOutcomeIs503) {
    fake_reactor r(hub, 0, fo());
    r.open("/other");
    connection& http = r.accept();
    r.feed(http, post("news", "hello"));
    ASSERT_EQ(broker.published.size(), 1u);
    hub.inbox(0).post({broker.published[0].ticket, false, {}, 0, "redis down"});
    r.handler.drain();
    const std::string answer = r.drain_bytes(http);
    EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 503") << answer;
    EXPECT_NE(answer.find("redis down"), std::string::npos) << answer;
}

TEST_F(PubsubBroker, PipelinedHttpPublishesAreAnsweredInOrder) {
    fake_reactor r(hub, 0, fo());
    r.open("/other");
    connection& http = r.accept();
    r.feed(http, post("news", "one") + post("news", "two"));
    ASSERT_EQ(broker.published.size(), 1u) << "the second waits for the first's answer";
    hub.inbox(0).post({broker.published[0].ticket, true, "E", 1, {}});
    r.handler.drain();
    ASSERT_EQ(broker.published.size(), 2u) << "then it is read";
    EXPECT_EQ(broker.published[1].frames, server_frames({"two"}));
    hub.inbox(0).post({broker.published[1].ticket, true, "E", 2, {}});
    r.handler.drain();
    const std::string answers = r.drain_bytes(http);
    const auto first = answers.find("\"offset\":1}"), second = answers.find("\"offset\":2}");
    ASSERT_NE(first, std::string::npos) << answers;
    ASSERT_NE(second, std::string::npos) << answers;
    EXPECT_LT(first, second);
}

TEST_F(PubsubBroker, HttpPublisherGoneBeforeTheOutcomeIsForgotten) {
    fake_reactor r(hub, 0, fo());
    r.open("/other");
    connection& http = r.accept();
    r.feed(http, post("news", "hello"));
    ASSERT_EQ(broker.published.size(), 1u);
    r.s.abort(http);  // on_http_abandoned
    connection& next = r.accept();  // another HTTP connection on the reactor
    hub.inbox(0).post({broker.published[0].ticket, true, "E", 1, {}});
    r.handler.drain();
    EXPECT_TRUE(r.drain_bytes(next).empty());
    EXPECT_EQ(next.state, conn_state::handshake);
}

// ---- what the broker delivers ------------------------------------------------------------

TEST_F(PubsubBroker, DeliveredMessagesReachSubscribersWithPositions) {
    fake_reactor r0(hub, 0, fo()), r1(hub, 1, fo());
    connection& v1 = r0.open_v1("/t");
    connection& raw = r1.open("/t");
    sync("t", "E", 4);
    r0.handler.drain();
    r1.handler.drain();
    EXPECT_EQ(r0.received(v1), std::vector<std::string>{"!position E:4"});
    ASSERT_EQ(deliver("t", "E", 5, {"a", "b"}), remote_append::applied);
    r0.handler.drain();
    r1.handler.drain();
    EXPECT_EQ(r0.received(v1), (std::vector<std::string>{"E:5\na", "E:6\nb"}));
    EXPECT_EQ(r1.received(raw), (std::vector<std::string>{"a", "b"}));
    connection& later = r0.open_v1("/t?since=E:5");
    EXPECT_EQ(r0.received(later), std::vector<std::string>{"E:6\nb"}) << "live messages are history too";
}

// A raw subscriber has no position: it should get every message published
// after it subscribed, as without a broker. Here the topic is synced and a
// message arrives before this reactor reads its inbox.
TEST_F(PubsubBroker, RawSubscriberGetsMessagesAppliedBetweenTheSyncAndItsReactorsTurn) {
    fake_reactor r(hub, 0, fo());
    connection& raw = r.open("/t");
    sync("t", "E", 0);
    ASSERT_EQ(deliver("t", "E", 1, {"first"}), remote_append::applied);
    r.handler.drain();
    EXPECT_EQ(r.received(raw), std::vector<std::string>{"first"});
}

TEST_F(PubsubBroker, NoEchoSelfLeavesOutThePublisherByItsTicket) {
    fake_reactor r(hub, 0, fo(false));
    connection& pub = r.open("/t");
    connection& sub = r.open("/t");
    sync("t", "E", 0);
    r.handler.drain();
    r.send(pub, "mine");
    r.handler.drain();
    ASSERT_EQ(broker.published.size(), 1u);
    broadcast_origin origin;
    origin.reactor = 0;
    origin.ticket = broker.published[0].ticket;
    ASSERT_EQ(deliver("t", "E", 1, {"mine"}, origin), remote_append::applied);
    r.handler.drain();
    EXPECT_TRUE(r.received(pub).empty());
    EXPECT_EQ(r.received(sub), std::vector<std::string>{"mine"});
}

TEST_F(PubsubBroker, ResetTellsV1SubscribersAndClosesRawOnes1012) {
    fake_reactor r(hub, 0, fo());
    connection& v1 = r.open_v1("/t");
    connection& raw = r.open("/t");
    sync("t", "E", 3);
    r.handler.drain();
    EXPECT_EQ(r.received(v1), std::vector<std::string>{"!position E:3"});
    reset("t", "F", 9);
    r.handler.drain();
    EXPECT_EQ(r.received(v1), std::vector<std::string>{"!unrecovered F:9"});
    EXPECT_EQ(v1.state, conn_state::open);
    auto raw_got = r.received(raw);
    ASSERT_EQ(raw_got.size(), 1u);
    EXPECT_EQ(close_code_of(raw_got[0]), "1012");
    ASSERT_EQ(deliver("t", "F", 10, {"after"}), remote_append::applied);
    r.handler.drain();
    EXPECT_EQ(r.received(v1), std::vector<std::string>{"F:10\nafter"}) << "the topic goes on from the reset";
    connection& fresh = r.open_v1("/t");
    EXPECT_EQ(r.received(fresh), std::vector<std::string>{"!position F:10"});
}

// A reset that happened before a reactor's first subscriber came is history
// to it, like any entry before its position (its position is already the
// reset's): nobody is told again, nobody is closed.
TEST_F(PubsubBroker, ResetFromBeforeASubscriberCameIsNotDeliveredToIt) {
    fake_reactor r0(hub, 0, fo()), r1(hub, 1, fo());
    r0.open("/t");
    sync("t", "E", 3);
    r0.handler.drain();
    reset("t", "F", 9);  // in the ring; reactor 1 has not consumed it
    connection& raw = r1.open("/t");
    connection& v1 = r1.open_v1("/t");
    EXPECT_EQ(r1.received(v1), std::vector<std::string>{"!position F:9"});
    r1.handler.drain();
    EXPECT_TRUE(r1.received(v1).empty()) << "its position is after the reset already";
    EXPECT_TRUE(r1.received(raw).empty());
    EXPECT_EQ(raw.state, conn_state::open) << "no 1012 for a reset from before it came";
}

// --deflate with --redis: what the broker delivers comes with plain frames
// only (Redis carries those); each reactor with receivers that share the
// compressed form compresses the entry once for all of them, in both
// encodings (bare and wsring.v1). A message under the threshold stays as it is.
TEST_F(PubsubBroker, DeliveredMessagesAreCompressedOncePerReactorForDeflateReceivers) {
    session_options so;
    so.deflate = {.enabled = true};
    fake_reactor r0(hub, 0, fo(), so), r1(hub, 1, fo(), so);
    connection& z0 = r0.open("/t", "permessage-deflate");
    connection& z0b = r0.open("/t", "permessage-deflate");
    connection& plain = r0.open("/t");
    connection& v1z = r1.open_with({.host = "h", .path = "/t", .subprotocols = {"wsring.v1"},
                                    .extra_headers = {"Sec-WebSocket-Extensions: permessage-deflate"}});
    sync("t", "E", 0);
    r0.handler.drain();
    r1.handler.drain();
    (void)r1.received(v1z);  // its "!position"
    std::string big;
    while (big.size() < 1000) big += "{\"user\":\"ada\",\"text\":\"hello there, everyone\"},";
    ASSERT_EQ(deliver("t", "E", 1, {big, "tiny"}), remote_append::applied);
    r0.handler.drain();
    r1.handler.drain();
    EXPECT_EQ(r0.handler.stats().compressed, 1u) << "once for both sharing receivers";
    EXPECT_EQ(r1.handler.stats().compressed, 1u) << "the v1 form, on the reactor that has its receiver";
    const auto f0 = r0.frames(z0), f0b = r0.frames(z0b), fp = r0.frames(plain), fv = r1.frames(v1z);
    ASSERT_EQ(f0.size(), 2u);
    ASSERT_EQ(f0b.size(), 2u);
    ASSERT_EQ(fp.size(), 2u);
    ASSERT_EQ(fv.size(), 2u);
    EXPECT_TRUE(f0[0].rsv1 && fv[0].rsv1) << "compressed (RFC 7692 §6)";
    EXPECT_FALSE(f0[1].rsv1 || fv[1].rsv1 || fp[0].rsv1 || fp[1].rsv1);
    EXPECT_EQ(f0[0].at, f0b[0].at) << "one compressed frame, referenced by both queues";
    EXPECT_EQ(inflated(f0[0]), big);
    EXPECT_EQ(f0[1].payload, "tiny");
    EXPECT_EQ(fp[0].payload, big);
    EXPECT_EQ(inflated(fv[0]), "E:1\n" + big);
    EXPECT_EQ(fv[1].payload, "E:2\ntiny");
}

// Messages all under the threshold: nothing to compress, and the sharing
// receivers get the plain frames themselves, not a copy.
TEST_F(PubsubBroker, DeliveredSmallMessagesGoToDeflateReceiversAsTheyAre) {
    session_options so;
    so.deflate = {.enabled = true};
    fake_reactor r(hub, 0, fo(), so);
    connection& z = r.open("/t", "permessage-deflate");
    connection& plain = r.open("/t");
    sync("t", "E", 0);
    r.handler.drain();
    ASSERT_EQ(deliver("t", "E", 1, {"a", "b"}), remote_append::applied);
    r.handler.drain();
    EXPECT_EQ(r.handler.stats().compressed, 0u);
    const auto fz = r.frames(z), fp = r.frames(plain);
    ASSERT_EQ(fz.size(), 2u);
    ASSERT_EQ(fp.size(), 2u);
    EXPECT_FALSE(fz[0].rsv1 || fz[1].rsv1);
    EXPECT_EQ(fz[0].at, fp[0].at) << "the entry's own frames";
}

}  // namespace
}  // namespace wsring::modes

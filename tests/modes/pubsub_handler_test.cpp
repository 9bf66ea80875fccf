// Tests for modes/pubsub_handler and modes/broadcast_hub without sockets or
// threads: two "reactors" (a session, a fake transport and a handler each)
// share one hub, and the test plays phase 4 (drain) by hand. Checks topic
// routing across reactors, one shared encoding per message (a reference in
// every queue, never a copy), --no-echo-self, per-publisher order, the two
// slow-consumer policies, and a full ring that a publisher drains itself.
#include "modes/pubsub_handler.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "fanout_bench.hpp"
#include "net/session.hpp"
#include "proto/client_handshake.hpp"
#include "proto/encoder.hpp"

namespace wsring::modes {
namespace {

using namespace wsring::net;
using namespace fanout_bench;

using namespace std::chrono_literals;
using proto::opcode;

TEST(PubsubHandler, RoutesByTopicAcrossReactorsWithOneSharedEncoding) {
    broadcast_hub hub(64, 2);
    fanout_options fo;
    fake_reactor r0(hub, 0, fo), r1(hub, 1, fo);
    connection& a = r0.open("/chat/x?me=a");
    connection& b = r0.open("/chat/y");
    connection& c = r1.open("/chat/x");
    r0.send(a, "hello");
    r0.handler.drain();
    EXPECT_TRUE(r1.handler.pending());
    r1.handler.drain();
    EXPECT_FALSE(r1.handler.pending());
    std::vector<const std::byte*> at_a, at_c;
    EXPECT_EQ(r0.received(a, &at_a), std::vector<std::string>{"hello"});
    EXPECT_EQ(r1.received(c, &at_c), std::vector<std::string>{"hello"});
    EXPECT_TRUE(r0.received(b).empty()) << "another topic";
    ASSERT_EQ(at_a.size(), 1u);
    ASSERT_EQ(at_c.size(), 1u);
    EXPECT_EQ(at_a[0], at_c[0]) << "both queues reference the one encoding";
    EXPECT_EQ(r0.handler.stats().published, 1u);
    EXPECT_EQ(r0.handler.stats().delivered + r1.handler.stats().delivered, 2u);
}

TEST(PubsubHandler, BroadcastIgnoresThePath) {
    broadcast_hub hub(64, 1);
    fanout_options fo{.per_path_topics = false};
    fake_reactor r(hub, 0, fo);
    connection& a = r.open("/one");
    connection& b = r.open("/two");
    r.send(b, "all");
    r.handler.drain();
    EXPECT_EQ(r.received(a), std::vector<std::string>{"all"});
    EXPECT_EQ(r.received(b), std::vector<std::string>{"all"});
}

TEST(PubsubHandler, NoEchoSelfLeavesOnlyTheSenderOut) {
    broadcast_hub hub(64, 2);
    fanout_options fo{.echo_self = false};
    fake_reactor r0(hub, 0, fo), r1(hub, 1, fo);
    connection& a = r0.open("/t");
    connection& b = r0.open("/t");
    connection& c = r1.open("/t");
    r0.send(a, "from a");
    r0.handler.drain();
    r1.handler.drain();
    EXPECT_TRUE(r0.received(a).empty());
    EXPECT_EQ(r0.received(b), std::vector<std::string>{"from a"});
    EXPECT_EQ(r1.received(c), std::vector<std::string>{"from a"});
}

TEST(PubsubHandler, UnsubscribedOnClose) {
    broadcast_hub hub(64, 1);
    fake_reactor r(hub, 0, fanout_options{});
    connection& a = r.open("/t");
    connection& b = r.open("/t");
    r.s.abort(b);
    EXPECT_EQ(b.topic, topic_table::none);
    EXPECT_EQ(r.handler.topics().subscribers(a.topic).size(), 1u);
    r.send(a, "x");
    r.handler.drain();
    EXPECT_EQ(r.received(a), std::vector<std::string>{"x"});
}

// A ring of 4 entries; consumer 1 has left (detached), so r0's own cursor
// is the only one. Two senders alternate under --no-echo-self, so each
// message is its own entry (a batch has one origin): 50 entries with no
// drain in between, and each publish past the 4th returns only because
// on_stall drains r0's own cursor (rule 1 of core/broadcast_ring.hpp).
TEST(PubsubHandler, FullRingPublisherDrainsItsOwnCursor) {
    broadcast_hub hub(4, 2);
    fake_reactor r0(hub, 0, fanout_options{.echo_self = false});
    hub.entries().detach(1);
    connection& a = r0.open("/t");
    connection& b = r0.open("/t");
    connection& c = r0.open("/t");
    std::vector<std::string> want;
    for (int i = 0; i < 50; ++i) {
        want.push_back("m" + std::to_string(i));
        r0.send(i % 2 ? b : a, want.back());
    }
    r0.handler.drain();
    EXPECT_EQ(r0.received(c), want) << "every message, in publish order";
    EXPECT_GT(r0.handler.stats().stalls, 0u);
    EXPECT_EQ(r0.handler.stats().entries, 50u);
}

// Messages to one topic in one loop turn travel as one entry (one shared
// buffer, one reference per receiver), still in order.
TEST(PubsubHandler, OneTurnOneEntryPerTopic) {
    broadcast_hub hub(64, 1);
    fake_reactor r(hub, 0, fanout_options{});
    connection& a = r.open("/t");
    connection& b = r.open("/t");
    connection& other = r.open("/u");
    r.send(a, "1");
    r.send(b, "2");
    r.send(other, "x");
    r.send(a, "3");
    r.handler.drain();
    EXPECT_EQ(r.handler.stats().entries, 2u);
    EXPECT_EQ(r.received(b), (std::vector<std::string>{"1", "2", "3"}));
    EXPECT_EQ(r.received(other), std::vector<std::string>{"x"});
    EXPECT_EQ(r.handler.stats().delivered, 7u);
}

// A frame over the batch limit goes alone, after what its topic had batched.
TEST(PubsubHandler, LargeMessageKeepsOrder) {
    broadcast_hub hub(64, 1);
    fake_reactor r(hub, 0, fanout_options{.max_backpressure = 1u << 20});
    connection& a = r.open("/t");
    r.send(a, "small");
    r.send(a, std::string(40000, 'L'));
    r.send(a, "after");
    r.handler.drain();
    EXPECT_EQ(r.handler.stats().entries, 3u);
    EXPECT_EQ(a.out.bytes(), 7u + (40000 + 4) + 7u);
}

TEST(PubsubHandler, SlowConsumerClosedWith1008) {
    broadcast_hub hub(64, 1);
    fake_reactor r(hub, 0, fanout_options{.echo_self = false, .max_backpressure = 100});
    connection& pub = r.open("/t");
    connection& slow = r.open("/t");
    for (int i = 0; i < 10; ++i) {  // 32-byte frames, one per loop turn
        r.send(pub, std::string(30, 'a' + i));
        r.handler.drain();
    }
    EXPECT_EQ(slow.state, conn_state::closing);
    EXPECT_EQ(r.handler.stats().slow_closed, 1u);
    auto got = r.received(slow);
    ASSERT_EQ(got.size(), 4u) << "three messages fit under 100 bytes, then the close";
    EXPECT_EQ(got.back().substr(0, 2), std::string("\x03\xf0", 2)) << "1008";
    EXPECT_EQ(got.back().substr(2), "slow consumer");
}

TEST(PubsubHandler, SlowConsumerSkippedKeepsConnection) {
    broadcast_hub hub(64, 1);
    fake_reactor r(hub, 0,
                   fanout_options{.echo_self = false, .slow = slow_consumer_policy::skip,
                                  .max_backpressure = 100});
    connection& pub = r.open("/t");
    connection& slow = r.open("/t");
    for (int i = 0; i < 10; ++i) {
        r.send(pub, std::string(30, 'a' + i));
        r.handler.drain();
    }
    EXPECT_EQ(slow.state, conn_state::open);
    EXPECT_EQ(r.received(slow).size(), 3u);
    EXPECT_EQ(r.handler.stats().skipped, 7u);
    r.send(pub, "after");  // the queue drained: delivered again
    r.handler.drain();
    EXPECT_EQ(r.received(slow), std::vector<std::string>{"after"});
}

// ---- permessage-deflate: compress once, deliver to many (RFC 7692) -------------

namespace deflate_once {

std::string json_like(std::size_t n) {
    std::string s;
    while (s.size() < n) s += R"({"user":"ada","room":"general","text":"hello there, everyone"},)";
    s.resize(n);
    return s;
}

}  // namespace deflate_once

TEST(PubsubHandler, DeflateCompressesOncePerMessageForEveryReceiverThatCanShare) {
    using namespace deflate_once;
    broadcast_hub hub(64, 2);
    fanout_options fo;
    session_options so;
    so.deflate = {.enabled = true};
    fake_reactor r0(hub, 0, fo, so), r1(hub, 1, fo, so);
    connection& pub = r0.open("/t");                                      // no deflate
    connection& z0 = r0.open("/t", "permessage-deflate");                 // shares
    connection& z1 = r1.open("/t", "permessage-deflate; client_max_window_bits");  // shares
    connection& z2 = r1.open("/t", "permessage-deflate");                 // shares
    connection& narrow = r1.open("/t", "permessage-deflate; server_max_window_bits=10");
    connection& plain = r1.open("/t");
    const std::string msg = json_like(1024);
    r0.send(pub, msg);
    r0.send(pub, "tiny");  // under the threshold: as it is, in either encoding
    r0.handler.drain();
    r1.handler.drain();
    EXPECT_EQ(r0.handler.stats().compressed, 1u) << "one compression for every sharing receiver";
    EXPECT_EQ(r1.handler.stats().compressed, 0u) << "the publishing reactor compressed it";
    EXPECT_EQ(r1.handler.stats().recompressed, 2u) << "the narrow-window receiver, both messages";

    auto f_pub = r0.frames(pub), f0 = r0.frames(z0), f1 = r1.frames(z1),
         f2 = r1.frames(z2), fn = r1.frames(narrow), fp = r1.frames(plain);
    for (auto* fs : {&f_pub, &f0, &f1, &f2, &fn, &fp}) {
        ASSERT_EQ(fs->size(), 2u);
        EXPECT_EQ(inflated((*fs)[0]), msg);
        EXPECT_EQ(inflated((*fs)[1]), "tiny");
        EXPECT_FALSE((*fs)[1].rsv1);
    }
    EXPECT_TRUE(f0[0].rsv1 && f1[0].rsv1 && f2[0].rsv1 && fn[0].rsv1);
    EXPECT_FALSE(f_pub[0].rsv1 || fp[0].rsv1) << "no deflate agreed: the plain frame";
    EXPECT_EQ(f0[0].at, f1[0].at) << "one compressed frame, referenced by every sharing queue";
    EXPECT_EQ(f1[0].at, f2[0].at);
    EXPECT_NE(fn[0].at, f1[0].at) << "a 1 KiB window needs its own compression";
    EXPECT_LE(fn[0].payload.size(), msg.size());
}

TEST(PubsubHandler, DeflateSkipsTheCompressionWhenNoReceiverCanShare) {
    using namespace deflate_once;
    broadcast_hub hub(64, 1);
    session_options so;
    so.deflate = {.enabled = true};
    fake_reactor r(hub, 0, fanout_options{}, so);
    connection& a = r.open("/t");
    connection& b = r.open("/t");
    r.send(a, json_like(1024));
    r.handler.drain();
    EXPECT_EQ(r.handler.stats().compressed, 0u);
    EXPECT_EQ(r.frames(b).size(), 1u);
    connection& z = r.open("/t", "permessage-deflate");
    r.send(a, json_like(1024));
    r.handler.drain();
    EXPECT_EQ(r.handler.stats().compressed, 1u) << "now someone can use it";
    auto fz = r.frames(z);
    ASSERT_EQ(fz.size(), 1u);
    EXPECT_TRUE(fz[0].rsv1);
    r.s.abort(z);  // its goodbye takes it out of the count
    r.send(a, json_like(1024));
    r.handler.drain();
    EXPECT_EQ(r.handler.stats().compressed, 1u);
}

// The publisher decides at a batch's first message whether to compress;
// a sharing receiver that subscribes after that (on another reactor) still
// gets the message compressed: its reactor compresses the entry once.
TEST(PubsubHandler, DeflateReceiverThatCameAfterThePublishersDecisionGetsItCompressed) {
    using namespace deflate_once;
    broadcast_hub hub(64, 2);
    session_options so;
    so.deflate = {.enabled = true};
    fake_reactor r0(hub, 0, fanout_options{}, so), r1(hub, 1, fanout_options{}, so);
    connection& pub = r0.open("/t");
    const std::string msg = json_like(1024);
    r0.send(pub, msg);  // nobody can share yet: the batch stays plain
    connection& z = r1.open("/t", "permessage-deflate");
    connection& z2 = r1.open("/t", "permessage-deflate");
    r0.handler.drain();
    r1.handler.drain();
    EXPECT_EQ(r0.handler.stats().compressed, 0u);
    EXPECT_EQ(r1.handler.stats().compressed, 1u) << "once, for both of its sharing receivers";
    auto fz = r1.frames(z), fz2 = r1.frames(z2);
    ASSERT_EQ(fz.size(), 1u);
    ASSERT_EQ(fz2.size(), 1u);
    EXPECT_TRUE(fz[0].rsv1);
    EXPECT_EQ(inflated(fz[0]), msg);
    EXPECT_EQ(fz[0].at, fz2[0].at);
}

}  // namespace
}  // namespace wsring::modes

// tests/cluster/redis_link_test.cpp: cluster/redis_link against a real
// redis-server (tests/cluster/redis_server_fixture.hpp), driven by the same
// kind of poll loop the broker runs: poll on fd()/poll_events() until
// next_deadline(), then on_poll and tick. Each test loops until its
// condition holds or 10 s pass; nothing asserts how long anything took.
// The connect-timeout case needs a peer that never answers a SYN: a
// listener whose accept queue is full (backlog 0, filled, never accepted).
#include "cluster/redis_link.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis_server_fixture.hpp"

namespace wsring::cluster {
namespace {

using namespace std::chrono_literals;
using clock_type = redis_link::clock;
using test::redis_server;

// What a link's events did, for the test to look at.
struct record {
    int ups = 0;
    int downs = 0;
    std::vector<std::string> why;
    std::vector<std::pair<std::string, std::string>> messages;
};

redis_link::events recording(record& r) {
    return {.up = [&r] { ++r.ups; },
            .down =
                [&r](const std::string& why) {
                    ++r.downs;
                    r.why.push_back(why);
                },
            .message = [&r](std::string_view ch, std::string_view payload) {
                r.messages.emplace_back(ch, payload);
            }};
}

redis_address loopback(std::uint16_t port) { return {.host = "127.0.0.1", .port = port}; }

// The broker's loop in miniature: every turn ticks each link, polls the fds
// they ask for until the nearest deadline (100 ms at most, so `done` is
// looked at often), and hands each its revents. `last_now` is the time the
// links were last given: a down callback can measure the backoff from it.
clock_type::time_point last_now;

bool drive(std::vector<redis_link*> links, const std::function<bool()>& done,
           std::chrono::milliseconds limit = 10s) {
    const auto give_up = clock_type::now() + limit;
    while (!done()) {
        last_now = clock_type::now();
        if (last_now >= give_up) return done();
        for (auto* l : links) l->tick(last_now);
        std::vector<pollfd> fds;
        std::vector<redis_link*> owners;
        auto wake = std::min(give_up, last_now + 100ms);
        for (auto* l : links) {
            if (auto d = l->next_deadline()) wake = std::min(wake, *d);
            if (l->fd() < 0) continue;
            fds.push_back({.fd = l->fd(), .events = l->poll_events(), .revents = 0});
            owners.push_back(l);
        }
        const auto ms = std::chrono::ceil<std::chrono::milliseconds>(wake - last_now).count();
        const int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<std::int64_t>(ms, 0)));
        if (n < 0 && errno != EINTR) return false;
        last_now = clock_type::now();
        for (std::size_t i = 0; i < fds.size(); ++i)
            if (fds[i].revents) owners[i]->on_poll(fds[i].revents, last_now);
    }
    return true;
}

std::string text_of(const redisReply* r) { return std::string(r->str, r->len); }

// ["subscribe", "ch", n] and the like.
void expect_confirmation(const redisReply* r, std::string_view kind, std::string_view channel,
                         long long count) {
    ASSERT_NE(r, nullptr);
    ASSERT_EQ(r->type, REDIS_REPLY_ARRAY);
    ASSERT_EQ(r->elements, 3u);
    EXPECT_EQ(text_of(r->element[0]), kind);
    EXPECT_EQ(text_of(r->element[1]), channel);
    EXPECT_EQ(r->element[2]->type, REDIS_REPLY_INTEGER);
    EXPECT_EQ(r->element[2]->integer, count);
}

class RedisLink : public ::testing::Test {
protected:
    void SetUp() override {
        if (!redis_server::available()) GTEST_SKIP() << "no " << redis_server::binary;
        server_.emplace();
    }
    std::uint16_t port() const { return server_->port(); }
    // Starts `l` and runs the loop until it is up.
    void bring_up(redis_link& l, const record& r) {
        l.start(clock_type::now());
        ASSERT_TRUE(drive({&l}, [&] { return l.up(); })) << (r.why.empty() ? "" : r.why.back());
    }

    std::optional<redis_server> server_;
};

TEST_F(RedisLink, ConnectsAndAnswersPing) {
    record ev;
    redis_link link(loopback(port()), recording(ev));
    EXPECT_EQ(link.fd(), -1);
    EXPECT_EQ(link.poll_events(), 0);
    bring_up(link, ev);
    EXPECT_EQ(ev.ups, 1);
    EXPECT_EQ(ev.downs, 0);
    EXPECT_EQ(link.connects(), 1u);
    EXPECT_FALSE(link.next_deadline());  // nothing to wake up for while up

    // Non-blocking, and no Nagle delay on single commands.
    ASSERT_GE(link.fd(), 0);
    EXPECT_TRUE(::fcntl(link.fd(), F_GETFL) & O_NONBLOCK);
    int nodelay = 0;
    socklen_t len = sizeof nodelay;
    ASSERT_EQ(::getsockopt(link.fd(), IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
    EXPECT_NE(nodelay, 0);

    EXPECT_EQ(link.poll_events(), POLLIN);
    std::optional<std::string> pong;
    const std::string_view ping[] = {"PING"};
    ASSERT_TRUE(link.command(ping, [&](const redisReply* r) {
        ASSERT_NE(r, nullptr);
        EXPECT_EQ(r->type, REDIS_REPLY_STATUS);
        pong = text_of(r);
    }));
    EXPECT_EQ(link.poll_events(), POLLIN | POLLOUT);  // the PING waits to go out
    ASSERT_TRUE(drive({&link}, [&] { return pong.has_value(); }));
    EXPECT_EQ(*pong, "PONG");
    EXPECT_EQ(link.poll_events(), POLLIN);
}

TEST_F(RedisLink, HostNamesAreResolved) {
    // hiredis resolves (getaddrinfo, IPv4 first in 0.14): "localhost" is
    // the loopback address the server listens on.
    record ev;
    redis_link link({.host = "localhost", .port = port()}, recording(ev));
    bring_up(link, ev);
    EXPECT_EQ(link.connects(), 1u);
    EXPECT_EQ(link.address().host, "localhost");
}

TEST_F(RedisLink, TenThousandPipelinedIncrsComeBackInOrder) {
    record ev;
    redis_link link(loopback(port()), recording(ev));
    bring_up(link, ev);
    constexpr long long n = 10'000;
    long long seen = 0, wrong = 0;
    const std::string_view incr[] = {"INCR", "counter"};
    for (long long i = 1; i <= n; ++i) {
        ASSERT_TRUE(link.command(incr, [&, i](const redisReply* r) {
            ++seen;
            if (!r || r->type != REDIS_REPLY_INTEGER || r->integer != i || seen != i) ++wrong;
        }));
    }
    ASSERT_TRUE(drive({&link}, [&] { return seen == n; }));
    EXPECT_EQ(wrong, 0);
    EXPECT_EQ(ev.downs, 0);
}

TEST_F(RedisLink, CallbacksMayQueueTheNextCommand) {
    // The broker's pattern: `up` sends the first command, each reply sends
    // the next. Both run inside the link's own calls.
    record ev;
    constexpr long long n = 1000;
    long long last = 0;
    redis_link* self = nullptr;
    std::function<void()> next = [&] {
        const std::string_view incr[] = {"INCR", "chain"};
        ASSERT_TRUE(self->command(incr, [&](const redisReply* r) {
            ASSERT_NE(r, nullptr);
            ASSERT_EQ(r->type, REDIS_REPLY_INTEGER);
            EXPECT_EQ(r->integer, last + 1);
            last = r->integer;
            if (last < n) next();
        }));
    };
    auto events = recording(ev);
    events.up = [&] {
        ++ev.ups;
        next();
    };
    redis_link link(loopback(port()), std::move(events));
    self = &link;
    link.start(clock_type::now());
    ASSERT_TRUE(drive({&link}, [&] { return last == n; }));
    EXPECT_EQ(ev.ups, 1);
}

TEST_F(RedisLink, ArgumentsAreBinarySafe) {
    record ev;
    redis_link link(loopback(port()), recording(ev));
    bring_up(link, ev);
    // Every byte value, and what looks like RESP framing, in key and value.
    std::string value("a\0b\r\n$3\r\n*1\r\n", 14);
    for (int c = 0; c < 256; ++c) value.push_back(static_cast<char>(c));
    const std::string key("k\0\r\ney", 6);
    const std::string_view set[] = {"SET", key, value};
    const std::string_view get[] = {"GET", key};
    const std::string_view set_empty[] = {"SET", "", ""};
    const std::string_view get_empty[] = {"GET", ""};
    std::vector<std::string> got;
    auto keep = [&](const redisReply* r) {
        ASSERT_NE(r, nullptr);
        ASSERT_TRUE(r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING) << r->type;
        got.push_back(text_of(r));
    };
    ASSERT_TRUE(link.command(set, keep));
    ASSERT_TRUE(link.command(get, keep));
    ASSERT_TRUE(link.command(set_empty, keep));
    ASSERT_TRUE(link.command(get_empty, keep));
    ASSERT_TRUE(drive({&link}, [&] { return got.size() == 4; }));
    EXPECT_EQ(got[0], "OK");
    EXPECT_EQ(got[1], value);
    EXPECT_EQ(got[2], "OK");
    EXPECT_EQ(got[3], "");
}

TEST_F(RedisLink, LargeValuesCrossManyWritesAndReads) {
    // 8 MiB out (many partial writes, POLLOUT turns) and back three times
    // in one pipeline (many 16 KiB reads per turn, replies split anywhere).
    record ev;
    redis_link link(loopback(port()), recording(ev));
    bring_up(link, ev);
    std::string big(8u << 20, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31 % 251);
    const std::string_view set[] = {"SET", "big", big};
    const std::string_view get[] = {"GET", "big"};
    std::vector<bool> same;
    ASSERT_TRUE(link.command(set, [&](const redisReply* r) { same.push_back(r && text_of(r) == "OK"); }));
    for (int i = 0; i < 3; ++i)
        ASSERT_TRUE(link.command(get, [&](const redisReply* r) {
            same.push_back(r && r->type == REDIS_REPLY_STRING && text_of(r) == big);
        }));
    ASSERT_TRUE(drive({&link}, [&] { return same.size() == 4; }));
    EXPECT_EQ(same, std::vector<bool>(4, true));
    EXPECT_EQ(ev.downs, 0);
}

TEST_F(RedisLink, SubscribeGetsConfirmationsThenMessagesInOrder) {
    record sub_ev, pub_ev;
    redis_link sub(loopback(port()), recording(sub_ev));
    redis_link pub(loopback(port()), recording(pub_ev));
    bring_up(sub, sub_ev);
    bring_up(pub, pub_ev);

    int confirmed = 0;
    ASSERT_TRUE(sub.subscribe("a", [&](const redisReply* r) {
        expect_confirmation(r, "subscribe", "a", 1);
        ++confirmed;
    }));
    ASSERT_TRUE(sub.subscribe("b", [&](const redisReply* r) {
        expect_confirmation(r, "subscribe", "b", 2);
        ++confirmed;
    }));
    ASSERT_TRUE(drive({&sub}, [&] { return confirmed == 2; }));

    // 200 messages over two channels, one with bytes that look like RESP;
    // each PUBLISH reaches exactly one subscriber.
    constexpr int n = 200;
    std::vector<std::pair<std::string, std::string>> sent;
    int receivers = 0, published = 0;
    for (int i = 0; i < n; ++i) {
        std::string ch = i % 3 ? "a" : "b";
        std::string payload = "m" + std::to_string(i) + std::string("\0\r\n*3\r\n", 7);
        const std::string_view argv[] = {"PUBLISH", ch, payload};
        ASSERT_TRUE(pub.command(argv, [&](const redisReply* r) {
            ASSERT_NE(r, nullptr);
            ASSERT_EQ(r->type, REDIS_REPLY_INTEGER);
            receivers += static_cast<int>(r->integer);
            ++published;
        }));
        sent.emplace_back(std::move(ch), std::move(payload));
    }
    ASSERT_TRUE(drive({&sub, &pub}, [&] { return sub_ev.messages.size() == sent.size(); }));
    EXPECT_EQ(sub_ev.messages, sent);
    ASSERT_TRUE(drive({&pub}, [&] { return published == n; }));
    EXPECT_EQ(receivers, n);

    // Unsubscribed from "a": its confirmation in the FIFO, and "a" is quiet.
    bool left = false;
    ASSERT_TRUE(sub.unsubscribe("a", [&](const redisReply* r) {
        expect_confirmation(r, "unsubscribe", "a", 1);
        left = true;
    }));
    ASSERT_TRUE(drive({&sub}, [&] { return left; }));
    std::optional<long long> to_a;
    const std::string_view again[] = {"PUBLISH", "a", "late"};
    ASSERT_TRUE(pub.command(again, [&](const redisReply* r) {
        ASSERT_NE(r, nullptr);
        to_a = r->integer;
    }));
    ASSERT_TRUE(drive({&sub, &pub}, [&] { return to_a.has_value(); }));
    EXPECT_EQ(*to_a, 0);
    EXPECT_EQ(sub_ev.messages.size(), sent.size());
}

TEST_F(RedisLink, MessageShapedReplyOnACommandLinkIsAReply) {
    // A command link never subscribed: an array that reads like a push is
    // some command's reply and goes to its callback.
    record ev;
    redis_link link(loopback(port()), recording(ev));
    bring_up(link, ev);
    const std::string_view push[] = {"RPUSH", "l", "message", "ch", "payload"};
    const std::string_view range[] = {"LRANGE", "l", "0", "-1"};
    std::vector<std::string> items;
    bool done = false;
    ASSERT_TRUE(link.command(push, [](const redisReply* r) { ASSERT_NE(r, nullptr); }));
    ASSERT_TRUE(link.command(range, [&](const redisReply* r) {
        ASSERT_NE(r, nullptr);
        ASSERT_EQ(r->type, REDIS_REPLY_ARRAY);
        for (std::size_t i = 0; i < r->elements; ++i) items.push_back(text_of(r->element[i]));
        done = true;
    }));
    ASSERT_TRUE(drive({&link}, [&] { return done; }));
    EXPECT_EQ(items, (std::vector<std::string>{"message", "ch", "payload"}));
    EXPECT_TRUE(ev.messages.empty());
}

TEST(RedisLinkDown, RefusedPortRetriesWithGrowingBackoff) {
    // A port bound but not listening refuses, and stays ours while bound.
    const int held = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(held, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ASSERT_EQ(::bind(held, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::getsockname(held, reinterpret_cast<sockaddr*>(&a), &len), 0);

    const core::backoff_policy policy{.base = 1ms, .cap = 16ms};
    record ev;
    std::vector<std::int64_t> waits, ceilings;
    redis_link* self = nullptr;
    auto events = recording(ev);
    events.down = [&](const std::string& why) {
        ++ev.downs;
        ev.why.push_back(why);
        // The next attempt is already scheduled when `down` is told: its
        // distance from the loop's `now` is this attempt's backoff draw.
        const auto at = self->next_deadline();
        ASSERT_TRUE(at.has_value());
        waits.push_back(std::chrono::duration_cast<std::chrono::microseconds>(*at - last_now).count());
        ceilings.push_back(std::min<std::int64_t>(16, std::int64_t{1} << (ev.downs - 1)) * 1000);
    };
    redis_link link(loopback(ntohs(a.sin_port)), std::move(events), policy);
    self = &link;

    bool called = false;
    const std::string_view ping[] = {"PING"};
    EXPECT_FALSE(link.command(ping, [&](const redisReply*) { called = true; }));

    last_now = clock_type::now();
    link.start(last_now);
    ASSERT_TRUE(drive({&link}, [&] { return ev.downs >= 12; }));
    ::close(held);

    EXPECT_EQ(ev.ups, 0);
    EXPECT_EQ(link.connects(), 0u);
    EXPECT_FALSE(link.up());
    EXPECT_FALSE(link.command(ping, [&](const redisReply*) { called = true; }));
    EXPECT_FALSE(called);
    EXPECT_NE(ev.why.front().find("refused"), std::string::npos) << ev.why.front();
    // Each wait within its attempt's ceiling (1, 2, 4, 8, 16, 16, ... ms),
    // and the later ones allowed past the first ceiling and using it.
    for (std::size_t i = 0; i < waits.size(); ++i) {
        EXPECT_GE(waits[i], 0) << "attempt " << i;
        EXPECT_LE(waits[i], ceilings[i]) << "attempt " << i;
    }
    EXPECT_GT(*std::max_element(waits.begin() + 4, waits.end()), 1000)
        << "eight draws from [0, 16 ms] all within 1 ms: no growth";
}

TEST(RedisLinkDown, ConnectNotAnsweredTimesOut) {
    // A listener with backlog 0 whose queue is filled and never accepted:
    // Linux drops further SYNs, so a connect stays in progress for good
    // (unless tcp_abort_on_overflow makes it answer with a reset).
    if (std::ifstream knob("/proc/sys/net/ipv4/tcp_abort_on_overflow"); knob.get() == '1')
        GTEST_SKIP() << "tcp_abort_on_overflow=1: a full queue refuses instead";
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(listener, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len), 0);
    ASSERT_EQ(::listen(listener, 0), 0);
    std::vector<int> fillers;
    for (int i = 0; i < 3; ++i) {
        const int f = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        ASSERT_GE(f, 0);
        ::connect(f, reinterpret_cast<sockaddr*>(&a), sizeof a);
        fillers.push_back(f);
    }
    // The first filler's handshake is done (it sits in the accept queue)
    // before the link tries: otherwise the link could take that place.
    pollfd first{.fd = fillers[0], .events = POLLOUT, .revents = 0};
    ASSERT_EQ(::poll(&first, 1, 5000), 1);

    record ev;
    redis_link link(loopback(ntohs(a.sin_port)), recording(ev), {.base = 50ms, .cap = 50ms}, 100ms);
    const auto t0 = clock_type::now();
    link.start(t0);
    // Connecting: a non-blocking socket, waiting to become writable, and a
    // deadline at connect_timeout.
    ASSERT_GE(link.fd(), 0);
    EXPECT_TRUE(::fcntl(link.fd(), F_GETFL) & O_NONBLOCK);
    EXPECT_EQ(link.poll_events(), POLLOUT);
    ASSERT_TRUE(link.next_deadline().has_value());
    EXPECT_EQ(*link.next_deadline(), t0 + 100ms);
    EXPECT_FALSE(link.up());

    ASSERT_TRUE(drive({&link}, [&] { return ev.downs >= 2; }));
    for (int f : fillers) ::close(f);
    ::close(listener);
    EXPECT_EQ(ev.ups, 0);
    EXPECT_EQ(link.connects(), 0u);
    for (const auto& why : ev.why) EXPECT_NE(why.find("timed out"), std::string::npos) << why;
}

TEST_F(RedisLink, KilledMidPipelineFailsPendingThenComesBackAlone) {
    record ev;
    std::vector<std::string> reply_fates;  // "n" for a value, "null" for lost
    int pending_at_down = -1;
    auto events = recording(ev);
    events.down = [&](const std::string& why) {
        ++ev.downs;
        ev.why.push_back(why);
        if (pending_at_down < 0) pending_at_down = static_cast<int>(reply_fates.size());
    };
    redis_link link(loopback(port()), std::move(events), {.base = 5ms, .cap = 50ms});
    bring_up(link, ev);

    // 100 INCRs, a BLPOP that never returns, 100 more: the pipeline stalls
    // in Redis behind the BLPOP, so 101 callbacks are surely pending when
    // the server dies.
    auto fate = [&](const redisReply* r) {
        reply_fates.push_back(!r ? "null" : r->type == REDIS_REPLY_INTEGER ? std::to_string(r->integer) : "?");
    };
    const std::string_view incr[] = {"INCR", "n"};
    const std::string_view block[] = {"BLPOP", "never", "0"};
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(link.command(incr, fate));
    ASSERT_TRUE(link.command(block, fate));
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(link.command(incr, fate));
    ASSERT_TRUE(drive({&link}, [&] { return reply_fates.size() == 100; }));

    server_->kill_hard();
    ASSERT_TRUE(drive({&link}, [&] { return ev.downs >= 1; }));
    // Every callback told, in order, before `down`; the link no longer up.
    EXPECT_EQ(pending_at_down, 201);
    ASSERT_EQ(reply_fates.size(), 201u);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(reply_fates[i], std::to_string(i + 1));
    for (int i = 100; i < 201; ++i) EXPECT_EQ(reply_fates[i], "null") << i;
    EXPECT_EQ(ev.downs, 1);
    EXPECT_FALSE(link.up());
    EXPECT_TRUE(link.next_deadline().has_value());

    // Same port, fresh server: the link finds it on its own.
    server_->restart();
    ASSERT_TRUE(drive({&link}, [&] { return ev.ups == 2; })) << ev.why.back();
    EXPECT_EQ(link.connects(), 2u);
    EXPECT_TRUE(link.up());
    std::optional<long long> value;
    ASSERT_TRUE(link.command(incr, [&](const redisReply* r) {
        ASSERT_NE(r, nullptr);
        value = r->integer;
    }));
    ASSERT_TRUE(drive({&link}, [&] { return value.has_value(); }));
    EXPECT_EQ(*value, 1);  // nothing was saved: a new server
    EXPECT_EQ(reply_fates.size(), 201u);  // nobody called twice
}

}  // namespace
}  // namespace wsring::cluster

// The HTTP publish API through the pub/sub handler and a real session (the
// fan-out test bench): a POST reaches the topic's subscribers like a
// client's message, in order with them, and its answer is its position.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fanout_bench.hpp"
#include "modes/pubsub_handler.hpp"

namespace wsring::modes {
namespace {

using namespace fanout_bench;

std::string post(std::string_view topic, std::string_view body, std::string_view type = "text/plain") {
    return "POST /publish/" + std::string(topic) + " HTTP/1.1\r\nHost: h\r\nAuthorization: apikey k\r\n" +
           "Content-Type: " + std::string(type) + "\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + std::string(body);
}

std::string body_of(const std::string& answer) {
    auto at = answer.find("\r\n\r\n");
    return at == std::string::npos ? "" : answer.substr(at + 4);
}

fanout_options with_key() {
    fanout_options o;
    o.api_key = "k";
    return o;
}

TEST(PubsubHttp, APostIsPublishedAndAnsweredWithItsPosition) {
    broadcast_hub hub(64, 2);
    fake_reactor r0(hub, 0, with_key()), r1(hub, 1, with_key());
    connection& sub = r1.open_v1("/news");
    std::string notice = r1.received(sub).at(0);
    std::string e = notice.substr(10, notice.find(':') - 10);
    connection& raw = r1.open("/news");
    connection& http = r0.accept();
    r0.feed(http, post("news", "one") + post("news", "two", "application/octet-stream"));
    std::string answers = r0.drain_bytes(http);
    EXPECT_NE(answers.find("{\"epoch\":\"" + e + "\",\"offset\":1}"), std::string::npos) << answers;
    EXPECT_NE(answers.find("{\"epoch\":\"" + e + "\",\"offset\":2}"), std::string::npos) << answers;
    EXPECT_EQ(http.state, conn_state::handshake) << "keep-alive: ready for the next request";
    r0.handler.drain();
    r1.handler.drain();
    EXPECT_EQ(r1.received(sub), (std::vector<std::string>{e + ":1\none", e + ":2\ntwo"}));
    EXPECT_EQ(r1.received(raw), (std::vector<std::string>{"one", "two"}));
    EXPECT_EQ(r0.handler.stats().http_published, 2u);
}

// Two requests on one reactor with their bodies still coming: each is
// published to its own topic (nothing of one request is kept between its
// head and its body).
TEST(PubsubHttp, InterleavedBodiesKeepTheirTopics) {
    broadcast_hub hub(64, 1);
    fake_reactor r(hub, 0, with_key());
    connection& a_sub = r.open("/a");
    connection& b_sub = r.open("/b");
    connection& h1 = r.accept();
    connection& h2 = r.accept();
    std::string p1 = post("a", "for-a"), p2 = post("b", "for-b");
    r.feed(h1, p1.substr(0, p1.size() - 5));  // head only
    r.feed(h2, p2.substr(0, p2.size() - 5));
    r.feed(h1, "for-a");
    r.feed(h2, "for-b");
    r.handler.drain();
    EXPECT_EQ(r.received(a_sub), std::vector<std::string>{"for-a"});
    EXPECT_EQ(r.received(b_sub), std::vector<std::string>{"for-b"});
}

TEST(PubsubHttp, AfterThisTurnsClientMessagesToTheTopic) {
    broadcast_hub hub(64, 1);
    fake_reactor r(hub, 0, with_key());
    connection& sub = r.open("/t");
    r.send(sub, "from a client");  // batched for this turn, not in the ring yet
    connection& http = r.accept();
    r.feed(http, post("t", "from HTTP"));
    EXPECT_NE(body_of(r.drain_bytes(http)).find("\"offset\":2"), std::string::npos);
    r.handler.drain();
    EXPECT_EQ(r.received(sub), (std::vector<std::string>{"from a client", "from HTTP"}));
}

TEST(PubsubHttp, RefusalsAndNoKey) {
    broadcast_hub hub(64, 1);
    fake_reactor r(hub, 0, with_key());
    connection& bad_utf8 = r.accept();
    r.feed(bad_utf8, post("t", "\xc3\x28"));
    EXPECT_EQ(r.drain_bytes(bad_utf8).substr(0, 12), "HTTP/1.1 400");
    connection& no_auth = r.accept();
    r.feed(no_auth, "POST /publish/t HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx");
    EXPECT_EQ(r.drain_bytes(no_auth).substr(0, 12), "HTTP/1.1 401");
    fake_reactor off(hub, 0, fanout_options{});
    connection& c = off.accept();
    off.feed(c, post("t", "x"));
    EXPECT_EQ(off.drain_bytes(c).substr(0, 12), "HTTP/1.1 405") << "no --api-key: POST is not served";
    EXPECT_EQ(r.handler.stats().http_published, 0u);
}

}  // namespace
}  // namespace wsring::modes

// tests/net/metrics_test.cpp: net/metrics.hpp's text format and the
// session's GET /metrics. The format: HELP and TYPE before the samples,
// label values escaped, whole numbers written whole, a histogram's buckets
// cumulative with `le` in decimal seconds and _count equal to +Inf. The
// session: /metrics answered 200 with the 0.0.4 content type where a
// registry is given, the WebSocket port's usual 426 where not, and a plain
// HTTP listener (websocket = false) refusing an upgrade with 404. The byte
// counters match what crossed the (fake) wire.
#include "net/metrics.hpp"

#include <gtest/gtest.h>

#include <string>

#include "session_harness.hpp"

namespace wsring::net::session_bench {
namespace {

TEST(MetricsText, FamilyHeaderThenSamples) {
    metrics_text m;
    m.counter("wsring_x_total", "Things.", 42);
    m.gauge("wsring_y", "Now.", 100000);
    m.gauge("wsring_z", "Half.", 0.5);
    m.family("wsring_r_total", "counter", "By reason.");
    m.sample("wsring_r_total", std::uint64_t{3}, metrics_text::label("reason", "a\"b\\c\nd"));
    EXPECT_EQ(m.text(),
              "# HELP wsring_x_total Things.\n# TYPE wsring_x_total counter\nwsring_x_total 42\n"
              "# HELP wsring_y Now.\n# TYPE wsring_y gauge\nwsring_y 100000\n"
              "# HELP wsring_z Half.\n# TYPE wsring_z gauge\nwsring_z 0.5\n"
              "# HELP wsring_r_total By reason.\n# TYPE wsring_r_total counter\n"
              "wsring_r_total{reason=\"a\\\"b\\\\c\\nd\"} 3\n");
}

TEST(MetricsText, HistogramIsCumulativeInSeconds) {
    core::bucket_histogram h;
    h.observe(40'000);         // le 0.00005
    h.observe(2'000'000);      // le 0.0025
    h.observe(20'000'000'000);  // +Inf
    metrics_text m;
    m.histogram_seconds("wsring_h_seconds", "Latency.", h);
    const std::string& t = m.text();
    EXPECT_NE(t.find("# TYPE wsring_h_seconds histogram\n"), std::string::npos);
    EXPECT_NE(t.find("wsring_h_seconds_bucket{le=\"0.00005\"} 1\n"), std::string::npos);
    EXPECT_NE(t.find("wsring_h_seconds_bucket{le=\"0.001\"} 1\n"), std::string::npos);
    EXPECT_NE(t.find("wsring_h_seconds_bucket{le=\"0.0025\"} 2\n"), std::string::npos);
    EXPECT_NE(t.find("wsring_h_seconds_bucket{le=\"10\"} 2\n"), std::string::npos);
    EXPECT_NE(t.find("wsring_h_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
    EXPECT_NE(t.find("wsring_h_seconds_sum 20.00204\n"), std::string::npos);
    EXPECT_NE(t.find("wsring_h_seconds_count 3\n"), std::string::npos);
}

TEST(MetricsText, RegistryRunsCollectorsInOrder) {
    metrics_registry r;
    r.add([](metrics_text& m) { m.counter("a_total", "A.", 1); });
    r.add([](metrics_text& m) { m.counter("b_total", "B.", 2); });
    const std::string t = r.render();
    EXPECT_LT(t.find("a_total 1"), t.find("b_total 2"));
}

std::string get(std::string_view path) {
    return "GET " + std::string(path) + " HTTP/1.1\r\nHost: x\r\n\r\n";
}

TEST(SessionMetrics, AnsweredWhereARegistryIsGiven) {
    metrics_registry r;
    r.add([](metrics_text& m) { m.counter("wsring_probe_total", "Probe.", 7); });
    session_options o = test_options();
    o.metrics = &r;
    harness x(o);
    x.feed(get("/metrics"));
    x.flush();
    EXPECT_EQ(x.http_status(), 200);
    EXPECT_NE(x.wire.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), std::string::npos);
    EXPECT_NE(x.wire.find("\r\n\r\n# HELP wsring_probe_total Probe.\n"), std::string::npos);
}

TEST(SessionMetrics, NotServedWithoutARegistry) {
    harness x;
    x.feed(get("/metrics"));
    x.flush();
    EXPECT_EQ(x.http_status(), 426);  // the WebSocket port's answer to any other GET
}

TEST(SessionMetrics, APlainHttpListenerRefusesUpgradesAndOtherPaths) {
    metrics_registry r;
    session_options o = test_options();
    o.metrics = &r;
    o.websocket = false;
    harness up(o);
    up.feed(upgrade_request("/metrics"));
    up.flush();
    EXPECT_EQ(up.http_status(), 200);  // an upgrade header does not make it a WebSocket here
    EXPECT_EQ(up.h.opens, 0);
    harness other(o);
    other.feed(get("/chat"));
    other.flush();
    EXPECT_EQ(other.http_status(), 404);
    harness health(o);
    health.feed(get("/healthz"));
    health.flush();
    EXPECT_EQ(health.http_status(), 200);
}

TEST(SessionMetrics, ByteAndMessageCountersMatchTheWire) {
    harness x;
    const std::string request = upgrade_request();
    x.feed(request);
    x.flush();
    ASSERT_EQ(x.http_status(), 101);
    const std::string frame = client_frame(opcode::text, "hello");
    x.feed(frame);
    x.flush();
    EXPECT_EQ(x.s.stats().bytes_received.get(), request.size() + frame.size());
    EXPECT_EQ(x.s.stats().messages.get(), 1u);
    EXPECT_EQ(x.s.stats().messages_sent.get(), 1u);  // the echo
    EXPECT_EQ(x.s.stats().bytes_sent.get(), x.wire.size());
}

}  // namespace
}  // namespace wsring::net::session_bench

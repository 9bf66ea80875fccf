// Tests for net/log: levels filter before anything is formatted, text lines
// are exactly "program: message", json lines are one valid object each (read
// back with proto/json.hpp, which refuses invalid UTF-8 and bad escapes),
// and lines from several threads arrive whole through a real pipe.
#include "net/log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "proto/json.hpp"

namespace wsring::net {
namespace {

struct captured {
    log_stream to;
    std::string line;
};
std::mutex captured_mutex;
std::vector<captured> lines;

void capture(log_stream to, std::string_view line) {
    std::lock_guard lock(captured_mutex);
    lines.push_back({to, std::string(line)});
}

// Every test starts from the defaults with a capturing sink, and leaves the
// defaults behind for the rest of net_tests.
class Log : public ::testing::Test {
protected:
    void SetUp() override {
        lines.clear();
        set_program_name("test-prog");
        set_log_sink(capture);
    }
    void TearDown() override {
        set_log_sink(nullptr);
        set_log_format(log_format::text);
        set_log_level(log_level::info);
        set_program_name("wsring");
    }
};

std::string json(std::string_view s) {
    std::string out;
    append_json_string(out, s);
    return out;
}

TEST_F(Log, TextIsProgramColonMessageOnTheRightStream) {
    log(log_level::warn, "broker_down", "redis %s down: %s", "127.0.0.1:6379", "refused");
    report(log_level::info, "listening", "listening on %s:%d", "0.0.0.0", 9001);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0].to, log_stream::err);
    EXPECT_EQ(lines[0].line, "test-prog: redis 127.0.0.1:6379 down: refused\n");
    EXPECT_EQ(lines[1].to, log_stream::out);
    EXPECT_EQ(lines[1].line, "test-prog: listening on 0.0.0.0:9001\n");
}

TEST_F(Log, LevelFilters) {
    EXPECT_TRUE(log_enabled(log_level::info)) << "info by default";
    EXPECT_FALSE(log_enabled(log_level::debug));
    set_log_level(log_level::warn);
    log(log_level::debug, "d", "debug");
    log(log_level::info, "i", "info");
    report(log_level::info, "i", "info");
    log(log_level::warn, "w", "warn");
    log(log_level::error, "e", "error");
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0].line, "test-prog: warn\n");
    EXPECT_EQ(lines[1].line, "test-prog: error\n");
    set_log_level(log_level::error);
    EXPECT_FALSE(log_enabled(log_level::warn));
    set_log_level(log_level::debug);
    EXPECT_TRUE(log_enabled(log_level::debug));
}

TEST_F(Log, LongMessagesAreNotCut) {
    const std::string big(5000, 'x');
    report(log_level::info, "stopped", "stopped, %s!", big.c_str());
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].line, "test-prog: stopped, " + big + "!\n");
}

TEST_F(Log, JsonLineIsOneObjectWithEveryField) {
    set_log_format(log_format::json);
    EXPECT_EQ(format_log_line(log_level::info, "listening", "listening on 0.0.0.0:9001", 1796114826123),
              R"({"time":"2026-12-01T08:47:06.123Z","level":"info","program":"test-prog",)"
              R"("event":"listening","msg":"listening on 0.0.0.0:9001"})"
              "\n");
    EXPECT_NE(format_log_line(log_level::info, "e", "m", 1796114826007).find("\"2026-12-01T08:47:06.007Z\""),
              std::string::npos)
        << "milliseconds keep their leading zeros";

    log(log_level::error, "poller_failed", "epoll_wait: %s \"quoted\"\n", "Bad file descriptor");
    ASSERT_EQ(lines.size(), 1u);
    const std::string& line = lines[0].line;
    ASSERT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line, the message's newline escaped";
    auto doc = proto::parse_json(line);
    ASSERT_TRUE(doc) << line;
    EXPECT_EQ(doc->find("level")->string, "error");
    EXPECT_EQ(doc->find("program")->string, "test-prog");
    EXPECT_EQ(doc->find("event")->string, "poller_failed");
    EXPECT_EQ(doc->find("msg")->string, "epoll_wait: Bad file descriptor \"quoted\"\n");
    EXPECT_TRUE(std::regex_match(doc->find("time")->string,
                                 std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
        << doc->find("time")->string;
}

TEST(LogJson, EscapesQuotesBackslashesAndControlCharacters) {
    EXPECT_EQ(json(""), R"("")");
    EXPECT_EQ(json(R"(a"b\c)"), R"("a\"b\\c")");
    EXPECT_EQ(json("one\ntwo\r\tthree"), R"("one\ntwo\r\tthree")");
    EXPECT_EQ(json(std::string_view("\0\x01\x1f\x7f", 4)), R"("\u0000\u0001\u001f\u007f")");
    EXPECT_EQ(json("/ <> ' ~"), R"("/ <> ' ~")") << "printable ASCII stays";
}

TEST(LogJson, KeepsUtf8AndReplacesEachInvalidByte) {
    EXPECT_EQ(json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"")
        << "é, €, 😀 kept as they are";
    EXPECT_EQ(json("a\xff" "b"), R"("a\ufffdb")");
    EXPECT_EQ(json("cut \xc3"), R"("cut \ufffd")") << "a sequence cut by the end";
    EXPECT_EQ(json("\xc3(x"), R"("\ufffd(x")") << "a lead byte without its continuation";
    EXPECT_EQ(json("\xe0\x80\xaf"), R"("\ufffd\ufffd\ufffd")") << "overlong";
    EXPECT_EQ(json("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")") << "a surrogate";
    EXPECT_EQ(json("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")") << "above U+10FFFF";
    EXPECT_EQ(json("\x80\xc3\xa9"), "\"\\ufffd\xc3\xa9\"") << "a stray continuation, then a valid é";
    // Whatever the bytes, the result is a JSON string a strict reader takes.
    std::string all;
    for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
    auto doc = proto::parse_json(json(all));
    ASSERT_TRUE(doc);
    EXPECT_EQ(doc->string.substr(0, 128), all.substr(0, 128));
}

// The real writer (one write(2) per line on fd 2), under four threads: a
// pipe in fd 2's place must read back whole lines only, none lost.
TEST_F(Log, ThreadsNeverInterleaveLines) {
    set_log_sink(nullptr);
    set_log_format(log_format::json);
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    const int saved = dup(STDERR_FILENO);
    ASSERT_GE(saved, 0);
    ASSERT_EQ(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
    close(p[1]);
    std::string got;
    std::thread reader([&] {
        char buf[4096];
        for (ssize_t n; (n = read(p[0], buf, sizeof buf)) > 0;) got.append(buf, static_cast<std::size_t>(n));
    });
    constexpr int threads = 4, per_thread = 500;
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
        ts.emplace_back([t] {
            for (int i = 0; i < per_thread; ++i)
                log(log_level::warn, "handshakes_refused", "thread %d line %d %s", t, i, "padding padding padding");
        });
    for (auto& t : ts) t.join();
    dup2(saved, STDERR_FILENO);  // the pipe's last writer goes: the reader sees EOF
    close(saved);
    reader.join();
    close(p[0]);

    std::size_t count = 0, at = 0;
    for (std::size_t nl; (nl = got.find('\n', at)) != std::string::npos; at = nl + 1, ++count) {
        auto doc = proto::parse_json(std::string_view(got).substr(at, nl - at));
        ASSERT_TRUE(doc) << got.substr(at, nl - at);
        EXPECT_EQ(doc->find("event")->string, "handshakes_refused");
    }
    EXPECT_EQ(at, got.size()) << "nothing after the last newline";
    EXPECT_EQ(count, static_cast<std::size_t>(threads * per_thread));
}

}  // namespace
}  // namespace wsring::net

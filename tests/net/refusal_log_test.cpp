// Tests for net/refusal_log: one line per reason per second at most, with
// the count since the previous line; reasons are independent.
#include "net/refusal_log.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace wsring::net {
namespace {

TEST(RefusalLog, OneLinePerReasonPerSecond) {
    refusal_log log;
    EXPECT_EQ(log.note(refusal_reason::bad_token, 100, "192.0.2.1"), "refused 1 upgrade: bad_token, latest from 192.0.2.1");
    for (int i = 0; i < 1000; ++i) EXPECT_EQ(log.note(refusal_reason::bad_token, 100), "");
    EXPECT_EQ(log.note(refusal_reason::too_fast, 100), "refused 1 upgrade: too_fast") << "reasons are apart";
    EXPECT_EQ(log.note(refusal_reason::bad_token, 103), "refused 1001 upgrades: bad_token (since 3 s ago)")
        << "the next second's first refusal reports all since the last line";
    EXPECT_EQ(log.note(refusal_reason::bad_token, 103), "");
}

// "refused N upgrade(s): ..." → N.
std::uint64_t count_in(const std::string& line) { return std::stoull(line.substr(8)); }

TEST(RefusalLog, ConcurrentRefusalsWriteOneLineAndLoseNoCount) {
    refusal_log log;
    std::mutex mu;
    std::vector<std::string> lines;
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
        ts.emplace_back([&] {
            for (int i = 0; i < 10'000; ++i)
                if (std::string l = log.note(refusal_reason::origin, 7); !l.empty()) {
                    std::lock_guard lock(mu);
                    lines.push_back(l);
                }
        });
    for (auto& t : ts) t.join();
    ASSERT_EQ(lines.size(), 1u) << "one line for second 7, whichever thread wrote it";
    const std::string next = log.note(refusal_reason::origin, 8);
    ASSERT_FALSE(next.empty());
    EXPECT_EQ(count_in(lines[0]) + count_in(next), 40'001u) << lines[0] << " / " << next;
}

}  // namespace
}  // namespace wsring::net

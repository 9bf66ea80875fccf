// Tests for modes/topic_log: offsets and epochs, the three history bounds
// (count with straddling entries, global bytes oldest first, ttl checked at
// read time), recovery cut exactly at (since, up_to] even inside entries,
// sweep's once-a-second rhythm, and a threaded run for TSan. Time and epochs
// are injected: a clock the test moves by hand, epochs "e1", "e2", ...
// Frames are real wsring-style server frames (proto/encoder.hpp) whose
// payload names their offset, so a replay can be checked message by message.
#include "modes/topic_log.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cctype>
#include <random>
#include <thread>

#include "proto/encoder.hpp"

namespace wsring::modes {
namespace {

using namespace std::chrono_literals;

// ---- helpers ------------------------------------------------------------------

struct fake_clock {
    std::chrono::steady_clock::time_point t{std::chrono::hours(1)};
    topic_log::clock source() {
        return [this] { return t; };
    }
};

struct numbered_epochs {
    int n = 0;
    topic_log::epoch_source source() {
        return [this] { return "e" + std::to_string(++n); };
    }
};

// "t:<offset>"; when `varied`, some are padded past 125 bytes (a 16-bit
// length) or 65535 (a 64-bit length), so cutting an entry must read headers.
std::string payload_of(std::uint64_t offset, bool varied = true) {
    std::string p = "t:" + std::to_string(offset);
    if (varied && offset % 13 == 7) p.resize(70000, '.');
    else if (varied && offset % 5 == 3) p.resize(200, '.');
    return p;
}

core::shared_buffer frames_for(std::uint64_t first, std::uint32_t n, bool varied = true) {
    std::vector<std::string> payloads;
    std::size_t total = 0;
    for (std::uint64_t o = first; o < first + n; ++o) {
        payloads.push_back(payload_of(o, varied));
        total += proto::frame_size(payloads.back().size(), false);
    }
    return core::shared_buffer::make(total, [&](std::span<std::byte> out) {
        std::size_t at = 0;
        for (const std::string& p : payloads)
            at += proto::encode_frame(out.subspan(at), proto::opcode::text, std::as_bytes(std::span(p)));
    });
}

// An encode callback storing `n` messages' frames.
auto frames_of(std::uint32_t n) {
    return [n](std::string_view, std::uint64_t first) { return frames_for(first, n); };
}
// A lambda, not a function: append() passes its callback's address as void*.
const auto no_frames = [](std::string_view, std::uint64_t) { return core::shared_buffer(); };

std::size_t entry_cost(std::uint64_t first, std::uint32_t n) {
    return topic_log::entry_overhead() + frames_for(first, n).size();
}

// The payloads a replay carries; false when a slice is not exactly its
// `messages` whole, unmasked, final text frames.
bool decode(const std::vector<frames_slice>& replay, std::vector<std::string>& out) {
    for (const frames_slice& s : replay) {
        if (s.begin > s.end || s.end > s.frames.size()) return false;
        auto bytes = s.frames.bytes().subspan(s.begin, s.end - s.begin);
        std::uint32_t frames = 0;
        while (!bytes.empty()) {
            proto::frame_header h;
            auto r = proto::decode_header(bytes, h);
            if (r.size == 0 || h.masked || !h.fin || h.op() != proto::opcode::text ||
                h.length > bytes.size() - r.size)
                return false;
            out.emplace_back(reinterpret_cast<const char*>(bytes.data() + r.size), h.length);
            bytes = bytes.subspan(r.size + h.length);
            ++frames;
        }
        if (frames != s.messages) return false;
    }
    return true;
}

std::vector<std::string> payloads(const topic_log::recovery& rec) {
    std::vector<std::string> out;
    EXPECT_TRUE(decode(rec.replay, out));
    return out;
}

std::vector<std::string> expected(std::uint64_t from, std::uint64_t to, bool varied = true) {
    std::vector<std::string> out;
    for (std::uint64_t o = from; o <= to; ++o) out.push_back(payload_of(o, varied));
    return out;
}

// A log with the fake clock and numbered epochs.
struct harness {
    fake_clock clock;
    numbered_epochs epochs;
    topic_log log;
    explicit harness(history_options o) : log(o, clock.source(), epochs.source()) {}
};

history_options with(std::size_t max_messages, std::chrono::milliseconds ttl = 0ms,
                     std::size_t max_bytes = 64u << 20) {
    return history_options{.max_messages = max_messages, .ttl = ttl, .max_bytes = max_bytes};
}

// ---- offsets and epochs ---------------------------------------------------------

TEST(topic_log, OffsetsCountFromOnePerTopicAndEncodeSeesThem) {
    harness h(with(100));
    std::vector<std::pair<std::string, std::uint64_t>> seen;
    auto enc = [&](std::uint32_t n) {
        return [&seen, n](std::string_view epoch, std::uint64_t first) {
            seen.emplace_back(epoch, first);
            return frames_for(first, n);
        };
    };
    EXPECT_EQ(h.log.append("a", 1, enc(1)), 1u);
    EXPECT_EQ(h.log.append("a", 3, enc(3)), 2u);
    EXPECT_EQ(h.log.append("b", 2, enc(2)), 1u);  // another topic: its own offsets and epoch
    EXPECT_EQ(h.log.append("a", 1, enc(1)), 5u);
    using seen_t = std::vector<std::pair<std::string, std::uint64_t>>;
    EXPECT_EQ(seen, (seen_t{{"e1", 1}, {"e1", 2}, {"e2", 1}, {"e1", 5}}));

    const topic_position a = h.log.retain("a"), b = h.log.retain("b");
    EXPECT_EQ(a.epoch, "e1");
    EXPECT_EQ(a.offset, 5u);
    EXPECT_EQ(b.epoch, "e2");
    EXPECT_EQ(b.offset, 2u);
    const topic_position c = h.log.retain("c");  // unknown: created, nothing yet
    EXPECT_EQ(c.epoch, "e3");
    EXPECT_EQ(c.offset, 0u);
}

TEST(topic_log, EpochStableWhileRetained) {
    harness h(with(0));  // no history: only the retain keeps the topic
    EXPECT_EQ(h.log.retain("a").epoch, "e1");
    for (int i = 0; i < 3; ++i) {
        h.clock.t += 5s;
        h.log.sweep();
        h.log.append("a", 1, no_frames);
    }
    const topic_position p = h.log.retain("a");
    EXPECT_EQ(p.epoch, "e1");
    EXPECT_EQ(p.offset, 3u);
    EXPECT_EQ(h.log.stats().forgotten, 0u);
}

TEST(topic_log, LastReleaseWithoutHistoryForgetsAndANewRunStartsAtOne) {
    harness h(with(0));
    EXPECT_EQ(h.log.retain("a").epoch, "e1");
    h.log.append("a", 2, frames_of(2));
    h.log.release("a");  // no subscriber, no history: gone now, not at the next sweep
    EXPECT_EQ(h.log.stats().topics, 0u);
    EXPECT_EQ(h.log.stats().forgotten, 1u);

    const topic_position p = h.log.retain("a");
    EXPECT_EQ(p.epoch, "e2");
    EXPECT_EQ(p.offset, 0u);
    EXPECT_EQ(h.log.append("a", 1, no_frames), 1u);
    // The old run's position is not mistaken for the new one's.
    EXPECT_FALSE(h.log.recover("a", {"e1", 1}, 1).recovered);
}

TEST(topic_log, ReleaseKeepsATopicThatHasHistory) {
    harness h(with(10));
    h.log.retain("a");
    h.log.append("a", 2, frames_of(2));
    h.log.release("a");
    h.log.release("unknown");  // harmless
    const topic_position p = h.log.retain("a");
    EXPECT_EQ(p.epoch, "e1");
    EXPECT_EQ(p.offset, 2u);
    EXPECT_TRUE(h.log.recover("a", {"e1", 0}, 2).recovered);
}

TEST(topic_log, SweepForgetsAnUnretainedTopicOnceItsHistoryExpired) {
    harness h(with(10, 1000ms));
    h.log.append("b", 1, frames_of(1));
    h.log.sweep();
    EXPECT_EQ(h.log.stats().topics, 1u);  // its history keeps it
    h.clock.t += 1001ms;
    h.log.sweep();
    EXPECT_EQ(h.log.stats().topics, 0u);
    EXPECT_EQ(h.log.stats().entries, 0u);
    std::string epoch;
    EXPECT_EQ(h.log.append("b", 1, [&](std::string_view e, std::uint64_t first) {
        epoch = e;
        return frames_for(first, 1);
    }), 1u);
    EXPECT_EQ(epoch, "e2");
}

TEST(topic_log, SweepRunsAtMostOncePerSecond) {
    harness h(with(0));
    h.log.append("a", 1, no_frames);  // unretained, no history: sweep's to forget
    h.log.sweep();
    EXPECT_EQ(h.log.stats().topics, 0u);
    h.log.append("a", 1, no_frames);
    h.clock.t += 999ms;
    h.log.sweep();
    EXPECT_EQ(h.log.stats().topics, 1u);  // too soon: did nothing
    h.clock.t += 1ms;
    h.log.sweep();
    EXPECT_EQ(h.log.stats().topics, 0u);
    EXPECT_EQ(h.log.stats().forgotten, 2u);
}

TEST(topic_log, DefaultEpochsAreEightAlphanumericsAndNewPerRun) {
    topic_log log(with(0));
    const std::string a = log.retain("a").epoch, b = log.retain("b").epoch;
    for (const std::string& e : {a, b}) {
        EXPECT_EQ(e.size(), 8u);
        for (char c : e) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << e;
    }
    EXPECT_NE(a, b);  // 62^8 epochs: equal only by a (1 in 2·10^14) chance
    log.release("a");
    EXPECT_NE(log.retain("a").epoch, a);
}

// ---- history bounds ----------------------------------------------------------------

TEST(topic_log, HistoryKeepsTheLastMaxMessagesAndAStraddlingEntry) {
    harness h(with(3));
    h.log.retain("a");
    h.log.append("a", 2, frames_of(2));  // 1, 2
    h.log.append("a", 2, frames_of(2));  // 3, 4: the last 3 are 2..4, so [1, 2] straddles
    EXPECT_EQ(h.log.stats().entries, 2u);
    EXPECT_EQ(h.log.stats().messages, 4u);

    auto rec = h.log.recover("a", {"e1", 1}, 4);
    ASSERT_TRUE(rec.recovered);
    EXPECT_EQ(payloads(rec), expected(2, 4));
    ASSERT_EQ(rec.replay.size(), 2u);
    EXPECT_EQ(rec.replay[0].messages, 1u);
    EXPECT_FALSE(h.log.recover("a", {"e1", 0}, 4).recovered);  // offset 1 counts as gone

    h.log.append("a", 1, frames_of(1));  // 5: the last 3 are 3..5, [1, 2] goes
    EXPECT_EQ(h.log.stats().entries, 2u);
    EXPECT_EQ(h.log.stats().messages, 3u);
    EXPECT_FALSE(h.log.recover("a", {"e1", 1}, 5).recovered);
    rec = h.log.recover("a", {"e1", 2}, 5);
    ASSERT_TRUE(rec.recovered);
    EXPECT_EQ(payloads(rec), expected(3, 5));
}

TEST(topic_log, BytesCountFramesAndBookkeeping) {
    harness h(with(10));
    h.log.retain("topic");
    EXPECT_EQ(h.log.stats().bytes, topic_log::topic_overhead(5));
    h.log.append("topic", 3, frames_of(3));
    const auto s = h.log.stats();
    EXPECT_EQ(s.bytes, topic_log::topic_overhead(5) + entry_cost(1, 3));
    // A name too long for std::string's inline buffer costs its allocation too.
    EXPECT_GT(topic_log::topic_overhead(100), topic_log::topic_overhead(5) + 100);
    std::cout << "[ figures  ] entry_overhead() = " << topic_log::entry_overhead()
              << " B, topic_overhead(5) = " << topic_log::topic_overhead(5)
              << " B, topic_overhead(100) = " << topic_log::topic_overhead(100) << " B\n";
}

TEST(topic_log, BytesBoundEvictsTheGloballyOldestEntriesFirst) {
    // Room for both topics and exactly four one-message entries.
    const std::size_t room = 2 * topic_log::topic_overhead(1) + entry_cost(2, 1) * 2 + entry_cost(3, 1) * 2;
    harness h(with(100, 0ms, room));
    h.log.retain("a");
    h.log.retain("b");
    for (int i = 0; i < 3; ++i) {  // a1 b1 a2 b2 a3 b3: a1 and b1 go
        h.log.append("a", 1, frames_of(1));
        h.log.append("b", 1, frames_of(1));
    }
    auto s = h.log.stats();
    EXPECT_EQ(s.entries, 4u);
    EXPECT_EQ(s.bytes, room);
    EXPECT_EQ(s.evicted_bytes, 2 * entry_cost(1, 1));
    for (const char* t : {"a", "b"}) {
        EXPECT_TRUE(h.log.recover(t, {h.log.retain(t).epoch, 1}, 3).recovered) << t;
        EXPECT_FALSE(h.log.recover(t, {h.log.retain(t).epoch, 0}, 3).recovered) << t;
    }

    h.log.append("b", 1, frames_of(1));  // b4 (as big as a2): a2 goes, not b2
    s = h.log.stats();
    EXPECT_LE(s.bytes, room);
    EXPECT_FALSE(h.log.recover("a", {"e1", 1}, 3).recovered);
    EXPECT_TRUE(h.log.recover("a", {"e1", 2}, 3).recovered);
    auto rec = h.log.recover("b", {"e2", 1}, 4);
    ASSERT_TRUE(rec.recovered);
    EXPECT_EQ(payloads(rec), expected(2, 4));
}

TEST(topic_log, AnEntryBiggerThanMaxBytesIsNotKept) {
    harness h(with(100, 0ms, topic_log::topic_overhead(1) + entry_cost(1, 1)));
    h.log.retain("a");
    h.log.append("a", 1, frames_of(1));
    EXPECT_EQ(h.log.stats().entries, 1u);
    h.log.append("a", 5, frames_of(5));  // alone past the bound: evicts a1, then itself
    EXPECT_EQ(h.log.stats().entries, 0u);
    EXPECT_EQ(h.log.stats().bytes, topic_log::topic_overhead(1));
    EXPECT_EQ(h.log.retain("a").offset, 6u);  // the offsets were handed out all the same
}

TEST(topic_log, TtlExpiresAtReadTimeEvenWithoutSweep) {
    harness h(with(100, 1000ms));
    h.log.retain("a");
    h.log.append("a", 1, frames_of(1));
    h.clock.t += 600ms;
    h.log.append("a", 1, frames_of(1));
    h.clock.t += 400ms;  // entry 1 is exactly 1000 ms old: not older than the ttl
    EXPECT_TRUE(h.log.recover("a", {"e1", 0}, 2).recovered);
    h.clock.t += 1ms;
    EXPECT_FALSE(h.log.recover("a", {"e1", 0}, 2).recovered);
    auto rec = h.log.recover("a", {"e1", 1}, 2);
    ASSERT_TRUE(rec.recovered);
    EXPECT_EQ(payloads(rec), expected(2, 2));
    EXPECT_EQ(h.log.stats().entries, 2u);  // nobody swept: still stored

    const std::size_t before = h.log.stats().bytes;
    h.log.sweep();  // frees it
    auto s = h.log.stats();
    EXPECT_EQ(s.entries, 1u);
    EXPECT_EQ(s.expired, 1u);
    EXPECT_EQ(s.bytes, before - entry_cost(1, 1));

    h.clock.t += 600ms;  // entry 2 expires now, but the next sweep is not due yet
    EXPECT_FALSE(h.log.recover("a", {"e1", 1}, 2).recovered);
    h.log.sweep();
    EXPECT_EQ(h.log.stats().entries, 1u);
    h.clock.t += 400ms;
    h.log.sweep();
    EXPECT_EQ(h.log.stats().entries, 0u);
    EXPECT_EQ(h.log.stats().topics, 1u);  // still retained
    EXPECT_TRUE(h.log.recover("a", {"e1", 2}, 2).recovered);  // nothing missed
}

TEST(topic_log, AppendTrimsItsTopicByTtl) {
    harness h(with(100, 1000ms));
    h.log.retain("a");
    h.log.append("a", 1, frames_of(1));
    h.clock.t += 2s;
    h.log.append("a", 1, frames_of(1));
    EXPECT_EQ(h.log.stats().entries, 1u);
    EXPECT_EQ(h.log.stats().expired, 1u);
}

TEST(topic_log, NoHistoryWhenMaxMessagesIsZero) {
    harness h(with(0));
    EXPECT_FALSE(h.log.keeps_history());
    h.log.retain("a");
    int encoded = 0;
    EXPECT_EQ(h.log.append("a", 2, [&](std::string_view, std::uint64_t first) {
        ++encoded;
        return frames_for(first, 2);
    }), 1u);
    EXPECT_EQ(encoded, 1);  // encode still runs: the publisher claims its ring slot there
    EXPECT_EQ(h.log.append("a", 1, frames_of(1)), 3u);
    auto s = h.log.stats();
    EXPECT_EQ(s.entries, 0u);
    EXPECT_EQ(s.messages, 0u);
    EXPECT_EQ(s.bytes, topic_log::topic_overhead(1));
    EXPECT_FALSE(h.log.recover("a", {"e1", 2}, 3).recovered);
    EXPECT_TRUE(h.log.recover("a", {"e1", 3}, 3).recovered);
}

TEST(topic_log, EncodeReturningNothingStoresNothingAndLeavesAGap) {
    harness h(with(100));
    h.log.retain("a");
    h.log.append("a", 2, frames_of(2));  // 1, 2
    EXPECT_EQ(h.log.append("a", 1, no_frames), 3u);
    h.log.append("a", 2, frames_of(2));  // 4, 5
    EXPECT_EQ(h.log.stats().entries, 2u);
    EXPECT_EQ(h.log.stats().messages, 4u);
    EXPECT_FALSE(h.log.recover("a", {"e1", 2}, 5).recovered);  // 3 was never stored
    EXPECT_FALSE(h.log.recover("a", {"e1", 1}, 3).recovered);
    auto rec = h.log.recover("a", {"e1", 3}, 5);
    ASSERT_TRUE(rec.recovered);
    EXPECT_EQ(payloads(rec), expected(4, 5));
    rec = h.log.recover("a", {"e1", 0}, 2);
    ASSERT_TRUE(rec.recovered);
    EXPECT_EQ(payloads(rec), expected(1, 2));
}

// ---- recover --------------------------------------------------------------------

TEST(topic_log, RecoverNeedsTheTopicsEpoch) {
    harness h(with(100));
    h.log.retain("a");
    h.log.append("a", 3, frames_of(3));
    EXPECT_TRUE(h.log.recover("a", {"e1", 1}, 3).recovered);
    EXPECT_FALSE(h.log.recover("a", {"e2", 1}, 3).recovered);
    EXPECT_FALSE(h.log.recover("a", {"e2", 3}, 3).recovered);  // even with nothing missed
    EXPECT_FALSE(h.log.recover("nope", {"e1", 1}, 3).recovered);
}

TEST(topic_log, RecoverRefusesSinceAfterUpToAndUpToAfterLast) {
    harness h(with(100));
    h.log.retain("a");
    h.log.append("a", 3, frames_of(3));
    EXPECT_FALSE(h.log.recover("a", {"e1", 3}, 2).recovered);
    EXPECT_FALSE(h.log.recover("a", {"e1", 1}, 4).recovered);
    EXPECT_FALSE(h.log.recover("a", {"e1", 4}, 4).recovered);
}

TEST(topic_log, RecoverWithNothingMissedIsEmpty) {
    for (std::size_t max : {std::size_t{0}, std::size_t{100}}) {
        harness h(with(max));
        h.log.retain("a");
        h.log.append("a", 3, frames_of(3));
        for (std::uint64_t o : {0, 2, 3}) {
            auto rec = h.log.recover("a", {"e1", o}, o);
            EXPECT_TRUE(rec.recovered) << max << " " << o;
            EXPECT_TRUE(rec.replay.empty());
        }
    }
}

TEST(topic_log, RecoverSlicesCoverExactlySinceToUpToEvenInsideEntries) {
    harness h(with(100));
    h.log.retain("a");
    // Entries of 1, 3, 2, 4, 1 and 5 messages: offsets 1..16, some frames
    // with 16- and 64-bit lengths (offsets 3, 8, 13 and 7).
    for (std::uint32_t n : {1, 3, 2, 4, 1, 5}) h.log.append("a", n, frames_of(n));
    const std::vector<std::uint64_t> firsts{1, 2, 5, 7, 11, 12};
    for (std::uint64_t since = 0; since <= 16; ++since) {
        for (std::uint64_t up_to = since; up_to <= 16; ++up_to) {
            SCOPED_TRACE(testing::Message() << "since " << since << " up_to " << up_to);
            auto rec = h.log.recover("a", {"e1", since}, up_to);
            ASSERT_TRUE(rec.recovered);
            EXPECT_EQ(payloads(rec), expected(since + 1, up_to));
            // One slice per entry that holds some of (since, up_to].
            std::size_t overlapping = 0;
            for (std::size_t i = 0; i < firsts.size(); ++i) {
                const std::uint64_t last = i + 1 < firsts.size() ? firsts[i + 1] - 1 : 16;
                overlapping += since < up_to && firsts[i] <= up_to && last > since;
            }
            EXPECT_EQ(rec.replay.size(), overlapping);
        }
    }
}

TEST(topic_log, ReplayOutlivesEviction) {
    harness h(with(2));
    h.log.retain("a");
    h.log.append("a", 2, frames_of(2));
    auto rec = h.log.recover("a", {"e1", 0}, 2);
    ASSERT_TRUE(rec.recovered);
    for (int i = 0; i < 3; ++i) h.log.append("a", 2, frames_of(2));  // evicts what rec holds
    EXPECT_FALSE(h.log.recover("a", {"e1", 0}, 2).recovered);
    EXPECT_EQ(payloads(rec), expected(1, 2));  // the slices hold their buffers
}

// ---- threads (run under TSan) -----------------------------------------------------

TEST(topic_log_concurrency, AppendersRecoverersAndASweeperAgree) {
    // Small bounds, so trimming and global eviction run all along.
    topic_log log(with(64, 0ms, 48u << 10));
    const std::array<std::string, 3> topics{"alpha", "beta", "gamma"};
    std::array<std::string, 3> epochs;
    // Held for the whole run, like a reactor with subscribers: the epochs
    // cannot change, so the final positions must count every message.
    for (std::size_t t = 0; t < 3; ++t) epochs[t] = log.retain(topics[t]).epoch;

    std::array<std::atomic<std::uint64_t>, 3> appended{};
    std::array<std::uint64_t, 3> next_in_encode{1, 1, 1};  // touched only inside encode: under the lock
    std::atomic<int> bad_order{0}, bad_encode{0}, bad_replay{0}, bad_epoch{0};
    std::atomic<int> recovered_some{0};
    std::atomic<bool> stop{false};

    auto appender = [&](int id) {
        std::array<std::uint64_t, 3> last_first{0, 0, 0};
        for (int k = 0; k < 10000; ++k) {
            const std::size_t t = static_cast<std::size_t>(k + id) % 3;
            const std::uint32_t n = 1 + static_cast<std::uint32_t>(k % 3);
            const std::uint64_t first = log.append(topics[t], n, [&](std::string_view e, std::uint64_t f) {
                if (e != epochs[t] || f != next_in_encode[t]) ++bad_encode;
                next_in_encode[t] = f + n;
                return frames_for(f, n, false);
            });
            if (first <= last_first[t]) ++bad_order;
            last_first[t] = first;
            appended[t] += n;
        }
    };
    auto recoverer = [&](unsigned seed) {
        std::mt19937 rng(seed);
        for (int i = 0; !stop.load() || i < 200; ++i) {
            const std::size_t t = rng() % 3;
            const topic_position p = log.retain(topics[t]);
            if (p.epoch != epochs[t]) ++bad_epoch;
            const std::uint64_t back = std::min<std::uint64_t>(rng() % 20, p.offset);
            auto rec = log.recover(topics[t], {p.epoch, p.offset - back}, p.offset);
            std::vector<std::string> got;
            if (rec.recovered && (!decode(rec.replay, got) || got != expected(p.offset - back + 1, p.offset, false)))
                ++bad_replay;
            if (rec.recovered && back > 0) ++recovered_some;
            log.release(topics[t]);
            log.retain("scratch");  // created and forgotten over and over
            log.release("scratch");
        }
    };

    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) threads.emplace_back(appender, i);
    std::thread r1(recoverer, 1u), r2(recoverer, 2u);
    std::thread sweeper([&] {
        while (!stop.load()) {
            log.sweep();
            (void)log.stats();
            std::this_thread::yield();
        }
    });
    for (auto& th : threads) th.join();
    stop = true;
    r1.join();
    r2.join();
    sweeper.join();

    EXPECT_EQ(bad_order.load(), 0);
    EXPECT_EQ(bad_encode.load(), 0);
    EXPECT_EQ(bad_replay.load(), 0);
    EXPECT_EQ(bad_epoch.load(), 0);
    EXPECT_GT(recovered_some.load(), 0);
    std::uint64_t total = 0;
    for (std::size_t t = 0; t < 3; ++t) {
        const topic_position p = log.retain(topics[t]);
        EXPECT_EQ(p.epoch, epochs[t]);
        EXPECT_EQ(p.offset, appended[t].load()) << topics[t];
        total += p.offset;
    }
    std::uint64_t per_thread = 0;
    for (int k = 0; k < 10000; ++k) per_thread += 1 + k % 3;
    EXPECT_EQ(total, 4 * per_thread);
    EXPECT_LE(log.stats().bytes, std::size_t{48u << 10});
}

}  // namespace
}  // namespace wsring::modes

// Tests for modes/topic_log in remote mode (history_options::remote, issue
// 13): a broker sequences, the log follows. A new topic waits for the
// broker's sync_remote (no epoch before); append_remote takes only what
// continues the topic exactly (duplicate, gap, other epoch, not synced are
// reported and change nothing); reset_remote starts the topic again with no
// history; only try_unsync forgets. Time is a clock moved by hand; frames
// are real server frames whose payload names their offset.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "modes/topic_log.hpp"
#include "proto/encoder.hpp"
#include "proto/frame_header.hpp"

namespace wsring::modes {
namespace {

using namespace std::chrono_literals;

struct fake_clock {
    std::chrono::steady_clock::time_point t{std::chrono::hours(1)};
    topic_log::clock source() {
        return [this] { return t; };
    }
};

// Unmasked text frames "m<first>", "m<first+1>", ...
core::shared_buffer frames_for(std::uint64_t first, std::uint32_t n) {
    std::vector<std::string> payloads;
    std::size_t total = 0;
    for (std::uint64_t o = first; o < first + n; ++o) {
        payloads.push_back("m" + std::to_string(o));
        total += proto::frame_size(payloads.back().size(), false);
    }
    return core::shared_buffer::make(total, [&](std::span<std::byte> out) {
        std::size_t at = 0;
        for (const std::string& p : payloads)
            at += proto::encode_frame(out.subspan(at), proto::opcode::text, std::as_bytes(std::span(p)));
    });
}

std::vector<std::string> expected(std::uint64_t from, std::uint64_t to) {
    std::vector<std::string> out;
    for (std::uint64_t o = from; o <= to; ++o) out.push_back("m" + std::to_string(o));
    return out;
}

// The payloads of a replay, in order.
std::vector<std::string> payloads(const topic_log::recovery& rec) {
    std::vector<std::string> out;
    for (const frames_slice& s : rec.replay) {
        auto bytes = s.frames.bytes().subspan(s.begin, s.end - s.begin);
        while (!bytes.empty()) {
            proto::frame_header h;
            auto r = proto::decode_header(bytes, h);
            if (r.size == 0 || h.length > bytes.size() - r.size) {
                ADD_FAILURE() << "a slice that is not whole frames";
                return out;
            }
            out.emplace_back(reinterpret_cast<const char*>(bytes.data() + r.size), h.length);
            bytes = bytes.subspan(r.size + h.length);
        }
    }
    return out;
}

// The broker's stored messages [from, to], each `age_step` older than the next.
std::vector<topic_log::stored_message> stored(std::uint64_t from, std::uint64_t to,
                                              std::chrono::milliseconds newest_age = 0ms,
                                              std::chrono::milliseconds age_step = 0ms) {
    std::vector<topic_log::stored_message> out;
    for (std::uint64_t o = from; o <= to; ++o)
        out.push_back({o, newest_age + age_step * static_cast<int>(to - o), frames_for(o, 1)});
    return out;
}

// Counts its calls; stores `n` messages' frames.
struct counting_encode {
    int calls = 0;
    std::uint32_t n = 1;
    std::string epoch;
    std::uint64_t first = 0;
    core::shared_buffer operator()(std::string_view e, std::uint64_t f) {
        ++calls;
        epoch = e;
        first = f;
        return frames_for(f, n);
    }
};

struct remote_log : ::testing::Test {
    fake_clock clock;
    history_options opts{.max_messages = 100, .ttl = 10000ms, .max_bytes = 64u << 20, .remote = true};
    topic_log log{opts, clock.source()};

    // Retained and synced at epoch "R1", offset `last`, with messages
    // [from, last] as history (none when from > last).
    void follow(std::string_view topic, std::uint64_t last, std::uint64_t from = 1) {
        log.retain(topic);
        ASSERT_TRUE(log.sync_remote(topic, "R1", last, stored(from, last)));
    }
};

// ---- before the broker's sync --------------------------------------------------------

TEST_F(remote_log, ANewTopicIsNotSyncedAndHasNoEpoch) {
    const topic_position p = log.retain("t");
    EXPECT_FALSE(p.synced);
    EXPECT_TRUE(p.epoch.empty()) << "remote: the broker names the epoch";
    const auto pos = log.position("t");
    ASSERT_TRUE(pos.has_value());
    EXPECT_FALSE(pos->synced);
    EXPECT_FALSE(log.position("other").has_value()) << "unknown topics have no position";
}

TEST_F(remote_log, SyncOnlyForARetainedTopic) {
    EXPECT_FALSE(log.sync_remote("t", "R1", 5, stored(1, 5))) << "nobody here wants it";
    EXPECT_FALSE(log.position("t").has_value()) << "a refused sync creates nothing";
    log.retain("t");
    ASSERT_TRUE(log.sync_remote("t", "R1", 5, stored(1, 5)));
    const auto p = log.position("t");
    ASSERT_TRUE(p.has_value());
    EXPECT_TRUE(p->synced);
    EXPECT_EQ(p->epoch, "R1");
    EXPECT_EQ(p->offset, 5u);
    EXPECT_TRUE(log.retain("t").synced) << "a later retain sees the synced topic";
}

// ---- after the sync: the broker's history is the topic's -----------------------------

TEST_F(remote_log, RecoverReplaysTheSyncedHistory) {
    follow("t", 5);
    const auto rec = log.recover("t", {"R1", 2}, 5);
    EXPECT_TRUE(rec.recovered);
    EXPECT_EQ(payloads(rec), expected(3, 5));
    EXPECT_FALSE(log.recover("t", {"other", 2}, 5).recovered) << "another epoch";
}

TEST_F(remote_log, SyncedHistoryAgesFromTheBrokersPublishNotTheSync) {
    log.retain("t");
    // 1 was published 12 s ago (past the 10 s ttl), 2 9.5 s ago, 3 now.
    std::vector<topic_log::stored_message> h{{1, 12000ms, frames_for(1, 1)},
                                             {2, 9500ms, frames_for(2, 1)},
                                             {3, 0ms, frames_for(3, 1)}};
    ASSERT_TRUE(log.sync_remote("t", "R1", 3, std::move(h)));
    EXPECT_FALSE(log.recover("t", {"R1", 0}, 3).recovered) << "message 1 is older than the ttl";
    auto rec = log.recover("t", {"R1", 1}, 3);
    EXPECT_TRUE(rec.recovered);
    EXPECT_EQ(payloads(rec), expected(2, 3));
    clock.t += 600ms;  // message 2 is 10.1 s old now
    EXPECT_FALSE(log.recover("t", {"R1", 1}, 3).recovered);
    EXPECT_EQ(payloads(log.recover("t", {"R1", 2}, 3)), expected(3, 3));
}

TEST_F(remote_log, SyncKeepsAtMostMaxMessages) {
    opts.max_messages = 3;
    topic_log small(opts, clock.source());
    small.retain("t");
    ASSERT_TRUE(small.sync_remote("t", "R1", 10, stored(1, 10)));
    EXPECT_FALSE(small.recover("t", {"R1", 6}, 10).recovered);
    EXPECT_EQ(payloads(small.recover("t", {"R1", 7}, 10)), expected(8, 10));
}

TEST_F(remote_log, ASecondSyncReplacesTheHistory) {
    follow("t", 5);
    ASSERT_TRUE(log.sync_remote("t", "R2", 2, stored(1, 2)));
    EXPECT_FALSE(log.recover("t", {"R1", 3}, 2).recovered) << "the old epoch's history is gone";
    EXPECT_EQ(payloads(log.recover("t", {"R2", 0}, 2)), expected(1, 2));
    EXPECT_EQ(log.stats().messages, 2u);
}

// The global age list is what sweep reads, front first: entries a sync
// dates back (by their age in the broker) must not hide behind younger ones.
TEST_F(remote_log, SweepDropsExpiredSyncedEntriesBehindYoungerOnes) {
    follow("young", 0);
    counting_encode enc;
    ASSERT_EQ(log.append_remote("young", "R1", 1, 1, enc), remote_append::applied);  // at t
    log.retain("old");
    ASSERT_TRUE(log.sync_remote("old", "R1", 1, stored(1, 1, 9900ms)));  // published at t - 9.9 s
    clock.t += 200ms;  // "old"'s message is 10.1 s old; "young"'s 0.2 s
    log.sweep();
    EXPECT_EQ(log.stats().messages, 1u) << "the expired message should be dropped by sweep";
}

// Several synced topics and live appends interleaved in time: sweep drops
// exactly the expired ones at each step, oldest first, whatever their topic.
TEST_F(remote_log, SweepFollowsPublishTimeAcrossSyncsAndAppends) {
    follow("live", 0);
    counting_encode enc;
    ASSERT_EQ(log.append_remote("live", "R1", 1, 1, enc), remote_append::applied);  // published at t0
    clock.t += 3000ms;                                                                // t0 + 3 s
    log.retain("a");  // 1..3 published at t0 - 4, t0 - 2, t0 + 0 s
    ASSERT_TRUE(log.sync_remote("a", "R1", 3, stored(1, 3, 3000ms, 2000ms)));
    log.retain("b");  // 1..2 published at t0 + 1, t0 + 2 s
    ASSERT_TRUE(log.sync_remote("b", "R1", 2, stored(1, 2, 1000ms, 1000ms)));
    ASSERT_EQ(log.append_remote("live", "R1", 2, 1, enc), remote_append::applied);  // t0 + 3 s
    ASSERT_EQ(log.stats().messages, 7u);
    // The ttl is 10 s; each step passes one or more publish times by 0.5 s.
    const std::pair<std::chrono::milliseconds, std::uint64_t> steps[] = {
        {6500ms, 6},   // t0 + 6.5 s: a/1 (t0 - 4) expired
        {8500ms, 5},   // t0 + 8.5 s: a/2 (t0 - 2)
        {10500ms, 3},  // t0 + 10.5 s: a/3 and live/1 (t0 + 0)
        {11500ms, 2},  // b/1 (t0 + 1)
        {12500ms, 1},  // b/2 (t0 + 2)
        {13500ms, 0},  // live/2 (t0 + 3)
    };
    const auto t0 = clock.t - 3000ms;
    for (const auto& [at, left] : steps) {
        clock.t = t0 + at;
        log.sweep();
        EXPECT_EQ(log.stats().messages, left) << "at t0 + " << at.count() << " ms";
    }
}

// max_bytes evicts the oldest first: a synced message published long ago
// goes before a younger live one that was stored earlier.
TEST_F(remote_log, ByteLimitEvictsTheOldestPublishFirst) {
    follow("live", 0);
    counting_encode enc;
    ASSERT_EQ(log.append_remote("live", "R1", 1, 1, enc), remote_append::applied);
    log.retain("old");
    ASSERT_TRUE(log.sync_remote("old", "R1", 1, stored(1, 1, 5000ms)));
    const std::uint64_t both = log.stats().bytes;
    opts.max_bytes = both - 1;  // one of the two entries must go
    topic_log small(opts, clock.source());
    small.retain("live");
    ASSERT_TRUE(small.sync_remote("live", "R1", 0, {}));
    ASSERT_EQ(small.append_remote("live", "R1", 1, 1, enc), remote_append::applied);
    small.retain("old");
    ASSERT_TRUE(small.sync_remote("old", "R1", 1, stored(1, 1, 5000ms)));
    EXPECT_FALSE(small.recover("old", {"R1", 0}, 1).recovered) << "the 5 s old message should go first";
    EXPECT_TRUE(small.recover("live", {"R1", 0}, 1).recovered) << "the live one is younger";
}

// A broker whose ages go back along the offsets (clock skew between the
// nodes that published): dates are made monotonic, so the topic's first
// entry stays its oldest in both lists and sweep still drops in order.
TEST_F(remote_log, AgesThatGoBackAlongTheOffsetsAreMadeMonotonic) {
    log.retain("t");
    std::vector<topic_log::stored_message> h{{1, 2000ms, frames_for(1, 1)},
                                             {2, 9000ms, frames_for(2, 1)},  // "older" than 1
                                             {3, 0ms, frames_for(3, 1)}};
    ASSERT_TRUE(log.sync_remote("t", "R1", 3, std::move(h)));
    clock.t += 8500ms;  // 1 is 10.5 s old; 2 dated as 1
    log.sweep();
    EXPECT_EQ(log.stats().messages, 1u);
    EXPECT_EQ(payloads(log.recover("t", {"R1", 2}, 3)), expected(3, 3));
}

// ---- append_remote ---------------------------------------------------------------------

TEST_F(remote_log, AppendThatContinuesTheTopicIsAppliedAndEncodedOnce) {
    follow("t", 5);
    counting_encode enc;
    enc.n = 2;
    EXPECT_EQ(log.append_remote("t", "R1", 6, 2, enc), remote_append::applied);
    EXPECT_EQ(enc.calls, 1);
    EXPECT_EQ(enc.epoch, "R1");
    EXPECT_EQ(enc.first, 6u);
    EXPECT_EQ(log.position("t")->offset, 7u);
    EXPECT_EQ(payloads(log.recover("t", {"R1", 3}, 7)), expected(4, 7));
}

TEST_F(remote_log, DuplicateChangesNothingAndEncodesNothing) {
    follow("t", 5);
    counting_encode enc;
    EXPECT_EQ(log.append_remote("t", "R1", 5, 1, enc), remote_append::duplicate);
    EXPECT_EQ(log.append_remote("t", "R1", 1, 5, enc), remote_append::duplicate);
    EXPECT_EQ(log.append_remote("t", "R1", 6, 0, enc), remote_append::duplicate) << "no messages";
    EXPECT_EQ(enc.calls, 0);
    EXPECT_EQ(log.position("t")->offset, 5u);
}

TEST_F(remote_log, GapAndStraddleChangeNothing) {
    follow("t", 5);
    counting_encode enc;
    enc.n = 2;
    EXPECT_EQ(log.append_remote("t", "R1", 7, 1, enc), remote_append::gap);
    EXPECT_EQ(log.append_remote("t", "R1", 5, 2, enc), remote_append::gap) << "5 is had, 6 is new";
    EXPECT_EQ(enc.calls, 0);
    EXPECT_EQ(log.position("t")->offset, 5u);
    EXPECT_EQ(log.stats().messages, 5u);
}

TEST_F(remote_log, OtherEpochChangesNothing) {
    follow("t", 5);
    counting_encode enc;
    EXPECT_EQ(log.append_remote("t", "R2", 6, 1, enc), remote_append::other_epoch);
    EXPECT_EQ(enc.calls, 0);
    EXPECT_EQ(log.position("t")->epoch, "R1");
}

TEST_F(remote_log, NotSyncedOrUnknownTopicIsNotSynced) {
    counting_encode enc;
    EXPECT_EQ(log.append_remote("unknown", "R1", 1, 1, enc), remote_append::not_synced);
    log.retain("t");
    EXPECT_EQ(log.append_remote("t", "R1", 1, 1, enc), remote_append::not_synced);
    EXPECT_EQ(enc.calls, 0);
    EXPECT_EQ(log.stats().messages, 0u);
}

TEST_F(remote_log, AppliedAppendsKeepTheLiveHistoryWithinItsBounds) {
    follow("t", 0);
    for (std::uint64_t o = 1; o <= 150; ++o) {
        counting_encode enc;
        ASSERT_EQ(log.append_remote("t", "R1", o, 1, enc), remote_append::applied);
    }
    EXPECT_EQ(log.stats().messages, 100u) << "max_messages holds in remote mode too";
    EXPECT_EQ(payloads(log.recover("t", {"R1", 140}, 150)), expected(141, 150));
    clock.t += 10001ms;
    EXPECT_FALSE(log.recover("t", {"R1", 140}, 150).recovered) << "and the ttl";
}

// ---- reset_remote ----------------------------------------------------------------------

TEST_F(remote_log, ResetDropsTheHistoryAndMovesThePosition) {
    follow("t", 5);
    int calls = 0;
    std::string seen_epoch;
    std::uint64_t seen_last = 0;
    ASSERT_TRUE(log.reset_remote("t", "R2", 40, [&](std::string_view e, std::uint64_t l) {
        ++calls;
        seen_epoch = e;
        seen_last = l;
        return core::shared_buffer{};
    }));
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(seen_epoch, "R2");
    EXPECT_EQ(seen_last, 40u);
    const auto p = log.position("t");
    EXPECT_EQ(p->epoch, "R2");
    EXPECT_EQ(p->offset, 40u);
    EXPECT_TRUE(p->synced);
    EXPECT_EQ(log.stats().messages, 0u);
    EXPECT_FALSE(log.recover("t", {"R1", 3}, 5).recovered);
    counting_encode enc;
    EXPECT_EQ(log.append_remote("t", "R2", 41, 1, enc), remote_append::applied) << "continues from the reset";
}

TEST_F(remote_log, ResetOfATopicNotFollowedDoesNothing) {
    int calls = 0;
    const auto enc = [&](std::string_view, std::uint64_t) {
        ++calls;
        return core::shared_buffer{};
    };
    EXPECT_FALSE(log.reset_remote("unknown", "R2", 4, enc));
    log.retain("t");
    EXPECT_FALSE(log.reset_remote("t", "R2", 4, enc)) << "not synced yet";
    EXPECT_EQ(calls, 0);
    EXPECT_FALSE(log.position("t")->synced);
}

// ---- release and try_unsync: only the broker forgets -------------------------------------

TEST_F(remote_log, ReleaseIsTrueOnlyOnTheLastRetainAndForgetsNothing) {
    follow("t", 5);
    log.retain("t");
    EXPECT_FALSE(log.release("t")) << "one retain left";
    EXPECT_TRUE(log.release("t"));
    EXPECT_FALSE(log.release("unknown"));
    const auto p = log.position("t");
    ASSERT_TRUE(p.has_value()) << "remote: the record stays for the broker to unsync";
    EXPECT_EQ(p->offset, 5u);
    clock.t += 1h;
    log.sweep();
    EXPECT_TRUE(log.position("t").has_value()) << "sweep does not forget it either";
}

TEST_F(remote_log, TryUnsyncRefusesWhileRetained) {
    follow("t", 5);
    EXPECT_FALSE(log.try_unsync("t"));
    EXPECT_TRUE(log.position("t")->synced);
    EXPECT_EQ(log.stats().messages, 5u);
}

TEST_F(remote_log, TryUnsyncForgetsAReleasedTopicAndItsBytes) {
    const std::size_t baseline = log.stats().bytes;
    follow("t", 5);
    counting_encode enc;
    ASSERT_EQ(log.append_remote("t", "R1", 6, 1, enc), remote_append::applied);
    EXPECT_GT(log.stats().bytes, baseline);
    ASSERT_TRUE(log.release("t"));
    EXPECT_TRUE(log.try_unsync("t"));
    EXPECT_FALSE(log.position("t").has_value());
    EXPECT_EQ(log.stats().bytes, baseline);
    EXPECT_EQ(log.stats().messages, 0u);
    EXPECT_EQ(log.stats().entries, 0u);
    EXPECT_EQ(log.stats().topics, 0u);
    EXPECT_TRUE(log.try_unsync("t")) << "an unknown topic is unsynced already";
    EXPECT_FALSE(log.retain("t").synced) << "coming back, it waits for a new sync";
}

TEST_F(remote_log, BytesBackToBaselineAfterManyTopicsComeAndGo) {
    const std::size_t baseline = log.stats().bytes;
    for (int i = 0; i < 20; ++i) {
        const std::string name = "topic-with-a-name-longer-than-sso-" + std::to_string(i);
        log.retain(name);
        ASSERT_TRUE(log.sync_remote(name, "an-epoch-longer-than-fifteen-chars", 3, stored(1, 3)));
        counting_encode enc;
        ASSERT_EQ(log.append_remote(name, "an-epoch-longer-than-fifteen-chars", 4, 1, enc),
                  remote_append::applied);
    }
    for (int i = 0; i < 20; ++i) {
        const std::string name = "topic-with-a-name-longer-than-sso-" + std::to_string(i);
        ASSERT_TRUE(log.release(name));
        ASSERT_TRUE(log.try_unsync(name));
    }
    EXPECT_EQ(log.stats().bytes, baseline);
}

}  // namespace
}  // namespace wsring::modes

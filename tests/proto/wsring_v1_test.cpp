// Tests for proto/wsring_v1.*: the epoch rule, positions (every way a
// number can be wrong, 2^64 - 1 and one past it), the `since` parameter of
// a query string (percent-decoding per RFC 3986 §2.1, repeats, look-alike
// names), prefixes written and read back, and parse_message on data,
// notices and everything that is neither. Inputs are byte literals.
#include "proto/wsring_v1.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace wsring::proto::v1 {
namespace {

std::span<const std::byte> as_bytes(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

std::string_view as_text(std::span<const std::byte> b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// parse_position's verdict; `out` holds the position when true.
bool parses(std::string_view text, position& out) { return parse_position(text, out); }
bool parses(std::string_view text) {
    position p;
    return parse_position(text, p);
}

// find_since with its own storage; the epoch is copied out of it.
struct since_result {
    since_status status;
    std::string epoch;
    std::uint64_t offset = 0;
};
since_result since(std::string_view query) {
    std::string storage;
    position p;
    const auto s = find_since(query, storage, p);
    return {s, std::string(p.epoch), p.offset};
}

// A data message as the server sends it: prefix + payload.
std::string delivered(std::string_view epoch, std::uint64_t offset, std::string_view payload) {
    std::vector<std::byte> out(prefix_size(epoch, offset));
    EXPECT_EQ(write_prefix(out, epoch, offset), out.size());
    return std::string(as_text(out)).append(payload);
}

// ---- epochs ---------------------------------------------------------------------

TEST(Epoch, OneToThirtyTwoOfTheAlphabet) {
    EXPECT_TRUE(valid_epoch("k"));
    EXPECT_TRUE(valid_epoch("k3Jd9xQa"));
    EXPECT_TRUE(valid_epoch("A-Z_a-z_0-9"));
    EXPECT_TRUE(valid_epoch(std::string(32, 'x')));
}

TEST(Epoch, EmptyAndTooLongRejected) {
    EXPECT_FALSE(valid_epoch(""));
    EXPECT_FALSE(valid_epoch(std::string(33, 'x')));
}

TEST(Epoch, CharactersOutsideTheAlphabetRejected) {
    for (std::string_view bad : {"a b", "a:b", "a.b", "a+b", "a%3A", "!position", "a\n", "é", "a/b"})
        EXPECT_FALSE(valid_epoch(bad)) << bad;
    EXPECT_FALSE(valid_epoch(std::string_view("a\0b", 3)));
}

// ---- positions ------------------------------------------------------------------

TEST(Position, EpochColonOffset) {
    position p;
    ASSERT_TRUE(parses("k3Jd9xQa:42", p));
    EXPECT_EQ(p.epoch, "k3Jd9xQa");
    EXPECT_EQ(p.offset, 42u);
}

TEST(Position, OffsetZeroIsBeforeTheFirstMessage) {
    position p;
    ASSERT_TRUE(parses("E:0", p));
    EXPECT_EQ(p.offset, 0u);
}

TEST(Position, LeadingZerosAllowedUpToTwentyDigits) {
    position p;
    ASSERT_TRUE(parses("E:00000000000000000005", p));
    EXPECT_EQ(p.offset, 5u);
    EXPECT_FALSE(parses("E:000000000000000000005"));  // 21 digits
}

TEST(Position, MaxUint64FitsAndOnePastOverflows) {
    position p;
    ASSERT_TRUE(parses("E:18446744073709551615", p));
    EXPECT_EQ(p.offset, UINT64_MAX);
    EXPECT_FALSE(parses("E:18446744073709551616"));
    EXPECT_FALSE(parses("E:99999999999999999999"));
    EXPECT_FALSE(parses("E:184467440737095516150"));  // 21 digits
}

TEST(Position, NoSignNoSpaces) {
    for (std::string_view bad : {"E:+5", "E:-5", "E: 5", "E:5 ", " E:5", "E :5", "E:5\n", "E:0x5", "E:5.0"})
        EXPECT_FALSE(parses(bad)) << bad;
}

TEST(Position, ExactlyOneColonAndBothParts) {
    for (std::string_view bad : {"E5", "E:5:6", "E::5", ":5", "E:", ":", ""})
        EXPECT_FALSE(parses(bad)) << bad;
}

TEST(Position, EpochMustBeValid) {
    EXPECT_TRUE(parses(std::string(32, 'x') + ":1"));
    EXPECT_FALSE(parses(std::string(33, 'x') + ":1"));
    EXPECT_FALSE(parses("a.b:1"));
}

TEST(Position, FailureLeavesOutAlone) {
    position p{"keep", 7};
    EXPECT_FALSE(parses("E:x", p));
    EXPECT_EQ(p.epoch, "keep");
    EXPECT_EQ(p.offset, 7u);
}

// ---- since ----------------------------------------------------------------------

TEST(Since, AbsentWithoutTheParameter) {
    EXPECT_EQ(since("").status, since_status::absent);
    EXPECT_EQ(since("a=1&b=2").status, since_status::absent);
    EXPECT_EQ(since("&&").status, since_status::absent);
}

TEST(Since, PlainValue) {
    const auto r = since("since=E:5");
    ASSERT_EQ(r.status, since_status::ok);
    EXPECT_EQ(r.epoch, "E");
    EXPECT_EQ(r.offset, 5u);
}

TEST(Since, AmongOtherParametersPercentEncoded_RFC3986_2_1) {
    const auto r = since("a=1&since=E%3A5&b");
    ASSERT_EQ(r.status, since_status::ok);
    EXPECT_EQ(r.epoch, "E");
    EXPECT_EQ(r.offset, 5u);
}

TEST(Since, LowercaseHexDecodes_RFC3986_2_1) {
    const auto r = since("since=k3Jd9xQa%3a1234");
    ASSERT_EQ(r.status, since_status::ok);
    EXPECT_EQ(r.epoch, "k3Jd9xQa");
    EXPECT_EQ(r.offset, 1234u);
}

TEST(Since, EveryCharacterMayBeEncoded) {
    const auto r = since("since=%45%3A%35");  // "E:5"
    ASSERT_EQ(r.status, since_status::ok);
    EXPECT_EQ(r.epoch, "E");
    EXPECT_EQ(r.offset, 5u);
}

TEST(Since, BadPercentEscapesAreMalformed) {
    for (std::string_view q : {"since=E%G1:5", "since=E:5%3", "since=E:5%", "since=%3", "since=E%:5"})
        EXPECT_EQ(since(q).status, since_status::malformed) << q;
}

TEST(Since, EmptyValueIsMalformed) {
    EXPECT_EQ(since("since=").status, since_status::malformed);
    EXPECT_EQ(since("since").status, since_status::malformed);
    EXPECT_EQ(since("a=1&since=&b=2").status, since_status::malformed);
}

TEST(Since, GivenTwiceIsMalformed) {
    EXPECT_EQ(since("since=E:5&since=E:5").status, since_status::malformed);
    EXPECT_EQ(since("since=E:5&a=1&since=F:6").status, since_status::malformed);
    EXPECT_EQ(since("since=E:5&%73ince=E:5").status, since_status::malformed);
}

TEST(Since, LookAlikeNamesAreOtherParameters) {
    EXPECT_EQ(since("sinceX=E:5").status, since_status::absent);
    EXPECT_EQ(since("Since=E:5").status, since_status::absent);
    EXPECT_EQ(since("xsince=E:5").status, since_status::absent);
    EXPECT_EQ(since("sinc=E:5").status, since_status::absent);
    EXPECT_EQ(since("sinceX=garbage&since=E:5").status, since_status::ok);
    EXPECT_EQ(since("%zz=1&since=E:5").status, since_status::ok);  // not ours to judge
}

TEST(Since, PercentEncodedNameIsTheSameName_RFC3986_6_2_2_2) {
    const auto r = since("%73ince=E:5");
    ASSERT_EQ(r.status, since_status::ok);
    EXPECT_EQ(r.offset, 5u);
}

TEST(Since, PlusIsNotASpaceJustABadEpochCharacter) {
    EXPECT_EQ(since("since=E+:5").status, since_status::malformed);
    EXPECT_EQ(since("since=E:+5").status, since_status::malformed);
    EXPECT_EQ(since("since=E%20:5").status, since_status::malformed);
}

TEST(Since, ValueMustBeAPosition) {
    for (std::string_view q : {"since=E", "since=E:", "since=:5", "since=E:5:6", "since=E:-1",
                               "since=E:18446744073709551616", "since=E%3A5%0A"})
        EXPECT_EQ(since(q).status, since_status::malformed) << q;
    EXPECT_EQ(since("since=E:18446744073709551615").offset, UINT64_MAX);
}

TEST(Since, EpochPointsIntoStorage) {
    std::string storage;
    position p;
    ASSERT_EQ(find_since("since=abc%3A9", storage, p), since_status::ok);
    EXPECT_EQ(storage, "abc:9");
    EXPECT_EQ(p.epoch.data(), storage.data());
}

// ---- prefixes -------------------------------------------------------------------

TEST(Prefix, SizeCountsEpochColonDigitsNewline) {
    EXPECT_EQ(prefix_size("E", 0), 4u);      // "E:0\n"
    EXPECT_EQ(prefix_size("E", 9), 4u);
    EXPECT_EQ(prefix_size("E", 10), 5u);
    EXPECT_EQ(prefix_size("k3Jd9xQa", 1234), 14u);
    EXPECT_EQ(prefix_size(std::string(32, 'x'), UINT64_MAX), 32u + 1 + 20 + 1);
}

TEST(Prefix, WritesTheFirstLine) {
    EXPECT_EQ(delivered("k3Jd9xQa", 1, "hello"), "k3Jd9xQa:1\nhello");
    EXPECT_EQ(delivered("E", UINT64_MAX, ""), "E:18446744073709551615\n");
}

TEST(Prefix, TooSmallBufferGetsNothing) {
    std::vector<std::byte> out(3, std::byte{'#'});
    EXPECT_EQ(write_prefix(out, "E", 5), 0u);
    EXPECT_EQ(as_text(out), "###");
}

TEST(Prefix, RoundTripsThroughParseMessage) {
    for (std::uint64_t offset : {std::uint64_t{1}, std::uint64_t{9}, std::uint64_t{10},
                                 std::uint64_t{1234567}, UINT64_MAX}) {
        for (std::string epoch : {std::string("k"), std::string("k3Jd9xQa"), std::string(32, 'Z')}) {
            const auto msg = delivered(epoch, offset, "pay\nload");
            const auto m = parse_message(as_bytes(msg));
            ASSERT_EQ(m.kind, message_kind::data) << msg;
            EXPECT_EQ(m.pos.epoch, epoch);
            EXPECT_EQ(m.pos.offset, offset);
            EXPECT_EQ(as_text(m.data), "pay\nload");
        }
    }
}

// ---- notices --------------------------------------------------------------------

TEST(Notice, Texts) {
    EXPECT_EQ(position_notice("k3Jd9xQa", 0), "!position k3Jd9xQa:0");
    EXPECT_EQ(unrecovered_notice("k3Jd9xQa", 1234), "!unrecovered k3Jd9xQa:1234");
    EXPECT_EQ(position_notice("E", UINT64_MAX), "!position E:18446744073709551615");
}

TEST(Notice, ParseBack) {
    const auto pos = position_notice("k3Jd9xQa", 0);
    auto m = parse_message(as_bytes(pos));
    ASSERT_EQ(m.kind, message_kind::position);
    EXPECT_EQ(m.pos.epoch, "k3Jd9xQa");
    EXPECT_EQ(m.pos.offset, 0u);
    EXPECT_TRUE(m.data.empty());

    const auto unrec = unrecovered_notice("k3Jd9xQa", 1234);
    m = parse_message(as_bytes(unrec));
    ASSERT_EQ(m.kind, message_kind::unrecovered);
    EXPECT_EQ(m.pos.epoch, "k3Jd9xQa");
    EXPECT_EQ(m.pos.offset, 1234u);
}

// ---- parse_message: what is neither data nor a notice -----------------------------

TEST(ParseMessage, DataWithEmptyPayload) {
    const auto m = parse_message(as_bytes("E:3\n"));
    ASSERT_EQ(m.kind, message_kind::data);
    EXPECT_EQ(m.pos.offset, 3u);
    EXPECT_TRUE(m.data.empty());
}

TEST(ParseMessage, DataPayloadMayHoldAnything) {
    const std::string_view msg("E:3\n!position E:1\n\0\xff", 20);  // 4 + 14 + 2 bytes
    const auto m = parse_message(as_bytes(msg));
    ASSERT_EQ(m.kind, message_kind::data);
    EXPECT_EQ(as_text(m.data), msg.substr(4));
    EXPECT_EQ(m.data.data(), as_bytes(msg).data() + 4);  // a view, not a copy
}

TEST(ParseMessage, DataAtOffsetZeroIsMalformed) {
    // Offsets start at 1: 0 is the position before the first message.
    EXPECT_EQ(parse_message(as_bytes("E:0\nhello")).kind, message_kind::malformed);
}

TEST(ParseMessage, NoPrefixIsMalformed) {
    for (std::string_view bad : {"", "hello", "E:5", "E:5 hello", "E:5\r\nhello", "E :5\nx", "E:x\nx",
                                 ":5\nx", "\nx", "E:5:6\nx", "a.b:5\nx"})
        EXPECT_EQ(parse_message(as_bytes(bad)).kind, message_kind::malformed) << bad;
}

TEST(ParseMessage, FirstLineLongerThanAnyPrefixIsMalformed) {
    // The longest valid first line: 32-char epoch, ':', 20 digits.
    const std::string longest = std::string(32, 'x') + ":18446744073709551615\n";
    EXPECT_EQ(parse_message(as_bytes(longest)).kind, message_kind::data);
    const std::string longer = std::string(32, 'x') + ":018446744073709551615\n";
    EXPECT_EQ(parse_message(as_bytes(longer)).kind, message_kind::malformed);
    const std::string big = std::string(100000, 'x') + "\n";
    EXPECT_EQ(parse_message(as_bytes(big)).kind, message_kind::malformed);
}

TEST(ParseMessage, BadNoticesAreMalformed) {
    for (std::string_view bad : {"!", "!position", "!position ", "!position E", "!position E:",
                                 "!position  E:1", "!position E:1 ", "!position E:1\n", "!Position E:1",
                                 "!unrecovered", "!unrecovered E:-1", "!unrecoveredE:1", "!hello E:1",
                                 "!position E:18446744073709551616"})
        EXPECT_EQ(parse_message(as_bytes(bad)).kind, message_kind::malformed) << bad;
}

TEST(ParseMessage, NoticeNeverReadAsData) {
    // A '!' line is a notice or nothing, even with a newline and a payload.
    EXPECT_EQ(parse_message(as_bytes("!E:5\nhello")).kind, message_kind::malformed);
}

// ---- "!error <reason>": a publish the node could not take ---------------------------

TEST(ErrorNotice, IsTheTagThenTheReasonVerbatim) {
    EXPECT_EQ(error_notice("redis unavailable"), "!error redis unavailable");
    EXPECT_EQ(error_notice(""), "!error ");
}

TEST(ErrorNotice, ParsesBackWithTheReasonAsAViewOfTheMessage) {
    const std::string notice = error_notice("redis unavailable: shard 2");
    const auto m = parse_message(as_bytes(notice));
    ASSERT_EQ(m.kind, message_kind::error);
    EXPECT_EQ(as_text(m.data), "redis unavailable: shard 2");
    EXPECT_EQ(m.data.data(), as_bytes(notice).data() + 7);  // a view, not a copy
}

TEST(ErrorNotice, EmptyReasonAndOneWithNewlinesStillAnError) {
    auto m = parse_message(as_bytes("!error "));
    ASSERT_EQ(m.kind, message_kind::error);
    EXPECT_TRUE(m.data.empty());
    m = parse_message(as_bytes("!error a\nb:1"));
    ASSERT_EQ(m.kind, message_kind::error);
    EXPECT_EQ(as_text(m.data), "a\nb:1");
}

TEST(ErrorNotice, LookAlikesAreMalformed) {
    // The tag includes its space: "!error" alone, another case or a missing
    // space is not the notice.
    for (std::string_view bad : {"!error", "!Error x", "!errorx", "!error\tx", "!errors x", "error x"})
        EXPECT_EQ(parse_message(as_bytes(bad)).kind, message_kind::malformed) << bad;
}

TEST(ErrorNotice, DataWhosePayloadStartsWithTheTagIsData) {
    const auto m = parse_message(as_bytes("E:4\n!error x"));
    ASSERT_EQ(m.kind, message_kind::data);
    EXPECT_EQ(as_text(m.data), "!error x");
}

}  // namespace
}  // namespace wsring::proto::v1

// Tests for UTF-8 validation (RFC 3629 §4, Unicode Table 3-7, RFC 6455 §8.1):
// each rule with byte literals, checked by the scalar DFA and by every forced
// SIMD level, placed at many offsets inside longer text so the vector kernels
// meet it at every block position; every split point gives the same verdict;
// feed fails at the very chunk that makes the text impossible; guard pages.
#include "proto/utf8.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "base/cpu_features.hpp"

namespace wsring::proto {
namespace {
using namespace wsring::base;  // simd_level and its controls

using bytes = std::vector<unsigned char>;

std::vector<simd_level> supported_levels() {
    std::vector<simd_level> out;
    for (simd_level l : {simd_level::scalar, simd_level::sse2, simd_level::avx2, simd_level::avx512})
        if (l <= detected_simd_level()) out.push_back(l);
    return out;
}

struct level_guard {
    ~level_guard() { reset_simd_level(); }
};

std::span<const std::byte> as_span(const bytes& b) { return std::as_bytes(std::span(b)); }

// The verdict of each path on `text` fed whole: valid and complete.
bool scalar_verdict(const bytes& text) {
    utf8_validator v;
    return v.feed_scalar(as_span(text)) && v.complete();
}

// Checks `seq` alone and embedded after 0..70 bytes of ASCII (and before some),
// on the DFA and on every SIMD level, against the expected verdict.
void expect_verdict(const bytes& seq, bool valid) {
    level_guard guard;
    for (std::size_t pad = 0; pad <= 70; ++pad) {
        bytes text(pad, 'a');
        text.insert(text.end(), seq.begin(), seq.end());
        text.insert(text.end(), pad % 3 == 0 ? 0 : 40, 'z');
        ASSERT_EQ(scalar_verdict(text), valid) << "pad=" << pad;
        for (simd_level l : supported_levels()) {
            ASSERT_TRUE(force_simd_level(l));
            utf8_validator v;
            ASSERT_EQ(v.feed(as_span(text)) && v.complete(), valid)
                << to_string(l) << " pad=" << pad;
            ASSERT_EQ(is_valid_utf8(as_span(text)), valid);
        }
    }
}

TEST(Utf8, AcceptsEveryLengthAtItsBoundaries) {
    expect_verdict({}, true);
    expect_verdict({0x00}, true);
    expect_verdict({0x7F}, true);
    expect_verdict({0xC2, 0x80}, true);              // U+0080
    expect_verdict({0xDF, 0xBF}, true);              // U+07FF
    expect_verdict({0xE0, 0xA0, 0x80}, true);        // U+0800
    expect_verdict({0xED, 0x9F, 0xBF}, true);        // U+D7FF, last before surrogates
    expect_verdict({0xEE, 0x80, 0x80}, true);        // U+E000, first after them
    expect_verdict({0xEF, 0xBF, 0xBF}, true);        // U+FFFF
    expect_verdict({0xF0, 0x90, 0x80, 0x80}, true);  // U+10000
    expect_verdict({0xF4, 0x8F, 0xBF, 0xBF}, true);  // U+10FFFF
    expect_verdict({0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5}, true);
}

TEST(Utf8, RejectsOverlong_C0_80) { expect_verdict({0xC0, 0x80}, false); }
TEST(Utf8, RejectsOverlong_C1_BF) { expect_verdict({0xC1, 0xBF}, false); }
TEST(Utf8, RejectsOverlong_E0_80_80) { expect_verdict({0xE0, 0x80, 0x80}, false); }
TEST(Utf8, RejectsOverlong_E0_9F_BF) { expect_verdict({0xE0, 0x9F, 0xBF}, false); }
TEST(Utf8, RejectsOverlong_F0_80_80_80) { expect_verdict({0xF0, 0x80, 0x80, 0x80}, false); }
TEST(Utf8, RejectsOverlong_F0_8F_BF_BF) { expect_verdict({0xF0, 0x8F, 0xBF, 0xBF}, false); }
TEST(Utf8, RejectsSurrogate_D800) { expect_verdict({0xED, 0xA0, 0x80}, false); }
TEST(Utf8, RejectsSurrogate_DFFF) { expect_verdict({0xED, 0xBF, 0xBF}, false); }
TEST(Utf8, RejectsAboveMax_F4_90_80_80) { expect_verdict({0xF4, 0x90, 0x80, 0x80}, false); }

TEST(Utf8, RejectsBytesF5ToFF) {
    for (int b = 0xF5; b <= 0xFF; ++b) {
        expect_verdict({static_cast<unsigned char>(b)}, false);
        expect_verdict({static_cast<unsigned char>(b), 0x80, 0x80, 0x80}, false);
        expect_verdict({static_cast<unsigned char>(b), 0x90, 0x80, 0x80}, false);
    }
}

TEST(Utf8, RejectsLoneContinuation) {
    expect_verdict({0x80}, false);
    expect_verdict({0xBF}, false);
    expect_verdict({0xC3, 0xA9, 0xA9}, false);              // one too many after a 2-byte form
    expect_verdict({0xF0, 0x9F, 0x98, 0x80, 0x80}, false);  // one too many after a 4-byte form
}

TEST(Utf8, RejectsLeadFollowedByNonContinuation) {
    expect_verdict({0xC3, 0x41}, false);
    expect_verdict({0xE2, 0x82, 0x41}, false);
    expect_verdict({0xF0, 0x9F, 0x98, 0x41}, false);
    expect_verdict({0xE2, 0xC3, 0xA9}, false);
}

TEST(Utf8, TruncatedAtEndIsNotComplete) {
    for (const bytes& cut : {bytes{0xC3}, bytes{0xE2, 0x82}, bytes{0xF0, 0x9F, 0x98}, bytes{0xF4}}) {
        for (std::size_t pad : {0u, 5u, 40u, 63u, 100u}) {
            bytes text(pad, 'a');
            text.insert(text.end(), cut.begin(), cut.end());
            utf8_validator v;
            EXPECT_TRUE(v.feed(as_span(text))) << "a cut sequence may still finish";
            EXPECT_FALSE(v.complete());
            EXPECT_FALSE(v.failed());
            EXPECT_FALSE(is_valid_utf8(as_span(text)));
        }
    }
}

TEST(Utf8, RejectsSequenceCutShortByALongAsciiRun) {
    // The vector kernels skip all-ASCII groups of blocks in one step; a
    // sequence cut at any position just before such a group must still fail.
    level_guard guard;
    for (const bytes& cut : {bytes{0xC3}, bytes{0xE2}, bytes{0xE2, 0x82}, bytes{0xF0}, bytes{0xF0, 0x9F},
                             bytes{0xF0, 0x9F, 0x98}}) {
        for (std::size_t end_at = 1; end_at <= 300; ++end_at) {
            if (end_at < cut.size()) continue;
            bytes text(end_at - cut.size(), 0xD0);  // "ж" pairs keep the blocks non-ASCII
            for (std::size_t i = 1; i < text.size(); i += 2) text[i] = 0xB6;
            if (text.size() % 2) text.back() = 'a';
            bytes good = text;
            text.insert(text.end(), cut.begin(), cut.end());
            text.insert(text.end(), 600, 'a');
            good.insert(good.end(), 600, 'a');
            for (simd_level l : supported_levels()) {
                ASSERT_TRUE(force_simd_level(l));
                EXPECT_FALSE(is_valid_utf8(as_span(text))) << to_string(l) << " end_at=" << end_at;
                EXPECT_TRUE(is_valid_utf8(as_span(good))) << to_string(l) << " end_at=" << end_at;
            }
        }
    }
}

// A mix of rule vectors inside multibyte text, for the split tests.
std::vector<bytes> split_vectors() {
    const bytes mixed = {'h', 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80, 0xD0, 0x96};
    std::vector<bytes> out;
    for (const bytes& seq : {bytes{}, bytes{0xC0, 0x80}, bytes{0xED, 0xA0, 0x80}, bytes{0xF4, 0x90, 0x80, 0x80},
                             bytes{0x80}, bytes{0xE2, 0x82}, bytes{0xFF}, bytes{0xF0, 0x9F, 0x98}}) {
        bytes text;
        for (int i = 0; i < 4; ++i) text.insert(text.end(), mixed.begin(), mixed.end());
        text.insert(text.end(), seq.begin(), seq.end());
        for (int i = 0; i < 4; ++i) text.insert(text.end(), mixed.begin(), mixed.end());
        out.push_back(text);
        out.push_back(seq);
    }
    return out;
}

TEST(Utf8, EverySplitPointGivesTheSameVerdict) {
    level_guard guard;
    for (simd_level l : supported_levels()) {
        ASSERT_TRUE(force_simd_level(l));
        for (const bytes& text : split_vectors()) {
            const bool want = scalar_verdict(text);
            for (std::size_t i = 0; i <= text.size(); ++i) {
                for (std::size_t j = i; j <= text.size(); j += 7) {
                    utf8_validator v;
                    bool ok = v.feed(as_span(text).subspan(0, i)) &&
                              v.feed(as_span(text).subspan(i, j - i)) &&
                              v.feed(as_span(text).subspan(j));
                    ASSERT_EQ(ok && v.complete(), want) << to_string(l) << " split " << i << "," << j;
                }
            }
        }
    }
}

TEST(Utf8, FailsFastAtTheChunkWithTheImpossibleByte_8_1) {
    level_guard guard;
    const bytes prefix(200, 'x');
    for (simd_level l : supported_levels()) {
        ASSERT_TRUE(force_simd_level(l));
        for (const bytes& bad : {bytes{0xC0}, bytes{0xFF}, bytes{0x80}, bytes{0xE0, 0x80},
                                 bytes{0xED, 0xA0}, bytes{0xF4, 0x90}, bytes{0xC3, 0x41}}) {
            for (std::size_t after : {0u, 1u, 100u}) {
                utf8_validator v;
                ASSERT_TRUE(v.feed(as_span(prefix)));
                bytes chunk(37, 'y');  // good bytes, then the bad ones, then more good ones
                chunk.insert(chunk.end(), bad.begin(), bad.end());
                chunk.insert(chunk.end(), after, 'z');
                EXPECT_FALSE(v.feed(as_span(chunk))) << to_string(l);
                EXPECT_TRUE(v.failed());
                EXPECT_FALSE(v.feed(as_span(prefix))) << "a failure sticks";
                v.reset();
                EXPECT_TRUE(v.feed(as_span(prefix)));
            }
        }
        // The impossible byte arrives alone, after a lead that accepted it not.
        for (const bytes& pair : {bytes{0xE0, 0x9F}, bytes{0xED, 0xA0}, bytes{0xF0, 0x8F}, bytes{0xF4, 0x90}}) {
            utf8_validator v;
            bytes first(64, 'a');
            first.push_back(pair[0]);
            ASSERT_TRUE(v.feed(as_span(first))) << "the lead alone can still be valid";
            EXPECT_FALSE(v.feed(as_span(bytes{pair[1]})));
        }
    }
}

// Valid text from random code points of every length, or a corrupted copy.
bytes random_text(std::mt19937& rng, std::size_t code_points) {
    bytes out;
    for (std::size_t i = 0; i < code_points; ++i) {
        std::uint32_t cp;
        switch (rng() % 6) {
        case 0: case 1: cp = rng() % 0x80; break;
        case 2: cp = 0x80 + rng() % (0x800 - 0x80); break;
        case 3: do cp = 0x800 + rng() % (0x10000 - 0x800); while (cp >= 0xD800 && cp <= 0xDFFF); break;
        case 4: cp = 0x10000 + rng() % (0x110000 - 0x10000); break;
        default: cp = 'a' + rng() % 26; break;
        }
        if (cp < 0x80) {
            out.push_back(static_cast<unsigned char>(cp));
        } else if (cp < 0x800) {
            out.insert(out.end(), {static_cast<unsigned char>(0xC0 | cp >> 6), static_cast<unsigned char>(0x80 | (cp & 0x3F))});
        } else if (cp < 0x10000) {
            out.insert(out.end(), {static_cast<unsigned char>(0xE0 | cp >> 12), static_cast<unsigned char>(0x80 | (cp >> 6 & 0x3F)),
                                   static_cast<unsigned char>(0x80 | (cp & 0x3F))});
        } else {
            out.insert(out.end(), {static_cast<unsigned char>(0xF0 | cp >> 18), static_cast<unsigned char>(0x80 | (cp >> 12 & 0x3F)),
                                   static_cast<unsigned char>(0x80 | (cp >> 6 & 0x3F)), static_cast<unsigned char>(0x80 | (cp & 0x3F))});
        }
    }
    switch (rng() % 4) {  // a quarter stay valid
    case 0: break;
    case 1: if (!out.empty()) out[rng() % out.size()] = static_cast<unsigned char>(rng()); break;
    case 2: out.insert(out.begin() + static_cast<long>(rng() % (out.size() + 1)), static_cast<unsigned char>(0x80 + rng() % 0x80)); break;
    default: if (!out.empty()) out.resize(rng() % out.size()); break;
    }
    return out;
}

TEST(Utf8, EveryLevelMatchesTheDfaOnRandomTextAndSplits) {
    level_guard guard;
    std::mt19937 rng(7);
    for (int round = 0; round < 3000; ++round) {
        bytes text = random_text(rng, rng() % 200);
        std::vector<std::size_t> cuts = {0, text.size()};
        for (int c = rng() % 5; c > 0; --c) cuts.push_back(rng() % (text.size() + 1));
        std::sort(cuts.begin(), cuts.end());
        // The reference: which chunk the DFA fails at (or none), and completeness.
        auto run = [&](bool scalar) {
            utf8_validator v;
            for (std::size_t c = 0; c + 1 < cuts.size(); ++c) {
                auto chunk = as_span(text).subspan(cuts[c], cuts[c + 1] - cuts[c]);
                if (!(scalar ? v.feed_scalar(chunk) : v.feed(chunk))) return static_cast<int>(c);
            }
            return v.complete() ? -1 : -2;
        };
        const int want = run(true);
        for (simd_level l : supported_levels()) {
            ASSERT_TRUE(force_simd_level(l));
            ASSERT_EQ(run(false), want) << to_string(l) << " round " << round;
        }
    }
}

// `size` bytes flush against a PROT_NONE page after (at_end) or before them.
class guarded_buffer {
public:
    guarded_buffer(std::size_t size, bool at_end) {
        page_ = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
        body_ = std::max<std::size_t>(page_, (size + page_ - 1) / page_ * page_);
        base_ = static_cast<std::byte*>(mmap(nullptr, body_ + 2 * page_, PROT_READ | PROT_WRITE,
                                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        mprotect(base_, page_, PROT_NONE);
        mprotect(base_ + page_ + body_, page_, PROT_NONE);
        data_ = at_end ? base_ + page_ + body_ - size : base_ + page_;
        size_ = size;
    }
    ~guarded_buffer() { munmap(base_, body_ + 2 * page_); }
    guarded_buffer(const guarded_buffer&) = delete;
    guarded_buffer& operator=(const guarded_buffer&) = delete;
    std::span<std::byte> span() { return {data_, size_}; }

private:
    std::byte *base_, *data_;
    std::size_t page_, body_, size_;
};

TEST(Utf8, NoLevelReadsOutsideTheText_GuardPage) {
    level_guard guard;
    std::mt19937 rng(8);
    for (std::size_t n = 0; n <= 300; ++n) {
        bytes text = random_text(rng, n);
        text.resize(n, 'q');
        const bool want = scalar_verdict(text);
        for (bool at_end : {true, false}) {
            guarded_buffer buf(n, at_end);
            std::transform(text.begin(), text.end(), buf.span().begin(), [](unsigned char c) { return std::byte{c}; });
            for (simd_level l : supported_levels()) {
                ASSERT_TRUE(force_simd_level(l));
                utf8_validator v;
                ASSERT_EQ(v.feed(buf.span()) && v.complete(), want) << to_string(l) << " n=" << n;
            }
        }
    }
}

TEST(Utf8, StringViewOverloadChecksWholeText) {
    EXPECT_TRUE(is_valid_utf8(std::string_view("Hello, \xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5")));
    EXPECT_FALSE(is_valid_utf8(std::string_view("\xED\xA0\x80")));
    EXPECT_FALSE(is_valid_utf8(std::string_view("abc\xE2\x82")));
}

}  // namespace
}  // namespace wsring::proto

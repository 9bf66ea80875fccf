// UTF-8 validation throughput (RFC 6455 §8.1) on 64 KiB of ASCII and 64 KiB
// of mixed multilingual text: our dispatched feed, each forced level, the
// scalar DFA, and simdjson::validate_utf8 beside them when the build has it.
// Run pinned: taskset -c 1 build/<dir>/bench_utf8
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/cpu_features.hpp"
#include "proto/utf8.hpp"

#ifdef WSRING_HAVE_SIMDJSON
#include <simdjson.h>
#endif

namespace {
using namespace wsring::base;
using namespace wsring::proto;

// Realistic inputs. ASCII: chat-style JSON messages. Mixed: phrases in Latin
// scripts with accents, Cyrillic, Greek, Chinese, Japanese, Korean, Arabic
// and emoji, shuffled so no script runs for long (1-4 bytes per code point).
constexpr std::string_view ascii_messages[] = {
    R"({"type":"message","room":"general","user":"alice","text":"See you at 10, bring the slides!"})",
    R"({"type":"presence","user":"bob","status":"away","since":1718031200})",
    R"({"type":"message","room":"ops","user":"carol","text":"Deploy 4.2.1 finished in 93s; no errors."})",
};
constexpr std::string_view mixed_phrases[] = {
    "Ça va très bien, merci ! ", "Größe und Übermaß, schön. ", "¿Dónde está la estación? ",
    "Привет, как дела? ", "Съешь же ещё этих мягких французских булок. ",
    "Καλημέρα κόσμε, τι κάνεις; ", "你好，世界！今天天气很好。", "日本語のテキストです。",
    "안녕하세요 세계 ", "مرحبا بالعالم ", "Party time 🎉🎊 ", "Good job 👍😀🚀 ",
    "naïve café résumé ", "Žluťoučký kůň úpěl ďábelské ódy. ",
};

std::string fill_64k(const std::string_view* parts, std::size_t count) {
    std::string out;
    std::uint32_t x = 12345;
    while (out.size() < 65536) {
        x = x * 1103515245 + 12345;  // a fixed LCG: the same text on every run
        out += parts[(x >> 16) % count];
    }
    std::size_t n = 65536;
    while ((static_cast<unsigned char>(out[n]) & 0xC0) == 0x80) --n;  // cut on a boundary
    out.resize(n);
    return out;
}

const std::string& ascii_text() {
    static const std::string s = fill_64k(ascii_messages, std::size(ascii_messages));
    return s;
}
const std::string& mixed_text() {
    static const std::string s = fill_64k(mixed_phrases, std::size(mixed_phrases));
    return s;
}

std::span<const std::byte> bytes_of(const std::string& s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

// level < 0: the detected level (what apply code gets).
void ours(benchmark::State& st, const std::string* text, int level) {
    level < 0 ? reset_simd_level() : void(force_simd_level(static_cast<simd_level>(level)));
    for (auto _ : st) {
        utf8_validator v;
        bool ok = v.feed(bytes_of(*text)) && v.complete();
        benchmark::DoNotOptimize(ok);
        if (!ok) st.SkipWithError("our validator rejected valid text");
    }
    reset_simd_level();
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * text->size()));
}

void dfa(benchmark::State& st, const std::string* text) {
    for (auto _ : st) {
        utf8_validator v;
        bool ok = v.feed_scalar(bytes_of(*text)) && v.complete();
        benchmark::DoNotOptimize(ok);
    }
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * text->size()));
}

// A text arriving in 1448-byte TCP segments (one MSS): boundaries cut sequences.
void ours_segments(benchmark::State& st, const std::string* text) {
    for (auto _ : st) {
        utf8_validator v;
        auto all = bytes_of(*text);
        bool ok = true;
        for (std::size_t at = 0; ok && at < all.size(); at += 1448)
            ok = v.feed(all.subspan(at, std::min<std::size_t>(1448, all.size() - at)));
        benchmark::DoNotOptimize(ok);
    }
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * text->size()));
}

#ifdef WSRING_HAVE_SIMDJSON
void simdjson_validate(benchmark::State& st, const std::string* text) {
    for (auto _ : st) {
        bool ok = simdjson::validate_utf8(text->data(), text->size());
        benchmark::DoNotOptimize(ok);
    }
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * text->size()));
}
#endif

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    benchmark::AddCustomContext("simd_level_detected", std::string(to_string(detected_simd_level())));
#ifdef WSRING_HAVE_SIMDJSON
    benchmark::AddCustomContext("simdjson_implementation",
                                std::string(simdjson::get_active_implementation()->name()));
#endif
    const std::pair<const char*, const std::string*> inputs[] = {{"ascii_64KiB", &ascii_text()},
                                                                 {"mixed_64KiB", &mixed_text()}};
    for (auto [name, text] : inputs) {
        std::string n(name);
        benchmark::RegisterBenchmark(("utf8/ours_dispatched/" + n).c_str(), ours, text, -1);
        for (int l = 0; l <= static_cast<int>(detected_simd_level()); ++l)
            benchmark::RegisterBenchmark(
                ("utf8/ours_" + std::string(to_string(static_cast<simd_level>(l))) + "/" + n).c_str(),
                ours, text, l);
        benchmark::RegisterBenchmark(("utf8/ours_dfa_reference/" + n).c_str(), dfa, text);
        benchmark::RegisterBenchmark(("utf8/ours_1448B_segments/" + n).c_str(), ours_segments, text);
#ifdef WSRING_HAVE_SIMDJSON
        benchmark::RegisterBenchmark(("utf8/simdjson/" + n).c_str(), simdjson_validate, text);
#endif
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
}

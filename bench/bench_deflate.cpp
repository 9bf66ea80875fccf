// permessage-deflate per message (RFC 7692 §7.2): compressing and inflating
// JSON-like messages of 1 KiB and 16 KiB with zlib at levels 1 and 6, without
// context takeover (deflateReset after each message: one compressor per
// reactor) and with it (one per connection); libdeflate's whole-buffer
// compressor and decompressor beside them when the build found it; and what
// a deflateReset alone costs per memLevel. An iteration is a batch of 64
// different messages; per_msg (seconds) and bytes_out are per message.
// Run pinned: taskset -c 1 build/<dir>/bench_deflate
#include <benchmark/benchmark.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "proto/deflater.hpp"
#include "proto/inflater.hpp"

#ifdef WSRING_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

namespace {
using namespace wsring::proto;
using bytes = std::vector<std::byte>;

constexpr std::size_t batch = 64;

// A JSON-ish message of `n` bytes (trades, chat), the same for a given seed.
bytes json_like(std::size_t n, unsigned seed) {
    static const char* const names[] = {"alice", "bob", "carol", "dave", "erin"};
    std::mt19937 rng(seed);
    std::string s = "[";
    while (s.size() < n) {
        // One draw per statement: the order of a + chain's operands is unspecified.
        const auto id = rng() % 100000, user = rng() % 5, price = rng() % 100000, ts = rng() % 86400;
        s += "{\"id\":" + std::to_string(id) + ",\"user\":\"" + names[user] + "\",\"price\":" +
             std::to_string(price / 100) + "." + std::to_string(price % 100) +
             ",\"tags\":[\"new\",\"sale\"],\"ts\":" + std::to_string(1700000000 + ts) + "},";
    }
    s.resize(n);
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    return {p, p + n};
}

std::vector<bytes> messages(std::size_t size) {
    std::vector<bytes> all;
    for (unsigned i = 0; i < batch; ++i) all.push_back(json_like(size, i + 1));
    return all;
}

// The batch compressed in order, as one deflater would send it.
std::vector<bytes> compressed(const std::vector<bytes>& msgs, bool takeover, int level) {
    deflater d({.context_takeover = takeover, .level = level});
    std::vector<bytes> wire(msgs.size());
    for (std::size_t i = 0; i < msgs.size(); ++i) d.compress(msgs[i], wire[i]);
    return wire;
}

void per_message(benchmark::State& state, std::size_t size, std::size_t out_bytes) {
    const auto n = static_cast<double>(state.iterations() * batch);
    state.counters["per_msg"] = benchmark::Counter(n, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    state.counters["bytes_out"] = static_cast<double>(out_bytes) / batch;
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * batch * size));
}

void BM_zlib_deflate(benchmark::State& state, bool takeover) {
    const auto size = static_cast<std::size_t>(state.range(0));
    const auto msgs = messages(size);
    deflater d({.context_takeover = takeover, .level = static_cast<int>(state.range(1)),
                .mem_level = static_cast<int>(state.range(2))});
    bytes out;
    out.reserve(2 * size + 64);
    std::size_t out_bytes = 0;
    for (auto _ : state) {
        out_bytes = 0;
        for (const bytes& m : msgs) {
            out.clear();
            out_bytes += d.compress(m, out);
        }
        benchmark::DoNotOptimize(out.data());
    }
    per_message(state, size, out_bytes);
}
// memLevel 4 beside zlib's 8: a reset clears 4 KiB of hash table instead of 64 KiB.
BENCHMARK_CAPTURE(BM_zlib_deflate, reset, false)
    ->ArgsProduct({{1024, 16384}, {1, 6}, {8, 4}})
    ->ArgNames({"size", "level", "mem"});
BENCHMARK_CAPTURE(BM_zlib_deflate, takeover, true)
    ->ArgsProduct({{1024, 16384}, {1, 6}, {8}})
    ->ArgNames({"size", "level", "mem"});

// With takeover the messages decode only in order from a fresh window, so
// each batch gets a fresh inflater: its setup (~40 KB of allocations) is in
// the figure, a 64th of it per message.
void BM_zlib_inflate(benchmark::State& state, bool takeover) {
    const auto size = static_cast<std::size_t>(state.range(0));
    const auto wire = compressed(messages(size), takeover, static_cast<int>(state.range(1)));
    const inflater_options opts{.context_takeover = takeover};
    inflater shared(opts);
    bytes out;
    std::size_t in_bytes = 0;
    for (const bytes& w : wire) in_bytes += w.size();
    for (auto _ : state) {
        std::optional<inflater> fresh;
        inflater* in = &shared;
        if (takeover) in = &fresh.emplace(opts);
        for (const bytes& w : wire)
            if (in->decompress(w, size, out) != inflater::status::ok) state.SkipWithError("inflate failed");
        benchmark::DoNotOptimize(out.data());
    }
    per_message(state, size, in_bytes);  // bytes_out: the compressed size read
}
BENCHMARK_CAPTURE(BM_zlib_inflate, reset, false)->ArgsProduct({{1024, 16384}, {1, 6}})->ArgNames({"size", "level"});
BENCHMARK_CAPTURE(BM_zlib_inflate, takeover, true)->ArgsProduct({{1024, 16384}, {1, 6}})->ArgNames({"size", "level"});

// What our no-takeover compressor pays per message before any byte is
// compressed: deflateReset clears the 2^(memLevel+8)-byte hash table.
void BM_zlib_deflateReset(benchmark::State& state) {
    z_stream z{};
    deflateInit2(&z, 6, Z_DEFLATED, -15, static_cast<int>(state.range(0)), Z_DEFAULT_STRATEGY);
    for (auto _ : state) {
        deflateReset(&z);
        benchmark::ClobberMemory();
    }
    deflateEnd(&z);
}
BENCHMARK(BM_zlib_deflateReset)->Arg(1)->Arg(4)->Arg(8)->Arg(9)->ArgName("mem_level");

#ifdef WSRING_HAVE_LIBDEFLATE
// Whole-message compression: one stream with BFINAL set, plus §7.2.3.4's
// 0x00 so that the payload inflates like a sync-flushed one. No streaming,
// no dictionary: only for messages without context takeover.
void BM_libdeflate_compress(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    const auto msgs = messages(size);
    libdeflate_compressor* c = libdeflate_alloc_compressor(static_cast<int>(state.range(1)));
    bytes out(libdeflate_deflate_compress_bound(c, size) + 1);
    std::size_t out_bytes = 0;
    for (auto _ : state) {
        out_bytes = 0;
        for (const bytes& m : msgs) {
            const std::size_t n = libdeflate_deflate_compress(c, m.data(), m.size(), out.data(), out.size() - 1);
            out[n] = std::byte{0x00};
            out_bytes += n + 1;
        }
        benchmark::DoNotOptimize(out.data());
    }
    // The payload is a valid permessage-deflate message for our inflater.
    bytes check;
    const std::size_t n = libdeflate_deflate_compress(c, msgs[0].data(), size, out.data(), out.size() - 1);
    out[n] = std::byte{0x00};
    inflater in;
    if (in.decompress(std::span(out).first(n + 1), size, check) != inflater::status::ok || check != msgs[0])
        state.SkipWithError("libdeflate's output does not inflate");
    libdeflate_free_compressor(c);
    per_message(state, size, out_bytes);
}
BENCHMARK(BM_libdeflate_compress)->ArgsProduct({{1024, 16384}, {1, 6}})->ArgNames({"size", "level"});

// Whole-buffer inflate of zlib's sync-flushed messages: the payload, our
// tail and a final empty block (03 00) copied into one buffer, since
// libdeflate wants a complete stream.
void BM_libdeflate_inflate(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    const auto msgs = messages(size);
    const auto wire = compressed(msgs, false, static_cast<int>(state.range(1)));
    libdeflate_decompressor* d = libdeflate_alloc_decompressor();
    const unsigned char suffix[] = {0x00, 0x00, 0xff, 0xff, 0x03, 0x00};
    bytes in(2 * size + 64), out(size);
    std::size_t in_bytes = 0;
    for (const bytes& w : wire) in_bytes += w.size();
    for (auto _ : state) {
        for (const bytes& w : wire) {
            std::memcpy(in.data(), w.data(), w.size());
            std::memcpy(in.data() + w.size(), suffix, sizeof suffix);
            std::size_t n = 0;
            if (libdeflate_deflate_decompress(d, in.data(), w.size() + sizeof suffix, out.data(), size, &n) !=
                LIBDEFLATE_SUCCESS)
                state.SkipWithError("libdeflate inflate failed");
        }
        benchmark::DoNotOptimize(out.data());
    }
    libdeflate_free_decompressor(d);
    per_message(state, size, in_bytes);
}
BENCHMARK(BM_libdeflate_inflate)->ArgsProduct({{1024, 16384}, {1, 6}})->ArgNames({"size", "level"});
#endif

}  // namespace

BENCHMARK_MAIN();

// Frame codec throughput: decoding a buffer of small masked client frames
// (header parse + rules + unmask + UTF-8 for text: what a server does per
// message) in frames/s, and encoding frames of 16 B, 1 KiB and 64 KiB in
// bytes/s. Run pinned: taskset -c 1 build/release/bench_frames
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "proto/decoder.hpp"
#include "proto/encoder.hpp"

using namespace wsring::proto;

namespace {

constexpr std::size_t frames_per_batch = 4096;

// Key octets below 0x80 keep ASCII text ASCII after masking, so the
// buffer (unmasked in place by each pass) stays valid input for the next
// pass: masked and unmasked bytes alternate, the work is the same.
mask_key ascii_key() {
    const unsigned char k[4] = {0x37, 0x5a, 0x21, 0x3d};
    mask_key key;
    std::memcpy(&key, k, 4);
    return key;
}

std::vector<std::byte> client_stream(opcode op, std::size_t payload, std::size_t count) {
    std::vector<std::byte> body(payload);
    for (std::size_t i = 0; i < payload; ++i) body[i] = static_cast<std::byte>('a' + i % 26);
    std::vector<std::byte> out(count * frame_size(payload, true));
    std::size_t at = 0;
    for (std::size_t i = 0; i < count; ++i)
        at += encode_frame(std::span(out).subspan(at), op, body, {.mask = ascii_key()});
    return out;
}

void BM_decode_frames(benchmark::State& state, opcode op) {
    auto stream = client_stream(op, static_cast<std::size_t>(state.range(0)), frames_per_batch);
    decoder d(role::server);
    for (auto _ : state) {
        std::span<std::byte> in(stream);
        std::size_t n = 0;
        for (event ev = d.next(in); ev.kind != event_kind::need_more; ev = d.next(in)) {
            benchmark::DoNotOptimize(ev.payload.data());
            ++n;
        }
        if (n != frames_per_batch) state.SkipWithError("lost frames");
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * frames_per_batch));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * stream.size()));
}
BENCHMARK_CAPTURE(BM_decode_frames, masked_text, opcode::text)->Arg(16)->Arg(125)->Arg(1024);
BENCHMARK_CAPTURE(BM_decode_frames, masked_binary, opcode::binary)->Arg(16)->Arg(125)->Arg(1024);

void BM_encode_frame(benchmark::State& state, bool masked) {
    std::vector<std::byte> body(static_cast<std::size_t>(state.range(0)), std::byte{'x'});
    std::vector<std::byte> out(frame_size(body.size(), masked));
    frame_options opts;
    if (masked) opts.mask = ascii_key();
    for (auto _ : state) {
        benchmark::DoNotOptimize(encode_frame(out, opcode::binary, body, opts));
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK_CAPTURE(BM_encode_frame, server_unmasked, false)->Arg(16)->Arg(1024)->Arg(65536);
BENCHMARK_CAPTURE(BM_encode_frame, client_masked, true)->Arg(16)->Arg(1024)->Arg(65536);

}  // namespace

BENCHMARK_MAIN();

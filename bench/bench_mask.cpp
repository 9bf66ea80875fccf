// Unmasking throughput (RFC 6455 §5.3) for each path and for the dispatched
// apply_mask, at three payload sizes: a chat message, a typical JSON update,
// a large binary frame. Run pinned: taskset -c 1 build/<dir>/bench_mask
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "proto/mask.hpp"

namespace {
using namespace wsring::base;
using namespace wsring::proto;

// Realistic inputs: the payload sits right after its frame header in a
// receive buffer, so it starts at the header's length (2 + extended length
// + 4 key octets), not at an aligned address.
struct payload_case {
    const char* name;
    std::size_t size, header;
};
constexpr payload_case cases[] = {
    {"16B", 16, 2 + 4},
    {"1KiB", 1024, 2 + 2 + 4},
    {"64KiB", 65536, 2 + 8 + 4},
};
constexpr mask_key key = 0x3d21fa37;  // RFC 6455 §5.7's key octets 37 fa 21 3d

void run(benchmark::State& st, payload_case c, int level) {
    std::vector<std::byte> buf(c.header + c.size, std::byte{'x'});
    std::span<std::byte> payload(buf.data() + c.header, c.size);
    std::size_t phase = 0;
    for (auto _ : st) {
        phase = level < 0 ? apply_mask(payload, key, phase)
                          : apply_mask_at(static_cast<simd_level>(level), payload, key, phase);
        benchmark::DoNotOptimize(payload.data());
        benchmark::ClobberMemory();
    }
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * c.size));
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    benchmark::AddCustomContext("simd_level_detected", std::string(to_string(detected_simd_level())));
    for (const payload_case& c : cases) {
        benchmark::RegisterBenchmark((std::string("mask/byte_reference/") + c.name).c_str(),
                                     [c](benchmark::State& st) {
                                         std::vector<std::byte> buf(c.header + c.size);
                                         std::span<std::byte> p(buf.data() + c.header, c.size);
                                         for (auto _ : st) {
                                             apply_mask_scalar(p, key);
                                             benchmark::ClobberMemory();
                                         }
                                         st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * c.size));
                                     });
        for (int l = 0; l <= static_cast<int>(detected_simd_level()); ++l)
            benchmark::RegisterBenchmark(
                (std::string("mask/") + std::string(to_string(static_cast<simd_level>(l))) + "/" + c.name).c_str(),
                run, c, l);
        benchmark::RegisterBenchmark((std::string("mask/dispatched/") + c.name).c_str(), run, c, -1);
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
}

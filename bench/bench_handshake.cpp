// The opening handshake's CPU cost per connection (RFC 6455 §4.2): the
// accept key alone (SHA-1 + base64), and a browser-sized upgrade request
// parsed, checked and answered — what the connect + upgrade + close row of
// `make bench` pays in user space per cycle, besides the syscalls.
// Run pinned: taskset -c 1 build/release/bench_handshake
#include <benchmark/benchmark.h>

#include <cstddef>
#include <span>
#include <string_view>

#include "proto/handshake.hpp"

using namespace wsring::proto;

namespace {

// What Chromium sends (cookies and user agent shortened).
constexpr std::string_view browser_request =
    "GET /chat HTTP/1.1\r\n"
    "Host: 127.0.0.1:8080\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: http://127.0.0.1:8080\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "\r\n";

void BM_accept_key(benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(accept_key("dGhlIHNhbXBsZSBub25jZQ=="));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_accept_key);

void BM_parse_and_accept(benchmark::State& state) {
    const auto bytes = std::as_bytes(std::span(browser_request.data(), browser_request.size()));
    request_parser parser;
    for (auto _ : state) {
        std::size_t used = 0;
        if (parser.feed(bytes, used) != request_parser::status::complete) state.SkipWithError("not parsed");
        handshake_result r = accept_upgrade(parser.request());
        if (!r.accepted()) state.SkipWithError("not accepted");
        benchmark::DoNotOptimize(r.response.data());
        parser.reset();
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_parse_and_accept);

}  // namespace

BENCHMARK_MAIN();

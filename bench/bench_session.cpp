// What the server itself spends per echoed message, with no kernel in the
// measurement: one read's masked client frames through net::session (decode
// and unmask in place, the echo handler, the reply encoded into the write
// queue), then the queue gathered and consumed as a socket that takes
// everything would. The transport only counts, so the figure is the user-space
// share of a server profile (17-22 % of the 16 B echo on a VM without PTI,
// docs/performance.md) without the noise of the TCP stack around it.
// Run pinned: taskset -c 1 build/release/bench_session
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <vector>

#include "net/connection.hpp"
#include "net/echo_handler.hpp"
#include "net/session.hpp"
#include "proto/client_handshake.hpp"
#include "proto/encoder.hpp"

using namespace wsring;
using namespace std::chrono_literals;

namespace {

// A socket with room for everything: write_now and the flush take every byte.
struct roomy_transport final : net::transport {
    core::timer_wheel wheel{256};
    net::segment_pool blocks;
    std::size_t bytes_out = 0;

    void flush_soon(net::connection& c) override { c.io |= net::io_dirty; }
    void read_soon(net::connection&) override {}
    std::size_t write_now(net::connection& c, const iovec* iov, int n) override {
        if (!c.out.empty()) return 0;  // as reactor_base: never ahead of queued bytes
        std::size_t took = 0;
        for (int i = 0; i < n; ++i) took += iov[i].iov_len;
        bytes_out += took;
        return took;
    }
    void shutdown_write(net::connection&) override {}
    void close(net::connection&) override {}
    core::timer_wheel& timers() override { return wheel; }
    net::segment_pool& pool() override { return blocks; }
};

// One open WebSocket in echo mode, fed as a reactor feeds it.
class echo_connection {
public:
    echo_connection() : s_(opts_, 10ms, t_, echo_, shared_), conns_({.max_message = opts_.max_message}) {
        c_ = conns_.acquire();
        c_->fd = 7;
        s_.on_accept(*c_);
        std::string req = proto::make_client_request({.host = "127.0.0.1:9001", .path = "/"},
                                                     "dGhlIHNhbXBsZSBub25jZQ==");
        read(std::as_writable_bytes(std::span(req.data(), req.size())));
    }
    ~echo_connection() {
        s_.abort(*c_);
        c_->io = 0;
        conns_.release(c_);
    }
    bool open() const { return c_->state == net::conn_state::open; }
    std::size_t bytes_out() const { return t_.bytes_out; }

    // One read: the session parses it in place, then the turn's flush.
    void read(std::span<std::byte> bytes) {
        s_.on_data(*c_, bytes);
        c_->io &= ~net::io_dirty;
        int err = 0;
        c_->out.flush(
            t_.blocks,
            [&](const iovec* iov, int n) -> ssize_t {
                std::size_t sent = 0;
                for (int i = 0; i < n; ++i) sent += iov[i].iov_len;
                t_.bytes_out += sent;
                return static_cast<ssize_t>(sent);
            },
            err);
        s_.on_flushed(*c_);
    }

private:
    net::session_options opts_{};
    roomy_transport t_;
    net::echo_handler echo_;
    net::session_shared shared_;
    net::session s_;
    net::connection_pool conns_;
    net::connection* c_ = nullptr;
};

// `count` masked binary frames of `payload` bytes back to back: one read's worth.
std::vector<std::byte> client_read(std::size_t payload, std::size_t count) {
    std::vector<std::byte> body(payload);
    for (std::size_t i = 0; i < payload; ++i) body[i] = static_cast<std::byte>(i * 7 + 1);
    std::vector<std::byte> out(count * proto::frame_size(payload, true));
    std::size_t at = 0;
    for (std::size_t i = 0; i < count; ++i)
        at += proto::encode_frame(std::span(out).subspan(at), proto::opcode::binary, body,
                                  {.mask = 0x9a3c51e7});
    out.resize(at);
    return out;
}

// Arguments: payload bytes, frames per read. The read is copied afresh each
// time (the session unmasks in place); that copy is in the figure, as the
// kernel's copy into the read buffer is a cost of every server.
void BM_echo_read(benchmark::State& state) {
    const auto payload = static_cast<std::size_t>(state.range(0));
    const auto count = static_cast<std::size_t>(state.range(1));
    const std::vector<std::byte> wire = client_read(payload, count);
    std::vector<std::byte> buf(wire.size());
    echo_connection conn;
    if (!conn.open()) return state.SkipWithError("the upgrade failed");
    const std::size_t before = conn.bytes_out();
    for (auto _ : state) {
        std::memcpy(buf.data(), wire.data(), wire.size());
        conn.read(buf);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * count));
    state.counters["out_bytes_per_msg"] = static_cast<double>(conn.bytes_out() - before) /
                                          static_cast<double>(state.iterations() * count);
}
// 16 B × 13: the 100 × 16 × 16 B echo row reads 13.4 messages per recv;
// 1 KiB × 16 and 64 KiB × 1 for the other two rows.
BENCHMARK(BM_echo_read)->Args({16, 13})->Args({1024, 16})->Args({65536, 1});

}  // namespace

BENCHMARK_MAIN();

// The session test bench: net/session driven through a fake transport —
// bytes in, bytes queued out ("the wire"), timers advanced by hand — with an
// echo handler that counts the mode seam's calls (or a test's own handler).
// Shared by session_test.cpp, session_deflate_test.cpp and
// session_http_test.cpp.
#pragma once
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "net/echo_handler.hpp"
#include "net/session.hpp"
#include "proto/client_handshake.hpp"
#include "proto/encoder.hpp"
#include "proto/frame_header.hpp"

namespace wsring::net::session_bench {

using namespace std::chrono_literals;
using proto::opcode;

constexpr milliseconds tick = 10ms;

struct fake_transport final : transport {
    core::timer_wheel wheel{256};
    segment_pool blocks;
    int closes = 0, fins = 0, read_soons = 0;

    void flush_soon(connection& c) override { c.io |= io_dirty; }
    void read_soon(connection&) override { ++read_soons; }
    void shutdown_write(connection&) override { ++fins; }
    void close(connection&) override { ++closes; }
    core::timer_wheel& timers() override { return wheel; }
    segment_pool& pool() override { return blocks; }
    // write_now: the socket takes up to `write_now_room` bytes (0: none, as
    // a backend that cannot) into `*sink`, the same wire flush() writes to;
    // nothing while bytes are queued (they would be overtaken).
    std::size_t write_now_room = 0;
    std::string* sink = nullptr;
    int write_nows = 0;
    std::size_t write_now(connection& c, const iovec* iov, int n) override {
        ++write_nows;
        if (!c.out.empty()) return 0;  // as reactor_base: never ahead of queued bytes
        std::size_t took = 0;
        for (int i = 0; i < n && took < write_now_room; ++i) {
            std::size_t k = std::min(write_now_room - took, iov[i].iov_len);
            sink->append(static_cast<const char*>(iov[i].iov_base), k);
            took += k;
        }
        return took;
    }
    std::optional<ip_address> peer;  // what getpeername would say (unset: unknown)
    bool peer_address(const connection&, ip_address& out) override {
        if (peer) out = *peer;
        return peer.has_value();
    }
};

// Echo, counting the mode seam's calls and recording each close code.
struct counting_echo final : message_handler {
    int opens = 0, closes = 0, messages = 0;
    std::vector<int> codes;  // on_close's, in order
    void on_open(session&, connection&) override { ++opens; }
    void on_message(session& s, connection& c, opcode op, std::span<const std::byte> p) override {
        ++messages;
        s.send_message(c, op, p);
    }
    void on_close(session&, connection&, proto::close_code code) override {
        ++closes;
        codes.push_back(static_cast<int>(code));
    }
};

struct frame {
    opcode op;
    std::string payload;
    int close_code() const {
        return payload.size() >= 2 ? (static_cast<unsigned char>(payload[0]) << 8) |
                                         static_cast<unsigned char>(payload[1])
                                   : -1;
    }
};

inline session_options test_options() {
    return {.max_message = 1u << 16,
            .max_header = 1024,
            .max_connections = 4,
            .handshake_timeout = 1000ms,
            .idle_timeout = 3000ms,
            .ping_interval = 1000ms,
            .close_timeout = 500ms,
            .high_water = 64u << 10,
            .low_water = 16u << 10};
}

inline std::string upgrade_request(std::string_view path = "/") {
    return proto::make_client_request({.host = "127.0.0.1:9001", .path = std::string(path)},
                                      "dGhlIHNhbXBsZSBub25jZQ==");
}

// A masked client frame (RFC 6455 §5.3).
inline std::string client_frame(opcode op, std::string_view payload, bool fin = true,
                         bool masked = true) {
    std::string out(proto::frame_size(payload.size(), true), '\0');
    proto::frame_options fo{.fin = fin};
    if (masked) fo.mask = 0x9a3c51e7;
    std::size_t n = proto::encode_frame(std::as_writable_bytes(std::span(out.data(), out.size())), op,
                                        std::as_bytes(std::span(payload.data(), payload.size())), fo);
    out.resize(n);
    return out;
}

// `n` bytes that differ along their length (an offset error shows).
inline std::string patterned(std::size_t n, unsigned seed) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * seed + i / 251);
    return s;
}

inline std::string client_close(int code, std::string_view reason = {}) {
    std::string p;
    if (code >= 0) {
        p.push_back(static_cast<char>(code >> 8));
        p.push_back(static_cast<char>(code & 0xFF));
    }
    p.append(reason);
    return client_frame(opcode::close, p);
}

class harness {
public:
    // `handler`, when given, replaces the counting echo `h` (and must outlive
    // the harness).
    explicit harness(session_options o = test_options(), session_shared* shared = nullptr,
                     message_handler* handler = nullptr)
        : shared_(shared ? *shared : own_shared_),
          s(o, tick, t, handler ? *handler : h, shared_),
          conns_({.max_message = o.max_message}) {
        t.sink = &wire;
        c = conns_.acquire();
        c->fd = 7;
        s.on_accept(*c);
    }
    ~harness() {
        if (c->state != conn_state::closed) s.abort(*c);
        c->io = 0;
        conns_.release(c);
    }

    // Bytes from the peer, as one read.
    void feed(std::string_view bytes) {
        std::string copy(bytes);  // the session unmasks in place
        s.on_data(*c, std::as_writable_bytes(std::span(copy.data(), copy.size())));
    }
    // Bytes from the peer read straight into the decoder's message, as a
    // backend does for the rest of a large frame (session::receive_room).
    // Returns where they were read to; empty, reading nothing, when the
    // session offers no room for all of them.
    std::span<const std::byte> feed_direct(std::string_view bytes) {
        std::span<std::byte> room = s.receive_room(*c);
        if (room.size() < bytes.size()) return {};
        std::memcpy(room.data(), bytes.data(), bytes.size());
        s.on_data(*c, room.first(bytes.size()));
        return room.first(bytes.size());
    }
    // The backend's flush phase: the "socket" takes up to `room` bytes; or
    // the send fails with `fail_errno`.
    flush_status flush(std::size_t room = SIZE_MAX, int fail_errno = 0) {
        c->io &= ~io_dirty;
        if (c->state == conn_state::closed) return flush_status::drained;
        int err = 0;
        auto st = c->out.flush(
            t.blocks,
            [&](const iovec* iov, int n) -> ssize_t {
                if (fail_errno) return -fail_errno;
                ssize_t sent = 0;
                for (int i = 0; i < n && room; ++i) {
                    std::size_t k = std::min(room, iov[i].iov_len);
                    wire.append(static_cast<const char*>(iov[i].iov_base), k);
                    room -= k;
                    sent += static_cast<ssize_t>(k);
                }
                return sent ? sent : -EAGAIN;
            },
            err);
        if (st == flush_status::failed) s.on_peer_closed(*c, -err);
        else s.on_flushed(*c);
        return st;
    }
    // Time passes: fire every timer due.
    void advance(milliseconds d) {
        t.wheel.advance(t.wheel.now() + static_cast<core::tick_t>(d / tick),
                        [&](core::timer_node& n) { s.on_timer(static_cast<connection&>(n)); });
    }
    void open() {
        feed(upgrade_request());
        flush();
        ASSERT_EQ(c->state, conn_state::open);
        ASSERT_EQ(http_status(), 101);
    }

    // What the server sent: the HTTP status line, then frames after the head.
    int http_status() const {
        if (wire.rfind("HTTP/1.1 ", 0) != 0) return 0;
        return std::stoi(wire.substr(9, 3));
    }
    std::vector<frame> frames() const {
        std::vector<frame> out;
        std::size_t pos = wire.rfind("HTTP/1.1 ", 0) == 0 ? wire.find("\r\n\r\n") + 4 : 0;
        while (pos < wire.size()) {
            proto::frame_header fh;
            auto bytes = std::as_bytes(std::span(wire.data() + pos, wire.size() - pos));
            auto r = proto::decode_header(bytes, fh);
            if (r.size == 0 || wire.size() - pos - r.size < fh.length) break;
            EXPECT_FALSE(fh.masked) << "RFC 6455 §5.1: a server never masks";
            out.push_back({fh.op(), wire.substr(pos + r.size, fh.length)});
            pos += r.size + fh.length;
        }
        return out;
    }
    // Nothing leaked, nothing left armed, the counters balanced.
    void expect_clean_close() const {
        EXPECT_EQ(c->state, conn_state::closed);
        EXPECT_EQ(t.closes, 1);
        EXPECT_EQ(c->http, nullptr);
        EXPECT_TRUE(c->out.empty());
        EXPECT_FALSE(c->armed());
        EXPECT_EQ(shared_.open.load(), 0u);
        EXPECT_EQ(h.opens, h.closes);
        EXPECT_EQ(h.codes.size(), static_cast<std::size_t>(h.opens)) << "one close code per open";
        EXPECT_EQ(t.blocks.blocks_in_use(), 0u);
    }

    session_shared own_shared_;
    session_shared& shared_;  // own_shared_, or one shared with another harness
    fake_transport t;
    counting_echo h;
    session s;
    connection_pool conns_;
    connection* c = nullptr;
    std::string wire;  // everything the server sent
};

}  // namespace wsring::net::session_bench

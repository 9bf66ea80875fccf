// The fan-out test bench: "reactors" without sockets or threads (a session,
// a fake transport and a pub/sub handler each) that share one hub, driven
// by hand: open a connection with any request, feed it frames, play phase 4
// (handler.drain()), read back what was queued to each connection.
// Used by tests/modes/pubsub_handler_test.cpp, pubsub_positions_test.cpp and
// pubsub_broker_test.cpp.
#pragma once
#include <gtest/gtest.h>
#include <sys/uio.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "modes/pubsub_handler.hpp"
#include "net/session.hpp"
#include "proto/client_handshake.hpp"
#include "proto/encoder.hpp"
#include "proto/frame_header.hpp"
#include "proto/inflater.hpp"

namespace wsring::modes::fanout_bench {

using namespace std::chrono_literals;
using namespace wsring::net;
using proto::opcode;

struct fake_transport final : transport {
    core::timer_wheel wheel{256};
    segment_pool blocks;
    void flush_soon(connection& c) override { c.io |= io_dirty; }
    void read_soon(connection&) override {}
    void shutdown_write(connection&) override {}
    void close(connection&) override {}
    core::timer_wheel& timers() override { return wheel; }
    segment_pool& pool() override { return blocks; }
};

inline std::string client_frame(opcode op, std::string_view payload) {
    std::string out(proto::frame_size(payload.size(), true), '\0');
    proto::frame_options fo{.mask = 0x11223344};
    out.resize(proto::encode_frame(std::as_writable_bytes(std::span(out.data(), out.size())), op,
                                   std::as_bytes(std::span(payload.data(), payload.size())), fo));
    return out;
}

// A frame queued to a connection: its RSV1 bit (RFC 7692 §6: compressed),
// its payload, and where its bytes are (a shared frame has one address in
// every queue, a copy its own).
struct queued_frame {
    bool rsv1;
    std::string payload;
    const std::byte* at;
};

// A queued frame's payload, inflated when it is compressed (RFC 7692 §7.2.2).
inline std::string inflated(const queued_frame& f) {
    if (!f.rsv1) return f.payload;
    proto::inflater i;
    std::vector<std::byte> out;
    EXPECT_EQ(i.decompress(std::as_bytes(std::span(f.payload.data(), f.payload.size())), 1u << 20, out),
              proto::inflater::status::ok);
    return {reinterpret_cast<const char*>(out.data()), out.size()};
}

// One reactor's worth of state, driven by hand.
struct fake_reactor {
    fake_reactor(broadcast_hub& hub, std::uint32_t index, const fanout_options& fo,
                 const session_options& so = {})
        : handler(hub, index, fo), s(so, 10ms, t, handler, shared) {}
    ~fake_reactor() {
        for (connection* c : conns) {
            s.abort(*c);
            c->io = 0;
            pool.release(c);
        }
    }

    // `extensions`: a Sec-WebSocket-Extensions offer to send, if any.
    connection& open(std::string_view path, std::string_view extensions = {}) {
        std::vector<std::string> extra;
        if (!extensions.empty()) extra.push_back("Sec-WebSocket-Extensions: " + std::string(extensions));
        return open_with({.host = "h", .path = std::string(path), .extra_headers = extra});
    }
    // A wsring.v1 subscriber (docs/protocol-v1.md).
    connection& open_v1(std::string_view path) {
        return open_with({.host = "h", .path = std::string(path), .subprotocols = {"wsring.v1"}});
    }
    connection& open_with(const proto::client_request_options& request) {
        connection& c = accept();
        feed(c, proto::make_client_request(request, "dGhlIHNhbXBsZSBub25jZQ=="));
        EXPECT_EQ(c.state, conn_state::open);
        std::string reply = drain_bytes(c);
        EXPECT_EQ(reply.substr(0, 12), "HTTP/1.1 101") << reply;
        // The 101 is not what we test: what follows it stays queued.
        std::size_t end = reply.find("\r\n\r\n");
        if (end != std::string::npos && end + 4 < reply.size()) queue_back(c, reply.substr(end + 4));
        return c;
    }
    // A TCP connection that has sent nothing yet.
    connection& accept() {
        connection* c = pool.acquire();
        conns.push_back(c);
        s.on_accept(*c);
        return *c;
    }
    // Everything queued to `c`, as bytes, and the queue emptied.
    std::string drain_bytes(connection& c) {
        std::string out;
        iovec iov[write_queue::max_iov];
        while (!c.out.empty()) {
            std::size_t n = c.out.gather(iov, write_queue::max_iov);
            std::size_t total = 0;
            for (std::size_t i = 0; i < n; ++i) {
                out.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
                total += iov[i].iov_len;
            }
            c.out.consume(t.blocks, total);
        }
        return out;
    }
    void queue_back(connection& c, const std::string& bytes) {
        c.out.append_copy(t.blocks, std::as_bytes(std::span(bytes.data(), bytes.size())));
    }
    void feed(connection& c, std::string bytes) {
        s.on_data(c, std::as_writable_bytes(std::span(bytes.data(), bytes.size())));
    }
    void send(connection& c, std::string_view text) { feed(c, client_frame(opcode::text, text)); }

    // The payloads queued to `c` (server frames, unmasked, short), and the
    // address of each frame's bytes.
    std::vector<std::string> received(connection& c, std::vector<const std::byte*>* where = nullptr) {
        std::vector<std::string> out;
        iovec iov[write_queue::max_iov];
        std::size_t n = c.out.gather(iov, write_queue::max_iov);
        for (std::size_t i = 0; i < n; ++i) {
            auto* p = static_cast<const char*>(iov[i].iov_base);
            std::string bytes(p, iov[i].iov_len);
            std::size_t at = 0;
            while (at + 2 <= bytes.size()) {
                std::size_t len = static_cast<unsigned char>(bytes[at + 1]) & 0x7f;
                if (where) where->push_back(reinterpret_cast<const std::byte*>(p + at));
                out.push_back(bytes.substr(at + 2, len));
                at += 2 + len;
            }
        }
        c.out.consume(t.blocks, c.out.bytes());
        return out;
    }

    // The frames queued to `c` (any length, compressed or not), and the
    // queue emptied.
    std::vector<queued_frame> frames(connection& c) {
        std::vector<queued_frame> out;
        iovec iov[write_queue::max_iov];
        const std::size_t n = c.out.gather(iov, write_queue::max_iov);
        for (std::size_t i = 0; i < n; ++i) {
            auto bytes = std::span(static_cast<const std::byte*>(iov[i].iov_base), iov[i].iov_len);
            while (!bytes.empty()) {
                proto::frame_header h;
                const std::size_t head = proto::decode_header(bytes, h).size;
                if (head == 0) break;
                auto payload = bytes.subspan(head, static_cast<std::size_t>(h.length));
                out.push_back({h.rsv1, {reinterpret_cast<const char*>(payload.data()), payload.size()},
                               bytes.data()});
                bytes = bytes.subspan(head + payload.size());
            }
        }
        c.out.consume(t.blocks, c.out.bytes());
        return out;
    }

    fake_transport t;
    session_shared shared;
    pubsub_handler handler;
    session s;
    connection_pool pool{proto::decoder_limits{}};
    std::vector<connection*> conns;
};

}  // namespace wsring::modes::fanout_bench

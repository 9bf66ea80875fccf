// The out-of-tree consumer (tests/package): built against an installed
// wsring by scripts/test_package.sh, it proves the headers, the libraries
// and their link dependencies all arrive with find_package(wsring):
//   1. proto: the Sec-WebSocket-Accept of RFC 6455 §1.3's example;
//   2. net: an echo server (net::server, default handler) on a free port;
//   3. a client on a plain socket, speaking through proto: the opening
//      handshake, one masked text message echoed back, the close handshake;
//   4. the same through net::ws_client, the library's own client;
//   5. the server's own count of what it served.
// Prints "package_test: ok" and exits 0, or says what failed and exits 1.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <wsring/net/server.hpp>  // the <wsring/…> spelling works too

#include "net/ws_client.hpp"
#include "proto/client_handshake.hpp"  // the spelling wsring's own headers use
#include "proto/decoder.hpp"
#include "proto/encoder.hpp"
#include "proto/handshake.hpp"

namespace {

using namespace wsring;

[[noreturn]] void fail(const std::string& why) { throw std::runtime_error(why); }

std::span<const std::byte> bytes_of(std::string_view s) {
    return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

// A blocking TCP connection to 127.0.0.1:port; reads give up after 5 s so a
// server that never answers fails the test instead of hanging it.
class tcp_client {
public:
    explicit tcp_client(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
        if (fd_ < 0) fail("socket: " + std::string(std::strerror(errno)));
        timeval timeout{.tv_sec = 5, .tv_usec = 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
            fail("connect: " + std::string(std::strerror(errno)));
    }
    ~tcp_client() { ::close(fd_); }
    tcp_client(const tcp_client&) = delete;
    tcp_client& operator=(const tcp_client&) = delete;

    void send_all(std::span<const std::byte> data) {
        while (!data.empty()) {
            ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (n <= 0) fail("send: " + std::string(std::strerror(errno)));
            data = data.subspan(static_cast<std::size_t>(n));
        }
    }
    // Appends what one read returns to `buf`; fails on EOF, error or timeout.
    void read_some(std::vector<std::byte>& buf) {
        std::array<std::byte, 4096> chunk;
        ssize_t n = ::recv(fd_, chunk.data(), chunk.size(), 0);
        if (n == 0) fail("the server closed the connection early");
        if (n < 0) fail("recv: " + std::string(std::strerror(errno)));
        buf.insert(buf.end(), chunk.begin(), chunk.begin() + n);
    }

private:
    int fd_;
};

// What one event from the server carried, copied out of the buffers.
struct received {
    proto::event_kind kind;
    proto::close_code code;  // close: the server's code
    std::string data;        // text: the message; close: the reason
};

// The next event from the server's frames, reading more as needed. `pending`
// holds bytes read but not decoded yet (what followed the 101, or the rest
// of a read that carried two frames).
received next_event(tcp_client& conn, proto::decoder& dec, std::vector<std::byte>& pending) {
    for (;;) {
        std::span<std::byte> in(pending);
        proto::event ev = dec.next(in);
        if (ev.kind != proto::event_kind::need_more) {
            received r{ev.kind, ev.code, std::string(ev.text())};  // ev may point into `pending`
            pending.erase(pending.begin(), pending.end() - static_cast<std::ptrdiff_t>(in.size()));
            return r;
        }
        pending.clear();  // need_more: all of it consumed (a cut frame is the decoder's now)
        conn.read_some(pending);
    }
}

// A client frame must be masked (§5.3); any key does for a test, a real
// client draws a fresh unpredictable one per frame.
constexpr proto::mask_key test_mask = 0x5a3c9e17;

void echo_round_trip(std::uint16_t port) {
    tcp_client conn(port);

    // Opening handshake (§4.1): the request, then the 101 checked byte by byte.
    const std::string key = proto::make_client_key();
    conn.send_all(bytes_of(proto::make_client_request({.host = "127.0.0.1:" + std::to_string(port)}, key)));
    proto::response_checker checker(key);
    std::vector<std::byte> pending;
    for (;;) {
        conn.read_some(pending);
        std::size_t used = 0;
        auto status = checker.feed(pending, used);
        pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(used));
        if (status == proto::response_checker::status::accepted) break;
        if (status == proto::response_checker::status::rejected)
            fail("handshake rejected (HTTP " + std::to_string(checker.http_status()) + "): " + checker.error());
    }

    // One text message out, the same text back.
    const std::string_view message = "hello from a project that found wsring installed";
    std::vector<std::byte> frame(proto::frame_size(message.size(), true));
    frame.resize(proto::encode_frame(frame, proto::opcode::text, bytes_of(message), {.mask = test_mask}));
    conn.send_all(frame);
    proto::decoder dec(proto::role::client);
    received ev = next_event(conn, dec, pending);
    if (ev.kind != proto::event_kind::text) fail("expected the echoed text message");
    if (ev.data != message) fail("the echo differs: \"" + ev.data + "\"");

    // Close handshake (§5.5.1): our 1000, then the server's answer echoing it.
    std::array<std::byte, proto::max_header_size + 125> close_frame;
    std::size_t n = proto::encode_close(close_frame, proto::close_code::normal, "done", test_mask);
    conn.send_all(std::span(close_frame).first(n));
    ev = next_event(conn, dec, pending);
    if (ev.kind != proto::event_kind::close) fail("expected the server's close frame");
    if (ev.code != proto::close_code::normal)
        fail("the server closed with " + std::to_string(static_cast<int>(ev.code)) + ", not 1000");
}

// The library's client: connect, one message on open, close once it is
// back; run() returns when the close handshake is done.
void ws_client_round_trip(std::uint16_t port) {
    const std::string message = "hello from net::ws_client";
    net::ws_client client(net::ws_client_options{.url = "ws://127.0.0.1:" + std::to_string(port) + "/",
                                                 .connect_timeout = std::chrono::seconds(5),
                                                 .handshake_timeout = std::chrono::seconds(5)});
    std::string echoed;
    client.on_open = [&](const std::string&) { client.send_text(message); };
    client.on_message = [&](std::span<const std::byte> data, bool text) {
        if (text) echoed.assign(reinterpret_cast<const char*>(data.data()), data.size());
        client.close(proto::close_code::normal, "done");
    };
    const net::client_outcome how = client.run();
    if (!how.opened) fail("ws_client did not connect: " + how.reason);
    if (echoed != message) fail("ws_client got \"" + echoed + "\" back");
    if (how.code != proto::close_code::normal)
        fail("ws_client's connection ended with " + std::to_string(static_cast<int>(how.code)) + ": " + how.reason);
}

void run() {
    // RFC 6455 §1.3's worked example.
    const std::string accept = proto::accept_key("dGhlIHNhbXBsZSBub25jZQ==");
    if (accept != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") fail("accept_key gave " + accept);

    // An echo server (no make_handler: echo) on a port the kernel picks.
    net::server_options opts;
    opts.host = "127.0.0.1";
    opts.port = 0;
    opts.threads = 1;
    net::server srv(opts);
    srv.start();
    try {
        echo_round_trip(srv.port());
        ws_client_round_trip(srv.port());
    } catch (...) {
        srv.stop();
        srv.wait();
        throw;
    }
    srv.stop();
    srv.wait();

    // The server saw what the clients did: one upgrade and one message each.
    const net::reactor_stats stats = srv.stats();
    if (stats.session.upgraded != 2 || stats.session.messages != 2)
        fail("server stats: " + std::to_string(stats.session.upgraded) + " upgraded, " +
             std::to_string(stats.session.messages) + " messages (expected 2 and 2)");
}

}  // namespace

int main() {
    try {
        run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "package_test: FAILED: %s\n", e.what());
        return 1;
    }
    std::printf("package_test: ok (accept key, echo server, a round trip by proto and by ws_client)\n");
    return 0;
}

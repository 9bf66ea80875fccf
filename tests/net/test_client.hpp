// A small blocking WebSocket client over 127.0.0.1, built from the proto/
// client side, and a test server's options, for the reactor tests of every
// backend (tests/net/epoll_reactor_test.cpp, tests/net/uring_reactor_test.cpp).
// Every blocking call has a timeout (SO_RCVTIMEO), so a bug fails, not hangs.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <string_view>

#include "net/server.hpp"
#include "proto/client_handshake.hpp"
#include "proto/decoder.hpp"
#include "proto/encoder.hpp"

namespace wsring::net::test {

using namespace std::chrono_literals;
using proto::opcode;

struct message {
    proto::event_kind kind = proto::event_kind::need_more;
    std::string payload;
    int code = 0;
};

// A small blocking WebSocket client built from the proto/ client side.
class client {
public:
    explicit client(int port, bool nodelay = true) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<std::uint16_t>(port));
        ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        timeval tv{5, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        int one = nodelay ? 1 : 0;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    }
    ~client() {
        if (fd_ >= 0) ::close(fd_);
    }
    bool connected() const { return connected_; }
    int last_error = 0;  // errno of the last failed read (0: EOF)
    int fd() const { return fd_; }

    bool send_all(std::string_view s) {
        while (!s.empty()) {
            ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            s.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }
    // Reads some bytes into the buffer; false on EOF, error or timeout.
    bool fill() {
        char tmp[65536];
        ssize_t n;
        do n = ::recv(fd_, tmp, sizeof tmp, 0);
        while (n < 0 && errno == EINTR);  // with SO_RCVTIMEO a signal is not restarted
        if (n <= 0) {
            last_error = n == 0 ? 0 : errno;  // 0: EOF; EAGAIN: the 5 s timeout
            return false;
        }
        buf_.append(tmp, static_cast<std::size_t>(n));
        return true;
    }
    bool handshake(std::string_view path = "/") {
        std::string key = proto::make_client_key();
        if (!send_all(proto::make_client_request({.host = "127.0.0.1", .path = std::string(path)}, key)))
            return false;
        proto::response_checker rc(key);
        for (;;) {
            std::size_t used = 0;
            auto st = rc.feed(std::as_bytes(std::span(buf_.data(), buf_.size())), used);
            if (st != proto::response_checker::status::need_more) {
                buf_.erase(0, used);
                return st == proto::response_checker::status::accepted;
            }
            buf_.clear();  // the checker keeps what it consumed
            if (!fill()) return false;
        }
    }
    bool send_frame(opcode op, std::string_view payload) {
        std::string out(proto::frame_size(payload.size(), true), '\0');
        std::size_t n = proto::encode_frame(std::as_writable_bytes(std::span(out.data(), out.size())),
                                            op, std::as_bytes(std::span(payload.data(), payload.size())),
                                            {.mask = 0x01020304});
        out.resize(n);
        return send_all(out);
    }
    // The next message or control frame; kind need_more on EOF/timeout.
    message recv() {
        for (;;) {
            std::span<std::byte> in = std::as_writable_bytes(std::span(buf_.data(), buf_.size()));
            std::size_t before = in.size();
            proto::event ev = dec_.next(in);
            std::size_t used = before - in.size();
            if (ev.kind != proto::event_kind::need_more) {
                message m{ev.kind, std::string(ev.text()), static_cast<int>(ev.code)};
                buf_.erase(0, used);
                return m;
            }
            buf_.erase(0, used);
            if (!fill()) return {};
        }
    }
    // True when the server closed TCP (EOF or reset) within the timeout.
    bool wait_eof() {
        char tmp[4096];
        for (;;) {
            ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
            if (n == 0) return true;
            if (n < 0) return errno == ECONNRESET;
        }
    }

private:
    int fd_ = -1;
    bool connected_ = false;
    std::string buf_;
    proto::decoder dec_{proto::role::client, {.max_message = 64u << 20}};
};

inline server_options test_server(backend_kind backend, unsigned threads = 2) {
    server_options o;
    o.backend = backend;
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = threads;
    o.reactor.shutdown_timeout = 2000ms;
    o.session.close_timeout = 1000ms;
    return o;
}

}  // namespace wsring::net::test

// A small blocking WebSocket client over 127.0.0.1, built from the proto/
// client side, and a test server's options, for the reactor tests of every
// backend (tests/net/epoll_reactor_test.cpp, tests/net/uring_reactor_test.cpp).
// Every blocking call has a timeout (SO_RCVTIMEO), so a bug fails, not hangs;
// waits for the server's side use wait_until (tests/net/wait_until.hpp).
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

#include "net/server.hpp"
#include "proto/client_handshake.hpp"
#include "proto/decoder.hpp"
#include "proto/encoder.hpp"
#include "tests/net/wait_until.hpp"

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
    // `rcvbuf` > 0 fixes SO_RCVBUF before connecting (so it bounds the
    // window, and autotuning cannot grow it): a reader that can hold little.
    explicit client(int port, bool nodelay = true, int rcvbuf = 0) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
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
    // Bytes the server sent that wait in our socket, unread (FIONREAD).
    std::size_t bytes_waiting() const {
        int n = 0;
        return ::ioctl(fd_, FIONREAD, &n) == 0 && n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    // Bytes we sent that the server's TCP has not taken yet (SIOCOUTQ): they
    // pile up here once its receive window is closed (it stopped reading).
    std::size_t bytes_unsent() const {
        int n = 0;
        return ::ioctl(fd_, TIOCOUTQ, &n) == 0 && n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    // Our receive buffer as the kernel sized it (it doubles what was asked).
    std::size_t receive_buffer() const {
        int n = 0;
        socklen_t len = sizeof n;
        ::getsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &n, &len);
        return static_cast<std::size_t>(n);
    }

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
    bool handshake(std::string_view path = "/") { return send_upgrade(path) && upgraded(); }
    // The two halves of handshake(), for a client that sends more before
    // the answer comes (or before the server runs at all).
    bool send_upgrade(std::string_view path = "/") {
        key_ = proto::make_client_key();
        return send_all(proto::make_client_request({.host = "127.0.0.1", .path = std::string(path)}, key_));
    }
    bool upgraded() {
        proto::response_checker rc(key_);
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
    std::string key_;  // Sec-WebSocket-Key of the upgrade sent
    proto::decoder dec_{proto::role::client, {.max_message = 64u << 20}};
};

// The most a TCP send buffer grows to (net.ipv4.tcp_wmem's maximum). With
// our receive buffer, this bounds how much of a reply can be in flight: a
// server with more to send than that must wait for room. 4 MiB (the
// kernel's default) when the sysctl cannot be read.
inline std::size_t kernel_send_buffer_max() {
    std::size_t least = 0, initial = 0, most = 4u << 20;
    if (std::FILE* f = std::fopen("/proc/sys/net/ipv4/tcp_wmem", "r")) {
        if (std::fscanf(f, "%zu %zu %zu", &least, &initial, &most) != 3) most = 4u << 20;
        std::fclose(f);
    }
    return most;
}

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

// The client's byte path (client_link.hpp). Over TLS the request and every
// frame wait in the session's output until the handshake is done
// (tls_stream::write_plaintext takes nothing before), and the stream keeps at
// most ~64 KiB of records ahead of the socket.
#include "net/client_link.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace wsring::net {

client_link::client_link(int fd, client_session& s, const tls_context* tls, std::string_view server_name,
                         SSL_SESSION* resume)
    : fd_(fd), s_(s), buf_(new std::byte[read_size + (tls ? tls_stream::max_record : 0)]) {
    if (!tls) return;
    // The ClientHello is pending at once; it leaves with the first flush().
    tls_ = std::make_unique<tls_stream>(*tls, pool_,
                                        tls_stream::client_params{.server_name = server_name, .resume = resume});
    if (tls_->error() != tls_error::none) fail_tls(clock::now());
}

client_link::~client_link() {
    tls_.reset();  // gives its blocks back to pool_ first
    ::close(fd_);
}

bool client_link::flush_plain(clock::time_point now) {
    while (!s_.output().empty()) {
        const auto out = s_.output();
        const ssize_t n = ::send(fd_, out.data(), out.size(), MSG_NOSIGNAL);
        if (n > 0) s_.sent(static_cast<std::size_t>(n));
        else if (n < 0 && errno == EINTR) continue;
        else if (n < 0 && errno == EAGAIN) return true;
        else {
            s_.eof(now);  // EPIPE/ECONNRESET: the connection is gone
            return false;
        }
    }
    return false;
}

// Encrypt what the session wrote (up to the stream's cap), send the records,
// repeat while the socket takes them all and the session has more.
bool client_link::flush(clock::time_point now) {
    if (!tls_) return flush_plain(now);
    for (;;) {
        if (const auto out = s_.output(); !out.empty()) {
            iovec plain{const_cast<std::byte*>(out.data()), out.size()};
            s_.sent(tls_->write_plaintext(&plain, 1));
        }
        if (tls_->pending_bytes() == 0) return false;  // nothing, or the handshake is not done
        int err = 0;
        const auto st = tls_->wire().flush(pool_, [this](const iovec* iov, int n) -> ssize_t {
            msghdr m{};
            m.msg_iov = const_cast<iovec*>(iov);
            m.msg_iovlen = static_cast<std::size_t>(n);
            const ssize_t r = ::sendmsg(fd_, &m, MSG_NOSIGNAL);
            return r < 0 ? -errno : r;
        }, err);
        if (st == flush_status::blocked) return true;
        if (st == flush_status::failed) {
            s_.eof(now);
            return false;
        }
        if (s_.output().empty()) return false;
    }
}

void client_link::read(clock::time_point now) {
    const ssize_t n = ::recv(fd_, buf_.get(), read_size, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
        if (tls_) tls_->feed_eof();  // during the handshake: a truncated one
        if (tls_ && tls_->error() != tls_error::none) return fail_tls(now);
        return s_.eof(now);
    }
    const std::span<const std::byte> in(buf_.get(), static_cast<std::size_t>(n));
    if (!tls_) return s_.feed(in, now);
    tls_->feed_ciphertext(in);
    // Every record's plaintext straight to the session, which keeps what it
    // cannot decode yet: nothing stays inside the stream.
    tls_->read_plaintext(std::span(buf_.get() + read_size, tls_stream::max_record), [&](std::span<std::byte> p) {
        s_.feed(p, now);
        return true;
    });
    if (tls_->error() != tls_error::none) return fail_tls(now);
    // RFC 8446 §6.1: answer the server's close_notify with ours.
    if (tls_->peer_closed() && !tls_->close_sent()) tls_->want_close();
}

// The session ends with the stream's reason; --ca and --insecure are the
// options that change the certificate check.
void client_link::fail_tls(clock::time_point now) {
    std::string why = describe_failure(*tls_);
    if (!tls_->verify_error().empty()) why += " (--ca FILE, or --insecure)";
    s_.eof(now, why);
}

// Our close_notify is queued, never sent: the WebSocket close (inside TLS)
// already ended the data both ways and the server ends TCP first (RFC 6455
// §7.1.1). Queued, it marks the session cleanly ended, which OpenSSL
// requires of a session it will resume (ws-bench's finish_close does the same).
SSL_SESSION* client_link::take_resumable() {
    if (!tls_ || !tls_->handshake_done() || tls_->error() != tls_error::none) return nullptr;
    tls_->want_close();
    return tls_->resumable_session();
}

}  // namespace wsring::net

// The client's byte path (client_link.hpp). Over TLS the request and every
// frame wait in the session's output until the handshake is done
// (tls_stream::write_plaintext takes nothing before), and the stream keeps at
// most ~64 KiB of records ahead of the socket; over plain TCP the link keeps
// as much (`ahead`), so the session's output is where a slow server backs up
// (ws_client's high-water mark looks there).
#include "net/client_link.hpp"

#include <cerrno>
#include <cstring>
#include <string>

namespace wsring::net {

client_link::client_link(client_session& s, const tls_context* tls, std::string_view server_name,
                         SSL_SESSION* resume)
    : s_(s), ctx_(tls), server_name_(server_name), resume_(resume) {}

client_link::~client_link() {
    tls_.reset();  // gives its blocks back to the pool first
    if (pool_) plain_.clear(*pool_);
}

void client_link::start(segment_pool& pool, clock::time_point now) {
    pool_ = &pool;
    if (!ctx_) return;
    buf_.reset(new std::byte[tls_stream::max_record]);
    tls_ = std::make_unique<tls_stream>(*ctx_, pool,
                                        tls_stream::client_params{.server_name = server_name_, .resume = resume_});
    if (tls_->error() != tls_error::none) fail_tls(now);
}

void client_link::feed(std::span<const std::byte> in, clock::time_point now) {
    if (!tls_) return s_.feed(in, now);
    tls_->feed_ciphertext(in);
    // Every record's plaintext straight to the session, which keeps what it
    // cannot decode yet: nothing stays inside the stream.
    tls_->read_plaintext(std::span(buf_.get(), tls_stream::max_record), [&](std::span<std::byte> p) {
        s_.feed(p, now);
        return true;
    });
    if (tls_->error() != tls_error::none) return fail_tls(now);
    // RFC 8446 §6.1: answer the server's close_notify with ours.
    if (tls_->peer_closed() && !tls_->close_sent()) tls_->want_close();
}

void client_link::feed_eof(int err, clock::time_point now) {
    if (tls_) tls_->feed_eof();  // during the handshake: a truncated one
    // A connect that never completed says so (a read or send error on a
    // socket still connecting); a reset later is just "connection lost".
    if (err == -ECONNREFUSED || err == -ETIMEDOUT || err == -EHOSTUNREACH || err == -ENETUNREACH)
        return s_.eof(now, std::string("cannot connect: ") + std::strerror(-err));
    if (tls_ && tls_->error() != tls_error::none) return fail_tls(now);
    s_.eof(now);
}

bool client_link::has_wire_work() const {
    if (!tls_) return !plain_.empty() || !s_.output().empty();
    if (tls_->pending_bytes() > 0) return true;
    const bool can_seal = tls_->handshake_done() && !tls_->close_sent() && tls_->error() == tls_error::none;
    return can_seal && !s_.output().empty();
}

write_queue& client_link::wire_queue() { return tls_ ? tls_->wire() : plain_; }

// The session's output into the queue: copied (ws://) or encrypted (wss://),
// up to ~64 KiB ahead of the socket either way.
write_queue& client_link::wire() {
    const auto out = s_.output();
    if (out.empty()) return wire_queue();
    if (!tls_) {
        if (plain_.bytes() >= ahead) return plain_;
        const std::size_t n = std::min(out.size(), ahead - plain_.bytes());
        plain_.append_copy(*pool_, out.first(n));
        s_.sent(n);
        return plain_;
    }
    iovec plain{const_cast<std::byte*>(out.data()), out.size()};
    s_.sent(tls_->write_plaintext(&plain, 1));
    return tls_->wire();
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

// The record layer over memory. OpenSSL sees one BIO (tls_bio below) that
// reads from what the backend fed and appends to a write_queue of ciphertext;
// this file drives SSL_read / SSL_write / SSL_shutdown over it and turns
// OpenSSL's results into the stream's few states. Nothing here blocks,
// throws past its caller or touches a socket. Read next: the test,
// tests/net/tls_stream_test.cpp, which plays the client byte by byte.
#include "net/tls_stream.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <string>

namespace wsring::net {

// ---- the BIO: OpenSSL's only view of the outside world ------------------------
// One BIO serves both directions (SSL_set_bio takes the one reference), so a
// connection costs one BIO object, not two memory BIOs whose buffers grow,
// move on write and stay allocated once drained.
struct tls_bio {
    static tls_stream* stream(BIO* b) { return static_cast<tls_stream*>(BIO_get_data(b)); }

    // Ciphertext OpenSSL produced: appended to the queue, never refused, so
    // SSL_write and SSL_shutdown complete in one call. Copied once, from
    // OpenSSL's record buffer straight into the blocks the socket reads from.
    static int write_ex(BIO* b, const char* data, std::size_t len, std::size_t* written) {
        BIO_clear_retry_flags(b);
        tls_stream* s = stream(b);
        try {
            s->out_.append_copy(*s->pool_, std::as_bytes(std::span(data, len)));
        } catch (const std::bad_alloc&) {  // never let an exception cross OpenSSL
            s->error_ = tls_error::resources;
            return 0;
        }
        *written = len;
        return 1;
    }

    // Ciphertext for OpenSSL: what was fed, or "retry" (WANT_READ) when none.
    static int read_ex(BIO* b, char* to, std::size_t max, std::size_t* got) {
        BIO_clear_retry_flags(b);
        *got = stream(b)->take_input(reinterpret_cast<std::byte*>(to), max);
        if (*got == 0) {
            BIO_set_retry_read(b);
            return 0;
        }
        return 1;
    }

    static long ctrl(BIO* b, int cmd, long, void*) {
        switch (cmd) {
        case BIO_CTRL_FLUSH: return 1;  // the queue is the flush
        case BIO_CTRL_PENDING: return static_cast<long>(stream(b)->buffered_ciphertext());
        case BIO_CTRL_WPENDING: return static_cast<long>(stream(b)->pending_bytes());
        default: return 0;  // no kTLS, no fd, no duplication
        }
    }

    // Made once per process (thread-safe static) and kept to the end.
    static const BIO_METHOD* method() {
        static BIO_METHOD* m = [] {
            int type = BIO_get_new_index();
            BIO_METHOD* bm = type < 0 ? nullptr : BIO_meth_new(type | BIO_TYPE_SOURCE_SINK, "wsring tls_stream");
            if (bm && (!BIO_meth_set_write_ex(bm, write_ex) || !BIO_meth_set_read_ex(bm, read_ex) ||
                       !BIO_meth_set_ctrl(bm, ctrl))) {
                BIO_meth_free(bm);
                bm = nullptr;
            }
            return bm;
        }();
        return m;
    }
};

std::string_view name(tls_error e) {
    switch (e) {
    case tls_error::none: return "none";
    case tls_error::not_tls: return "not_tls";
    case tls_error::bad_handshake: return "bad_handshake";
    case tls_error::alert: return "alert";
    case tls_error::renegotiation: return "renegotiation";
    case tls_error::protocol: return "protocol";
    case tls_error::resources: return "resources";
    }
    return "unknown";
}

// ---- life ------------------------------------------------------------------------

tls_stream::tls_stream(const tls_context& ctx, segment_pool& pool, std::size_t max_pending)
    : pool_(&pool), max_pending_(static_cast<std::uint32_t>(max_pending)) {
    if (attach(ctx)) SSL_set_accept_state(ssl_);  // we are the server: wait for a ClientHello
}

tls_stream::tls_stream(const tls_context& ctx, segment_pool& pool, const client_params& client,
                       std::size_t max_pending)
    : pool_(&pool), max_pending_(static_cast<std::uint32_t>(max_pending)) {
    flags_ |= f_client;
    if (!attach(ctx)) return;
    SSL_set_connect_state(ssl_);
    std::string name(client.server_name);  // OpenSSL wants it NUL-terminated
    in6_addr ip;
    bool literal = inet_pton(AF_INET, name.c_str(), &ip) == 1 || inet_pton(AF_INET6, name.c_str(), &ip) == 1;
    ERR_clear_error();
    // RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in
    // HostName": an address is checked against the certificate's IP SANs.
    bool named = literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str()) == 1
                         : SSL_set_tlsext_host_name(ssl_, name.c_str()) == 1 && SSL_set1_host(ssl_, name.c_str()) == 1;
    if (!named || (client.resume && SSL_set_session(ssl_, client.resume) != 1)) {
        fail(tls_error::resources);
        return;
    }
    int r = SSL_do_handshake(ssl_);  // writes the ClientHello into out_
    if (r != 1 && SSL_get_error(ssl_, r) != SSL_ERROR_WANT_READ) fail(classify());
}

// The SSL object and its one BIO; false (and error() set) when out of memory.
bool tls_stream::attach(const tls_context& ctx) {
    const BIO_METHOD* m = tls_bio::method();
    ssl_ = m && ctx.native() ? SSL_new(ctx.native()) : nullptr;
    BIO* bio = ssl_ ? BIO_new(m) : nullptr;
    if (!bio) {
        SSL_free(ssl_);
        ssl_ = nullptr;
        fail(tls_error::resources);
        return false;
    }
    BIO_set_data(bio, this);
    BIO_set_init(bio, 1);
    SSL_set_bio(ssl_, bio, bio);
    SSL_set_app_data(ssl_, this);
    SSL_set_info_callback(ssl_, on_info);
    return true;
}

tls_stream::~tls_stream() {
    SSL_free(ssl_);  // frees the BIO too; neither writes anything
    out_.clear(*pool_);
}

// ---- ciphertext in ---------------------------------------------------------------

void tls_stream::feed_ciphertext(std::span<const std::byte> in) {
    if (in.empty() || error_ != tls_error::none) return;
    if (!(flags_ & f_seen_input)) {
        flags_ |= f_seen_input;
        // RFC 8446 §5.1, RFC 5246 §6.2.1: a client opens with a handshake
        // record (content type 22) holding its ClientHello. An alert record
        // (21) first is a TLS client giving up (OpenSSL would call it an
        // unexpected message); anything else — "GET / HTTP/1.1", noise — is
        // not TLS: end it here, without an alert the peer could not read.
        // This refuses SSLv2-format hellos too, which RFC 8446 §D.5 says
        // nobody may send any more.
        // A server's first record is a handshake (ServerHello) too, or an
        // alert refusing our ClientHello, which OpenSSL reads and names.
        if (in[0] == std::byte{21} && !(flags_ & f_client)) return fail(tls_error::alert);
        if (in[0] != std::byte{22} && in[0] != std::byte{21}) return fail(tls_error::not_tls);
    }
    if (flags_ & f_peer_closed) return;  // RFC 8446 §6.1: data after close_notify is ignored
    if (buffered_ciphertext() == 0) {
        borrowed_ = in;  // the common case: no copy
        return;
    }
    // Fed twice without a read in between, or input already kept: append.
    try {
        tail_.insert(tail_.end(), borrowed_.begin(), borrowed_.end());
        tail_.insert(tail_.end(), in.begin(), in.end());
    } catch (const std::bad_alloc&) {
        return fail(tls_error::resources);
    }
    borrowed_ = {};
}

void tls_stream::feed_eof() {
    // EOF before any byte is a TCP probe, not a TLS error: the caller treats
    // it as any EOF. In the middle of a handshake it is a truncated one.
    if (error_ == tls_error::none && (flags_ & f_seen_input) && !(flags_ & f_handshake_done))
        fail(tls_error::bad_handshake);
}

std::size_t tls_stream::take_input(std::byte* to, std::size_t max) {
    // Kept bytes come first; feed_ciphertext appends to them while there are
    // any, so at most one of the two sources is non-empty.
    if (tail_begin_ < tail_.size()) {
        std::size_t n = std::min(max, tail_.size() - tail_begin_);
        std::memcpy(to, tail_.data() + tail_begin_, n);
        tail_begin_ += static_cast<std::uint32_t>(n);
        if (tail_begin_ == tail_.size()) {
            std::vector<std::byte>().swap(tail_);  // idle again: hold nothing
            tail_begin_ = 0;
        }
        return n;
    }
    std::size_t n = std::min(max, borrowed_.size());
    if (n) std::memcpy(to, borrowed_.data(), n);
    borrowed_ = borrowed_.subspan(n);
    return n;
}

void tls_stream::keep_unread_input() {
    // OpenSSL reads exactly up to the record it is completing (no read-ahead),
    // so input is left here only when on_plain paused, after close_notify or
    // after an error — the last two are dropped.
    if (borrowed_.empty()) return;
    if (error_ == tls_error::none && !(flags_ & f_peer_closed)) {
        try {
            tail_.assign(borrowed_.begin(), borrowed_.end());
            tail_begin_ = 0;
        } catch (const std::bad_alloc&) {
            fail(tls_error::resources);
        }
    }
    borrowed_ = {};
}

// One SSL_read: plaintext bytes, or 0 when it needs more input, the peer
// closed, or the stream failed (the state says which).
std::size_t tls_stream::read_some(std::span<std::byte> out) {
    if (error_ != tls_error::none || (flags_ & f_peer_closed)) return 0;
    ERR_clear_error();  // SSL_get_error reads this thread's queue: start it empty
    std::size_t n = 0;
    int r = SSL_read_ex(ssl_, out.data(), out.size(), &n);
    if (SSL_is_init_finished(ssl_)) flags_ |= f_handshake_done;
    if (flags_ & f_renegotiation) {
        fail(tls_error::renegotiation);
        return 0;
    }
    if (r == 1) return n;
    switch (SSL_get_error(ssl_, r)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: return 0;  // all input used (writes never block here)
    case SSL_ERROR_ZERO_RETURN: flags_ |= f_peer_closed; return 0;
    default: fail(classify()); return 0;
    }
}

// ---- plaintext out ---------------------------------------------------------------

std::size_t tls_stream::write_plaintext(const iovec* iov, std::size_t n) {
    if (!(flags_ & f_handshake_done) || (flags_ & f_close_sent) || error_ != tls_error::none)
        return 0;
    std::byte scratch[max_record];
    std::size_t taken = 0, i = 0, off = 0;  // next plaintext byte: iov[i] at off
    ERR_clear_error();
    while (out_.bytes() < max_pending_) {
        while (i < n && off == iov[i].iov_len) {
            ++i;
            off = 0;
        }
        if (i == n) break;
        const std::byte* rec = static_cast<const std::byte*>(iov[i].iov_base) + off;
        std::size_t len = std::min(iov[i].iov_len - off, max_record);
        if (len < max_record && i + 1 < n) {
            // Small iovecs (a queue of small frames, shared broadcast frames)
            // share one record: one header, one AEAD seal and tag, not one each.
            len = 0;
            for (std::size_t j = i, o = off; j < n && len < max_record; ++j, o = 0) {
                std::size_t k = std::min(iov[j].iov_len - o, max_record - len);
                std::memcpy(scratch + len, static_cast<const std::byte*>(iov[j].iov_base) + o, k);
                len += k;
            }
            rec = scratch;
        }
        std::size_t w = 0;
        if (SSL_write_ex(ssl_, rec, len, &w) != 1) {
            fail(classify());
            break;
        }
        taken += w;
        for (; w; ++i, off = 0) {  // step the cursor over what was taken
            std::size_t k = std::min(w, iov[i].iov_len - off);
            w -= k;
            if (off + k < iov[i].iov_len) {
                off += k;
                break;
            }
        }
    }
    return taken;
}

bool tls_stream::want_close() {
    if (!(flags_ & f_handshake_done) || (flags_ & f_close_sent) || error_ != tls_error::none)
        return false;
    ERR_clear_error();
    // We do not wait for the peer's close_notify: the WebSocket close
    // handshake already agreed on the end, and RFC 8446 §6.1 lets each side
    // close its write side on its own.
    if (SSL_shutdown(ssl_) < 0) {
        ERR_clear_error();
        return false;
    }
    flags_ |= f_close_sent;
    return true;
}

// ---- state -----------------------------------------------------------------------

bool tls_stream::has_buffered_input() const {
    return buffered_ciphertext() > 0 || (ssl_ && SSL_has_pending(ssl_));
}

std::string_view tls_stream::alpn() const {
    const unsigned char* p = nullptr;
    unsigned int len = 0;
    if (ssl_) SSL_get0_alpn_selected(ssl_, &p, &len);
    return p ? std::string_view(reinterpret_cast<const char*>(p), len) : std::string_view();
}

std::string_view tls_stream::verify_error() const {
    long v = ssl_ ? SSL_get_verify_result(ssl_) : X509_V_OK;
    return v == X509_V_OK ? std::string_view() : X509_verify_cert_error_string(v);
}

SSL_SESSION* tls_stream::resumable_session() const {
    SSL_SESSION* s = ssl_ && (flags_ & f_client) ? SSL_get1_session(ssl_) : nullptr;
    if (s && !SSL_SESSION_is_resumable(s)) {
        SSL_SESSION_free(s);
        s = nullptr;
    }
    return s;
}

std::string describe_failure(const tls_stream& t) {
    if (!t.verify_error().empty()) return std::string(t.error_reason()) + ": " + std::string(t.verify_error());
    if (t.error() == tls_error::not_tls)
        return "the server does not speak TLS (a ws:// server?): " + std::string(t.error_reason());
    return std::string(t.handshake_done() ? "TLS record: " : "TLS handshake: ") + std::string(name(t.error())) +
           ": " + std::string(t.error_reason());
}

std::string_view tls_stream::error_reason() const {
    if (const char* r = detail_ ? ERR_reason_error_string(detail_) : nullptr) return r;
    switch (error_) {
    case tls_error::not_tls: return "first byte is not a TLS handshake record";
    case tls_error::alert: return "alert record instead of a ClientHello";
    case tls_error::bad_handshake: return "EOF during the handshake";
    case tls_error::renegotiation: return "client asked to renegotiate";
    default: return "";
    }
}

// What OpenSSL's queued error means for our counters. Called right after a
// failed SSL_* call, before fail() empties the queue.
tls_error tls_stream::classify() const {
    if (error_ != tls_error::none) return error_;  // set by the BIO (out of memory)
    if (flags_ & f_renegotiation) return tls_error::renegotiation;
    unsigned long e = ERR_peek_error();
    int reason = ERR_GET_REASON(e);
    // A received alert is queued as SSL_AD_REASON_OFFSET + its AlertDescription.
    if (ERR_GET_LIB(e) == ERR_LIB_SSL && reason >= SSL_AD_REASON_OFFSET &&
        reason < SSL_AD_REASON_OFFSET + 256)
        return tls_error::alert;
    if (reason == ERR_R_MALLOC_FAILURE) return tls_error::resources;
    return (flags_ & f_handshake_done) ? tls_error::protocol : tls_error::bad_handshake;
}

void tls_stream::fail(tls_error e) {
    if (error_ == tls_error::none) {  // the first cause is the one counted
        error_ = e;
        detail_ = ERR_peek_error();
    }
    ERR_clear_error();  // leave the thread's queue empty for the next connection
    borrowed_ = {};
    std::vector<std::byte>().swap(tail_);
    tail_begin_ = 0;
}

// OpenSSL calls this at handshake steps and for every alert. The one we need:
// RFC 5746 renegotiation refused — OpenSSL answers a TLS 1.2 ClientHello
// after the handshake with a no_renegotiation warning and carries on; we end
// the connection instead, and count it.
void tls_stream::on_info(const SSL* ssl, int where, int ret) {
    auto* s = static_cast<tls_stream*>(SSL_get_app_data(ssl));
    if (!s) return;
    // The handshake is done the moment OpenSSL says so, even if a bad record
    // right behind the Finished (same read) fails the connection before
    // SSL_read returns: that is a protocol error after a handshake, not a
    // failed handshake.
    if (where & SSL_CB_HANDSHAKE_DONE) s->flags_ |= f_handshake_done;
    if (!(where & SSL_CB_ALERT) || !(where & SSL_CB_WRITE)) return;
    if ((ret & 0xff) == SSL_AD_NO_RENEGOTIATION) s->flags_ |= f_renegotiation;
}

}  // namespace wsring::net

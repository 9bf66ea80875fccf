// One connection's TLS, sans-IO: ciphertext the backend read goes in
// (feed_ciphertext), plaintext for the session comes out (read_plaintext);
// the session's plaintext goes in (write_plaintext), records to send come out
// (pending_ciphertext / consume_ciphertext). No socket, no fd, no thread: the
// OpenSSL object talks to one custom BIO whose input is the caller's bytes and
// whose output is a write_queue, so epoll and io_uring wire it the same way
// and net/session.cpp never learns TLS is there. The server role is what the
// reactors use; the client role is ws-bench's wss://. Policy (versions, ALPN,
// tickets) is net/tls_context.hpp; docs/reactors.md shows where this sits.
#pragma once
#include <openssl/ssl.h>
#include <sys/uio.h>

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/tls_context.hpp"
#include "net/write_queue.hpp"

namespace wsring::net {

// Why a TLS connection ended badly: one counter each. Values never change meaning.
enum class tls_error : std::uint8_t {
    none = 0,
    not_tls = 1,        // first byte is not a handshake record: plain HTTP, garbage
    bad_handshake = 2,  // TLS, but no agreement (version, ALPN) or cut short by EOF
    alert = 3,          // the peer sent a fatal alert (RFC 8446 §6.2)
    renegotiation = 4,  // a TLS 1.2 ClientHello after the handshake (refused)
    protocol = 5,       // a bad record after the handshake (MAC, decode, unexpected)
    resources = 6,      // OpenSSL could not allocate
};
std::string_view name(tls_error e);

class tls_stream;
// A client's failed stream as one line a user can act on: what the
// certificate check said ("certificate verify failed: hostname mismatch"),
// else that the server does not speak TLS, else OpenSSL's reason. The
// caller adds its own hint (which option trusts a CA).
std::string describe_failure(const tls_stream& t);

class tls_stream {
public:
    // Encrypted bytes allowed to wait for the socket before write_plaintext
    // stops taking plaintext: four full records. Plaintext waiting in the
    // session's queue is cheaper (a broadcast frame there is one shared
    // reference; here it is a private encrypted copy), so encrypt just ahead.
    static constexpr std::size_t default_max_pending = 64u << 10;
    // RFC 8446 §5.1 / RFC 5246 §6.2.1: a record carries at most 2^14 bytes.
    static constexpr std::size_t max_record = 1u << 14;

    // A server-side stream waiting for a ClientHello. On allocation failure
    // error() is tls_error::resources and every call is a no-op.
    tls_stream(const tls_context& ctx, segment_pool& pool,
               std::size_t max_pending = default_max_pending);
    // What a client stream needs beyond its context (tls_context::load_client).
    struct client_params {
        // The server's name: sent as SNI (RFC 6066 §3; not for an IP
        // literal) and checked against the certificate's names or addresses
        // unless the context is insecure.
        std::string_view server_name;
        // A session from an earlier stream to the same server
        // (resumable_session()), or null for a full handshake.
        SSL_SESSION* resume = nullptr;
    };
    // A client-side stream: its ClientHello is in pending_ciphertext() when
    // the constructor returns. Same failure rule as the server's.
    tls_stream(const tls_context& ctx, segment_pool& pool, const client_params& client,
               std::size_t max_pending = default_max_pending);
    tls_stream(const tls_stream&) = delete;  // the BIO points at this object
    tls_stream& operator=(const tls_stream&) = delete;
    ~tls_stream();

    // ---- ciphertext in (backend → stream) ------------------------------------
    // Bytes the backend read, in order, any split. Borrowed, not copied, until
    // the next read_plaintext() returns: it keeps (copies) only what it left
    // unread, so the backend's receive buffer may be reused right after.
    void feed_ciphertext(std::span<const std::byte> in);
    // The peer's TCP EOF (or a reset). During the handshake that is a
    // truncated handshake (bad_handshake); afterwards see peer_closed().
    void feed_eof();
    // Decrypts what was fed into `scratch` (≥ 1 byte; 16 KiB holds a record)
    // and calls on_plain(std::span<std::byte>) per run of plaintext — the
    // session's on_data. on_plain returns false to stop (reading paused); the
    // rest waits inside the stream (has_buffered_input()). The handshake
    // advances here too: check pending_bytes() after every call.
    template <class F>
    void read_plaintext(std::span<std::byte> scratch, F&& on_plain);

    // ---- plaintext out (session → stream) -------------------------------------
    // Encrypts from the iovecs into records while pending_bytes() is under
    // the cap (it ends at most one record above it); returns the plaintext
    // bytes taken — the caller consumes that many from its own queue. 0 before
    // the handshake is done, after want_close(), or after an error.
    std::size_t write_plaintext(const iovec* iov, std::size_t n);
    // Queues our close_notify (RFC 8446 §6.1, RFC 5246 §7.2.1); nothing may be
    // written after it. False if there is no session to close (handshake
    // unfinished, error, already sent): just close the socket then.
    bool want_close();

    // ---- ciphertext out (stream → backend) ------------------------------------
    // The encrypted bytes to send, in order. They stay at these addresses,
    // and later writes only append, until consume_ciphertext() drops them:
    // an io_uring send may point at them until its completion.
    std::size_t pending_ciphertext(iovec* iov, std::size_t max) const { return out_.gather(iov, max); }
    std::size_t pending_bytes() const { return out_.bytes(); }
    void consume_ciphertext(std::size_t n) { out_.consume(*pool_, n); }
    // The ciphertext queue: backends send from it with the write_queue calls
    // (gather/flush/consume) they use for plaintext.
    write_queue& wire() { return out_; }

    // ---- state ----------------------------------------------------------------
    bool handshake_done() const { return flags_ & f_handshake_done; }
    bool peer_closed() const { return flags_ & f_peer_closed; }  // close_notify received
    bool close_sent() const { return flags_ & f_close_sent; }
    tls_error error() const { return error_; }
    // OpenSSL's reason for error() (for a debug line), or "".
    std::string_view error_reason() const;
    bool resumed() const { return ssl_ && SSL_session_reused(ssl_); }
    // Client: why the server's certificate was refused ("unable to get local
    // issuer certificate", "hostname mismatch", ...), or "" if it was not.
    std::string_view verify_error() const;
    // Client: a new reference to this connection's session (the server's
    // latest ticket) if a later stream may resume it, else null; the caller
    // frees it with SSL_SESSION_free. Take it after want_close(): OpenSSL
    // spoils the session of a connection freed without its close_notify.
    SSL_SESSION* resumable_session() const;
    std::string_view alpn() const;  // "http/1.1" or "" (none offered)
    // Input kept for later: unread ciphertext, or decrypted bytes that a
    // paused on_plain did not take. A resumed reader must call read_plaintext
    // even if no new bytes arrive.
    bool has_buffered_input() const;
    std::size_t buffered_ciphertext() const { return borrowed_.size() + tail_.size() - tail_begin_; }
    SSL* native() const { return ssl_; }

private:
    enum : std::uint8_t {
        f_handshake_done = 1,
        f_peer_closed = 2,
        f_close_sent = 4,
        f_seen_input = 8,
        f_renegotiation = 16,  // set by the info callback
        f_client = 32,         // built by the client constructor
    };
    friend struct tls_bio;  // the BIO callbacks read in and append out

    bool attach(const tls_context& ctx);
    std::size_t read_some(std::span<std::byte> out);
    void keep_unread_input();
    std::size_t take_input(std::byte* to, std::size_t max);
    void fail(tls_error e);
    tls_error classify() const;
    static void on_info(const SSL* ssl, int where, int ret);

    SSL* ssl_ = nullptr;
    segment_pool* pool_;
    write_queue out_;                        // ciphertext, never moved until consumed
    std::span<const std::byte> borrowed_;    // fed, not yet read (caller's buffer)
    std::vector<std::byte> tail_;            // fed, kept past a read_plaintext (rare)
    std::uint32_t tail_begin_ = 0;
    std::uint32_t max_pending_;
    unsigned long detail_ = 0;  // OpenSSL's packed error code behind error_
    tls_error error_ = tls_error::none;
    std::uint8_t flags_ = 0;
};

template <class F>
void tls_stream::read_plaintext(std::span<std::byte> scratch, F&& on_plain) {
    assert(!scratch.empty());
    while (std::size_t n = read_some(scratch))
        if (!on_plain(scratch.first(n))) break;
    keep_unread_input();
}

}  // namespace wsring::net

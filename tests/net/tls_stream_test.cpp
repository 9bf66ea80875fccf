// Tests for net/tls_context and net/tls_stream: a plain OpenSSL client over
// memory BIOs talks to a tls_stream, both in this process, through a test CA
// made here with the OpenSSL API (the suite needs no file or tool outside).
// Handshakes (1.3, 1.2, ALPN, resumption), data at record boundaries, every
// split of the input, the bad inputs of issue 10 with their error category,
// close_notify both ways, backpressure, and what an idle stream holds. The
// client role (ws-bench's wss://) is tested against the server role at the end.
#include "net/tls_stream.hpp"
#include "tests/net/test_pki.hpp"

#include <gtest/gtest.h>
#include <malloc.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace wsring::net {
namespace {

namespace fs = std::filesystem;
using test::pki;
using test::test_pki;

std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

// ---- the client: plain OpenSSL over two memory BIOs -----------------------------

struct client_options {
    int max_version = 0;                     // 0: the library's newest
    std::string_view alpn = "\x08http/1.1";  // wire format; "" offers none
    bool trust_ca = true;
    SSL_SESSION* resume = nullptr;
    int security_level = -1;
};

int count_ticket(SSL* ssl, SSL_SESSION*) {
    ++*static_cast<int*>(SSL_get_app_data(ssl));
    return 0;  // we did not keep a reference
}

struct tls_client {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL* ssl = nullptr;
    BIO* in = BIO_new(BIO_s_mem());   // server → client
    BIO* out = BIO_new(BIO_s_mem());  // client → server
    int tickets = 0;

    explicit tls_client(const client_options& o = {}) {
        if (o.security_level >= 0) SSL_CTX_set_security_level(ctx, o.security_level);
        if (o.max_version) SSL_CTX_set_max_proto_version(ctx, o.max_version);
        if (o.max_version && o.max_version < TLS1_2_VERSION) SSL_CTX_set_min_proto_version(ctx, 0);
        if (o.trust_ca) X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), pki().ca);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, count_ticket);
        ssl = SSL_new(ctx);
        SSL_set_app_data(ssl, &tickets);
        SSL_set_bio(ssl, in, out);
        SSL_set_connect_state(ssl);
        SSL_set_tlsext_host_name(ssl, "localhost");
        SSL_set1_host(ssl, "localhost");
        if (!o.alpn.empty())
            SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(o.alpn.data()),
                                static_cast<unsigned>(o.alpn.size()));
        if (o.resume) SSL_set_session(ssl, o.resume);
    }
    ~tls_client() {
        SSL_free(ssl);
        SSL_CTX_free(ctx);
    }
    std::string take_output() {
        std::string s(static_cast<std::size_t>(BIO_ctrl_pending(out)), '\0');
        if (!s.empty()) BIO_read(out, s.data(), static_cast<int>(s.size()));
        return s;
    }
    // Everything decrypted now; -1 in `status` on close_notify, the SSL error otherwise.
    std::string read_all(int* status = nullptr) {
        std::string got;
        char buf[16384];
        for (;;) {
            std::size_t n = 0;
            int r = SSL_read_ex(ssl, buf, sizeof buf, &n);
            if (r == 1) {
                got.append(buf, n);
                continue;
            }
            int e = SSL_get_error(ssl, r);
            if (status) *status = e == SSL_ERROR_ZERO_RETURN ? -1 : e;
            ERR_clear_error();
            return got;
        }
    }
    void write(std::string_view s) {
        for (std::size_t off = 0; off < s.size();) {
            std::size_t n = 0;
            ASSERT_EQ(SSL_write_ex(ssl, s.data() + off, s.size() - off, &n), 1);
            off += n;
        }
    }
};

// A server stream and a client, and the pipes between them.
struct tls_pair {
    segment_pool pool{0, 0};  // no cached blocks: what the stream holds is what it uses
    tls_stream server;
    tls_client client;
    std::string server_got;
    std::byte scratch[16384];
    std::size_t chunk = SIZE_MAX;  // the split of the client's bytes into feeds
    bool pause_after_first = false;

    explicit tls_pair(const client_options& o = {}, std::size_t max_pending = tls_stream::default_max_pending)
        : server(*pki().ctx, pool, max_pending), client(o) {}
    ~tls_pair() { ERR_clear_error(); }

    void feed(std::string_view bytes) {
        for (std::size_t off = 0; off < bytes.size(); off += chunk) {
            server.feed_ciphertext(bytes_of(bytes.substr(off, chunk)));
            read_server();
        }
    }
    void read_server() {
        server.read_plaintext(scratch, [&](std::span<std::byte> p) {
            server_got.append(reinterpret_cast<const char*>(p.data()), p.size());
            return !pause_after_first;
        });
    }
    void to_server() { feed(client.take_output()); }
    std::size_t to_client() {
        iovec iov[64];
        std::size_t total = 0;
        while (std::size_t n = server.pending_ciphertext(iov, 64)) {
            std::size_t sent = 0;
            for (std::size_t i = 0; i < n; ++i) {
                BIO_write(client.in, iov[i].iov_base, static_cast<int>(iov[i].iov_len));
                sent += iov[i].iov_len;
            }
            server.consume_ciphertext(sent);
            total += sent;
        }
        return total;
    }
    bool handshake() {
        for (int i = 0; i < 10; ++i) {
            int r = SSL_do_handshake(client.ssl);
            to_server();
            to_client();
            if (r == 1 && server.handshake_done()) {
                client.read_all();  // takes the NewSessionTicket(s)
                return true;
            }
            if (server.error() != tls_error::none) return false;
        }
        return false;
    }
    std::size_t server_write(std::string_view s) {
        iovec iov{const_cast<char*>(s.data()), s.size()};
        return server.write_plaintext(&iov, 1);
    }
    // Sends all of `s` from the server, draining to the client as the cap demands.
    std::string server_send_all(std::string_view s) {
        std::string got;
        for (std::size_t off = 0; off < s.size() || server.pending_bytes();) {
            off += server_write(s.substr(off));
            to_client();
            got += client.read_all();
        }
        return got;
    }
};

std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
    return s;
}

// ---- tls_context ------------------------------------------------------------------

TEST(TlsContext, LoadsChainAndKey) {
    ASSERT_TRUE(pki().ctx);
    SSL_CTX* c = pki().ctx->native();
    EXPECT_EQ(SSL_CTX_get_min_proto_version(c), TLS1_2_VERSION);
    EXPECT_TRUE(SSL_CTX_get_options(c) & SSL_OP_NO_RENEGOTIATION);
    EXPECT_TRUE(SSL_CTX_get_mode(c) & SSL_MODE_RELEASE_BUFFERS);
    EXPECT_FALSE(SSL_CTX_get_options(c) & SSL_OP_NO_TICKET);
    EXPECT_EQ(SSL_CTX_get_num_tickets(c), tls_context::tickets_per_handshake);
}

TEST(TlsContext, MissingFileIsNamed) {
    std::string why;
    EXPECT_FALSE(tls_context::load((pki().dir / "nope.pem").string(), pki().key_file, why));
    EXPECT_NE(why.find("nope.pem"), std::string::npos) << why;
    EXPECT_NE(why.find("No such file"), std::string::npos) << why;
    why.clear();
    EXPECT_FALSE(tls_context::load(pki().chain, (pki().dir / "nokey.pem").string(), why));
    EXPECT_NE(why.find("private key file"), std::string::npos) << why;
}

TEST(TlsContext, KeyThatDoesNotMatchTheCertificate) {
    std::string why;
    EXPECT_FALSE(tls_context::load(pki().chain, pki().other_key_file, why));
    EXPECT_NE(why.find("does not match"), std::string::npos) << why;
    EXPECT_EQ(ERR_peek_error(), 0u);  // the error queue is left empty
}

TEST(TlsContext, NotPem) {
    std::string why;
    EXPECT_FALSE(tls_context::load(pki().junk, pki().key_file, why));
    EXPECT_NE(why.find("cannot read a certificate chain from"), std::string::npos) << why;
    why.clear();
    EXPECT_FALSE(tls_context::load(pki().chain, pki().junk, why));
    EXPECT_NE(why.find("cannot read a private key"), std::string::npos) << why;
}

TEST(TlsContext, EncryptedKeyFailsInsteadOfPrompting) {
    std::string why;
    EXPECT_FALSE(tls_context::load(pki().chain, pki().enc_key_file, why));
    EXPECT_NE(why.find("unencrypted"), std::string::npos) << why;
}

// ---- handshakes --------------------------------------------------------------------

TEST(TlsStream, Handshake13WithAlpn) {
    tls_pair p;
    ASSERT_TRUE(p.handshake()) << name(p.server.error()) << " " << p.server.error_reason();
    EXPECT_EQ(SSL_version(p.server.native()), TLS1_3_VERSION);
    EXPECT_EQ(p.server.alpn(), "http/1.1");
    EXPECT_FALSE(p.server.resumed());
    EXPECT_EQ(SSL_get_verify_result(p.client.ssl), X509_V_OK);  // SAN localhost, chain to the CA
    EXPECT_EQ(p.client.tickets, 1);                              // tickets_per_handshake
}

TEST(TlsStream, Handshake12ForcedByTheClient) {
    tls_pair p({.max_version = TLS1_2_VERSION});
    ASSERT_TRUE(p.handshake());
    EXPECT_EQ(SSL_version(p.server.native()), TLS1_2_VERSION);
    EXPECT_EQ(p.server.alpn(), "http/1.1");
}

TEST(TlsStream, Http11ChosenAmongOthers_7301_3_2) {
    tls_pair p({.alpn = std::string_view("\x02h2\x08http/1.1", 12)});
    ASSERT_TRUE(p.handshake());
    EXPECT_EQ(p.server.alpn(), "http/1.1");
}

TEST(TlsStream, NoAlpnOfferedIsServedAsHttp11) {
    tls_pair p({.alpn = ""});
    ASSERT_TRUE(p.handshake());
    EXPECT_EQ(p.server.alpn(), "");
}

TEST(TlsStream, OnlyOtherProtocolsOfferedIsFatal_7301_3_2) {
    tls_pair p({.alpn = "\x02h2"});
    EXPECT_FALSE(p.handshake());
    EXPECT_EQ(p.server.error(), tls_error::bad_handshake);
    int status = 0;
    p.client.read_all(&status);
    EXPECT_EQ(status, SSL_ERROR_SSL);  // the client got the alert
    EXPECT_FALSE(SSL_is_init_finished(p.client.ssl));
}

TEST(TlsStream, Tls11IsRefused) {
    tls_pair p({.max_version = TLS1_1_VERSION, .security_level = 0});
    EXPECT_FALSE(p.handshake());
    EXPECT_EQ(p.server.error(), tls_error::bad_handshake) << p.server.error_reason();
}

// A ticket from the first connection resumes the second: no certificate, and
// the stream reports it (RFC 8446 §2.2, RFC 5077 for 1.2).
void expect_resumes(int max_version) {
    SSL_SESSION* s = nullptr;
    {
        tls_pair first({.max_version = max_version});
        ASSERT_TRUE(first.handshake());
        EXPECT_FALSE(first.server.resumed());
        // A clean close: OpenSSL marks a client session not resumable if its
        // SSL is freed without one.
        SSL_shutdown(first.client.ssl);
        s = SSL_get1_session(first.client.ssl);
        ASSERT_TRUE(s && SSL_SESSION_is_resumable(s));
    }
    tls_pair second({.max_version = max_version, .resume = s});
    ASSERT_TRUE(second.handshake());
    EXPECT_TRUE(second.server.resumed());
    EXPECT_TRUE(SSL_session_reused(second.client.ssl));
    EXPECT_EQ(second.server.alpn(), "http/1.1");
    if (max_version == 0) {
        EXPECT_EQ(second.client.tickets, 1);  // a fresh one to resume next time
    }
    SSL_SESSION_free(s);
}

TEST(TlsStream, ResumesWithTicket13) { expect_resumes(0); }
TEST(TlsStream, ResumesWithTicket12) { expect_resumes(TLS1_2_VERSION); }

// ---- application data ----------------------------------------------------------------

TEST(TlsStream, DataBothWaysAtRecordBoundaries) {
    tls_pair p;
    ASSERT_TRUE(p.handshake());
    EXPECT_EQ(p.server_write(""), 0u);  // 0 B: no empty record
    EXPECT_EQ(p.server.pending_bytes(), 0u);
    for (std::size_t n : {std::size_t{1}, std::size_t{16383}, std::size_t{16384}, std::size_t{16385},
                          std::size_t{1} << 20}) {
        std::string msg = pattern(n);
        p.client.write(msg);
        p.to_server();
        EXPECT_EQ(p.server_got, msg) << n;
        p.server_got.clear();
        EXPECT_EQ(p.server_send_all(msg), msg) << n;
        EXPECT_EQ(p.server.buffered_ciphertext(), 0u);
    }
}

// RFC 8446 §4.6.3: a KeyUpdate with update_requested obliges the server to
// send one of its own; OpenSSL queues it for the next write, so it rides
// ahead of the next data record and the client reads on with new keys.
TEST(TlsStream, KeyUpdateIsAnsweredWithTheNextWrite_8446_4_6_3) {
    tls_pair p;
    ASSERT_TRUE(p.handshake());
    ASSERT_EQ(SSL_key_update(p.client.ssl, SSL_KEY_UPDATE_REQUESTED), 1);
    p.client.write("after update");
    p.to_server();
    EXPECT_EQ(p.server_got, "after update");
    EXPECT_EQ(p.server_write("reply"), 5u);
    EXPECT_EQ(p.server.pending_bytes(), 27u + 27u);  // KeyUpdate record + data record
    p.to_client();
    EXPECT_EQ(p.client.read_all(), "reply");
    EXPECT_EQ(p.server.error(), tls_error::none);
}

TEST(TlsStream, SmallIovecsShareOneRecord) {
    tls_pair p;
    ASSERT_TRUE(p.handshake());
    std::string parts[100];
    std::vector<iovec> iov;
    for (auto& s : parts) {
        s = pattern(10);
        iov.push_back({s.data(), s.size()});
    }
    EXPECT_EQ(p.server.write_plaintext(iov.data(), iov.size()), 1000u);
    // One TLS 1.3 record: 5-byte header + 1,000 + content type + 16-byte tag.
    EXPECT_EQ(p.server.pending_bytes(), 1000u + 22u);
    p.to_client();
    EXPECT_EQ(p.client.read_all().size(), 1000u);
}

TEST(TlsStream, OneByteFeedsForTheWholeExchange) {
    tls_pair p;
    p.chunk = 1;
    ASSERT_TRUE(p.handshake());
    p.client.write("hello over TLS");
    p.to_server();
    EXPECT_EQ(p.server_got, "hello over TLS");
    EXPECT_EQ(p.server_send_all("and back"), "and back");
}

// Each of the client's two flights (ClientHello; Finished + data) split in
// two at every point, each split on a fresh connection.
TEST(TlsStream, EverySplitOfEachClientFlight) {
    std::size_t hello_size = 0;
    {
        tls_client c;
        SSL_do_handshake(c.ssl);
        hello_size = c.take_output().size();
    }
    ASSERT_GT(hello_size, 100u);
    for (std::size_t k = 1; k < hello_size; ++k) {
        tls_pair p;
        SSL_do_handshake(p.client.ssl);
        std::string hello = p.client.take_output();
        p.feed(hello.substr(0, k));
        EXPECT_FALSE(p.server.handshake_done());
        EXPECT_EQ(p.server.pending_bytes(), 0u) << k;  // nothing until the whole hello
        p.feed(hello.substr(k));
        ASSERT_GT(p.to_client(), 0u) << k;
        ASSERT_EQ(SSL_do_handshake(p.client.ssl), 1) << k;
        p.client.write("ping");
        std::string fin = p.client.take_output();
        p.feed(fin.substr(0, k % fin.size()));
        p.feed(fin.substr(k % fin.size()));
        ASSERT_TRUE(p.server.handshake_done()) << k;
        ASSERT_EQ(p.server_got, "ping") << k;
        ASSERT_EQ(p.server.error(), tls_error::none) << k;
    }
}

TEST(TlsStream, PausedReaderKeepsTheRest) {
    tls_pair p;
    ASSERT_TRUE(p.handshake());
    p.client.write("one");
    p.client.write("two");  // two records
    std::string both = p.client.take_output();
    p.pause_after_first = true;
    p.server.feed_ciphertext(bytes_of(both));
    p.read_server();
    EXPECT_EQ(p.server_got, "one");
    EXPECT_TRUE(p.server.has_buffered_input());
    EXPECT_GT(p.server.buffered_ciphertext(), 0u);  // copied out of the caller's buffer
    both.assign(both.size(), 'X');                  // ... which the backend now reuses
    p.pause_after_first = false;
    p.read_server();  // resumed without new input
    EXPECT_EQ(p.server_got, "onetwo");
    EXPECT_FALSE(p.server.has_buffered_input());
}

// What io_uring relies on: queued ciphertext stays where it is while more is
// appended, until consumed.
TEST(TlsStream, PendingCiphertextDoesNotMove) {
    tls_pair p;
    ASSERT_TRUE(p.handshake());
    p.server_write(pattern(5000));
    iovec before[64];
    std::size_t n = p.server.pending_ciphertext(before, 64);
    std::string copy;
    for (std::size_t i = 0; i < n; ++i) copy.append(static_cast<char*>(before[i].iov_base), before[i].iov_len);
    p.server_write(pattern(30000));
    iovec after[64];
    ASSERT_GE(p.server.pending_ciphertext(after, 64), n);
    std::string again;
    for (std::size_t i = 0; i < n; ++i) {
        EXPECT_EQ(after[i].iov_base, before[i].iov_base);
        again.append(static_cast<char*>(after[i].iov_base), before[i].iov_len);
    }
    EXPECT_EQ(again, copy);
    p.to_client();
    EXPECT_EQ(p.client.read_all(), pattern(5000) + pattern(30000));
}

TEST(TlsStream, BackpressureCapsPendingCiphertext) {
    constexpr std::size_t cap = 20000;
    tls_pair p({}, cap);
    ASSERT_TRUE(p.handshake());
    std::string big = pattern(1u << 20);
    std::size_t taken = p.server_write(big);
    EXPECT_GT(taken, 0u);
    EXPECT_LT(taken, big.size());
    EXPECT_LE(p.server.pending_bytes(), cap + tls_stream::max_record + 64);  // one record over at most
    EXPECT_EQ(p.server_write(std::string_view(big).substr(taken)), 0u);  // full: nothing more taken
    p.to_client();
    std::size_t more = p.server_write(std::string_view(big).substr(taken));
    EXPECT_GT(more, 0u);  // drained: takes again
    EXPECT_EQ(p.client.read_all(), big.substr(0, taken));
}

// ---- bad input -------------------------------------------------------------------------

void expect_not_tls(std::string_view first_bytes) {
    tls_pair p;
    p.chunk = 1;
    p.feed(first_bytes);
    EXPECT_EQ(p.server.error(), tls_error::not_tls) << first_bytes;
    EXPECT_EQ(p.server.pending_bytes(), 0u);  // not even an alert: the peer is no TLS client
    EXPECT_FALSE(p.server.has_buffered_input());
}

TEST(TlsStream, PlainHttpIsNotTls) {
    expect_not_tls("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    expect_not_tls(
        "GET /chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
}

TEST(TlsStream, GarbageIsNotTls) { expect_not_tls(std::string_view("\x00\xff garbage", 10)); }

TEST(TlsStream, HandshakeRecordWithGarbageIsBadHandshake) {
    tls_pair p;
    p.feed(std::string_view("\x16\x03\x01\x00\x05\xde\xad\xbe\xef\x00", 10));
    EXPECT_EQ(p.server.error(), tls_error::bad_handshake);
}

TEST(TlsStream, TruncatedHandshakeThenEof) {
    tls_pair p;
    SSL_do_handshake(p.client.ssl);
    std::string hello = p.client.take_output();
    p.feed(hello.substr(0, hello.size() / 2));
    EXPECT_EQ(p.server.error(), tls_error::none);
    p.server.feed_eof();
    EXPECT_EQ(p.server.error(), tls_error::bad_handshake);

    tls_pair silent;  // EOF before any byte: a TCP probe, not a TLS error
    silent.server.feed_eof();
    EXPECT_EQ(silent.server.error(), tls_error::none);
}

TEST(TlsStream, AlertInsteadOfClientHello) {
    tls_pair p;
    p.feed(std::string_view("\x15\x03\x03\x00\x02\x02\x28", 7));  // fatal handshake_failure
    EXPECT_EQ(p.server.error(), tls_error::alert) << p.server.error_reason();
}

TEST(TlsStream, ClientThatDistrustsTheCertificateSendsAnAlert) {
    for (int version : {0, TLS1_2_VERSION}) {  // encrypted in 1.3, plain in 1.2
        tls_pair p({.max_version = version, .trust_ca = false});
        EXPECT_FALSE(p.handshake());
        EXPECT_EQ(p.server.error(), tls_error::alert) << p.server.error_reason();
        EXPECT_NE(p.server.error_reason().find("unknown ca"), std::string_view::npos)
            << p.server.error_reason();
    }
}

TEST(TlsStream, CorruptRecordAfterHandshakeIsProtocolError) {
    tls_pair p;
    ASSERT_TRUE(p.handshake());
    p.client.write("hello");
    std::string rec = p.client.take_output();
    rec[rec.size() - 1] ^= 1;  // breaks the AEAD tag (RFC 8446 §5.2: bad_record_mac)
    p.feed(rec);
    EXPECT_EQ(p.server.error(), tls_error::protocol) << p.server.error_reason();
    EXPECT_EQ(p.server_got, "");
    EXPECT_EQ(p.server_write("x"), 0u);  // a failed stream writes nothing more
}

// The client's Finished and a broken record in one read: the handshake did
// complete (counted as one), and what failed is a record after it.
TEST(TlsStream, CorruptRecordRightBehindTheFinishedIsProtocolError) {
    tls_pair p;
    SSL_do_handshake(p.client.ssl);  // ClientHello
    p.to_server();
    p.to_client();
    ASSERT_EQ(SSL_do_handshake(p.client.ssl), 1);  // the client's Finished, not yet sent
    std::string flight = p.client.take_output();
    p.client.write("hello");
    std::string rec = p.client.take_output();
    rec[rec.size() - 1] ^= 1;
    p.feed(flight + rec);
    EXPECT_TRUE(p.server.handshake_done());
    EXPECT_EQ(p.server.error(), tls_error::protocol) << p.server.error_reason();
}

TEST(TlsStream, RenegotiationIsRefused_5746) {
    tls_pair p({.max_version = TLS1_2_VERSION});
    ASSERT_TRUE(p.handshake());
    ASSERT_EQ(SSL_renegotiate(p.client.ssl), 1);
    SSL_do_handshake(p.client.ssl);  // sends the second ClientHello
    p.to_server();
    EXPECT_EQ(p.server.error(), tls_error::renegotiation);
    EXPECT_FALSE(p.server.has_buffered_input());
}

// ---- close_notify ---------------------------------------------------------------------

TEST(TlsStream, CloseNotifyFromTheClient) {
    tls_pair p;
    ASSERT_TRUE(p.handshake());
    p.client.write("last");
    SSL_shutdown(p.client.ssl);
    p.to_server();
    EXPECT_EQ(p.server_got, "last");
    EXPECT_TRUE(p.server.peer_closed());
    EXPECT_EQ(p.server.error(), tls_error::none);
    p.feed("after close_notify");  // ignored (RFC 8446 §6.1)
    EXPECT_EQ(p.server_got, "last");
    EXPECT_FALSE(p.server.has_buffered_input());
    EXPECT_TRUE(p.server.want_close());  // our reply
    EXPECT_GT(p.to_client(), 0u);
}

TEST(TlsStream, CloseNotifyFromTheServer) {
    tls_pair p;
    ASSERT_TRUE(p.handshake());
    p.server_write("bye");
    EXPECT_TRUE(p.server.want_close());
    EXPECT_TRUE(p.server.close_sent());
    EXPECT_FALSE(p.server.want_close());    // once
    EXPECT_EQ(p.server_write("more"), 0u);  // nothing after close_notify
    p.to_client();
    int status = 0;
    EXPECT_EQ(p.client.read_all(&status), "bye");
    EXPECT_EQ(status, -1);  // the client saw close_notify

    tls_pair early;  // no session yet: nothing to say, just close the socket
    EXPECT_FALSE(early.server.want_close());
}

// ---- memory ----------------------------------------------------------------------------

#if defined(__SANITIZE_ADDRESS__)
constexpr bool plain_malloc = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool plain_malloc = false;
#else
constexpr bool plain_malloc = true;
#endif
#else
constexpr bool plain_malloc = true;
#endif

// An established stream that exchanged data and has nothing pending holds no
// buffers: no kept input, no queued ciphertext, and OpenSSL's record buffers
// released. The heap per idle stream (the SSL object and its session) is
// printed, and bounded well below what unreleased 16 KiB buffers would cost.
TEST(TlsStream, IdleStreamHoldsNoBuffers) {
    constexpr int count = 1000;
    segment_pool pool{0, 0};
    std::vector<std::unique_ptr<tls_stream>> idle;
    idle.reserve(count);
    auto establish = [&] {
        tls_pair p;
        EXPECT_TRUE(p.handshake());
        p.client.write(pattern(20000));
        p.to_server();
        EXPECT_EQ(p.server_send_all(pattern(20000)).size(), 20000u);
        return p.server.native() != nullptr;
    };
    establish();  // warm up OpenSSL's per-thread and per-context state
    std::size_t before = mallinfo2().uordblks;
    for (int i = 0; i < count; ++i) {
        auto s = std::make_unique<tls_stream>(*pki().ctx, pool);
        tls_client c;
        std::byte scratch[16384];
        auto pump = [&] {
            std::string out = c.take_output();
            s->feed_ciphertext(bytes_of(out));
            s->read_plaintext(scratch, [](std::span<std::byte>) { return true; });
            iovec iov[64];
            while (std::size_t n = s->pending_ciphertext(iov, 64)) {
                std::size_t sent = 0;
                for (std::size_t j = 0; j < n; ++j) {
                    BIO_write(c.in, iov[j].iov_base, static_cast<int>(iov[j].iov_len));
                    sent += iov[j].iov_len;
                }
                s->consume_ciphertext(sent);
            }
        };
        for (int k = 0; k < 4 && !s->handshake_done(); ++k) {
            SSL_do_handshake(c.ssl);
            pump();
        }
        c.write("x");
        pump();
        ASSERT_TRUE(s->handshake_done());
        ASSERT_EQ(s->pending_bytes(), 0u);
        ASSERT_EQ(s->buffered_ciphertext(), 0u);
        ASSERT_FALSE(SSL_has_pending(s->native()));
        ASSERT_EQ(BIO_ctrl_pending(SSL_get_rbio(s->native())), 0u);
        ASSERT_EQ(BIO_ctrl_wpending(SSL_get_wbio(s->native())), 0u);
        idle.push_back(std::move(s));
    }
    ERR_clear_error();
    std::size_t per_stream = (mallinfo2().uordblks - before) / count;
    if (plain_malloc)
        std::printf("[ idle TLS ] sizeof(tls_stream) = %zu B; heap per idle established stream "
                    "(SSL, session, BIO, tls_stream) = %zu B\n",
                    sizeof(tls_stream), per_stream);
    EXPECT_LE(sizeof(tls_stream), 128u);
    EXPECT_EQ(pool.blocks_in_use(), 0u);
    if (plain_malloc) {
        EXPECT_LT(per_stream, 24u << 10);  // unreleased record buffers would add 2 × 16 KiB+
    }
}

// ---- the client role: a client stream against a server stream -------------------------

std::optional<tls_context> client_context(const fs::path& ca, bool insecure = false) {
    std::string why;
    auto c = tls_context::load_client(ca.string(), insecure, why);
    EXPECT_TRUE(c) << why;
    return c;
}

// Two streams and the wire between them: what ws-bench's worker does with a
// socket, done in memory.
struct stream_pair {
    segment_pool pool{0, 0};
    tls_stream server;
    tls_stream client;
    std::string server_got, client_got;
    std::byte scratch[16384];

    stream_pair(const tls_context& client_ctx, std::string_view name, SSL_SESSION* resume = nullptr)
        : server(*pki().ctx, pool), client(client_ctx, pool, {.server_name = name, .resume = resume}) {}
    ~stream_pair() { ERR_clear_error(); }

    // Moves `from`'s ciphertext to `to` and reads it there; bytes moved.
    std::size_t move(tls_stream& from, tls_stream& to, std::string& got) {
        iovec iov[64];
        std::size_t total = 0;
        while (std::size_t n = from.pending_ciphertext(iov, 64)) {
            std::size_t sent = 0;
            for (std::size_t i = 0; i < n; ++i) {
                to.feed_ciphertext({static_cast<const std::byte*>(iov[i].iov_base), iov[i].iov_len});
                to.read_plaintext(scratch, [&](std::span<std::byte> p) {
                    got.append(reinterpret_cast<const char*>(p.data()), p.size());
                    return true;
                });
                sent += iov[i].iov_len;
            }
            from.consume_ciphertext(sent);
            total += sent;
        }
        return total;
    }
    bool handshake() {
        for (int i = 0; i < 10 && (move(client, server, server_got) | move(server, client, client_got)); ++i) {
        }
        return client.handshake_done() && server.handshake_done();
    }
    // Sends all of `s` from one side to the other, as the caps allow.
    void send(tls_stream& from, tls_stream& to, std::string& got, std::string_view s) {
        for (std::size_t off = 0; off < s.size() || from.pending_bytes();) {
            iovec iov{const_cast<char*>(s.data() + off), s.size() - off};
            off += from.write_plaintext(&iov, 1);
            move(from, to, got);
        }
    }
};

TEST(TlsClient, ClientHelloIsPendingAfterConstruction) {
    auto ctx = client_context(pki().ca_file);
    stream_pair p(*ctx, "localhost");
    EXPECT_GT(p.client.pending_bytes(), 100u);
    iovec iov[4];
    ASSERT_GT(p.client.pending_ciphertext(iov, 4), 0u);
    EXPECT_EQ(*static_cast<unsigned char*>(iov[0].iov_base), 22);  // a handshake record
    EXPECT_FALSE(p.client.handshake_done());
    EXPECT_EQ(p.client.error(), tls_error::none);
    EXPECT_EQ(SSL_get_min_proto_version(p.client.native()), TLS1_2_VERSION);
}

TEST(TlsClient, HandshakeWithTheTestCaAndDataBothWays) {
    auto ctx = client_context(pki().ca_file);
    stream_pair p(*ctx, "localhost");
    ASSERT_TRUE(p.handshake()) << p.client.error_reason() << " / " << p.server.error_reason();
    EXPECT_EQ(p.client.alpn(), "http/1.1");
    EXPECT_EQ(p.server.alpn(), "http/1.1");
    EXPECT_EQ(p.client.verify_error(), "");
    EXPECT_FALSE(p.client.resumed());
    for (std::size_t n : {std::size_t{1}, std::size_t{16384}, std::size_t{1} << 20}) {
        std::string msg = pattern(n);
        p.send(p.client, p.server, p.server_got, msg);
        EXPECT_EQ(p.server_got, msg) << n;
        p.send(p.server, p.client, p.client_got, msg);
        EXPECT_EQ(p.client_got, msg) << n;
        p.server_got.clear();
        p.client_got.clear();
    }
    EXPECT_TRUE(p.client.want_close());
    p.move(p.client, p.server, p.server_got);
    EXPECT_TRUE(p.server.peer_closed());
}

TEST(TlsClient, AnIpAddressIsCheckedAgainstTheIpSans) {
    auto ctx = client_context(pki().ca_file);
    stream_pair good(*ctx, "127.0.0.1");
    EXPECT_TRUE(good.handshake()) << good.client.verify_error();
    stream_pair bad(*ctx, "10.1.2.3");
    EXPECT_FALSE(bad.handshake());
    EXPECT_EQ(bad.client.verify_error(), "IP address mismatch");
}

// A certificate that does not chain to the given CA is refused by the client
// with a reason a user can act on, and the server hears an alert.
TEST(TlsClient, WrongCaFailsVerification) {
    auto ctx = client_context(pki().other_ca_file);
    stream_pair p(*ctx, "localhost");
    EXPECT_FALSE(p.handshake());
    EXPECT_EQ(p.client.error(), tls_error::bad_handshake);
    EXPECT_EQ(p.client.error_reason(), "certificate verify failed");
    // The chain file sends the test CA along, which the other CA does not sign.
    EXPECT_EQ(p.client.verify_error(), "self-signed certificate in certificate chain");
    EXPECT_EQ(p.server.error(), tls_error::alert) << p.server.error_reason();
}

TEST(TlsClient, HostnameMismatchFails) {
    auto ctx = client_context(pki().ca_file);
    stream_pair p(*ctx, "example.com");
    EXPECT_FALSE(p.handshake());
    EXPECT_EQ(p.client.error_reason(), "certificate verify failed");
    EXPECT_EQ(p.client.verify_error(), "hostname mismatch");
}

// --insecure: no CA, wrong name, and still a handshake (explicitly asked for).
TEST(TlsClient, InsecureChecksNothing) {
    auto ctx = client_context(pki().other_ca_file, true);
    stream_pair p(*ctx, "example.com");
    ASSERT_TRUE(p.handshake()) << p.client.error_reason();
    EXPECT_EQ(p.client.alpn(), "http/1.1");
    p.send(p.client, p.server, p.server_got, "hi");
    EXPECT_EQ(p.server_got, "hi");
}

TEST(TlsClient, LoadClientNamesABadCaFile) {
    std::string why;
    EXPECT_FALSE(tls_context::load_client((pki().dir / "nope.pem").string(), false, why));
    EXPECT_NE(why.find("cannot open CA file"), std::string::npos) << why;
    why.clear();
    EXPECT_FALSE(tls_context::load_client(pki().junk.string(), false, why));
    EXPECT_NE(why.find("cannot read CA certificates from"), std::string::npos) << why;
    EXPECT_EQ(ERR_peek_error(), 0u);
    why.clear();
    EXPECT_TRUE(tls_context::load_client("", false, why)) << why;  // the system's store
}

// The session the client keeps after a clean close resumes the next
// connection on both sides, and that one hands out a fresh session in turn.
TEST(TlsClient, ResumesWithTheSessionOfTheLastConnection) {
    auto ctx = client_context(pki().ca_file);
    SSL_SESSION* s = nullptr;
    {
        stream_pair first(*ctx, "localhost");
        ASSERT_TRUE(first.handshake());
        first.send(first.client, first.server, first.server_got, "GET");
        first.send(first.server, first.client, first.client_got, "101");  // the ticket came first
        EXPECT_TRUE(first.client.want_close());
        s = first.client.resumable_session();
        ASSERT_NE(s, nullptr);
    }
    for (int i = 0; i < 2; ++i) {
        stream_pair again(*ctx, "localhost", s);
        ASSERT_TRUE(again.handshake()) << again.client.error_reason();
        EXPECT_TRUE(again.client.resumed());
        EXPECT_TRUE(again.server.resumed());
        EXPECT_EQ(again.client.alpn(), "http/1.1");
        again.send(again.server, again.client, again.client_got, "101");
        EXPECT_TRUE(again.client.want_close());
        SSL_SESSION_free(s);
        s = again.client.resumable_session();
        ASSERT_NE(s, nullptr);
    }
    SSL_SESSION_free(s);
    stream_pair server_side(*ctx, "localhost");  // a server stream has no session to give
    EXPECT_EQ(server_side.server.resumable_session(), nullptr);
}

// wss:// pointed at a plain ws:// server: its HTTP 400 is not TLS.
TEST(TlsClient, PlainTextAnswerIsNotTls) {
    auto ctx = client_context(pki().ca_file);
    stream_pair p(*ctx, "localhost");
    p.client.feed_ciphertext(bytes_of("HTTP/1.1 400 Bad Request\r\n\r\n"));
    p.client.read_plaintext(p.scratch, [](std::span<std::byte>) { return true; });
    EXPECT_EQ(p.client.error(), tls_error::not_tls);
}

// A server that refuses our hello with an alert: OpenSSL reads it and names it.
TEST(TlsClient, AlertFromTheServerIsNamed) {
    auto ctx = client_context(pki().ca_file);
    stream_pair p(*ctx, "localhost");
    p.client.feed_ciphertext(bytes_of(std::string_view("\x15\x03\x03\x00\x02\x02\x28", 7)));
    p.client.read_plaintext(p.scratch, [](std::span<std::byte>) { return true; });
    EXPECT_EQ(p.client.error(), tls_error::alert);
    EXPECT_NE(p.client.error_reason().find("handshake failure"), std::string_view::npos) << p.client.error_reason();
}

}  // namespace
}  // namespace wsring::net

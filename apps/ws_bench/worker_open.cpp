// A connection's way in, up to open: the non-blocking connect (from a spread
// of loopback source addresses), for wss:// the TLS client stream and its
// handshake, the upgrade request with a fresh key and the 101 check
// (RFC 6455 §4.1; permessage-deflate and the subprotocol as agreed), then
// the proto::connection that owns the frames from then on. Not here: the
// bytes the handshakes travel in (worker_read.cpp, worker_write.cpp), or a
// failed connection's end (worker_close.cpp).
#include "apps/ws_bench/worker.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "proto/wsring_v1.hpp"

namespace wsring::bench {

namespace {

// Where a connection goes: broadcast's publishers to --publish-url (which
// is --url unless given: another node of a cluster), everyone else to --url.
const url& target_of(const bench_options& o, const client_conn& c) {
    return c.kind == conn_kind::publisher ? o.publish_target : o.target;
}

}  // namespace

void worker::open(client_conn& c) {
    c.out.clear();
    c.tail.clear();
    c.ws.reset();
    c.upgrade.reset();
    c.deflate.reset();
    c.v1.reset();
    c.want_write = c.clean = false;
    c.started_ns = c.state_ns = now_ns_;
    const url& to = target_of(opts_, c);
    c.fd = socket(to.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
        if (errno == EMFILE || errno == ENFILE) {
            std::fprintf(stderr, "ws-bench: out of file descriptors at %zu sockets in thread %u (%s): raise `ulimit -n`\n",
                         live_sockets_, index_, std::strerror(errno));
            std::exit(2);
        }
        c.state = conn_state::closed;
        ++stats_.open_failed;
        fail(c, fault::connect_failed, std::strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    spread_source(c.fd, to);
    c.state = conn_state::connecting;
    ++pending_opens_;
    ++live_sockets_;
    if (connect(c.fd, reinterpret_cast<const sockaddr*>(&to.addr), to.addr_len) != 0 &&
        errno != EINPROGRESS) {
        fail(c, fault::connect_failed, std::strerror(errno));
        return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = &c;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev);
}

// A loopback target is reached from 250 source addresses (127.0.0.1-250) in
// turn. The server closes TCP first (RFC 6455 §7.1.1), so *it* keeps each
// closed connection in TIME_WAIT for a minute; from a single source address
// a connect-rate run reuses its ~28,000 ephemeral ports within seconds, and
// a SYN that meets one of those TIME_WAIT entries waits a second for its
// retransmit — the server would look slow for a reason of the test's
// making. Real clients arrive from many addresses; so do these.
void worker::spread_source(int fd, const url& to) {
    if (to.addr.ss_family != AF_INET) return;
    const auto& dst = reinterpret_cast<const sockaddr_in&>(to.addr);
    if ((ntohl(dst.sin_addr.s_addr) >> 24) != 127) return;
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);  // port chosen at connect()
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7f000001u + static_cast<std::uint32_t>(next_source_++ % 250));
    bind(fd, reinterpret_cast<const sockaddr*>(&src), sizeof src);  // on failure connect() picks as usual
}

void worker::reopen_later(client_conn& c) { reopen_.push_back(&c); }

// The TCP connect finished: --raw is open at once; otherwise send the
// upgrade request (RFC 6455 §4.1) with a fresh key from the CSPRNG.
void worker::on_connected(client_conn& c) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return fail(c, fault::connect_failed, std::strerror(err));
    if (opts_.raw || driver_->reads_stream()) return become_open(c);  // no upgrade: plain TCP or HTTP
    if (opts_.target.tls) {  // the request below waits in `out` for the handshake
        start_tls(c);
        if (!has_socket(c.state)) return;
    }
    std::string key = proto::make_client_key();
    std::string path = driver_->request_path(c);
    const url& to = target_of(opts_, c);
    request_ = proto::make_client_request({.host = to.host_header(),
                                           .path = path.empty() ? to.path : path,
                                           .subprotocols = subprotocols_,
                                           .extra_headers = opts_.headers,
                                           .extensions = deflate_.offer()},
                                          key);
    c.out.append(std::as_bytes(std::span(request_)));
    c.upgrade = std::make_unique<upgrade_state>(std::move(key), deflate_.config(), subprotocols_);
    c.state = conn_state::upgrading;
    c.state_ns = now_ns_;
    mark_dirty(c);
}

// A fresh client stream per connection; its ClientHello leaves with the
// first flush. With --tls-resume it offers the newest session this worker
// kept from a clean close (the server's latest ticket), if it has one.
void worker::start_tls(client_conn& c) {
    SSL_SESSION* resume = nullptr;
    if (!sessions_.empty()) {
        resume = sessions_.back();
        sessions_.pop_back();
    }
    c.tls = std::make_unique<net::tls_stream>(*opts_.tls, pool_,
                                              net::tls_stream::client_params{.server_name = target_of(opts_, c).host, .resume = resume});
    SSL_SESSION_free(resume);  // the stream holds its own reference
    if (c.tls->error() != net::tls_error::none) fail_tls(c);
}

void worker::on_tls_handshake(client_conn& c) {
    bool resumed = c.tls->resumed();
    ++(resumed ? stats_.tls_resumed : stats_.tls_full);
    if (measuring()) ++(resumed ? stats_.tls_resumed_measured : stats_.tls_full_measured);
    if (stats_.tls_version.empty()) {
        SSL* ssl = c.tls->native();
        stats_.tls_version = std::string(SSL_get_version(ssl)) + " " + SSL_CIPHER_get_name(SSL_get_current_cipher(ssl));
    }
}

// One line a user can act on: what the certificate check said, else OpenSSL's reason.
void worker::fail_tls(client_conn& c) {
    const net::tls_stream& t = *c.tls;
    std::string why = net::describe_failure(t);  // the line ws-client prints too
    if (!t.verify_error().empty()) why += " (--ca FILE, or --insecure)";
    fail(c, fault::tls_failed, why);
}

// Feeds the 101 response to the checker; bytes after it are frames and stay
// in `data`. False when the upgrade failed (the connection is gone).
bool worker::feed_upgrade(client_conn& c, std::span<std::byte>& data) {
    std::size_t consumed = 0;
    auto st = c.upgrade->checker.feed(data, consumed);
    if (st == proto::response_checker::status::need_more) {
        data = {};
        return true;
    }
    if (st == proto::response_checker::status::rejected) {
        std::string why = "HTTP " + std::to_string(c.upgrade->checker.http_status()) + ": " + c.upgrade->checker.error();
        fail(c, fault::handshake_rejected, why);
        return false;
    }
    std::string why;
    c.deflate = deflate_.open(c.upgrade->checker.deflate(), why);
    if (!why.empty()) {
        fail(c, fault::handshake_rejected, why);
        return false;
    }
    // A subprotocol we read (wsring.v1) changes every message: one the
    // server did not choose would make each delivery look malformed.
    const std::string& chosen = c.upgrade->checker.protocol();
    if (chosen != opts_.subprotocol) {
        fail(c, fault::handshake_rejected, "the server did not choose subprotocol " + opts_.subprotocol);
        return false;
    }
    c.v1.on = chosen == proto::v1::subprotocol;
    become_open(c);
    data = data.subspan(consumed);
    return true;
}

void worker::become_open(client_conn& c) {
    leave_pending(c);
    c.state = conn_state::open;
    c.state_ns = now_ns_;
    c.upgrade.reset();
    // A --raw echo returns our own masked frames: the connection reads them
    // as a server would (reads_own_echo), and our close coming back completes
    // the handshake. RSV1 is permessage-deflate's once agreed (RFC 7692 §6), else a fault.
    proto::decoder_limits limits{.max_message = max_message_, .allow_rsv1 = c.deflate != nullptr};
    c.ws.emplace(proto::role::client, limits, opts_.raw);
    ++stats_.opened;
    driver_->on_open(c);
    mark_dirty(c);
}

}  // namespace wsring::bench

// How a connection ends: the peer's close frame counted and answered
// (RFC 6455 §5.5.1), EOF judged by the state it came in, our closing
// handshake (§7.1.2) and the TCP end, which the server starts (§7.1.1); and
// faults, each counted by kind, a broken rule sent as the close it earns (§7.1.7).
// Not here: the close frame's bytes (proto::connection, worker_write.cpp)
// or when a run closes its connections (change_phase, worker.cpp).
#include "apps/ws_bench/worker.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace wsring::bench {

// The peer's close frame (`ev`, just moved through c.ws): counted by code,
// and answered unless it answers ours.
void worker::on_close_frame(client_conn& c, const proto::event& ev) {
    auto v = static_cast<unsigned>(ev.code);
    ++stats_.close_codes[v >= 1000 && v < 1015 ? v - 1000 : 15];
    if (c.ws->state() == proto::ws_state::closed) {
        // It answers ours: the handshake is complete. RFC 6455 §7.1.1: the
        // server closes TCP first, so wait for EOF — except --raw, where the
        // echo server never will.
        if (opts_.raw) finish_close(c, true);
        return;
    }
    // The server closed while we were still using the connection: answer
    // (RFC 6455 §5.5.1: the connection echoes the code; an empty close gets
    // an empty close) and count it.
    count_fault(fault::closed_by_server, "close code " + std::to_string(v));
    c.failed = true;
    queue_answer(c, ev);
    c.state = conn_state::closing;
    c.state_ns = now_ns_;
}

void worker::on_eof(client_conn& c) {
    if (c.state == conn_state::closing) return finish_close(c, c.close_received());
    if (c.tls && !c.tls->handshake_done()) return fail(c, fault::tls_failed, "EOF during the TLS handshake");
    const char* when = c.state == conn_state::upgrading ? "EOF before the 101 response"
                       : driver_->reads_stream()        ? "EOF: the server closed the keep-alive HTTP connection"
                                                        : "EOF without a close frame";
    fail(c, fault::closed_early, when);
}

void worker::begin_close(client_conn& c) {
    if (is_pending(c.state)) {  // still connecting: not a fault, just stop
        leave_pending(c);
        close(c.fd);
        c.fd = -1;
        c.state = conn_state::closed;
        --live_sockets_;
        return;
    }
    if (c.state != conn_state::open) return;
    // Plain HTTP (http-publish): a client may close an idle keep-alive
    // connection at any time (RFC 9112 §9.6); the drain let answers come home.
    if (driver_->reads_stream()) return finish_close(c, true);
    queue_close(c, proto::close_code::normal);  // RFC 6455 §7.1.2: start the closing handshake
    c.state = conn_state::closing;
    c.state_ns = now_ns_;
}

void worker::finish_close(client_conn& c, bool clean) {
    leave_pending(c);
    bool was_open = c.state == conn_state::open || c.state == conn_state::closing;
    if (c.fd >= 0) close(c.fd);  // also leaves the epoll set
    c.fd = -1;
    c.state = conn_state::closed;
    c.clean = clean;
    c.want_write = false;
    --live_sockets_;
    if (was_open) ++(clean ? stats_.closed_clean : stats_.closed_unclean);
    if (clean && c.tls) {
        // Unless the server's close_notify was answered, ours is queued, never
        // sent: the WebSocket close handshake (inside TLS) already ended the
        // data both ways and the server closed TCP first (RFC 6455 §7.1.1),
        // so bytes now would only earn an RST; and one sent with our close
        // frame makes some servers (Python's asyncio) drop theirs. Queued, it
        // marks the session cleanly ended, which keeps it resumable.
        c.tls->want_close();
        if (opts_.tls_resume && sessions_.size() < conns_.size())
            if (SSL_SESSION* s = c.tls->resumable_session()) sessions_.push_back(s);  // for a later connect
    }
    driver_->on_closed(c);
}

void worker::count_fault(fault f, std::string_view detail, proto::error e) {
    auto i = static_cast<std::size_t>(f);
    ++stats_.faults[i];
    if (stats_.first_detail[i].empty()) stats_.first_detail[i] = std::string(detail);
    if (f == fault::protocol_error) ++stats_.protocol_errors[static_cast<std::uint8_t>(e)];
}

void worker::fail(client_conn& c, fault f, std::string_view detail, proto::error e) {
    count_fault(f, detail, e);
    c.failed = true;
    if (is_pending(c.state)) ++stats_.open_failed;
    if (f == fault::protocol_error && c.state == conn_state::open) {
        // RFC 6455 §7.1.7: Fail the WebSocket Connection — send a close with
        // the code the broken rule earns and its name (best effort), then
        // drop TCP. A decoder error moved c.ws to failed already; one found
        // above it (a message that does not inflate) moves it here.
        const proto::close_code code = proto::to_close_code(e);
        c.ws->fail(code);
        c.out.clear();
        queue_close(c, code, proto::describe(e));
        auto p = c.out.pending();
        if (c.tls) {
            iovec plain{const_cast<std::byte*>(p.data()), p.size()};
            c.tls->write_plaintext(&plain, 1);
            iovec iov[net::write_queue::max_iov];
            msghdr m{};
            m.msg_iov = iov;
            m.msg_iovlen = c.tls->pending_ciphertext(iov, net::write_queue::max_iov);
            [[maybe_unused]] auto n = sendmsg(c.fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        } else {
            [[maybe_unused]] auto n = send(c.fd, p.data(), p.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        }
    }
    if (has_socket(c.state)) finish_close(c, false);
}

}  // namespace wsring::bench

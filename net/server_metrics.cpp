// Every family is written on every scrape, each label value included at 0:
// rate() and alerts see a series from its first increment, not from the
// second (a series that appears at 1 hides that first event).
#include "net/server_metrics.hpp"

#include <string>

#include "net/access_policy.hpp"

namespace wsring::net {

namespace {

void handshakes_rejected(const session_stats& s, metrics_text& out) {
    constexpr std::string_view name = "wsring_handshakes_rejected_total";
    out.family(name, "counter",
               "WebSocket upgrades refused, by reason (the HTTP status is in docs/operations.md).");
    for (std::size_t i = 1; i < s.refused.size(); ++i)
        out.sample(name, s.refused[i].get(), metrics_text::label("reason", describe(static_cast<access_refusal>(i))));
    out.sample(name, s.too_fast.get(), metrics_text::label("reason", "rate_limited"));
    out.sample(name, s.too_many_per_ip.get(), metrics_text::label("reason", "per_address_limit"));
    out.sample(name, s.at_capacity.get(), metrics_text::label("reason", "capacity"));
    out.sample(name, s.bad_handshakes.get(), metrics_text::label("reason", "bad_request"));
}

void tls(const tls_stats& t, metrics_text& out) {
    out.counter("wsring_tls_handshakes_total", "TLS handshakes completed.", t.handshakes);
    out.counter("wsring_tls_resumed_total", "TLS handshakes completed by resuming a session.", t.resumed);
    constexpr std::string_view family = "wsring_tls_failures_total";
    out.family(family, "counter", "TLS connections that failed, by reason (handshake, alert, protocol...).");
    for (std::size_t i = 1; i < t.failed.size(); ++i)
        out.sample(family, t.failed[i].get(), metrics_text::label("reason", name(static_cast<tls_error>(i))));
}

}  // namespace

void collect_server_metrics(const server& srv, metrics_text& out) {
    const reactor_stats st = srv.stats();
    const session_stats& s = st.session;
    out.gauge("wsring_connections", "WebSocket connections open now.", static_cast<double>(srv.open_connections()));
    out.gauge("wsring_connections_max", "The limit on open WebSocket connections (--max-connections).",
              static_cast<double>(srv.options().session.max_connections));
    out.counter("wsring_connections_accepted_total", "TCP connections accepted.", st.accepted);
    out.counter("wsring_upgrades_total", "WebSocket upgrades completed (101 sent).", s.upgraded);
    handshakes_rejected(s, out);
    out.counter("wsring_messages_received_total", "WebSocket text and binary messages received.", s.messages);
    out.counter("wsring_bytes_received_total", "Bytes read from clients (after TLS): requests and frames.",
                s.bytes_received);
    out.counter("wsring_messages_sent_total", "WebSocket text and binary messages queued to clients.",
                s.messages_sent);
    out.counter("wsring_bytes_sent_total", "Bytes queued to clients (before TLS): answers and frames.",
                s.bytes_sent);
    out.counter("wsring_protocol_errors_total", "Connections failed for breaking RFC 6455 (1002, 1007, 1009).",
                s.failed);
    out.counter("wsring_tokens_expired_total", "Connections closed 1008 because their token expired.", s.expired);
    out.counter("wsring_messages_inflated_total", "Compressed messages received (permessage-deflate).", s.inflated);
    out.counter("wsring_messages_deflated_total", "Messages sent compressed for one receiver (permessage-deflate).",
                s.deflated);
    out.counter("wsring_uring_replies_batched_total",
                "io_uring: sends of one connection's replies that a busy turn queued as SQEs, 16 to a submit (0 on epoll).",
                st.uring.replies_batched);
    out.counter("wsring_uring_ring_dry_total",
                "io_uring: recvs ended because the provided-buffer ring was empty (0 on epoll).",
                st.uring.ring_dry);
    if (srv.options().tls) tls(st.tls, out);
}

}  // namespace wsring::net

// pubsub_handler: publish on the way in (phase 3), fan out on the way out
// (phase 4). The rules from core/broadcast_ring.hpp, and where they are kept:
//   1. a publisher that consumes the same ring drains its own cursor while
//      the ring is full: the on_stall of on_message calls consume();
//   2. a publisher that defers wake-ups wakes the others while stalled:
//      the same on_stall calls wake_others() first;
//   3. a consumer that leaves detaches: install_fanout's reactor_exited.
#include "net/pubsub_handler.hpp"

#include <thread>

#include "net/reactor.hpp"
#include "net/server.hpp"
#include "net/session.hpp"
#include "proto/encoder.hpp"

namespace wsring::net {

pubsub_handler::pubsub_handler(broadcast_hub& hub, std::uint32_t index, const fanout_options& o)
    : hub_(hub), producer_(hub.entries().make_producer()), index_(index), opts_(o) {}

void pubsub_handler::attach(reactor& r) {
    session_ = &r.sessions();
    hub_.attach(index_, r);
    r.set_wakeup_hook({.pending = [this] { return pending(); }, .drain = [this] { drain(); }});
}

void pubsub_handler::on_upgrade(session& s, connection& c, std::string_view path) {
    session_ = &s;  // the same one every time (attach sets it too); tests need no reactor
    topics_.subscribe(c, opts_.per_path_topics ? topic_of_path(path) : std::string_view());
}

void pubsub_handler::on_close(session&, connection& c) { topics_.unsubscribe(c); }

// Encode once (a server frame is unmasked: the same bytes serve every
// receiver), then publish. The payload points into the receive buffer, so
// the encoding is also the one copy this message ever gets.
void pubsub_handler::on_message(session&, connection& c, proto::opcode op,
                                std::span<const std::byte> payload) {
    auto frame = core::shared_buffer::make(proto::frame_size(payload.size(), false),
                                           [&](std::span<std::byte> out) {
                                               proto::encode_frame(out, op, payload);
                                           });
    broadcast_message m{std::move(frame), topics_.name(c.topic), {index_, &c}};
    hub_.publish(producer_, std::move(m), [this] {
        wake_others();         // rule 2: they may sleep on entries we published
        consume(opts_.drain_max);  // rule 1: we may be the slowest consumer
    });
    ++stats_.published;
    unwoken_ = true;
}

bool pubsub_handler::pending() const { return hub_.entries().has_pending(index_); }

void pubsub_handler::drain() {
    if (unwoken_) wake_others();
    consume(opts_.drain_max);
}

void pubsub_handler::wake_others() {
    unwoken_ = false;
    hub_.wake_all(index_);
}

// Up to `max` entries, in batches (each batch publishes our cursor once, so
// stalled producers see progress).
std::size_t pubsub_handler::consume(std::size_t max) {
    std::size_t total = 0;
    while (total < max) {
        std::size_t n = hub_.entries().poll(index_, std::min<std::size_t>(256, max - total),
                                            [this](const broadcast_message& m) { deliver(m); });
        total += n;
        if (n == 0) break;
    }
    return total;
}

// One entry to every local subscriber of its topic. Nothing here can end a
// connection (close() only queues a close frame), so the subscriber list
// stays valid during the walk.
void pubsub_handler::deliver(const broadcast_message& m) {
    auto name = m.topic.bytes();
    std::uint32_t t = topics_.find(std::string_view(reinterpret_cast<const char*>(name.data()), name.size()));
    if (t == topic_table::none) return;  // no local subscriber
    const connection* skip_self = (!opts_.echo_self && m.origin.reactor == index_) ? m.origin.conn : nullptr;
    const std::size_t size = m.frame.size();
    for (connection* c : topics_.subscribers(t)) {
        if (c == skip_self || c->state != conn_state::open || (c->flags & sf_close_sent)) continue;
        if (c->out.bytes() + size > opts_.max_backpressure) {
            slow_consumer(*c);
            continue;
        }
        session_->send_encoded(*c, m.frame);
        ++stats_.delivered;
    }
}

void pubsub_handler::slow_consumer(connection& c) {
    if (opts_.slow == slow_consumer_policy::skip) {
        ++stats_.skipped;
        return;
    }
    ++stats_.slow_closed;
    // RFC 6455 §7.4.1: 1008, "a message that violates its policy". The close
    // frame queues behind the backlog; close_timeout bounds the wait.
    session_->close(c, proto::close_code::policy_violation, "slow consumer");
}

fanout_stats pubsub_handler::stats() const {
    fanout_stats s = stats_;
    s.stalls = producer_.stalls();
    return s;
}

std::shared_ptr<broadcast_hub> install_fanout(server_options& so, const fanout_options& fo,
                                              std::shared_ptr<std::vector<pubsub_handler*>> handlers) {
    unsigned n = so.threads ? so.threads : std::max(1u, std::thread::hardware_concurrency());
    so.threads = n;  // the hub needs the count now; pin it so the server agrees
    auto hub = std::make_shared<broadcast_hub>(fo.ring_capacity, n);
    handlers->assign(n, nullptr);
    so.make_handler = [hub, fo, handlers, next = 0u]() mutable -> std::unique_ptr<message_handler> {
        auto h = std::make_unique<pubsub_handler>(*hub, next, fo);
        (*handlers)[next++] = h.get();
        return h;
    };
    so.setup_reactor = [handlers](reactor& r, unsigned i) { (*handlers)[i]->attach(r); };
    so.reactor_exited = [hub](unsigned i) { hub->entries().detach(i); };
    return hub;
}

}  // namespace wsring::net

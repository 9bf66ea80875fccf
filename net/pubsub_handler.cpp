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

void pubsub_handler::on_close(session&, connection& c, proto::close_code) {
    // The last local subscriber leaving frees the topic's index for another
    // name: what it sent this turn goes out under its own name first.
    if (c.topic != topic_table::none && topics_.subscribers(c.topic).size() == 1 &&
        c.topic < batches_.size())
        flush_batch(c.topic);
    topics_.unsubscribe(c);
}

// Encode once (a server frame is unmasked: the same bytes serve every
// receiver). The payload points into the receive buffer, so this encoding is
// also the one copy the message gets before the kernel's. Small frames join
// their topic's batch for this turn; a large one goes alone, after it.
void pubsub_handler::on_message(session&, connection& c, proto::opcode op,
                                std::span<const std::byte> payload) {
    ++stats_.published;
    const std::size_t n = proto::frame_size(payload.size(), false);
    if (batches_.size() <= c.topic) batches_.resize(c.topic + 1);
    batch& b = batches_[c.topic];
    // --no-echo-self needs each entry's sender: one origin per batch.
    const connection* origin = opts_.echo_self ? nullptr : &c;
    if (b.messages && (b.origin != origin || b.frames.size() + n > batch_max)) flush_batch(c.topic);
    if (n > batch_max) {
        auto frame = core::shared_buffer::make(
            n, [&](std::span<std::byte> out) { proto::encode_frame(out, op, payload); });
        return publish({std::move(frame), topics_.name(c.topic), {index_, &c}, 1});
    }
    if (b.messages == 0) {
        b.topic = topics_.name(c.topic);
        b.origin = origin;
        pending_.push_back(c.topic);
    }
    std::size_t at = b.frames.size();
    b.frames.resize(at + n);
    proto::encode_frame(std::span(b.frames).subspan(at), op, payload);
    ++b.messages;
}

// The one place this reactor puts an entry in the ring.
void pubsub_handler::publish(broadcast_message m) {
    ++stats_.entries;
    hub_.publish(producer_, std::move(m), [this] {
        wake_others();             // rule 2: they may sleep on entries we published
        consume(opts_.drain_max);  // rule 1: we may be the slowest consumer
    });
    unwoken_ = true;
}

void pubsub_handler::flush_batch(std::uint32_t topic) {
    batch& b = batches_[topic];
    if (b.messages == 0) return;
    broadcast_message m{core::shared_buffer::copy_of(b.frames), std::move(b.topic),
                        {b.origin ? index_ : broadcast_origin::no_reactor, b.origin}, b.messages};
    b.frames.clear();  // keeps its capacity for the next turn
    b.messages = 0;
    b.origin = nullptr;
    publish(std::move(m));
}

void pubsub_handler::flush_batches() {
    for (std::uint32_t t : pending_) flush_batch(t);
    pending_.clear();
}

bool pubsub_handler::pending() const { return hub_.entries().has_pending(index_); }

void pubsub_handler::drain() {
    flush_batches();
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
    const std::size_t size = m.frames.size();
    for (connection* c : topics_.subscribers(t)) {
        if (c == skip_self || c->state != conn_state::open || (c->flags & sf_close_sent)) continue;
        if (c->out.bytes() + size > opts_.max_backpressure) {
            slow_consumer(*c, m.messages);
            continue;
        }
        session_->send_encoded(*c, m.frames);
        stats_.delivered += m.messages;
    }
}

void pubsub_handler::slow_consumer(connection& c, std::uint32_t messages) {
    if (opts_.slow == slow_consumer_policy::skip) {
        stats_.skipped += messages;
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

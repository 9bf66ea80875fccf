// pubsub_handler: publish on the way in (phase 3), fan out on the way out
// (phase 4). The rules from core/broadcast_ring.hpp, and where they are kept:
//   1. a publisher that consumes the same ring drains its own cursor while
//      the ring is full: the on_stall of on_message calls consume();
//   2. a publisher that defers wake-ups wakes the others while stalled:
//      the same on_stall calls wake_others() first;
//   3. a consumer that leaves detaches: install_fanout's reactor_exited.
#include "modes/pubsub_handler.hpp"

#include <thread>

#include "net/reactor.hpp"
#include "net/server.hpp"
#include "net/session.hpp"
#include "proto/handshake.hpp"
#include "proto/encoder.hpp"

namespace wsring::modes {

using net::conn_state;
using net::deflate_contexts;
using net::sf_close_sent;

pubsub_handler::pubsub_handler(broadcast_hub& hub, std::uint32_t index, const fanout_options& o)
    : hub_(hub), producer_(hub.entries().make_producer()), index_(index), opts_(o) {}

void pubsub_handler::attach(reactor& r) {
    session_ = &r.sessions();
    hub_.attach(index_, r);
    r.set_wakeup_hook({.pending = [this] { return pending(); }, .drain = [this] { drain(); }});
}

std::string pubsub_handler::on_upgrade(session& s, connection& c, const net::upgrade_info& u) {
    session_ = &s;  // the same one every time (attach sets it too); tests need no reactor
    topics_.subscribe(c, opts_.per_path_topics ? topic_of_path(u.http.path) : std::string_view());
    if (s.deflate().shares(c)) hub_.count_sharing_receiver(+1);
    return {};
}

void pubsub_handler::on_close(session& s, connection& c, proto::close_code) {
    if (s.deflate().shares(c)) hub_.count_sharing_receiver(-1);
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
void pubsub_handler::on_message(session& s, connection& c, proto::opcode op,
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
        broadcast_message m{std::move(frame), topics_.name(c.topic), {index_, &c}, 1};
        if (want_deflate(s)) {
            std::vector<std::byte> z;
            std::uint32_t compressed = 0;
            encode_deflated(s, op, payload, z, compressed);
            m.deflated = core::shared_buffer::copy_of(z);
        }
        return publish(std::move(m));
    }
    if (b.messages == 0) {
        b.topic = topics_.name(c.topic);
        b.origin = origin;
        b.deflate = want_deflate(s);
        pending_.push_back(c.topic);
    }
    std::size_t at = b.frames.size();
    b.frames.resize(at + n);
    proto::encode_frame(std::span(b.frames).subspan(at), op, payload);
    if (b.deflate) encode_deflated(s, op, payload, b.deflated, b.compressed);
    ++b.messages;
}

// Compress once only if some receiver, on any reactor, can use it.
bool pubsub_handler::want_deflate(session& s) const {
    return s.deflate().options().enabled && hub_.has_sharing_receivers();
}

// Appends the message to `out` as a frame for sharing receivers: compressed
// without context takeover (RSV1, RFC 7692 §6.1), or as it is when under the
// threshold. The compressed bytes are framed from a scratch buffer: the
// header's size depends on their length, known only afterwards.
void pubsub_handler::encode_deflated(session& s, proto::opcode op, std::span<const std::byte> payload,
                                     std::vector<std::byte>& out, std::uint32_t& compressed) {
    const bool small = payload.size() < s.deflate().options().threshold;
    if (!small) {
        zscratch_.clear();
        s.deflate().compress_shared(payload, zscratch_);
        payload = zscratch_;
        ++compressed;
        ++stats_.compressed;
    }
    std::size_t at = out.size();
    out.resize(at + proto::frame_size(payload.size(), false));
    proto::encode_frame(std::span(out).subspan(at), op, payload, {.rsv1 = !small});
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
    if (b.compressed) m.deflated = core::shared_buffer::copy_of(b.deflated);
    b.frames.clear();  // keeps its capacity for the next turn
    b.deflated.clear();
    b.messages = 0;
    b.compressed = 0;
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
    deflate_contexts& dc = session_->deflate();
    for (connection* c : topics_.subscribers(t)) {
        if (c == skip_self || c->state != conn_state::open || (c->flags & sf_close_sent)) continue;
        // Which encoding this receiver reads: the compressed-once frames, its
        // own compression (own contexts or a smaller window), or the plain ones.
        const bool agreed = deflate_contexts::agreed(*c);
        const bool shared_z = agreed && m.deflated && dc.shares(*c);
        const core::shared_buffer& frames = shared_z ? m.deflated : m.frames;
        if (c->out.bytes() + frames.size() > opts_.max_backpressure) {
            slow_consumer(*c, m.messages);
            continue;
        }
        if (agreed && !dc.shares(*c)) recompress_for(*c, m);
        else session_->send_encoded(*c, frames);
        stats_.delivered += m.messages;
    }
}

// A receiver whose agreement rules out the shared frame (it keeps a context,
// or asked for a smaller window: RFC 7692 §7.1.2.1) gets each message
// compressed for it alone: the entry's plain frames are read back one by one
// (complete, unmasked, FIN data frames: we wrote them).
void pubsub_handler::recompress_for(connection& c, const broadcast_message& m) {
    std::span<const std::byte> rest = m.frames.bytes();
    while (!rest.empty()) {
        proto::frame_header h;
        std::size_t header = proto::decode_header(rest, h).size;
        auto payload = rest.subspan(header, static_cast<std::size_t>(h.length));
        session_->send_message(c, static_cast<proto::opcode>(h.opcode_bits), payload);
        rest = rest.subspan(header + payload.size());
        ++stats_.recompressed;
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

}  // namespace wsring::modes

// pubsub_handler, phase 4: fan out on the way out. drain() flushes this
// turn's batches, wakes the reactors they concern and reads the ring with
// this reactor's cursor; deliver() hands each entry to the local subscribers
// of its topic by reference, in the encoding each reads (plain or compressed
// once, bare or with positions), skipping what a subscriber had already.
// Slow consumers are closed 1008 or skipped here (RFC 6455 §7.4.1). Not here:
// what enters the ring (pubsub_publish.cpp). Read next: docs/broadcast-ring.md,
// "In the server".
#include "modes/pubsub_handler.hpp"

#include <algorithm>
#include <array>
#include <limits>

#include "modes/position_frames.hpp"
#include "net/session.hpp"

namespace wsring::modes {

using net::conn_state;
using net::deflate_contexts;

void pubsub_handler::flush_batches() {
    for (std::uint32_t t : pending_) flush_batch(t);
    pending_.clear();
}

bool pubsub_handler::pending() const {
    return hub_.entries().has_pending(index_) || (hub_.remote() && hub_.inbox(index_).has_mail());
}

void pubsub_handler::drain() {
    if (index_ == 0) hub_.log().sweep();  // at most once a second; one reactor is enough
    // Before the ring: a topic synced since the last turn must know where it
    // starts before its entries are delivered.
    if (hub_.remote() && hub_.inbox(index_).has_mail()) read_inbox();
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
    consume_ns_ = 0;  // deliver() reads the clock once, if it delivers anything
    while (total < max) {
        std::size_t n = hub_.entries().poll(index_, std::min<std::size_t>(256, max - total),
                                            [this](const broadcast_message& m) { deliver(m); });
        total += n;
        if (n == 0) break;
    }
    return total;
}

// One entry to every local subscriber of its topic, in the encoding each
// reads: plain or compressed once (permessage-deflate), bare or with
// positions (wsring.v1). Nothing here can end a connection (close() only
// queues a close frame), so the subscriber list stays valid during the walk.
void pubsub_handler::deliver(const broadcast_message& m) {
    std::uint32_t t = topics_.find(m.topic.text());
    if (t == topic_table::none) return;  // no local subscriber
    local_topic& lt = locals_[t];
    if (!lt.synced && !start_synced(t, m.topic.text())) return;  // multi-node: not followed yet
    if (m.reset_epoch) return deliver_reset(m, t);
    // Positions: skip what these subscribers have had already (a replay
    // that reached past this entry, or offsets from before they came).
    const std::uint64_t end = m.first_offset + m.messages;
    if (end <= lt.next) return;
    const auto skip = static_cast<std::uint32_t>(lt.next > m.first_offset ? lt.next - m.first_offset : 0);
    lt.next = end;
    if (consume_ns_ == 0) consume_ns_ = ring_clock_ns();
    if (m.published_ns != 0 && consume_ns_ >= m.published_ns)
        delivery_.observe_n(static_cast<std::uint64_t>(consume_ns_ - m.published_ns), m.messages - skip);
    // Encodings the entry came without, made here once for all our
    // subscribers: wsring.v1 frames when its publisher saw no v1 subscriber
    // anywhere (history off); compressed ones when it saw no sharing
    // receiver (one joined since), or when a broker delivered it (Redis
    // carries plain frames only).
    core::shared_buffer own_v1, own_z, own_v1_z;
    const auto deflated = [this](const core::shared_buffer& made, const core::shared_buffer& of,
                                 core::shared_buffer& own) -> const core::shared_buffer& {
        if (made) return made;
        if (!own) own = deflated_form(of);
        return own;
    };
    // Where each encoding starts after `skip` messages: found once, lazily.
    enum { plain, plain_z, v1, v1_z, encodings };
    std::array<std::size_t, encodings> begin;
    begin.fill(skip ? std::numeric_limits<std::size_t>::max() : 0);
    const connection* skip_self = nullptr;
    if (!opts_.echo_self && m.origin.reactor == index_) {
        skip_self = m.origin.conn;
        if (auto it = by_ticket_.find(m.origin.ticket); m.origin.ticket && it != by_ticket_.end())
            skip_self = it->second;
    }
    deflate_contexts& dc = session_->deflate();
    for (connection* c : topics_.subscribers(t)) {
        if (c == skip_self || c->state != conn_state::open || !c->ws.can_send()) continue;
        const bool agreed = deflate_contexts::agreed(*c);
        const bool shares = agreed && dc.shares(*c);
        int e = plain;
        const core::shared_buffer* text = &m.frames;  // the uncompressed form of what it reads
        if (c->mode & mode_v1) {
            if (!m.v1 && !own_v1) own_v1 = encode_v1_frames(m.frames.bytes(), lt.epoch, m.first_offset);
            text = m.v1 ? &m.v1 : &own_v1;
            e = shares ? v1_z : v1;
        } else if (shares) {
            e = plain_z;
        }
        const core::shared_buffer& frames = e == plain_z ? deflated(m.deflated, m.frames, own_z)
                                            : e == v1_z  ? deflated(m.v1_deflated, *text, own_v1_z)
                                                         : *text;
        if (begin[e] == std::numeric_limits<std::size_t>::max()) begin[e] = frame_offset(frames.bytes(), skip);
        if (c->out.bytes() + frames.size() - begin[e] > backpressure_cap(*c)) {
            slow_consumer(*c, m.messages - skip);
            continue;
        }
        if (agreed && !shares) recompress_for(*c, text->bytes(), frame_offset(text->bytes(), skip));
        else session_->send_encoded(*c, frames, begin[e], frames.size(), m.messages - skip);
        stats_.delivered += m.messages - skip;
    }
}

// Multi-node: the broker could not repair a gap in the topic (its history
// in Redis is gone). Subscribers speaking wsring.v1 are told where it stands
// now ("!unrecovered", docs/protocol-v1.md §6); the others cannot be, so
// they are closed 1012 ("service restart") to reconnect and start afresh.
void pubsub_handler::deliver_reset(const broadcast_message& m, std::uint32_t t) {
    local_topic& lt = locals_[t];
    // A reset from before our subscribers came: they started after it.
    if (lt.epoch == m.reset_epoch.text() && lt.next >= m.first_offset) return;
    lt.epoch.assign(m.reset_epoch.text());
    lt.next = m.first_offset;
    for (connection* c : topics_.subscribers(t)) {
        if (c->state != conn_state::open || !c->ws.can_send()) continue;
        if (c->mode & mode_v1) {
            ++stats_.unrecovered;
            session_->send_encoded(*c, m.v1, 1);
        } else {
            session_->close(*c, proto::close_code::service_restart, "topic history lost: reconnect");
        }
    }
}

// A receiver whose agreement rules out the shared frame (it keeps a context,
// or asked for a smaller window: RFC 7692 §7.1.2.1) gets each message
// compressed for it alone: the entry's plain frames are read back one by one
// (complete, unmasked, FIN data frames: we wrote them).
void pubsub_handler::recompress_for(connection& c, std::span<const std::byte> frames, std::size_t begin) {
    for_each_frame(frames, begin, [&](proto::opcode op, std::span<const std::byte> payload, bool) {
        session_->send_message(c, op, payload);
        ++stats_.recompressed;
    });
}

// --max-backpressure, plus what is left of a replay's allowance.
std::size_t pubsub_handler::backpressure_cap(const connection& c) {
    if (replay_allowance_.empty()) return opts_.max_backpressure;
    auto it = replay_allowance_.find(&c);
    if (it == replay_allowance_.end()) return opts_.max_backpressure;
    if (c.out.bytes() <= opts_.max_backpressure) {  // the replay has drained: a subscriber like any other
        replay_allowance_.erase(it);
        return opts_.max_backpressure;
    }
    return opts_.max_backpressure + it->second;
}

void pubsub_handler::slow_consumer(connection& c, std::uint32_t messages) {
    if (opts_.slow == slow_consumer_policy::skip) {
        stats_.skipped += messages;
        ++stats_.skip_events;
        return;
    }
    ++stats_.slow_closed;
    // RFC 6455 §7.4.1: 1008, "a message that violates its policy". The close
    // frame queues behind the backlog; close_timeout bounds the wait.
    session_->close(c, proto::close_code::policy_violation, "slow consumer");
}

}  // namespace wsring::modes

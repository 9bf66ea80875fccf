// pubsub_handler, phase 3: publish on the way in. A client's message joins
// its topic's batch for this turn (encoded once, and compressed once for
// sharing receivers: RFC 7692 §6.1); publish() is the one way into the ring,
// and flush_batch hands a batch to the broker instead (multi-node). Rules
// 1 and 2 of core/broadcast_ring.hpp are kept in publish()'s on_stall: drain
// our own cursor while the ring is full (consume()), having woken the others
// first (wake_others()). Not here: fan-out (pubsub_deliver.cpp), the
// broker's answers (pubsub_broker.cpp), POST /publish (pubsub_http.cpp).
#include "modes/pubsub_handler.hpp"

#include "modes/position_frames.hpp"
#include "net/session.hpp"
#include "proto/encoder.hpp"

namespace wsring::modes {

// Encode once (a server frame is unmasked: the same bytes serve every
// receiver). The payload points into the receive buffer, so this encoding is
// also the one copy the message gets before the kernel's. Small frames join
// their topic's batch for this turn; a large one goes alone, after it.
void pubsub_handler::on_message(session& s, connection& c, proto::opcode op,
                                std::span<const std::byte> payload) {
    // The token's roles may subscribe here but not publish (net/access_policy):
    // RFC 6455 §7.4.1's 1008, "a message that violates its policy".
    if (c.flags & net::sf_read_only) return s.close(c, proto::close_code::policy_violation, "publish not allowed");
    ++stats_.published;
    const std::size_t n = proto::frame_size(payload.size(), false);
    if (batches_.size() <= c.topic) batches_.resize(c.topic + 1);
    batch& b = batches_[c.topic];
    // --no-echo-self needs each entry's sender: one origin per batch; so
    // does a broker (it may refuse a batch, and its publisher is told).
    const bool remote = hub_.remote() != nullptr;
    const connection* origin = opts_.echo_self && !remote ? nullptr : &c;
    if (b.messages && (b.origin != origin || b.frames.size() + n > batch_max)) flush_batch(c.topic);
    if (n > batch_max && !remote) {
        auto frame = core::shared_buffer::make(
            n, [&](std::span<std::byte> out) { proto::encode_frame(out, op, payload); });
        broadcast_message m{std::move(frame), topics_.name(c.topic), {index_, &c}, 1};
        if (want_deflate(s)) {
            std::vector<std::byte> z;
            std::uint32_t compressed = 0;
            encode_deflated(s, op, payload, z, compressed);
            m.deflated = core::shared_buffer::copy_of(z);
        }
        publish(std::move(m));
        return;
    }
    if (b.messages == 0) {
        b.first_ns = ring_clock_ns();
        b.topic = topics_.name(c.topic);
        b.origin = origin;
        b.ticket = remote ? ticket_of(c) : 0;
        // Multi-node: the frames go to Redis plain and come back plain; each
        // reactor that delivers them compresses them once (deliver()).
        b.deflate = !remote && want_deflate(s);
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

// Every message of an entry's `frames` as encode_deflated() frames it for
// sharing receivers; `frames` itself when none reached the threshold.
core::shared_buffer pubsub_handler::deflated_form(const core::shared_buffer& frames) {
    std::vector<std::byte> z;
    std::uint32_t compressed = 0;
    for_each_frame(frames.bytes(), 0, [&](proto::opcode op, std::span<const std::byte> payload, bool) {
        encode_deflated(*session_, op, payload, z, compressed);
    });
    return compressed ? core::shared_buffer::copy_of(z) : frames;
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

// THE publish: the one place a message enters the ring. The topic log
// hands out the entry's offsets and, in the same critical section, we
// encode the wsring.v1 frames (they carry those offsets, and become the
// topic's history) and claim the ring sequence, so ring order is offset
// order for every reactor. Compressing the v1 frames waits until after the
// lock: consumers only pause at our claimed slot meanwhile.
std::uint64_t pubsub_handler::publish(broadcast_message m, std::string* epoch) {
    const bool v1 = hub_.log().keeps_history() || hub_.has_v1_receivers();
    if (m.published_ns == 0) m.published_ns = ring_clock_ns();
    std::uint64_t seq = 0;
    m.first_offset = hub_.log().append(
        m.topic.text(), m.messages, [&](std::string_view topic_epoch, std::uint64_t first) {
            if (v1) m.v1 = encode_v1_frames(m.frames.bytes(), topic_epoch, first);
            if (epoch) *epoch = topic_epoch;
            seq = producer_.claim();
            return m.v1;
        });
    const std::uint64_t first = m.first_offset;
    if (m.v1 && m.deflated && hub_.has_v1_receivers()) m.v1_deflated = deflated_form(m.v1);
    ++stats_.entries;
    producer_.publish_claimed(seq, std::move(m), [this] {
        wake_others();             // rule 2: they may sleep on entries we published
        consume(opts_.drain_max);  // rule 1: we may be the slowest consumer
    });
    unwoken_ = true;
    return first;
}

topic_position pubsub_handler::publish_now(std::string_view topic, proto::opcode op,
                                           std::span<const std::byte> payload) {
    ++stats_.published;
    core::shared_buffer name;
    if (std::uint32_t t = topics_.find(topic); t != topic_table::none) {
        if (t < batches_.size()) flush_batch(t);  // this turn's messages from our clients first
        name = topics_.name(t);
    } else {
        name = core::shared_buffer::copy_of_text(topic);
    }
    auto frame = core::shared_buffer::make(proto::frame_size(payload.size(), false),
                                           [&](std::span<std::byte> out) { proto::encode_frame(out, op, payload); });
    broadcast_message m{std::move(frame), std::move(name), {}, 1};
    if (want_deflate(*session_)) {
        std::vector<std::byte> z;
        std::uint32_t compressed = 0;
        encode_deflated(*session_, op, payload, z, compressed);
        m.deflated = core::shared_buffer::copy_of(z);
    }
    topic_position p;
    p.offset = publish(std::move(m), &p.epoch);
    return p;
}

void pubsub_handler::flush_batch(std::uint32_t topic) {
    batch& b = batches_[topic];
    if (b.messages == 0) return;
    if (hub_.remote()) return publish_remote(topic, b);
    broadcast_message m{core::shared_buffer::copy_of(b.frames), std::move(b.topic),
                        {b.origin ? index_ : broadcast_origin::no_reactor, b.origin}, b.messages};
    if (b.deflate) m.deflated = b.compressed ? core::shared_buffer::copy_of(b.deflated) : m.frames;
    m.published_ns = b.first_ns;
    b.frames.clear();  // keeps its capacity for the next turn
    b.deflated.clear();
    b.messages = 0;
    b.compressed = 0;
    b.origin = nullptr;
    publish(std::move(m));
}

// Multi-node: the batch goes to the broker as it is (plain frames); the
// v1 and compressed forms are made where it is delivered. A refusal comes
// back through our own inbox, so it is handled like any other outcome, at
// a point where closing its publisher is safe.
void pubsub_handler::publish_remote(std::uint32_t, batch& b) {
    broker_publish p{index_, b.ticket, std::string(b.topic.text()), std::move(b.frames), b.messages};
    const std::uint64_t ticket = b.ticket;
    b.frames.clear();
    b.topic = {};
    b.messages = 0;
    b.origin = nullptr;
    b.ticket = 0;
    ++stats_.entries;
    if (!hub_.remote()->publish(std::move(p)))
        hub_.inbox(index_).post({ticket, false, {}, 0, "redis unavailable"});
}

}  // namespace wsring::modes

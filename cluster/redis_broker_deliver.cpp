// redis_broker, messages from Redis: a channel batch (cluster/redis_wire.hpp)
// becomes one ring entry, its v1 and plain frames encoded once, appended to
// the topic log (topic_log::append_remote) and claimed in the ring under the
// log's lock, so every node applies a topic's messages in Redis' channel
// order. A batch for a topic that is not live is held; one that shows a gap
// sends the topic back to sync. Syncing and repair are
// redis_broker_topics.cpp; the reactors' fan-out is modes/. Read next:
// modes/broadcast_hub.hpp.
#include "cluster/redis_broker_impl.hpp"

#include <charconv>
#include <string>

#include "modes/position_frames.hpp"
#include "net/log.hpp"
#include "proto/encoder.hpp"

namespace wsring::cluster {

// Server frames (unmasked, FIN) of the messages, back to back.
core::shared_buffer detail::plain_frames(std::span<const wire_message> messages) {
    std::size_t n = 0;
    for (const wire_message& m : messages) n += proto::frame_size(m.payload.size(), false);
    return core::shared_buffer::make(n, [&](std::span<std::byte> out) {
        for (const wire_message& m : messages) {
            const std::size_t k = proto::frame_size(m.payload.size(), false);
            proto::encode_frame(out.first(k), m.op, m.payload);
            out = out.subspan(k);
        }
    });
}

void redis_broker::impl::on_channel(std::string_view channel, std::string_view payload) {
    auto it = topics.find(std::string(topic_of_channel(channel)));
    if (it == topics.end()) return;  // unsubscribed meanwhile
    topic& t = it->second;
    if (t.needs_sync || t.syncing) return hold(t, payload);
    apply(t, payload);
}

void redis_broker::impl::hold(topic& t, std::string_view payload) {
    if (t.held_bytes + payload.size() > max_held_bytes) {
        t.held.clear();
        t.held_bytes = 0;
    }
    t.held.emplace_back(payload);
    t.held_bytes += payload.size();
}

void redis_broker::impl::apply(topic& t, std::string_view payload) {
    channel_batch b;
    if (!parse_channel_batch(payload, b) || b.messages.empty()) {
        net::log(net::log_level::warn, "broker_malformed",
                 "redis: malformed message on the channel of topic %s (dropped)", t.name.c_str());
        return;
    }
    switch (deliver(t, b.epoch, b.first, b.messages, b.origin)) {
    case modes::remote_append::applied: ++count.received; break;
    case modes::remote_append::duplicate: ++count.duplicates; break;
    case modes::remote_append::not_synced: break;
    case modes::remote_append::gap:
    case modes::remote_append::other_epoch:
        // Missed something (or Redis lost the topic): read the stream.
        t.needs_sync = true;
        hold(t, payload);
        follow(t);
        break;
    }
}

// Messages [first, first + n) into the log and the ring, encoded once.
modes::remote_append redis_broker::impl::deliver(topic& t, std::string_view epoch, std::uint64_t first,
                                                 std::span<const wire_message> messages,
                                                 std::string_view origin) {
    modes::broadcast_message m;
    m.frames = detail::plain_frames(messages);
    m.topic = t.name_buffer;
    m.messages = static_cast<std::uint32_t>(messages.size());
    m.first_offset = first;
    m.origin = origin_of(origin);
    m.v1 = modes::encode_v1_frames(m.frames.bytes(), epoch, first);
    std::uint64_t seq = 0;
    const auto r = hub.log().append_remote(t.name, epoch, first, m.messages,
                                           [&](std::string_view, std::uint64_t) {
                                               seq = producer.claim();
                                               return m.v1;
                                           });
    if (r == modes::remote_append::applied) publish_entry(seq, std::move(m));
    return r;
}

void redis_broker::impl::publish_entry(std::uint64_t seq, modes::broadcast_message m) {
    m.published_ns = modes::ring_clock_ns();  // delivery latency counts from here on this node
    // A full ring waits for the reactors: they must be awake to drain it.
    producer.publish_claimed(seq, std::move(m), [this] { hub.wake_all(); });
    unwoken = true;
}

// "<node>/<reactor>/<ticket>": ours → who published it here.
modes::broadcast_origin redis_broker::impl::origin_of(std::string_view origin) const {
    modes::broadcast_origin o;
    if (origin.size() <= node_id.size() + 1 || !origin.starts_with(node_id) || origin[node_id.size()] != '/')
        return o;
    origin.remove_prefix(node_id.size() + 1);
    const auto slash = origin.find('/');
    if (slash == std::string_view::npos) return o;
    std::uint32_t reactor = 0;
    std::uint64_t ticket = 0;
    auto r1 = std::from_chars(origin.data(), origin.data() + slash, reactor);
    auto r2 = std::from_chars(origin.data() + slash + 1, origin.data() + origin.size(), ticket);
    if (r1.ec != std::errc{} || r2.ec != std::errc{}) return o;
    o.reactor = reactor;
    o.ticket = ticket;
    return o;
}

}  // namespace wsring::cluster

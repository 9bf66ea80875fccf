// The broadcast hub: what the reactors of a node share for broadcast and
// pub/sub — the one broadcast ring and the reactors that consume it, the
// topic log (every topic's positions and history, modes/topic_log.hpp), and
// the counters that tell publishers which encodings anyone needs. The one
// way a message enters it is pubsub_handler::publish (offsets from the log,
// the ring sequence claimed in the same critical section); the HTTP publish
// API and later the cluster bridge go through the same function. Fan-out to
// sockets is per reactor (modes/pubsub_handler.hpp). Ring protocol:
// docs/broadcast-ring.md.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/broadcast_ring.hpp"
#include "core/shared_buffer.hpp"
#include "modes/broker.hpp"
#include "modes/topic_log.hpp"

namespace wsring::net {
struct connection;
class reactor;
}  // namespace wsring::net

namespace wsring::modes {

using net::connection;
using net::reactor;

// Who published a message: a reactor's client (so that reactor can leave
// the sender out under --no-echo-self), or nobody in particular.
struct broadcast_origin {
    static constexpr std::uint32_t no_reactor = 0xffffffffu;
    std::uint32_t reactor = no_reactor;
    const connection* conn = nullptr;  // meaningful only on `reactor`'s thread
    // Multi-node: the publisher's ticket on `reactor` instead of `conn`
    // (the message went round a broker; the pointer may be reused by then).
    std::uint64_t ticket = 0;
};

// One ring entry. Both buffers are immutable and shared: the frames by every
// receiver's write queue, the topic name by every entry of that topic.
// `frames` is one or more complete, unmasked server frames of one topic, in
// publish order: a reactor packs what its clients sent to a topic in one
// loop turn into one entry, so a receiver's queue takes one reference (one
// iovec) per turn instead of one per message.
struct broadcast_message {
    core::shared_buffer frames;
    core::shared_buffer topic;  // the topic's name (bytes, not NUL-terminated)
    broadcast_origin origin;    // with several frames: all from this origin
    std::uint32_t messages = 1;  // frames in `frames` (stats)
    // permessage-deflate (RFC 7692): the same messages, each compressed once
    // without context takeover, for every receiver that can read them
    // (deflate_contexts::shares). A message under the threshold is in here
    // as it is (§6: that is legal); `frames` itself when none reached it.
    // Empty when the publisher saw no such receiver, or a broker delivered
    // the entry (Redis carries plain frames): a reactor with sharing
    // receivers then compresses it once for all of them.
    core::shared_buffer deflated{};
    // Positions (modes/topic_log.hpp): the offset of the first message;
    // the others follow it one by one.
    std::uint64_t first_offset = 0;
    // The same messages for wsring.v1 subscribers, each payload prefixed
    // with its position (modes/position_frames.hpp), plain and compressed
    // once; empty when nobody needed them when it was published (a reactor
    // that finds a wsring.v1 subscriber then encodes them itself).
    core::shared_buffer v1{};
    core::shared_buffer v1_deflated{};
    // A broker could not repair a gap (modes/broker.hpp): no messages; the
    // topic now stands at `reset_epoch`:first_offset - 1 with nothing
    // before. wsring.v1 subscribers get `v1` (the "!unrecovered" notice),
    // others a close 1012. Empty for every other entry.
    core::shared_buffer reset_epoch{};
    // When it entered the ring on this node (ring_clock_ns; the batch's first
    // message for a batch): wsring_publish_to_delivery_seconds starts here.
    std::int64_t published_ns = 0;
};

// The clock of broadcast_message::published_ns: monotonic, any thread.
inline std::int64_t ring_clock_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

class broadcast_hub {
public:
    using ring = core::broadcast_ring<broadcast_message>;

    // `reactors` consumers (one per reactor, by index), `capacity` entries;
    // every topic's positions and history in `log`.
    broadcast_hub(std::size_t capacity, std::size_t reactors, const history_options& history = {},
                  topic_log::clock clock = {});

    // Before the reactors run: who to wake for consumer `i`.
    void attach(std::uint32_t i, reactor& r) { reactors_.at(i) = &r; }
    // Multi-node: the broker every publish goes through (null: this node
    // sequences, the default), and each reactor's inbox from it.
    void set_broker(broker* b) { broker_ = b; }
    broker* remote() const { return broker_; }
    broker_inbox& inbox(std::uint32_t i) { return *inboxes_.at(i); }
    // Wakes reactor `i` (any thread).
    void wake(std::uint32_t i);
    ring& entries() { return ring_; }
    topic_log& log() { return log_; }
    const topic_log& log() const { return log_; }
    std::size_t reactors() const { return reactors_.size(); }


    // Wakes every reactor but `except` that announced sleep (no syscall for
    // those awake). Any thread.
    void wake_all(std::uint32_t except = broadcast_origin::no_reactor);

    // Receivers on any reactor that read compressed-once frames: publishers
    // compress only while there is one. Relaxed: a receiver that joins a
    // moment late gets plain frames, which are always legal (RFC 7692 §6).
    void count_sharing_receiver(int delta) { sharing_.fetch_add(delta, std::memory_order_relaxed); }
    bool has_sharing_receivers() const { return sharing_.load(std::memory_order_relaxed) > 0; }
    // wsring.v1 subscribers on any reactor: with history off, publishers
    // encode the v1 frames only while there is one (relaxed, as above: a
    // reactor that finds them missing encodes its own).
    void count_v1_receiver(int delta) { v1_.fetch_add(delta, std::memory_order_relaxed); }
    bool has_v1_receivers() const { return v1_.load(std::memory_order_relaxed) > 0; }

private:
    ring ring_;
    std::vector<reactor*> reactors_;
    std::atomic<std::int64_t> sharing_{0};
    std::atomic<std::int64_t> v1_{0};
    topic_log log_;
    broker* broker_ = nullptr;
    std::vector<std::unique_ptr<broker_inbox>> inboxes_;
};

}  // namespace wsring::modes

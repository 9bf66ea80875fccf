// The broadcast hub: the one broadcast ring of a server plus the reactors
// that consume it, and publish() — the single way a message enters it, with
// one meaning: "deliver these encoded bytes to every subscriber of this
// topic, on every reactor". Reactors publish what their clients send; later
// the cluster bridge and the HTTP publish API call the same function.
// It owns the ring and the wake-ups; fan-out to sockets is per reactor
// (modes/pubsub_handler.hpp). Ring protocol: docs/broadcast-ring.md.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/broadcast_ring.hpp"
#include "core/shared_buffer.hpp"

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
    // (deflate_contexts::shares); empty when nobody needed it. A message
    // under the threshold is in here as it is (§6: that is legal).
    core::shared_buffer deflated{};
};

class broadcast_hub {
public:
    using ring = core::broadcast_ring<broadcast_message>;

    // `reactors` consumers (one per reactor, by index), `capacity` entries.
    broadcast_hub(std::size_t capacity, std::size_t reactors);

    // Before the reactors run: who to wake for consumer `i`.
    void attach(std::uint32_t i, reactor& r) { reactors_.at(i) = &r; }
    ring& entries() { return ring_; }
    std::size_t reactors() const { return reactors_.size(); }

    // THE publish. Never drops: a full ring stalls the caller, calling
    // on_stall between yields. A caller that also consumes this ring must
    // drain its own cursor in on_stall; one that defers wake_all must call it
    // there too (the rules in core/broadcast_ring.hpp). After a batch of
    // publishes, call wake_all().
    template <class Stall = ring::no_stall_work>
    void publish(ring::producer& p, broadcast_message m, Stall&& on_stall = Stall{}) {
        p.publish(std::move(m), on_stall);
    }

    // Wakes every reactor but `except` that announced sleep (no syscall for
    // those awake). Any thread.
    void wake_all(std::uint32_t except = broadcast_origin::no_reactor);

    // Receivers on any reactor that read compressed-once frames: publishers
    // compress only while there is one. Relaxed: a receiver that joins a
    // moment late gets plain frames, which are always legal (RFC 7692 §6).
    void count_sharing_receiver(int delta) { sharing_.fetch_add(delta, std::memory_order_relaxed); }
    bool has_sharing_receivers() const { return sharing_.load(std::memory_order_relaxed) > 0; }

private:
    ring ring_;
    std::vector<reactor*> reactors_;
    std::atomic<std::int64_t> sharing_{0};
};

}  // namespace wsring::modes

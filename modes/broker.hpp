// The seam between pub/sub and a message broker that spans nodes (the Redis
// bridge, cluster/redis_broker.hpp). With a broker, a reactor no longer
// sequences its clients' messages itself: it hands each topic's batch to
// the broker, which gets the offsets from the broker's sequencer and feeds
// the messages back — to this node and every other — through the topic log
// and the ring, exactly as a local publish would have (topic_log's
// `*_remote` calls). What comes back to a reactor besides messages (a
// publish's outcome, a topic now in sync) arrives in its broker_inbox.
// Read next: modes/pubsub_broker.cpp, docs/cluster.md.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wsring::modes {

// One topic's messages from one reactor's turn: unmasked server frames.
struct broker_publish {
    std::uint32_t reactor = 0;  // who hears the outcome
    std::uint64_t ticket = 0;   // the reactor's: which publisher (0: nobody waits)
    std::string topic;
    std::vector<std::byte> frames;
    std::uint32_t messages = 0;
};

// A publish's outcome, for its reactor.
struct broker_outcome {
    std::uint64_t ticket = 0;
    bool ok = false;
    std::string epoch;             // ok: the topic's epoch ...
    std::uint64_t first = 0;       // ... and the first message's offset
    std::string error;             // not ok: why ("redis unavailable", ...)
};

class broker {
public:
    virtual ~broker() = default;
    // Any reactor thread, never blocks. False: refused now (the topic's
    // broker server is down): nothing was queued and no outcome follows.
    virtual bool publish(broker_publish&& p) = 0;
    // The node's subscribers of `topic` need it in sync: subscribed at the
    // broker, its position and history in the topic log. Idempotent; the
    // reactors that wait hear "synced" in their inboxes.
    virtual void want(std::string_view topic) = 0;
    // The node's last subscriber of `topic` left: the broker may stop
    // following it (after a while: a topic that flaps is not unsubscribed
    // and subscribed again each time), through topic_log::try_unsync.
    virtual void unwant(std::string_view topic) = 0;
};

// What a broker tells one reactor. The broker posts from its thread; the
// reactor takes everything at once in its wakeup hook.
class broker_inbox {
public:
    void post(broker_outcome o) {
        std::lock_guard lock(mutex_);
        outcomes_.push_back(std::move(o));
        mail_.store(true, std::memory_order_release);
    }
    void post_synced(std::string topic) {
        std::lock_guard lock(mutex_);
        synced_.push_back(std::move(topic));
        mail_.store(true, std::memory_order_release);
    }
    // Cheap enough for every loop turn (the wakeup hook's `pending`).
    bool has_mail() const { return mail_.load(std::memory_order_acquire); }
    // Swaps everything out (the vectors passed in should be empty).
    void take(std::vector<broker_outcome>& outcomes, std::vector<std::string>& synced) {
        std::lock_guard lock(mutex_);
        outcomes.swap(outcomes_);
        synced.swap(synced_);
        mail_.store(false, std::memory_order_relaxed);
    }

private:
    std::mutex mutex_;
    std::vector<broker_outcome> outcomes_;
    std::vector<std::string> synced_;
    std::atomic<bool> mail_{false};
};

}  // namespace wsring::modes

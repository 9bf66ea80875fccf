// The Redis bridge: many nodes, one set of topics. One broker per node, on
// its own thread (no reactor ever waits for Redis), with two links per Redis
// server — one for commands (pipelined), one for subscriptions — and topics
// spread over the servers by cluster/shard_map.hpp.
//
//   publish   reactor batch → queue → EVALSHA publish_script on the topic's
//             server (offsets, stream, channel: one atomic step) → outcome
//             to the reactor's inbox (an error: the publisher is told).
//   deliver   channel message → parse → v1 + plain frames, encoded once →
//             topic_log::append_remote + ring claim under the log's lock →
//             every reactor fans out as for a local publish. Same order on
//             every node: Redis' order on the channel.
//   follow    a topic with local subscribers is SUBSCRIBEd, then synced
//             (sync_script: epoch, last offset, stream) into the topic log;
//             channel messages that race the sync are held and deduplicated.
//   repair    after a lost link: resubscribe, sync again from the log's
//             last offset; what the stream still holds is delivered in
//             order, otherwise topic_log::reset_remote (!unrecovered, 1012).
// Read next: cluster/redis_broker.cpp, docs/cluster.md.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/bucket_histogram.hpp"
#include "core/backoff.hpp"
#include "cluster/shard_map.hpp"
#include "modes/broadcast_hub.hpp"
#include "modes/broker.hpp"

namespace wsring::cluster {

struct broker_options {
    std::vector<redis_address> servers;  // --redis, at least one
    // Topics that lost their last local subscriber are unsubscribed after
    // this long without one (bounded churn for topics that flap).
    std::chrono::milliseconds unsubscribe_linger{2000};
    core::backoff_policy backoff{};
    std::chrono::milliseconds connect_timeout{2000};
    // A topic's meta key (epoch, last offset) expires this long after its
    // last publish or sync: topics do not pile up in Redis forever.
    std::chrono::milliseconds meta_ttl{std::chrono::hours(24 * 7)};
    // Publishes accepted but not yet answered by Redis, all topics: past
    // this, publish() refuses (the publisher is told, as in an outage).
    std::size_t max_pending_bytes = 64u << 20;
    // Keep each publisher's batches apart in Redis (--no-echo-self needs
    // the origin of every message); otherwise publishes to one topic in the
    // same broker turn go out as one script run.
    bool keep_origins = false;
};

struct broker_stats {
    std::uint64_t published = 0;       // batches Redis confirmed
    std::uint64_t publish_failed = 0;  // batches refused or lost with a link
    std::uint64_t received = 0;        // channel batches applied
    std::uint64_t duplicates = 0;      // ... dropped as already applied
    std::uint64_t repaired = 0;        // messages delivered from a stream after a gap
    std::uint64_t resets = 0;          // topics whose gap could not be repaired
    std::uint64_t syncs = 0;           // topic syncs done
    std::uint64_t subscribes = 0;      // SUBSCRIBE commands sent
    std::uint64_t unsubscribes = 0;    // UNSUBSCRIBE commands sent
    std::uint64_t reconnects = 0;      // links that came back after a loss
};

class redis_broker final : public modes::broker {
public:
    redis_broker(modes::broadcast_hub& hub, broker_options o);
    ~redis_broker() override;  // stops the thread

    // Starts the thread and waits until every server answered (both links
    // up), at most connect_timeout: false with `error` saying which server
    // could not be reached and why.
    bool start(std::string& error);
    void stop();

    bool publish(modes::broker_publish&& p) override;
    void want(std::string_view topic) override;
    void unwant(std::string_view topic) override;

    broker_stats stats() const;  // any thread
    // Any thread, for GET /metrics: publish sent → Redis confirmed (ns, per
    // batch), and each Redis server's state (both links up: it takes publishes).
    const core::bucket_histogram& publish_latency() const;
    std::size_t servers() const;
    std::string server_name(std::size_t i) const;
    bool server_up(std::size_t i) const;

private:
    struct impl;  // the thread's world: links, topics, queues (redis_broker_impl.hpp)
    std::unique_ptr<impl> impl_;
};

}  // namespace wsring::cluster

// Broadcast and pub/sub modes: one handler per reactor. A message from a
// client is encoded once into a shared buffer (with whatever else its topic
// got in the same loop turn) and published to the hub's ring; each reactor,
// once per loop turn (phase 4), reads the ring with its own cursor and hands
// each entry to its local subscribers of that topic by reference
// (session::send_encoded). Broadcast mode is pub/sub where every connection
// subscribes to the one topic "". Slow consumers: a receiver whose queued
// output would pass the cap is closed 1008 or skipped, never waited for.
// permessage-deflate: a message is also compressed once, on the publishing
// reactor, and that frame is shared by every receiver able to read it
// (docs/deflate.md, "Compress once, deliver to many").
// Positions (wsring.v1, docs/protocol-v1.md): every entry carries the offset
// of its first message, handed out by the topic log in ring order; a
// subscriber that offered wsring.v1 gets each message with its position
// first, a fresh one a "!position" notice, and one that comes back with
// `since` the messages it missed, from history, before the live ones.
// Multi-node (a broker in the hub, modes/broker.hpp): batches go to the
// broker instead of the ring, and come back — from every node — through
// the log and the ring; a subscriber of a topic this node does not follow
// yet waits ("parked") until the broker synced it; a publish the broker
// could not take is answered: close 1011, "!error" (wsring.v1), HTTP 503.
// Read next, in modes/: pubsub_handler.cpp (subscribers), pubsub_publish.cpp
// (phase 3), pubsub_deliver.cpp (phase 4), pubsub_broker.cpp (multi-node),
// pubsub_http.cpp (POST /publish); then docs/broadcast-ring.md, "In the server".
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/bucket_histogram.hpp"
#include "core/counter.hpp"
#include "modes/broadcast_hub.hpp"
#include "modes/topic_log.hpp"
#include "net/message_handler.hpp"
#include "proto/wsring_v1.hpp"
#include "modes/topic_table.hpp"

namespace wsring::net {
struct server_options;
}  // namespace wsring::net

namespace wsring::modes {

using net::message_handler;
using net::session;
using net::server_options;

enum class slow_consumer_policy : std::uint8_t {
    close,  // close 1008 "slow consumer" (RFC 6455 §7.4.1: policy violation)
    skip,   // leave the message out for that receiver only
};

struct fanout_options {
    bool per_path_topics = true;   // pubsub: the path names the topic; false: broadcast
    bool echo_self = true;         // false: the sender is left out (--no-echo-self)
    slow_consumer_policy slow = slow_consumer_policy::close;
    std::size_t max_backpressure = 1u << 20;  // queued output per receiver
    std::size_t ring_capacity = 1u << 16;     // entries (a power of two)
    std::size_t drain_max = 4096;             // ring entries per loop turn
    history_options history{};                // positions and history (modes/topic_log.hpp)
    std::string api_key{};                    // HTTP publish API: empty = off (modes/publish_api.hpp)
};

// Per reactor, written by its loop; readable from any thread (core/counter.hpp),
// exact once the reactor has stopped.
struct fanout_stats {
    core::counter published = 0;    // messages this reactor's clients published
    core::counter entries = 0;      // ring entries they went out in
    core::counter delivered = 0;    // messages queued to receivers
    core::counter skipped = 0;      // messages left out (skip policy)
    core::counter skip_events = 0;  // ... times a receiver was left out of an entry
    core::counter slow_closed = 0;  // receivers closed 1008 (close policy)
    core::counter stalls = 0;       // publishes that found the ring full
    core::counter compressed = 0;   // messages compressed once for sharing receivers
    core::counter recompressed = 0; // messages compressed for one receiver (own contexts, other window)
    core::counter recovered = 0;    // wsring.v1 resubscriptions answered from history
    core::counter unrecovered = 0;  // ... answered "!unrecovered"
    core::counter replayed = 0;     // messages sent from history
    core::counter http_published = 0;  // messages published by POST /publish (also in `published`)
    core::counter refused = 0;      // multi-node: publishes the broker did not take
};

// The subscriber's framing, in connection::mode.
enum pubsub_mode : std::uint8_t {
    mode_v1 = 1 << 0,  // wsring.v1: positions first (proto/wsring_v1.hpp)
};

class pubsub_handler final : public message_handler {
public:
    pubsub_handler(broadcast_hub& hub, std::uint32_t index, const fanout_options& o);

    // Before the reactor runs (server_options::setup_reactor): registers it
    // with the hub and installs the wakeup hook (pending + drain).
    void attach(reactor& r);

    std::span<const std::string_view> subprotocols() const override;
    std::string on_upgrade(session& s, connection& c, const net::upgrade_info& u) override;
    void on_open(session& s, connection& c) override;
    void on_message(session& s, connection& c, proto::opcode op,
                    std::span<const std::byte> payload) override;
    void on_close(session& s, connection& c, proto::close_code code) override;
    // The HTTP publish API (modes/publish_api.hpp), with --api-key.
    bool on_http_head(session& s, connection& c, const proto::http_request& req,
                      net::http_answer& answer) override;
    void on_http_body(session& s, connection& c, const proto::http_request& req,
                      std::span<const std::byte> body, net::http_answer& answer) override;
    void on_http_abandoned(session& s, connection& c) override;

    // Publishes one message to `topic` now (after what this reactor's
    // clients sent to it this turn); returns its position.
    topic_position publish_now(std::string_view topic, proto::opcode op, std::span<const std::byte> payload);

    // The wakeup hook: whether the ring holds entries for us; and phase 4:
    // wake the reactors our publishes concern, then fan out up to drain_max.
    bool pending() const;
    void drain();

    fanout_stats stats() const;
    // Entry into the ring → queued to this reactor's subscribers, per
    // message, in ns (wsring_publish_to_delivery_seconds). Any thread.
    const core::bucket_histogram& delivery_latency() const { return delivery_; }
    const topic_table& topics() const { return topics_; }

private:
    // What this reactor's clients sent to one topic in this loop turn, not
    // yet in the ring (published as one entry in phase 4, or earlier when
    // it would grow past batch_max or another origin must be told apart).
    struct batch {
        core::shared_buffer topic;
        const connection* origin = nullptr;
        std::uint64_t ticket = 0;         // multi-node: the origin's (ticket_of)
        std::vector<std::byte> frames;
        std::vector<std::byte> deflated;  // the same messages for sharing receivers
        std::uint32_t messages = 0;
        std::uint32_t compressed = 0;     // of them, compressed in `deflated`
        bool deflate = false;             // decided at the batch's first message
        std::int64_t first_ns = 0;        // ring_clock_ns() at its first message
    };
    static constexpr std::size_t batch_max = 16u << 10;  // larger frames go alone

    // What this reactor knows of a topic it has subscribers for (by local
    // topic index): its epoch, and the offset its subscribers get next.
    // Entries before it were handed out already (replayed from history,
    // or published before these subscribers came): delivery skips them.
    struct local_topic {
        std::string epoch;
        std::uint64_t next = 1;
        bool synced = true;  // multi-node: false until the broker synced the topic
    };
    // A wsring.v1 subscriber waiting for its topic's sync, and its `since`.
    struct parked {
        connection* conn = nullptr;
        bool since_given = false;
        std::string since_epoch;
        std::uint64_t since_offset = 0;
    };
    // A wsring.v1 upgrade's `since`, from on_upgrade to on_open (the same call).
    struct pending_since {
        bool given = false;
        std::string storage;
        proto::v1::position pos;
    };

    // pubsub_handler.cpp: subscribers
    void retain_topic(std::uint32_t t, std::string_view name);
    void send_position(session& s, connection& c);
    // pubsub_publish.cpp: phase 3
    bool want_deflate(session& s) const;
    void encode_deflated(session& s, proto::opcode op, std::span<const std::byte> payload,
                         std::vector<std::byte>& out, std::uint32_t& compressed);
    core::shared_buffer deflated_form(const core::shared_buffer& frames);
    std::uint64_t publish(broadcast_message m, std::string* epoch = nullptr);
    void flush_batch(std::uint32_t topic);
    void publish_remote(std::uint32_t topic, batch& b);
    // pubsub_deliver.cpp: phase 4
    void flush_batches();
    void wake_others();
    std::size_t consume(std::size_t max);
    void deliver(const broadcast_message& m);
    void deliver_reset(const broadcast_message& m, std::uint32_t t);
    void recompress_for(connection& c, std::span<const std::byte> frames, std::size_t begin);
    std::size_t backpressure_cap(const connection& c);
    void slow_consumer(connection& c, std::uint32_t messages);
    // pubsub_broker.cpp: multi-node
    std::uint64_t ticket_of(connection& c);
    void forget_ticket(const connection& c);
    void read_inbox();
    void on_outcome(const broker_outcome& o);
    void on_synced(std::string_view topic);
    bool start_synced(std::uint32_t t, std::string_view topic);

    broadcast_hub& hub_;
    broadcast_hub::ring::producer producer_;
    std::uint32_t index_;
    fanout_options opts_;
    session* session_ = nullptr;
    topic_table topics_;
    std::vector<batch> batches_;          // by local topic index
    std::vector<std::uint32_t> pending_;  // topics whose batch is not empty
    std::vector<local_topic> locals_;     // by local topic index
    pending_since since_;
    // Subscribers still sending a large replay: the slow-consumer cap is
    // raised by the replay's bytes (shared references, not copies) until
    // their queue is back under it, so a returning client is not closed
    // 1008 for the history it asked for.
    std::unordered_map<const connection*, std::size_t> replay_allowance_;
    std::vector<std::byte> zscratch_;     // one compressed payload before framing
    // Multi-node. A publisher's ticket names it in the broker's outcomes
    // (a pointer could be reused by the time one comes back).
    std::uint64_t next_ticket_ = 1;
    std::unordered_map<const connection*, std::uint64_t> tickets_;
    std::unordered_map<std::uint64_t, connection*> by_ticket_;
    std::vector<parked> parked_;
    std::vector<broker_outcome> outcomes_;  // read_inbox's scratch
    std::vector<std::string> synced_;
    bool unwoken_ = false;  // published since others were last woken
    std::int64_t consume_ns_ = 0;  // the clock, read once per consume() (0: not yet)
    fanout_stats stats_;
    core::bucket_histogram delivery_;  // ring entry → queued here, per message
};

// Every handler's counters summed (any thread; null entries skipped): the
// stop line's figures and GET /metrics' (modes/fanout_metrics.cpp).
fanout_stats sum_stats(const std::vector<pubsub_handler*>& handlers);

// Wires broadcast/pubsub into `so`: one hub for all reactors, one handler
// per reactor (make_handler, setup_reactor, reactor_exited). `handlers`
// receives the per-reactor handlers for stats (valid while the server lives).
std::shared_ptr<broadcast_hub> install_fanout(server_options& so, const fanout_options& fo,
                                              std::shared_ptr<std::vector<pubsub_handler*>> handlers);

}  // namespace wsring::modes

// redis_broker::impl: the broker thread's world, shared by the files that
// make up the broker — its state (links, topics, the reactors' queue,
// counters) and the list of what it does, grouped by the file that does it.
// Private to cluster/redis_broker*.cpp (installed with every header, but no
// API): the public face stays cluster/redis_broker.hpp. It owns no behaviour;
// the "why" of each step is at its definition. Read next:
// cluster/redis_broker.cpp (the loop), cluster/redis_broker_topics.cpp.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cluster/redis_broker.hpp"
#include "cluster/redis_link.hpp"
#include "cluster/redis_wire.hpp"
#include "core/shared_buffer.hpp"

namespace wsring::cluster {

namespace detail {
// Helpers more than one of the broker's files needs (random_text:
// cluster/redis_broker.cpp; plain_frames: redis_broker_deliver.cpp).
std::string random_text(std::mt19937_64& rng, std::size_t n);
core::shared_buffer plain_frames(std::span<const wire_message> messages);
}  // namespace detail

struct redis_broker::impl {
    using clock = std::chrono::steady_clock;

    // A topic this node follows (or is about to, or stops following).
    struct topic {
        std::string name;
        core::shared_buffer name_buffer;  // shared by every ring entry of the topic
        topic_keys keys;
        std::size_t shard = 0;
        bool subscribing = false;  // SUBSCRIBE sent, not confirmed
        bool subscribed = false;   // confirmed on the current sub link
        bool needs_sync = true;    // the log does not know where Redis stands
        bool syncing = false;      // sync_script sent, no reply yet
        std::optional<clock::time_point> linger_until;  // unwanted: unsubscribe then
        std::optional<clock::time_point> retry_sync;    // the last sync was refused: again then
        std::vector<std::string> held;  // channel messages that came while not live
        std::size_t held_bytes = 0;
    };
    // Held messages past this (a command link down for long while the
    // subscription link still receives) are dropped: the next live message
    // then shows the gap, and the stream repairs it.
    static constexpr std::size_t max_held_bytes = 16u << 20;
    struct shard {
        std::unique_ptr<redis_link> cmd, sub;
        bool scripts_loaded = false;
        bool loading = false;   // SCRIPT LOAD sent, answers not all in
        std::optional<clock::time_point> retry_load;  // Redis said not yet (-LOADING)
        bool was_up = false;  // both links were up once: later ups are reconnects
    };
    struct request {
        enum class kind : std::uint8_t { publish, want, unwant } what;
        modes::broker_publish publish;
        std::string topic;
    };

    impl(modes::broadcast_hub& h, broker_options o);
    ~impl();

    modes::broadcast_hub& hub;
    broker_options opts;
    shard_map shards;
    modes::broadcast_hub::ring::producer producer;
    std::mt19937_64 rng;
    std::string node_id;  // names this node in a batch's origin (--no-echo-self)

    // ---- shared with the reactors --------------------------------------------
    std::mutex mutex;
    std::vector<request> queue;
    std::condition_variable started_cv;
    bool started_done = false;
    std::unique_ptr<std::atomic<bool>[]> shard_up;  // both links up: publish() takes
    std::vector<std::string> last_errors;           // per shard: why it last went down
    std::atomic<std::size_t> pending_bytes{0};
    std::atomic<bool> signalled{false};
    std::atomic<bool> stopping{false};
    int wake_fd = -1;
    std::thread thread;

    struct counters {
        std::atomic<std::uint64_t> published{0}, publish_failed{0}, received{0}, duplicates{0},
            repaired{0}, resets{0}, syncs{0}, subscribes{0}, unsubscribes{0}, reconnects{0};
    } count;
    // Publish sent → Redis confirmed, per batch (written by our thread only).
    core::bucket_histogram publish_latency;

    // ---- the thread's own ------------------------------------------------------
    std::vector<shard> links;
    std::unordered_map<std::string, topic> topics;
    std::vector<request> taken;
    bool unwoken = false;  // entries published since the reactors were last woken

    // ---- the loop: cluster/redis_broker.cpp -------------------------------------
    void enqueue(request r);
    // Both links up and the scripts loaded: publishes and syncs may go.
    bool shard_ready(std::size_t s) const {
        return links[s].cmd->up() && links[s].sub->up() && links[s].scripts_loaded;
    }
    void run();
    void make_links(std::size_t s);
    void check_started();
    void take_requests();

    // ---- links up and down: cluster/redis_broker_shards.cpp ----------------------
    void on_link_up(std::size_t s);
    void load_scripts(std::size_t s);
    void reload_scripts(std::size_t s);
    void shard_ready_now(std::size_t s);
    void on_link_down(std::size_t s, const std::string& why, bool sub);

    // ---- following topics: cluster/redis_broker_topics.cpp -----------------------
    void on_want(const std::string& name);
    void on_unwant(const std::string& name);
    void linger(clock::time_point now);
    void retry(clock::time_point now);
    void follow(topic& t);
    void start_sync(topic& t);
    void on_sync_reply(const std::string& name, const redisReply* r);
    void sync_new(topic& t, const sync_reply& s);
    void repair(topic& t, const modes::topic_position& at, const sync_reply& s);
    void reset(topic& t, std::string_view epoch, std::uint64_t last);

    // ---- messages from Redis: cluster/redis_broker_deliver.cpp -------------------
    void on_channel(std::string_view channel, std::string_view payload);
    void hold(topic& t, std::string_view payload);
    void apply(topic& t, std::string_view payload);
    modes::remote_append deliver(topic& t, std::string_view epoch, std::uint64_t first,
                                 std::span<const wire_message> messages, std::string_view origin);
    void publish_entry(std::uint64_t seq, modes::broadcast_message m);
    modes::broadcast_origin origin_of(std::string_view origin) const;

    // ---- publishing: cluster/redis_broker_publish.cpp ----------------------------
    void send_publishes(std::vector<modes::broker_publish*>& ps);
    void send_group(const std::vector<modes::broker_publish*>& group);
    void tell(std::uint32_t reactor, modes::broker_outcome o);
};

}  // namespace wsring::cluster

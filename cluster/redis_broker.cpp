// redis_broker: the bridge's thread and everything it owns. Reactors talk
// to it through one queue (publish, want, unwant) and an eventfd; it talks
// back through the topic log + ring (messages) and the reactors' inboxes
// (outcomes, "synced"). Per topic it keeps a small state machine:
//
//   want ──▶ SUBSCRIBE sent ──confirmed──▶ sync_script ──reply──▶ live
//                 ▲                            ▲                  │
//                 │ link back up               │ gap, other epoch │
//                 └──────── link lost ◀────────┴──────────────────┘
//
// Channel messages that come while a topic is not live are held and applied
// after its sync; the log's append_remote drops what the sync already
// covered, so the hand-off has no gap and no duplicate. Read next:
// cluster/redis_wire.hpp (what the scripts do), docs/cluster.md.
#include "cluster/redis_broker.hpp"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "cluster/redis_link.hpp"
#include "cluster/redis_wire.hpp"
#include "modes/position_frames.hpp"
#include "net/log.hpp"
#include "proto/encoder.hpp"
#include "proto/wsring_v1.hpp"

namespace wsring::cluster {

using clock = std::chrono::steady_clock;
using modes::broker_outcome;
using modes::broker_publish;

namespace {

std::string random_text(std::mt19937_64& rng, std::size_t n) {
    static constexpr std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    std::string s(n, '0');
    for (char& c : s) c = alphabet[pick(rng)];
    return s;
}

core::shared_buffer buffer_of(std::string_view s) {
    return core::shared_buffer::copy_of(std::as_bytes(std::span(s.data(), s.size())));
}

// Server frames (unmasked, FIN) of the messages, back to back.
core::shared_buffer plain_frames(std::span<const wire_message> messages) {
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

}  // namespace

struct redis_broker::impl {
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
        broker_publish publish;
        std::string topic;
    };

    impl(modes::broadcast_hub& h, broker_options o)
        : hub(h), opts(std::move(o)), shards(opts.servers), producer(h.entries().make_producer()),
          rng(std::random_device{}()), shard_up(std::make_unique<std::atomic<bool>[]>(shards.size())),
          last_errors(shards.size()) {
        node_id = random_text(rng, 8);
        wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    }
    ~impl() {
        if (wake_fd >= 0) ::close(wake_fd);
    }

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

    void enqueue(request r) {
        {
            std::lock_guard lock(mutex);
            queue.push_back(std::move(r));
        }
        if (!signalled.exchange(true, std::memory_order_acq_rel)) {
            const std::uint64_t one = 1;
            [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one);
        }
    }

    // Both links up and the scripts loaded: publishes and syncs may go.
    bool shard_ready(std::size_t s) const {
        return links[s].cmd->up() && links[s].sub->up() && links[s].scripts_loaded;
    }

    // ---- the loop ----------------------------------------------------------------

    void run() {
        for (std::size_t s = 0; s < shards.size(); ++s) make_links(s);
        const auto now0 = clock::now();
        for (shard& sh : links) {
            sh.cmd->start(now0);
            sh.sub->start(now0);
        }
        std::vector<pollfd> fds;
        std::vector<redis_link*> owners;
        while (!stopping.load(std::memory_order_acquire)) {
            const auto now = clock::now();
            for (shard& sh : links) {
                sh.cmd->tick(now);
                sh.sub->tick(now);
            }
            take_requests();
            linger(now);
            retry(now);
            check_started(now);

            fds.assign(1, pollfd{wake_fd, POLLIN, 0});
            owners.assign(1, nullptr);
            std::optional<clock::time_point> wake_at;
            const auto earliest = [&](std::optional<clock::time_point> t) {
                if (t && (!wake_at || *t < *wake_at)) wake_at = t;
            };
            for (shard& sh : links) {
                for (redis_link* l : {sh.cmd.get(), sh.sub.get()}) {
                    earliest(l->next_deadline());
                    if (l->fd() < 0) continue;
                    fds.push_back(pollfd{l->fd(), l->poll_events(), 0});
                    owners.push_back(l);
                }
            }
            for (const auto& [name, t] : topics) {
                earliest(t.linger_until);
                earliest(t.retry_sync);
            }
            for (const shard& sh : links) earliest(sh.retry_load);
            int timeout = 1000;
            if (wake_at) {
                auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*wake_at - now).count() + 1;
                timeout = static_cast<int>(std::clamp<std::int64_t>(ms, 0, 1000));
            }
            if (::poll(fds.data(), fds.size(), timeout) < 0) continue;  // EINTR
            if (fds[0].revents) {
                std::uint64_t v;
                [[maybe_unused]] auto n = ::read(wake_fd, &v, sizeof v);
                signalled.store(false, std::memory_order_release);
            }
            const auto after = clock::now();
            for (std::size_t i = 1; i < fds.size(); ++i)
                if (fds[i].revents) owners[i]->on_poll(fds[i].revents, after);
            // Once per turn, however many entries it published: a reactor
            // that is awake costs a load, one asleep an eventfd write.
            if (unwoken) {
                unwoken = false;
                hub.wake_all();
            }
        }
        links.clear();  // closes the connections on this thread
    }

    void make_links(std::size_t s) {
        shard sh;
        const redis_address& a = shards.server(s);
        sh.cmd = std::make_unique<redis_link>(
            a,
            redis_link::events{.up = [this, s] { on_link_up(s); },
                               .down = [this, s](const std::string& why) { on_link_down(s, why, false); },
                               .message = {}},
            opts.backoff, opts.connect_timeout);
        sh.sub = std::make_unique<redis_link>(
            a,
            redis_link::events{.up = [this, s] { on_link_up(s); },
                               .down = [this, s](const std::string& why) { on_link_down(s, why, true); },
                               .message = [this](std::string_view ch, std::string_view payload) {
                                   on_channel(ch, payload);
                               }},
            opts.backoff, opts.connect_timeout);
        links.push_back(std::move(sh));
    }

    // start(): every shard up, or the deadline passed.
    void check_started(clock::time_point) {
        bool all = true;
        for (std::size_t s = 0; s < links.size(); ++s) all = all && shard_ready(s);
        if (!all) return;
        std::lock_guard lock(mutex);
        if (started_done) return;
        started_done = true;
        started_cv.notify_all();
    }

    void take_requests() {
        {
            std::lock_guard lock(mutex);
            taken.swap(queue);
        }
        std::vector<broker_publish*> publishes;
        for (request& r : taken) {
            switch (r.what) {
            case request::kind::publish: publishes.push_back(&r.publish); break;
            case request::kind::want: on_want(r.topic); break;
            case request::kind::unwant: on_unwant(r.topic); break;
            }
        }
        if (!publishes.empty()) send_publishes(publishes);
        taken.clear();
    }

    // ---- links up and down ---------------------------------------------------------

    void on_link_up(std::size_t s) {
        if (links[s].cmd->up() && links[s].sub->up()) load_scripts(s);  // else the other link is still coming
    }

    // Scripts first: a restarted Redis has forgotten them. One that is still
    // loading its data answers -LOADING to everything: the shard stays down
    // (publishes refused) and we ask again shortly, until it answers.
    void load_scripts(std::size_t s) {
        shard& sh = links[s];
        if (sh.loading) return;
        sh.loading = true;
        sh.retry_load.reset();
        auto answers = std::make_shared<int>(0);
        auto failed = std::make_shared<std::string>();
        for (const script* sc : {&publish_script(), &sync_script()}) {
            std::string_view argv[] = {"SCRIPT", "LOAD", sc->source};
            sh.cmd->command(argv, [this, s, answers, failed](const redisReply* r) {
                if (!r) *failed = "link lost";
                else if (r->type == REDIS_REPLY_ERROR && failed->empty()) *failed = std::string(r->str, r->len);
                if (++*answers < 2) return;
                shard& me = links[s];
                me.loading = false;
                if (!r) return;  // down: on_link_up starts over
                if (!failed->empty()) {
                    net::log(net::log_level::warn, "broker_not_ready", "redis %s not ready (%s): asking again",
                             shards.server(s).name().c_str(), failed->c_str());
                    me.retry_load = clock::now() + std::chrono::milliseconds(250);
                    return;
                }
                me.scripts_loaded = true;
                shard_ready_now(s);
            });
        }
    }

    // The scripts went missing on a live connection: refuse publishes on
    // this shard until they are back.
    void reload_scripts(std::size_t s) {
        shard& sh = links[s];
        if (!sh.scripts_loaded) return;
        sh.scripts_loaded = false;
        shard_up[s].store(false, std::memory_order_release);
        load_scripts(s);
    }

    void shard_ready_now(std::size_t s) {
        shard& sh = links[s];
        if (sh.was_up) {
            ++count.reconnects;
            net::log(net::log_level::info, "broker_up", "redis %s up again: resubscribing and repairing",
                     shards.server(s).name().c_str());
        } else {
            net::log(net::log_level::info, "broker_up", "redis %s up", shards.server(s).name().c_str());
        }
        sh.was_up = true;
        shard_up[s].store(true, std::memory_order_release);
        for (auto& [name, t] : topics)
            if (t.shard == s) follow(t);
    }

    void on_link_down(std::size_t s, const std::string& why, bool sub) {
        {
            std::lock_guard lock(mutex);
            last_errors[s] = why;
        }
        shard& sh = links[s];
        sh.scripts_loaded = false;
        sh.loading = false;
        sh.retry_load.reset();
        const bool was = shard_up[s].exchange(false, std::memory_order_acq_rel);
        if (was || !sh.was_up)
            net::log(net::log_level::warn, "broker_down", "redis %s down: %s", shards.server(s).name().c_str(),
                     why.c_str());
        // Whatever the topics of this shard knew may be stale now: they sync
        // again when both links are back (and subscribe again, if it was
        // the subscription link: what it held is covered by that sync).
        for (auto& [name, t] : topics) {
            if (t.shard != s) continue;
            t.syncing = false;
            t.needs_sync = true;
            if (!sub) continue;
            t.subscribing = t.subscribed = false;
            t.held.clear();
            t.held_bytes = 0;
        }
    }

    // ---- following topics -----------------------------------------------------------

    void on_want(const std::string& name) {
        auto [it, added] = topics.try_emplace(name);
        topic& t = it->second;
        if (added) {
            t.name = name;
            t.name_buffer = buffer_of(name);
            t.keys = keys_of(name);
            t.shard = shards.shard_of(name);
        }
        t.linger_until.reset();
        // A topic the log forgot since (try_unsync) starts over.
        if (auto p = hub.log().position(name); p && !p->synced) t.needs_sync = true;
        follow(t);
    }

    void on_unwant(const std::string& name) {
        auto it = topics.find(name);
        if (it == topics.end()) return;
        it->second.linger_until = clock::now() + opts.unsubscribe_linger;
    }

    // Topics nobody wanted for a while are unsubscribed — if the log agrees
    // nobody holds them (a reactor may have retained one meanwhile).
    void linger(clock::time_point now) {
        for (auto it = topics.begin(); it != topics.end();) {
            topic& t = it->second;
            if (!t.linger_until || *t.linger_until > now) {
                ++it;
                continue;
            }
            t.linger_until.reset();
            if (!hub.log().try_unsync(t.name)) {
                ++it;
                continue;
            }
            if (t.subscribed || t.subscribing) {
                ++count.unsubscribes;
                links[t.shard].sub->unsubscribe(t.keys.channel, [](const redisReply*) {});
            }
            it = topics.erase(it);
        }
    }

    // What Redis refused for now is asked again when due.
    void retry(clock::time_point now) {
        for (std::size_t s = 0; s < links.size(); ++s) {
            shard& sh = links[s];
            if (sh.retry_load && *sh.retry_load <= now && sh.cmd->up() && sh.sub->up()) load_scripts(s);
        }
        for (auto& [name, t] : topics) {
            if (!t.retry_sync || *t.retry_sync > now) continue;
            t.retry_sync.reset();
            follow(t);
        }
    }

    // Takes the next step for `t`: subscribe, then sync.
    void follow(topic& t) {
        if (!shard_ready(t.shard)) return;  // on_link_up comes back here
        if (!t.subscribed && !t.subscribing) {
            t.subscribing = true;
            ++count.subscribes;
            std::string name = t.name;
            links[t.shard].sub->subscribe(t.keys.channel, [this, name](const redisReply* r) {
                auto it = topics.find(name);
                if (it == topics.end()) return;
                it->second.subscribing = false;
                if (!r || r->type == REDIS_REPLY_ERROR) return;  // down: on_link_up retries
                it->second.subscribed = true;
                follow(it->second);
            });
            return;
        }
        if (t.subscribed && t.needs_sync && !t.syncing) start_sync(t);
    }

    // sync_script: from the log's last offset on (a repair) or the whole
    // stream (a topic new to this node).
    void start_sync(topic& t) {
        std::uint64_t from = 1;
        if (auto p = hub.log().position(t.name); p && p->synced) from = p->offset + 1;
        const std::string candidate = random_text(rng, 8);
        const std::string from_text = std::to_string(from);
        const std::string meta_ttl = std::to_string(opts.meta_ttl.count());
        std::string_view argv[] = {"EVALSHA", sync_script().sha1, "2", t.keys.meta, t.keys.stream,
                                   candidate, from_text, meta_ttl};
        std::string name = t.name;
        if (!links[t.shard].cmd->command(argv, [this, name](const redisReply* r) { on_sync_reply(name, r); }))
            return;
        t.syncing = true;
    }

    void on_sync_reply(const std::string& name, const redisReply* r) {
        auto it = topics.find(name);
        if (it == topics.end()) return;
        topic& t = it->second;
        t.syncing = false;
        sync_reply s;
        if (!r) return;  // link down: on_link_up syncs again
        if (!parse_sync_reply(*r, s)) {
            // An error (-LOADING, -BUSY, -NOSCRIPT after a SCRIPT FLUSH...) or
            // a shape we do not know: ask again shortly, never give up on it.
            net::log(net::log_level::warn, "broker_sync_refused",
                     "redis: sync of topic %s refused (%.*s): asking again", name.c_str(),
                     r->type == REDIS_REPLY_ERROR ? static_cast<int>(r->len) : 14,
                     r->type == REDIS_REPLY_ERROR ? r->str : "unknown reply");
            if (r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).starts_with("NOSCRIPT"))
                reload_scripts(t.shard);
            t.retry_sync = clock::now() + std::chrono::milliseconds(250);
            return;
        }
        ++count.syncs;
        const auto p = hub.log().position(name);
        if (!p) {  // nobody holds it any more: nothing to sync into
            t.held.clear();
            t.held_bytes = 0;
            return;
        }
        if (!p->synced) sync_new(t, s);
        else repair(t, *p, s);
        t.needs_sync = false;
        std::vector<std::string> held = std::move(t.held);
        t.held.clear();
        t.held_bytes = 0;
        for (const std::string& m : held) apply(t, m);
    }

    // A topic new to this node: the stream becomes its history.
    void sync_new(topic& t, const sync_reply& s) {
        std::vector<modes::topic_log::stored_message> history;
        history.reserve(s.messages.size());
        for (const stored_message& m : s.messages) {
            if (m.offset > s.last) continue;
            core::shared_buffer plain = plain_frames(std::span(&m.message, 1));
            history.push_back({m.offset, std::chrono::milliseconds(m.age_ms),
                               modes::encode_v1_frames(plain.bytes(), s.epoch, m.offset)});
        }
        if (!hub.log().sync_remote(t.name, s.epoch, s.last, std::move(history))) return;
        for (std::uint32_t i = 0; i < hub.reactors(); ++i) hub.inbox(i).post_synced(t.name);
        hub.wake_all();
    }

    // After a loss: what the stream holds from the log's last offset on is
    // delivered, in order, as one entry; if it no longer holds all of it
    // (trimmed, or Redis lost the topic: another epoch) the topic is reset.
    void repair(topic& t, const modes::topic_position& at, const sync_reply& s) {
        if (s.epoch != at.epoch) return reset(t, s.epoch, s.last);
        if (s.last <= at.offset) return;  // nothing missed
        std::vector<wire_message> missed;
        std::uint64_t want = at.offset + 1;
        for (const stored_message& m : s.messages) {
            if (m.offset < want) continue;
            if (m.offset != want || m.offset > s.last) break;
            missed.push_back(m.message);
            ++want;
        }
        if (want != s.last + 1) return reset(t, s.epoch, s.last);
        deliver(t, s.epoch, at.offset + 1, missed, {});
        count.repaired += missed.size();
    }

    void reset(topic& t, std::string_view epoch, std::uint64_t last) {
        ++count.resets;
        net::log(net::log_level::warn, "topic_reset",
                 "redis: topic %s lost messages in Redis; its subscribers start again at %.*s:%llu", t.name.c_str(),
                 static_cast<int>(epoch.size()), epoch.data(), static_cast<unsigned long long>(last));
        const std::string notice = proto::v1::unrecovered_notice(epoch, last);
        modes::broadcast_message m;
        m.topic = t.name_buffer;
        m.messages = 0;
        m.first_offset = last + 1;
        m.reset_epoch = buffer_of(epoch);
        m.v1 = core::shared_buffer::make(proto::frame_size(notice.size(), false), [&](std::span<std::byte> out) {
            proto::encode_frame(out, proto::opcode::text, std::as_bytes(std::span(notice.data(), notice.size())));
        });
        std::uint64_t seq = 0;
        if (!hub.log().reset_remote(t.name, epoch, last, [&](std::string_view, std::uint64_t) {
                seq = producer.claim();
                return core::shared_buffer{};
            }))
            return;
        publish_entry(seq, std::move(m));
    }

    // ---- messages from Redis --------------------------------------------------------

    void on_channel(std::string_view channel, std::string_view payload) {
        auto it = topics.find(std::string(topic_of_channel(channel)));
        if (it == topics.end()) return;  // unsubscribed meanwhile
        topic& t = it->second;
        if (t.needs_sync || t.syncing) return hold(t, payload);
        apply(t, payload);
    }

    void hold(topic& t, std::string_view payload) {
        if (t.held_bytes + payload.size() > max_held_bytes) {
            t.held.clear();
            t.held_bytes = 0;
        }
        t.held.emplace_back(payload);
        t.held_bytes += payload.size();
    }

    void apply(topic& t, std::string_view payload) {
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
    modes::remote_append deliver(topic& t, std::string_view epoch, std::uint64_t first,
                                 std::span<const wire_message> messages, std::string_view origin) {
        modes::broadcast_message m;
        m.frames = plain_frames(messages);
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

    void publish_entry(std::uint64_t seq, modes::broadcast_message m) {
        m.published_ns = modes::ring_clock_ns();  // delivery latency counts from here on this node
        // A full ring waits for the reactors: they must be awake to drain it.
        producer.publish_claimed(seq, std::move(m), [this] { hub.wake_all(); });
        unwoken = true;
    }

    // "<node>/<reactor>/<ticket>": ours → who published it here.
    modes::broadcast_origin origin_of(std::string_view origin) const {
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

    // ---- publishing --------------------------------------------------------------------

    // What one publisher of a group is owed: its first message's place in
    // the group, and where to tell it.
    struct share {
        std::uint32_t reactor;
        std::uint64_t ticket;
        std::uint32_t skip;  // messages of the group before its own
    };

    // Everything the reactors handed over since the last turn goes out as
    // few EVALSHAs as the topics allow: one per topic (per publisher with
    // keep_origins), up to group_max messages — so a burst of HTTP publishes
    // to one topic costs Redis one script run, not one each. Order within a
    // topic is kept: groups are sent in the order they were begun.
    static constexpr std::uint32_t group_max = 1024;
    static constexpr std::size_t group_max_bytes = 1u << 20;

    void send_publishes(std::vector<broker_publish*>& ps) {
        std::vector<std::vector<broker_publish*>> groups;
        std::unordered_map<std::string, std::size_t> open;  // group key → its index in groups
        std::vector<std::uint32_t> messages;
        std::vector<std::size_t> bytes;
        for (broker_publish* p : ps) {
            std::string key = p->topic;
            if (opts.keep_origins) key += '\0' + std::to_string(p->reactor) + '/' + std::to_string(p->ticket);
            auto it = open.find(key);
            if (it != open.end() && (messages[it->second] + p->messages > group_max ||
                                     bytes[it->second] + p->frames.size() > group_max_bytes))
                it = open.end(), open.erase(key);
            if (it == open.end()) {
                it = open.emplace(std::move(key), groups.size()).first;
                groups.emplace_back();
                messages.push_back(0);
                bytes.push_back(0);
            }
            groups[it->second].push_back(p);
            messages[it->second] += p->messages;
            bytes[it->second] += p->frames.size();
        }
        for (auto& g : groups) send_group(g);
    }

    void send_group(const std::vector<broker_publish*>& group) {
        const broker_publish& head = *group.front();
        const std::size_t s = shards.shard_of(head.topic);
        const topic_keys keys = keys_of(head.topic);
        std::vector<std::string> args;
        args.push_back(random_text(rng, 8));  // the epoch, should the topic be new
        args.push_back(std::to_string(hub.log().options().max_messages));
        args.push_back(std::to_string(hub.log().options().ttl.count()));
        args.push_back(std::to_string(opts.meta_ttl.count()));
        // Who published, for --no-echo-self: one publisher, or nobody in particular.
        args.push_back(group.size() == 1 ? node_id + "/" + std::to_string(head.reactor) + "/" +
                                               std::to_string(head.ticket)
                                         : std::string("-"));
        std::vector<share> shares;
        std::size_t bytes = 0;
        for (const broker_publish* p : group) {
            shares.push_back({p->reactor, p->ticket, static_cast<std::uint32_t>(args.size() - 5)});
            bytes += p->frames.size();
            modes::for_each_frame(p->frames, 0, [&](proto::opcode op, std::span<const std::byte> payload, bool) {
                encode_message(op, payload, args.emplace_back());
            });
        }
        std::vector<std::string_view> argv{"EVALSHA", publish_script().sha1, "2", keys.meta, keys.stream,
                                           keys.channel};
        for (const std::string& a : args) argv.push_back(a);
        const auto sent = std::chrono::steady_clock::now();
        const auto on_reply = [this, s, shares, bytes, sent](const redisReply* r) {
            pending_bytes.fetch_sub(bytes, std::memory_order_relaxed);
            std::string_view epoch;
            std::uint64_t first = 0;
            if (r && parse_publish_reply(*r, epoch, first)) {
                ++count.published;
                publish_latency.observe(static_cast<std::uint64_t>(
                    std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - sent)
                        .count()));
                for (const share& sh : shares)
                    tell(sh.reactor, {sh.ticket, true, std::string(epoch), first + sh.skip, {}});
                return;
            }
            ++count.publish_failed;
            if (r && r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).starts_with("NOSCRIPT"))
                reload_scripts(s);  // someone ran SCRIPT FLUSH: the next publishes need them again
            const std::string why = !r ? "redis connection lost"
                                  : r->type == REDIS_REPLY_ERROR ? "redis: " + std::string(r->str, r->len)
                                                                 : "unexpected reply from redis";
            for (const share& sh : shares) tell(sh.reactor, {sh.ticket, false, {}, 0, why});
        };
        // Not before both links are up again and the scripts reloaded (a
        // restarted Redis would answer NOSCRIPT).
        const bool queued = shard_ready(s) && links[s].cmd->command(argv, on_reply);
        if (queued) return;
        pending_bytes.fetch_sub(bytes, std::memory_order_relaxed);
        ++count.publish_failed;
        for (const share& sh : shares) tell(sh.reactor, {sh.ticket, false, {}, 0, "redis unavailable"});
    }

    void tell(std::uint32_t reactor, broker_outcome o) {
        if (o.ticket == 0 || reactor >= hub.reactors()) return;
        hub.inbox(reactor).post(std::move(o));
        hub.wake(reactor);
    }
};

redis_broker::redis_broker(modes::broadcast_hub& hub, broker_options o)
    : impl_(std::make_unique<impl>(hub, std::move(o))) {}

redis_broker::~redis_broker() { stop(); }

bool redis_broker::start(std::string& error) {
    impl& m = *impl_;
    if (m.shards.size() == 0) {
        error = "no Redis server given";
        return false;
    }
    m.thread = std::thread([&m] { m.run(); });
    std::unique_lock lock(m.mutex);
    if (m.started_cv.wait_for(lock, m.opts.connect_timeout + std::chrono::milliseconds(500),
                              [&] { return m.started_done; }))
        return true;
    lock.unlock();
    stop();
    // Which server, and why (the thread has stopped: nothing changes now).
    for (std::size_t s = 0; s < m.shards.size(); ++s) {
        if (m.shard_up[s].load()) continue;
        error = "cannot reach Redis at " + m.shards.server(s).name() + ": " +
                (m.last_errors[s].empty() ? "no answer within the connect timeout" : m.last_errors[s]);
        break;
    }
    if (error.empty()) error = "cannot reach Redis";
    return false;
}

void redis_broker::stop() {
    impl& m = *impl_;
    if (!m.thread.joinable()) return;
    m.stopping.store(true, std::memory_order_release);
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(m.wake_fd, &one, sizeof one);
    m.thread.join();
}

bool redis_broker::publish(broker_publish&& p) {
    impl& m = *impl_;
    const std::size_t s = m.shards.shard_of(p.topic);
    if (!m.shard_up[s].load(std::memory_order_acquire)) return false;
    const std::size_t bytes = p.frames.size();
    if (m.pending_bytes.fetch_add(bytes, std::memory_order_relaxed) + bytes > m.opts.max_pending_bytes) {
        m.pending_bytes.fetch_sub(bytes, std::memory_order_relaxed);
        return false;
    }
    m.enqueue({impl::request::kind::publish, std::move(p), {}});
    return true;
}

void redis_broker::want(std::string_view topic) {
    impl_->enqueue({impl::request::kind::want, {}, std::string(topic)});
}

void redis_broker::unwant(std::string_view topic) {
    impl_->enqueue({impl::request::kind::unwant, {}, std::string(topic)});
}

const core::bucket_histogram& redis_broker::publish_latency() const { return impl_->publish_latency; }

std::size_t redis_broker::servers() const { return impl_->shards.size(); }

std::string redis_broker::server_name(std::size_t i) const { return impl_->shards.server(i).name(); }

bool redis_broker::server_up(std::size_t i) const { return impl_->shard_up[i].load(std::memory_order_relaxed); }

broker_stats redis_broker::stats() const {
    const impl::counters& c = impl_->count;
    return {c.published.load(), c.publish_failed.load(), c.received.load(), c.duplicates.load(),
            c.repaired.load(),  c.resets.load(),         c.syncs.load(),    c.subscribes.load(),
            c.unsubscribes.load(), c.reconnects.load()};
}

}  // namespace wsring::cluster

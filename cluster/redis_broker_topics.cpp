// redis_broker, following topics. Per topic the broker keeps a small state
// machine:
//
//   want ──▶ SUBSCRIBE sent ──confirmed──▶ sync_script ──reply──▶ live
//                 ▲                            ▲                  │
//                 │ link back up               │ gap, other epoch │
//                 └──────── link lost ◀────────┴──────────────────┘
//
// Channel messages that come while a topic is not live are held and applied
// after its sync; the log's append_remote drops what the sync already
// covered, so the hand-off has no gap and no duplicate. This file owns the
// steps (want, linger, subscribe, sync, repair or reset); holding and
// applying channel messages is redis_broker_deliver.cpp. Read next:
// cluster/redis_wire.hpp (what the scripts do), docs/cluster.md.
#include "cluster/redis_broker_impl.hpp"

#include <hiredis/hiredis.h>

#include <chrono>
#include <string>
#include <vector>

#include "modes/position_frames.hpp"
#include "net/log.hpp"
#include "proto/encoder.hpp"
#include "proto/wsring_v1.hpp"

namespace wsring::cluster {

void redis_broker::impl::on_want(const std::string& name) {
    auto [it, added] = topics.try_emplace(name);
    topic& t = it->second;
    if (added) {
        t.name = name;
        t.name_buffer = core::shared_buffer::copy_of_text(name);
        t.keys = keys_of(name);
        t.shard = shards.shard_of(name);
    }
    t.linger_until.reset();
    // A topic the log forgot since (try_unsync) starts over.
    if (auto p = hub.log().position(name); p && !p->synced) t.needs_sync = true;
    follow(t);
}

void redis_broker::impl::on_unwant(const std::string& name) {
    auto it = topics.find(name);
    if (it == topics.end()) return;
    it->second.linger_until = clock::now() + opts.unsubscribe_linger;
}

// Topics nobody wanted for a while are unsubscribed — if the log agrees
// nobody holds them (a reactor may have retained one meanwhile).
void redis_broker::impl::linger(clock::time_point now) {
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
void redis_broker::impl::retry(clock::time_point now) {
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
void redis_broker::impl::follow(topic& t) {
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
void redis_broker::impl::start_sync(topic& t) {
    std::uint64_t from = 1;
    if (auto p = hub.log().position(t.name); p && p->synced) from = p->offset + 1;
    const std::string candidate = detail::random_text(rng, 8);
    const std::string from_text = std::to_string(from);
    const std::string meta_ttl = std::to_string(opts.meta_ttl.count());
    std::string_view argv[] = {"EVALSHA", sync_script().sha1, "2", t.keys.meta, t.keys.stream,
                               candidate, from_text, meta_ttl};
    std::string name = t.name;
    if (!links[t.shard].cmd->command(argv, [this, name](const redisReply* r) { on_sync_reply(name, r); }))
        return;
    t.syncing = true;
}

void redis_broker::impl::on_sync_reply(const std::string& name, const redisReply* r) {
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
void redis_broker::impl::sync_new(topic& t, const sync_reply& s) {
    std::vector<modes::topic_log::stored_message> history;
    history.reserve(s.messages.size());
    for (const stored_message& m : s.messages) {
        if (m.offset > s.last) continue;
        core::shared_buffer plain = detail::plain_frames(std::span(&m.message, 1));
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
void redis_broker::impl::repair(topic& t, const modes::topic_position& at, const sync_reply& s) {
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

void redis_broker::impl::reset(topic& t, std::string_view epoch, std::uint64_t last) {
    ++count.resets;
    net::log(net::log_level::warn, "topic_reset",
             "redis: topic %s lost messages in Redis; its subscribers start again at %.*s:%llu", t.name.c_str(),
             static_cast<int>(epoch.size()), epoch.data(), static_cast<unsigned long long>(last));
    const std::string notice = proto::v1::unrecovered_notice(epoch, last);
    modes::broadcast_message m;
    m.topic = t.name_buffer;
    m.messages = 0;
    m.first_offset = last + 1;
    m.reset_epoch = core::shared_buffer::copy_of_text(epoch);
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

}  // namespace wsring::cluster

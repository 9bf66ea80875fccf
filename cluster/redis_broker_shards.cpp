// redis_broker, links up and down: the two links of each Redis server and
// what their state means for the rest. A shard takes publishes and syncs
// only while both links are up and the Lua scripts are loaded; losing either
// link marks its topics for a new sync (and a new SUBSCRIBE, if it was the
// subscription link). The links themselves (connect, backoff, pipelining)
// are cluster/redis_link.cpp; what is redone per topic once a shard is back
// is redis_broker_topics.cpp (follow). Read next: redis_broker_topics.cpp.
#include "cluster/redis_broker_impl.hpp"

#include <hiredis/hiredis.h>

#include <chrono>
#include <string>

#include "net/log.hpp"

namespace wsring::cluster {

void redis_broker::impl::on_link_up(std::size_t s) {
    if (links[s].cmd->up() && links[s].sub->up()) load_scripts(s);  // else the other link is still coming
}

// Scripts first: a restarted Redis has forgotten them. One that is still
// loading its data answers -LOADING to everything: the shard stays down
// (publishes refused) and we ask again shortly, until it answers.
void redis_broker::impl::load_scripts(std::size_t s) {
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
void redis_broker::impl::reload_scripts(std::size_t s) {
    shard& sh = links[s];
    if (!sh.scripts_loaded) return;
    sh.scripts_loaded = false;
    shard_up[s].store(false, std::memory_order_release);
    load_scripts(s);
}

void redis_broker::impl::shard_ready_now(std::size_t s) {
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

void redis_broker::impl::on_link_down(std::size_t s, const std::string& why, bool sub) {
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

}  // namespace wsring::cluster

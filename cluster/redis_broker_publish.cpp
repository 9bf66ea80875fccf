// redis_broker, publishing: what the reactors handed over goes to Redis as
// EVALSHAs of publish_script (offsets, stream and channel in one atomic
// step, cluster/redis_wire.hpp), grouped per topic, and each publisher is
// told its outcome through its reactor's inbox: its offset, or why not.
// Admission (the pending-bytes cap, a shard that is down) is redis_broker's
// publish(); the message coming back on the channel is
// redis_broker_deliver.cpp. Read next: docs/cluster.md, "The Lua step".
#include "cluster/redis_broker_impl.hpp"

#include <hiredis/hiredis.h>

#include <chrono>
#include <string>
#include <unordered_map>
#include <vector>

#include "modes/position_frames.hpp"

namespace wsring::cluster {

using modes::broker_outcome;
using modes::broker_publish;

namespace {

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
constexpr std::uint32_t group_max = 1024;
constexpr std::size_t group_max_bytes = 1u << 20;

}  // namespace

void redis_broker::impl::send_publishes(std::vector<broker_publish*>& ps) {
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

void redis_broker::impl::send_group(const std::vector<broker_publish*>& group) {
    const broker_publish& head = *group.front();
    const std::size_t s = shards.shard_of(head.topic);
    const topic_keys keys = keys_of(head.topic);
    std::vector<std::string> args;
    args.push_back(detail::random_text(rng, 8));  // the epoch, should the topic be new
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

void redis_broker::impl::tell(std::uint32_t reactor, broker_outcome o) {
    if (o.ticket == 0 || reactor >= hub.reactors()) return;
    hub.inbox(reactor).post(std::move(o));
    hub.wake(reactor);
}

}  // namespace wsring::cluster

// pubsub_handler: a reactor's handler for broadcast and pub/sub — its setup
// (install_fanout, attach) and its subscribers' lifecycle: the upgrade
// subscribes to the path's topic, on_open tells a wsring.v1 subscriber its
// position or replays what it missed (docs/protocol-v1.md), on_close
// unsubscribes. Rule 3 of core/broadcast_ring.hpp (a consumer that leaves
// detaches) is install_fanout's reactor_exited. Not here: publishing
// (pubsub_publish.cpp), fan-out (pubsub_deliver.cpp), the broker
// (pubsub_broker.cpp), POST /publish (pubsub_http.cpp).
#include "modes/pubsub_handler.hpp"

#include <algorithm>
#include <thread>

#include "net/reactor.hpp"
#include "net/server.hpp"
#include "net/session.hpp"
#include "proto/handshake.hpp"

namespace wsring::modes {

pubsub_handler::pubsub_handler(broadcast_hub& hub, std::uint32_t index, const fanout_options& o)
    : hub_(hub), producer_(hub.entries().make_producer()), index_(index), opts_(o) {}

void pubsub_handler::attach(reactor& r) {
    session_ = &r.sessions();
    hub_.attach(index_, r);
    r.set_wakeup_hook({.pending = [this] { return pending(); }, .drain = [this] { drain(); }});
}

std::span<const std::string_view> pubsub_handler::subprotocols() const {
    static constexpr std::string_view ours[] = {proto::v1::subprotocol};
    return ours;
}

// Subscribes `c` to its topic. A topic new to this reactor is retained in
// the log, which says where it stands: everything up to there was published
// before these subscribers came, and deliver() skips it.
std::string pubsub_handler::on_upgrade(session& s, connection& c, const net::upgrade_info& u) {
    session_ = &s;  // the same one every time (attach sets it too); tests need no reactor
    const bool v1 = u.protocol == proto::v1::subprotocol;
    since_.given = false;
    if (v1) {
        switch (proto::v1::find_since(u.http.query, since_.storage, since_.pos)) {
        case proto::v1::since_status::absent: break;
        case proto::v1::since_status::ok: since_.given = true; break;
        case proto::v1::since_status::malformed:
            return proto::http_response(400, "malformed since: expected since=<epoch>:<offset>\n");
        }
    }
    const std::string_view name = opts_.per_path_topics ? topic_of_path(u.http.path) : std::string_view();
    const std::uint32_t t = topics_.subscribe(c, name);
    if (topics_.subscribers(t).size() == 1) retain_topic(t, name);
    if (s.deflate().shares(c)) hub_.count_sharing_receiver(+1);
    if (v1) {
        c.mode |= mode_v1;
        hub_.count_v1_receiver(+1);
    }
    return {};
}

// This reactor's first subscriber of topic `t`: where it stands is where
// delivery starts. Multi-node, a topic the node does not follow yet has no
// position until the broker synced it: the broker is asked, and this
// reactor hears "synced" in its inbox (on_synced).
void pubsub_handler::retain_topic(std::uint32_t t, std::string_view name) {
    if (locals_.size() <= t) locals_.resize(t + 1);
    topic_position p = hub_.log().retain(name);
    locals_[t] = {std::move(p.epoch), p.offset + 1, p.synced};
    if (!p.synced && hub_.remote()) hub_.remote()->want(name);
}

// Right after the 101, in the same call as on_upgrade: no ring entry was
// delivered in between, so the position sent here is exactly where the
// live messages will continue. A topic not in sync yet has no position to
// tell: the subscriber waits (parked) for on_synced.
void pubsub_handler::on_open(session& s, connection& c) {
    if (!(c.mode & mode_v1)) return;
    if (!locals_[c.topic].synced) {
        parked_.push_back({&c, since_.given, std::string(since_.pos.epoch), since_.pos.offset});
        since_.given = false;
        return;
    }
    send_position(s, c);
}

// A fresh subscription learns its position; a returning one gets what it
// missed, from history, or "!unrecovered" and the position it is at now.
void pubsub_handler::send_position(session& s, connection& c) {
    const local_topic& lt = locals_[c.topic];
    const std::uint64_t at = lt.next - 1;
    const auto text = [&](const std::string& notice) {
        s.send_message(c, proto::opcode::text, std::as_bytes(std::span(notice.data(), notice.size())));
    };
    if (!since_.given) return text(proto::v1::position_notice(lt.epoch, at));
    since_.given = false;
    topic_log::recovery r = hub_.log().recover(topics_.name(c.topic).text(), since_.pos, at);
    if (!r.recovered) {
        ++stats_.unrecovered;
        return text(proto::v1::unrecovered_notice(lt.epoch, at));
    }
    ++stats_.recovered;
    std::size_t bytes = 0;
    for (const frames_slice& slice : r.replay) {
        s.send_encoded(c, slice.frames, slice.begin, slice.end, slice.messages);
        stats_.replayed += slice.messages;
        bytes += slice.end - slice.begin;
    }
    if (bytes) replay_allowance_[&c] = bytes;
}

void pubsub_handler::on_close(session& s, connection& c, proto::close_code) {
    if (!replay_allowance_.empty()) replay_allowance_.erase(&c);
    if (!tickets_.empty()) forget_ticket(c);
    if (!parked_.empty())
        std::erase_if(parked_, [&](const parked& p) { return p.conn == &c; });
    if (s.deflate().shares(c)) hub_.count_sharing_receiver(-1);
    if (c.mode & mode_v1) hub_.count_v1_receiver(-1);
    if (c.topic == topic_table::none) return;
    // The last local subscriber leaving frees the topic's index for another
    // name: what it sent this turn goes out under its own name first, and
    // the log may forget the topic once nobody anywhere holds it.
    if (topics_.subscribers(c.topic).size() == 1) {
        if (c.topic < batches_.size()) flush_batch(c.topic);
        core::shared_buffer name = topics_.name(c.topic);
        topics_.unsubscribe(c);
        if (hub_.log().release(name.text()) && hub_.remote()) hub_.remote()->unwant(name.text());
        return;
    }
    topics_.unsubscribe(c);
}

fanout_stats pubsub_handler::stats() const {
    fanout_stats s = stats_;
    s.stalls = producer_.stalls();
    return s;
}

fanout_stats sum_stats(const std::vector<pubsub_handler*>& handlers) {
    fanout_stats sum;
    for (const pubsub_handler* h : handlers) {
        if (!h) continue;
        const fanout_stats s = h->stats();
        sum.published += s.published;
        sum.entries += s.entries;
        sum.delivered += s.delivered;
        sum.skipped += s.skipped;
        sum.skip_events += s.skip_events;
        sum.slow_closed += s.slow_closed;
        sum.stalls += s.stalls;
        sum.compressed += s.compressed;
        sum.recompressed += s.recompressed;
        sum.recovered += s.recovered;
        sum.unrecovered += s.unrecovered;
        sum.replayed += s.replayed;
        sum.http_published += s.http_published;
        sum.refused += s.refused;
    }
    return sum;
}

std::shared_ptr<broadcast_hub> install_fanout(server_options& so, const fanout_options& fo,
                                              std::shared_ptr<std::vector<pubsub_handler*>> handlers) {
    unsigned n = so.threads ? so.threads : std::max(1u, std::thread::hardware_concurrency());
    so.threads = n;  // the hub needs the count now; pin it so the server agrees
    auto hub = std::make_shared<broadcast_hub>(fo.ring_capacity, n, fo.history);
    handlers->assign(n, nullptr);
    so.make_handler = [hub, fo, handlers, next = 0u]() mutable -> std::unique_ptr<message_handler> {
        auto h = std::make_unique<pubsub_handler>(*hub, next, fo);
        (*handlers)[next++] = h.get();
        return h;
    };
    so.setup_reactor = [handlers](reactor& r, unsigned i) { (*handlers)[i]->attach(r); };
    so.reactor_exited = [hub](unsigned i) { hub->entries().detach(i); };
    return hub;
}

}  // namespace wsring::modes

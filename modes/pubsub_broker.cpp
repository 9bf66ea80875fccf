// pubsub_handler's side of multi-node (a broker in the hub: modes/broker.hpp,
// docs/cluster.md): the tickets that name a publisher in the broker's
// outcomes, the inbox read once a turn, refused publishes answered (1011,
// "!error", HTTP 503), and a topic's sync, which starts its delivery and
// answers the wsring.v1 subscribers parked until then. Not here: handing a
// batch to the broker (publish_remote, in pubsub_publish.cpp: the ring's
// alternative on the publish path). Read next: cluster/redis_broker.cpp.
#include "modes/pubsub_handler.hpp"

#include <optional>

#include "modes/publish_api.hpp"
#include "net/session.hpp"

namespace wsring::modes {

using net::conn_state;

std::uint64_t pubsub_handler::ticket_of(connection& c) {
    auto [it, added] = tickets_.try_emplace(&c, 0);
    if (added) {
        it->second = next_ticket_++;
        by_ticket_.emplace(it->second, &c);
    }
    return it->second;
}

void pubsub_handler::forget_ticket(const connection& c) {
    auto it = tickets_.find(&c);
    if (it == tickets_.end()) return;
    by_ticket_.erase(it->second);
    tickets_.erase(it);
}

// Everything the broker told this reactor since the last turn.
void pubsub_handler::read_inbox() {
    hub_.inbox(index_).take(outcomes_, synced_);
    for (const std::string& topic : synced_) on_synced(topic);
    for (const broker_outcome& o : outcomes_) on_outcome(o);
    outcomes_.clear();
    synced_.clear();
}

// A publish's outcome: an HTTP publisher gets its answer now; a WebSocket
// publisher hears only of a failure — RFC 6455 §7.4.1 1011 ("an unexpected
// condition prevented it from fulfilling the request") for a raw one, the
// "!error" notice for a wsring.v1 one, which keeps its connection.
void pubsub_handler::on_outcome(const broker_outcome& o) {
    auto it = by_ticket_.find(o.ticket);
    if (it == by_ticket_.end()) return;  // gone meanwhile
    connection& c = *it->second;
    if (c.state == conn_state::handshake) {  // a POST /publish waiting for its answer
        net::http_answer a;
        if (o.ok) {
            publish_answer(o.epoch, o.first, a);
        } else {
            ++stats_.refused;
            a.status = 503;
            a.body = "publish failed: " + o.error + "\n";
            a.extra_headers = "Retry-After: 1\r\n";
        }
        forget_ticket(c);
        return session_->answer_deferred(c, std::move(a));
    }
    if (o.ok) return;
    ++stats_.refused;
    if (c.mode & mode_v1) {
        const std::string notice = proto::v1::error_notice(o.error);
        return session_->send_message(c, proto::opcode::text,
                                      std::as_bytes(std::span(notice.data(), notice.size())));
    }
    session_->close(c, proto::close_code::internal_error, "publish failed: redis unavailable");
}

// The broker follows `topic` now: where it stands is where delivery starts
// for this reactor's subscribers (ring entries up to there were skipped,
// and are in the history), and the parked ones get their position or
// replay, as on_open would have given them.
void pubsub_handler::on_synced(std::string_view topic) {
    const std::uint32_t t = topics_.find(topic);
    if (t != topic_table::none && !locals_[t].synced) start_synced(t, topic);
}

// Our subscribers of `t` start where the broker's sync put the topic: what
// it applied since is in the ring after that point, for us to deliver
// (and may already be in our hands: deliver() comes here too when it meets
// such an entry before the inbox said "synced"). False: not synced yet.
bool pubsub_handler::start_synced(std::uint32_t t, std::string_view topic) {
    const std::optional<topic_position> p = hub_.log().position(topic);
    if (!p || !p->synced) return false;
    locals_[t] = {p->synced_epoch, p->synced_at + 1, true};
    std::erase_if(parked_, [&](const parked& w) {
        if (w.conn->topic != t) return false;
        since_.given = w.since_given;
        since_.storage = w.since_epoch;
        since_.pos = {since_.storage, w.since_offset};
        send_position(*session_, *w.conn);
        return true;
    });
    return true;
}

}  // namespace wsring::modes

// pubsub_handler: publish on the way in (phase 3), fan out on the way out
// (phase 4). The rules from core/broadcast_ring.hpp, and where they are kept:
//   1. a publisher that consumes the same ring drains its own cursor while
//      the ring is full: the on_stall of on_message calls consume();
//   2. a publisher that defers wake-ups wakes the others while stalled:
//      the same on_stall calls wake_others() first;
//   3. a consumer that leaves detaches: install_fanout's reactor_exited.
#include "modes/pubsub_handler.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <optional>
#include <thread>

#include "modes/position_frames.hpp"
#include "modes/publish_api.hpp"

#include "net/reactor.hpp"
#include "net/server.hpp"
#include "net/session.hpp"
#include "proto/handshake.hpp"
#include "proto/encoder.hpp"

namespace wsring::modes {

using net::conn_state;
using net::deflate_contexts;

namespace {
std::string_view as_view(const core::shared_buffer& b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}
}  // namespace

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
    topic_log::recovery r = hub_.log().recover(as_view(topics_.name(c.topic)), since_.pos, at);
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
        if (hub_.log().release(as_view(name)) && hub_.remote()) hub_.remote()->unwant(as_view(name));
        return;
    }
    topics_.unsubscribe(c);
}

// Encode once (a server frame is unmasked: the same bytes serve every
// receiver). The payload points into the receive buffer, so this encoding is
// also the one copy the message gets before the kernel's. Small frames join
// their topic's batch for this turn; a large one goes alone, after it.
void pubsub_handler::on_message(session& s, connection& c, proto::opcode op,
                                std::span<const std::byte> payload) {
    // The token's roles may subscribe here but not publish (net/access_policy):
    // RFC 6455 §7.4.1's 1008, "a message that violates its policy".
    if (c.flags & net::sf_read_only) return s.close(c, proto::close_code::policy_violation, "publish not allowed");
    ++stats_.published;
    const std::size_t n = proto::frame_size(payload.size(), false);
    if (batches_.size() <= c.topic) batches_.resize(c.topic + 1);
    batch& b = batches_[c.topic];
    // --no-echo-self needs each entry's sender: one origin per batch; so
    // does a broker (it may refuse a batch, and its publisher is told).
    const bool remote = hub_.remote() != nullptr;
    const connection* origin = opts_.echo_self && !remote ? nullptr : &c;
    if (b.messages && (b.origin != origin || b.frames.size() + n > batch_max)) flush_batch(c.topic);
    if (n > batch_max && !remote) {
        auto frame = core::shared_buffer::make(
            n, [&](std::span<std::byte> out) { proto::encode_frame(out, op, payload); });
        broadcast_message m{std::move(frame), topics_.name(c.topic), {index_, &c}, 1};
        if (want_deflate(s)) {
            std::vector<std::byte> z;
            std::uint32_t compressed = 0;
            encode_deflated(s, op, payload, z, compressed);
            m.deflated = core::shared_buffer::copy_of(z);
        }
        publish(std::move(m));
        return;
    }
    if (b.messages == 0) {
        b.first_ns = ring_clock_ns();
        b.topic = topics_.name(c.topic);
        b.origin = origin;
        b.ticket = remote ? ticket_of(c) : 0;
        // Multi-node: the frames go to Redis plain and come back plain; each
        // reactor that delivers them compresses them once (deliver()).
        b.deflate = !remote && want_deflate(s);
        pending_.push_back(c.topic);
    }
    std::size_t at = b.frames.size();
    b.frames.resize(at + n);
    proto::encode_frame(std::span(b.frames).subspan(at), op, payload);
    if (b.deflate) encode_deflated(s, op, payload, b.deflated, b.compressed);
    ++b.messages;
}

// Compress once only if some receiver, on any reactor, can use it.
bool pubsub_handler::want_deflate(session& s) const {
    return s.deflate().options().enabled && hub_.has_sharing_receivers();
}

// Every message of an entry's `frames` as encode_deflated() frames it for
// sharing receivers; `frames` itself when none reached the threshold.
core::shared_buffer pubsub_handler::deflated_form(const core::shared_buffer& frames) {
    std::vector<std::byte> z;
    std::uint32_t compressed = 0;
    for_each_frame(frames.bytes(), 0, [&](proto::opcode op, std::span<const std::byte> payload, bool) {
        encode_deflated(*session_, op, payload, z, compressed);
    });
    return compressed ? core::shared_buffer::copy_of(z) : frames;
}

// Appends the message to `out` as a frame for sharing receivers: compressed
// without context takeover (RSV1, RFC 7692 §6.1), or as it is when under the
// threshold. The compressed bytes are framed from a scratch buffer: the
// header's size depends on their length, known only afterwards.
void pubsub_handler::encode_deflated(session& s, proto::opcode op, std::span<const std::byte> payload,
                                     std::vector<std::byte>& out, std::uint32_t& compressed) {
    const bool small = payload.size() < s.deflate().options().threshold;
    if (!small) {
        zscratch_.clear();
        s.deflate().compress_shared(payload, zscratch_);
        payload = zscratch_;
        ++compressed;
        ++stats_.compressed;
    }
    std::size_t at = out.size();
    out.resize(at + proto::frame_size(payload.size(), false));
    proto::encode_frame(std::span(out).subspan(at), op, payload, {.rsv1 = !small});
}

// THE publish: the one place a message enters the ring. The topic log
// hands out the entry's offsets and, in the same critical section, we
// encode the wsring.v1 frames (they carry those offsets, and become the
// topic's history) and claim the ring sequence, so ring order is offset
// order for every reactor. Compressing the v1 frames waits until after the
// lock: consumers only pause at our claimed slot meanwhile.
std::uint64_t pubsub_handler::publish(broadcast_message m, std::string* epoch) {
    const bool v1 = hub_.log().keeps_history() || hub_.has_v1_receivers();
    if (m.published_ns == 0) m.published_ns = ring_clock_ns();
    std::uint64_t seq = 0;
    m.first_offset = hub_.log().append(
        as_view(m.topic), m.messages, [&](std::string_view topic_epoch, std::uint64_t first) {
            if (v1) m.v1 = encode_v1_frames(m.frames.bytes(), topic_epoch, first);
            if (epoch) *epoch = topic_epoch;
            seq = producer_.claim();
            return m.v1;
        });
    const std::uint64_t first = m.first_offset;
    if (m.v1 && m.deflated && hub_.has_v1_receivers()) m.v1_deflated = deflated_form(m.v1);
    ++stats_.entries;
    producer_.publish_claimed(seq, std::move(m), [this] {
        wake_others();             // rule 2: they may sleep on entries we published
        consume(opts_.drain_max);  // rule 1: we may be the slowest consumer
    });
    unwoken_ = true;
    return first;
}

topic_position pubsub_handler::publish_now(std::string_view topic, proto::opcode op,
                                           std::span<const std::byte> payload) {
    ++stats_.published;
    core::shared_buffer name;
    if (std::uint32_t t = topics_.find(topic); t != topic_table::none) {
        if (t < batches_.size()) flush_batch(t);  // this turn's messages from our clients first
        name = topics_.name(t);
    } else {
        name = core::shared_buffer::copy_of(std::as_bytes(std::span(topic.data(), topic.size())));
    }
    auto frame = core::shared_buffer::make(proto::frame_size(payload.size(), false),
                                           [&](std::span<std::byte> out) { proto::encode_frame(out, op, payload); });
    broadcast_message m{std::move(frame), std::move(name), {}, 1};
    if (want_deflate(*session_)) {
        std::vector<std::byte> z;
        std::uint32_t compressed = 0;
        encode_deflated(*session_, op, payload, z, compressed);
        m.deflated = core::shared_buffer::copy_of(z);
    }
    topic_position p;
    p.offset = publish(std::move(m), &p.epoch);
    return p;
}

// The head is judged twice (here, and again with the body): a reactor may
// be reading several requests' bodies at once, so nothing of one request
// is kept in the handler between the two calls.
bool pubsub_handler::on_http_head(session& s, connection&, const proto::http_request& req,
                                  net::http_answer& answer) {
    session_ = &s;
    publish_target target;
    return judge_publish(req, opts_.api_key, opts_.per_path_topics, target, answer) !=
           publish_verdict::not_ours;
}

void pubsub_handler::on_http_body(session&, connection& c, const proto::http_request& req,
                                  std::span<const std::byte> body, net::http_answer& answer) {
    publish_target target;
    if (judge_publish(req, opts_.api_key, opts_.per_path_topics, target, answer) != publish_verdict::accepted)
        return;
    if (!check_publish_body(target, body, answer)) return;
    ++stats_.http_published;
    if (broker* b = hub_.remote()) {
        // Multi-node: the answer (its position) comes with the broker's
        // outcome (on_outcome); the connection reads nothing more until then.
        ++stats_.published;
        broker_publish p{index_, ticket_of(c), std::string(target.topic), {}, 1};
        p.frames.resize(proto::frame_size(body.size(), false));
        proto::encode_frame(p.frames, target.op, body);
        if (b->publish(std::move(p))) {
            answer.deferred = true;
            return;
        }
        forget_ticket(c);
        ++stats_.refused;
        answer.status = 503;
        answer.body = "publish refused: redis unavailable\n";
        answer.extra_headers = "Retry-After: 1\r\n";
        return;
    }
    topic_position p = publish_now(target.topic, target.op, body);
    publish_answer(p.epoch, p.offset, answer);
}

void pubsub_handler::on_http_abandoned(session&, connection& c) { forget_ticket(c); }

void pubsub_handler::flush_batch(std::uint32_t topic) {
    batch& b = batches_[topic];
    if (b.messages == 0) return;
    if (hub_.remote()) return publish_remote(topic, b);
    broadcast_message m{core::shared_buffer::copy_of(b.frames), std::move(b.topic),
                        {b.origin ? index_ : broadcast_origin::no_reactor, b.origin}, b.messages};
    if (b.deflate) m.deflated = b.compressed ? core::shared_buffer::copy_of(b.deflated) : m.frames;
    m.published_ns = b.first_ns;
    b.frames.clear();  // keeps its capacity for the next turn
    b.deflated.clear();
    b.messages = 0;
    b.compressed = 0;
    b.origin = nullptr;
    publish(std::move(m));
}

// Multi-node: the batch goes to the broker as it is (plain frames); the
// v1 and compressed forms are made where it is delivered. A refusal comes
// back through our own inbox, so it is handled like any other outcome, at
// a point where closing its publisher is safe.
void pubsub_handler::publish_remote(std::uint32_t, batch& b) {
    broker_publish p{index_, b.ticket, std::string(as_view(b.topic)), std::move(b.frames), b.messages};
    const std::uint64_t ticket = b.ticket;
    b.frames.clear();
    b.topic = {};
    b.messages = 0;
    b.origin = nullptr;
    b.ticket = 0;
    ++stats_.entries;
    if (!hub_.remote()->publish(std::move(p)))
        hub_.inbox(index_).post({ticket, false, {}, 0, "redis unavailable"});
}

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

void pubsub_handler::flush_batches() {
    for (std::uint32_t t : pending_) flush_batch(t);
    pending_.clear();
}

bool pubsub_handler::pending() const {
    return hub_.entries().has_pending(index_) || (hub_.remote() && hub_.inbox(index_).has_mail());
}

void pubsub_handler::drain() {
    if (index_ == 0) hub_.log().sweep();  // at most once a second; one reactor is enough
    // Before the ring: a topic synced since the last turn must know where it
    // starts before its entries are delivered.
    if (hub_.remote() && hub_.inbox(index_).has_mail()) read_inbox();
    flush_batches();
    if (unwoken_) wake_others();
    consume(opts_.drain_max);
}

void pubsub_handler::wake_others() {
    unwoken_ = false;
    hub_.wake_all(index_);
}

// Up to `max` entries, in batches (each batch publishes our cursor once, so
// stalled producers see progress).
std::size_t pubsub_handler::consume(std::size_t max) {
    std::size_t total = 0;
    consume_ns_ = 0;  // deliver() reads the clock once, if it delivers anything
    while (total < max) {
        std::size_t n = hub_.entries().poll(index_, std::min<std::size_t>(256, max - total),
                                            [this](const broadcast_message& m) { deliver(m); });
        total += n;
        if (n == 0) break;
    }
    return total;
}

// One entry to every local subscriber of its topic, in the encoding each
// reads: plain or compressed once (permessage-deflate), bare or with
// positions (wsring.v1). Nothing here can end a connection (close() only
// queues a close frame), so the subscriber list stays valid during the walk.
void pubsub_handler::deliver(const broadcast_message& m) {
    std::uint32_t t = topics_.find(as_view(m.topic));
    if (t == topic_table::none) return;  // no local subscriber
    local_topic& lt = locals_[t];
    if (!lt.synced && !start_synced(t, as_view(m.topic))) return;  // multi-node: not followed yet
    if (m.reset_epoch) return deliver_reset(m, t);
    // Positions: skip what these subscribers have had already (a replay
    // that reached past this entry, or offsets from before they came).
    const std::uint64_t end = m.first_offset + m.messages;
    if (end <= lt.next) return;
    const auto skip = static_cast<std::uint32_t>(lt.next > m.first_offset ? lt.next - m.first_offset : 0);
    lt.next = end;
    if (consume_ns_ == 0) consume_ns_ = ring_clock_ns();
    if (m.published_ns != 0 && consume_ns_ >= m.published_ns)
        delivery_.observe_n(static_cast<std::uint64_t>(consume_ns_ - m.published_ns), m.messages - skip);
    // Encodings the entry came without, made here once for all our
    // subscribers: wsring.v1 frames when its publisher saw no v1 subscriber
    // anywhere (history off); compressed ones when it saw no sharing
    // receiver (one joined since), or when a broker delivered it (Redis
    // carries plain frames only).
    core::shared_buffer own_v1, own_z, own_v1_z;
    const auto deflated = [this](const core::shared_buffer& made, const core::shared_buffer& of,
                                 core::shared_buffer& own) -> const core::shared_buffer& {
        if (made) return made;
        if (!own) own = deflated_form(of);
        return own;
    };
    // Where each encoding starts after `skip` messages: found once, lazily.
    enum { plain, plain_z, v1, v1_z, encodings };
    std::array<std::size_t, encodings> begin;
    begin.fill(skip ? std::numeric_limits<std::size_t>::max() : 0);
    const connection* skip_self = nullptr;
    if (!opts_.echo_self && m.origin.reactor == index_) {
        skip_self = m.origin.conn;
        if (auto it = by_ticket_.find(m.origin.ticket); m.origin.ticket && it != by_ticket_.end())
            skip_self = it->second;
    }
    deflate_contexts& dc = session_->deflate();
    for (connection* c : topics_.subscribers(t)) {
        if (c == skip_self || c->state != conn_state::open || !c->ws.can_send()) continue;
        const bool agreed = deflate_contexts::agreed(*c);
        const bool shares = agreed && dc.shares(*c);
        int e = plain;
        const core::shared_buffer* text = &m.frames;  // the uncompressed form of what it reads
        if (c->mode & mode_v1) {
            if (!m.v1 && !own_v1) own_v1 = encode_v1_frames(m.frames.bytes(), lt.epoch, m.first_offset);
            text = m.v1 ? &m.v1 : &own_v1;
            e = shares ? v1_z : v1;
        } else if (shares) {
            e = plain_z;
        }
        const core::shared_buffer& frames = e == plain_z ? deflated(m.deflated, m.frames, own_z)
                                            : e == v1_z  ? deflated(m.v1_deflated, *text, own_v1_z)
                                                         : *text;
        if (begin[e] == std::numeric_limits<std::size_t>::max()) begin[e] = frame_offset(frames.bytes(), skip);
        if (c->out.bytes() + frames.size() - begin[e] > backpressure_cap(*c)) {
            slow_consumer(*c, m.messages - skip);
            continue;
        }
        if (agreed && !shares) recompress_for(*c, text->bytes(), frame_offset(text->bytes(), skip));
        else session_->send_encoded(*c, frames, begin[e], frames.size(), m.messages - skip);
        stats_.delivered += m.messages - skip;
    }
}

// Multi-node: the broker could not repair a gap in the topic (its history
// in Redis is gone). Subscribers speaking wsring.v1 are told where it stands
// now ("!unrecovered", docs/protocol-v1.md §6); the others cannot be, so
// they are closed 1012 ("service restart") to reconnect and start afresh.
void pubsub_handler::deliver_reset(const broadcast_message& m, std::uint32_t t) {
    local_topic& lt = locals_[t];
    // A reset from before our subscribers came: they started after it.
    if (lt.epoch == as_view(m.reset_epoch) && lt.next >= m.first_offset) return;
    lt.epoch.assign(as_view(m.reset_epoch));
    lt.next = m.first_offset;
    for (connection* c : topics_.subscribers(t)) {
        if (c->state != conn_state::open || !c->ws.can_send()) continue;
        if (c->mode & mode_v1) {
            ++stats_.unrecovered;
            session_->send_encoded(*c, m.v1, 1);
        } else {
            session_->close(*c, proto::close_code::service_restart, "topic history lost: reconnect");
        }
    }
}

// A receiver whose agreement rules out the shared frame (it keeps a context,
// or asked for a smaller window: RFC 7692 §7.1.2.1) gets each message
// compressed for it alone: the entry's plain frames are read back one by one
// (complete, unmasked, FIN data frames: we wrote them).
void pubsub_handler::recompress_for(connection& c, std::span<const std::byte> frames, std::size_t begin) {
    for_each_frame(frames, begin, [&](proto::opcode op, std::span<const std::byte> payload, bool) {
        session_->send_message(c, op, payload);
        ++stats_.recompressed;
    });
}

// --max-backpressure, plus what is left of a replay's allowance.
std::size_t pubsub_handler::backpressure_cap(const connection& c) {
    if (replay_allowance_.empty()) return opts_.max_backpressure;
    auto it = replay_allowance_.find(&c);
    if (it == replay_allowance_.end()) return opts_.max_backpressure;
    if (c.out.bytes() <= opts_.max_backpressure) {  // the replay has drained: a subscriber like any other
        replay_allowance_.erase(it);
        return opts_.max_backpressure;
    }
    return opts_.max_backpressure + it->second;
}

void pubsub_handler::slow_consumer(connection& c, std::uint32_t messages) {
    if (opts_.slow == slow_consumer_policy::skip) {
        stats_.skipped += messages;
        ++stats_.skip_events;
        return;
    }
    ++stats_.slow_closed;
    // RFC 6455 §7.4.1: 1008, "a message that violates its policy". The close
    // frame queues behind the backlog; close_timeout bounds the wait.
    session_->close(c, proto::close_code::policy_violation, "slow consumer");
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

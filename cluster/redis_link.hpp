// One connection to one Redis server, driven by the broker's thread (never
// a reactor's): hiredis' context in non-blocking mode gives the RESP writer
// and parser; this class adds what a long-lived link needs — connecting
// without blocking (with a deadline), pipelining (commands queue up and go
// out in one write per loop turn; replies come back in order, each to its
// callback), pub/sub mode (messages to a handler), and coming back after a
// loss with exponential backoff and jitter (core/backoff.hpp). It says
// when it goes up or down; what to redo then is the broker's business.
// Read next: cluster/redis_broker.hpp.
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/backoff.hpp"
#include "cluster/shard_map.hpp"

struct redisContext;
struct redisReply;

namespace wsring::cluster {

class redis_link {
public:
    using clock = std::chrono::steady_clock;
    // A command's reply; null when the link went down before it came (the
    // command may or may not have run). The reply is freed after the call.
    using reply_fn = std::function<void(const redisReply* r)>;
    // pub/sub: a "message" on a channel this link subscribed to.
    using message_fn = std::function<void(std::string_view channel, std::string_view payload)>;

    struct events {
        std::function<void()> up;                         // connected (first time or again)
        std::function<void(const std::string& why)> down;  // lost or failed to connect
        message_fn message;                               // pub/sub only
    };

    redis_link(redis_address addr, events ev, core::backoff_policy b = {},
               std::chrono::milliseconds connect_timeout = std::chrono::milliseconds(2000));
    ~redis_link();
    redis_link(const redis_link&) = delete;
    redis_link& operator=(const redis_link&) = delete;

    // Starts the first connection attempt (non-blocking).
    void start(clock::time_point now);

    // ---- the poll loop's side --------------------------------------------
    int fd() const;            // -1 while down
    short poll_events() const; // POLLIN, plus POLLOUT while connecting or output is pending
    void on_poll(short revents, clock::time_point now);
    // Retries and deadlines: call every loop turn; next_deadline says when
    // the loop must wake for it at the latest.
    void tick(clock::time_point now);
    std::optional<clock::time_point> next_deadline() const;

    // ---- commands --------------------------------------------------------
    bool up() const { return state_ == state::up; }
    // Queues one command (binary-safe arguments); false when the link is
    // not up (nothing queued, `done` not called).
    bool command(std::span<const std::string_view> argv, reply_fn done);
    // Pub/sub commands: SUBSCRIBE/UNSUBSCRIBE go out like commands; their
    // confirmations come to `done` (one per channel, in order); messages go
    // to events.message. Use a link either for commands or for pub/sub.
    bool subscribe(std::string_view channel, reply_fn done);
    bool unsubscribe(std::string_view channel, reply_fn done);

    const redis_address& address() const { return addr_; }
    std::uint64_t connects() const { return connects_; }  // successful ones

private:
    enum class state { idle, connecting, up, waiting };  // waiting: for the next attempt
    void connect(clock::time_point now);
    void established();
    void fail(const std::string& why, clock::time_point now);
    void read_replies(clock::time_point now);
    void flush(clock::time_point now);

    redis_address addr_;
    events ev_;
    core::backoff backoff_;
    std::chrono::milliseconds connect_timeout_;
    redisContext* ctx_ = nullptr;
    state state_ = state::idle;
    clock::time_point deadline_{};  // connecting: give up; waiting: try again
    std::deque<reply_fn> pending_;  // one per reply still to come, in order
    std::uint64_t connects_ = 0;
    // A SUBSCRIBE went out on this connection: only then is an array
    // ["message", channel, payload] a push, not some command's reply.
    bool pubsub_ = false;
};

}  // namespace wsring::cluster

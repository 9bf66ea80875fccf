// redis_link: one non-blocking connection to one Redis server. hiredis'
// synchronous context, switched to non-blocking, is used only as a RESP
// writer (redisAppendCommandArgv into ctx->obuf) and parser (the reader);
// this file owns the socket's life around it: connect with a deadline,
// flush and read when poll says so, hand each reply to its callback in
// order, and on any failure drop everything and try again after a backoff.
// It never blocks, except in getaddrinfo for a host name (hiredis resolves).
// Read next: cluster/redis_broker_shards.cpp (the broker's side of ups and downs).
#include "cluster/redis_link.hpp"

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

namespace wsring::cluster {

namespace {

// hiredis 0.14's redisBufferRead reads into a char[16 * 1024] per call.
constexpr std::size_t hiredis_read_chunk = 16 * 1024;
constexpr int max_reads_per_turn = 16;  // 256 KiB

struct reply_deleter {
    void operator()(redisReply* r) const { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

bool is_bulk(const redisReply* r) { return r->type == REDIS_REPLY_STRING; }

std::string_view view_of(const redisReply* r) { return {r->str, r->len}; }

// A pub/sub push in RESP2: *3 $7 message $<channel> $<payload>.
// (["subscribe", ch, n] confirmations are answers to commands: the FIFO's.)
bool is_message(const redisReply* r) {
    return r->type == REDIS_REPLY_ARRAY && r->elements == 3 && is_bulk(r->element[0]) &&
           view_of(r->element[0]) == "message" && is_bulk(r->element[1]) &&
           is_bulk(r->element[2]);
}

std::string errno_text(const char* what, int err) {
    return std::string(what) + ": " + std::strerror(err);
}

}  // namespace

redis_link::redis_link(redis_address addr, events ev, core::backoff_policy b,
                       std::chrono::milliseconds connect_timeout)
    : addr_(std::move(addr)), ev_(std::move(ev)), backoff_(b), connect_timeout_(connect_timeout) {}

// Callbacks still pending are not called: their owner is going away too.
redis_link::~redis_link() {
    if (ctx_) redisFree(ctx_);
}

void redis_link::start(clock::time_point now) {
    if (state_ == state::idle) connect(now);
}

// ---- connection lifecycle -------------------------------------------------

// redisConnectNonBlock creates a non-blocking socket and calls connect(),
// which answers EINPROGRESS: the outcome comes later, as POLLOUT and
// SO_ERROR (on_poll). hiredis sets REDIS_CONNECTED and TCP_NODELAY at once,
// so its flag says nothing about whether the handshake completed; state_
// does. A refusal seen by connect() itself arrives here as ctx->err.
void redis_link::connect(clock::time_point now) {
    ctx_ = redisConnectNonBlock(addr_.host.c_str(), addr_.port);
    if (!ctx_) return fail("connect: out of memory", now);
    if (ctx_->err) return fail(std::string("connect: ") + ctx_->errstr, now);
    state_ = state::connecting;
    deadline_ = now + connect_timeout_;
}

void redis_link::established() {
    // hiredis 0.14 sets it in its connect already; said again here because
    // one-command round trips (PING, EVALSHA) must not wait for Nagle.
    const int one = 1;
    setsockopt(ctx_->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    state_ = state::up;
    backoff_.reset();
    ++connects_;
    // Last: `up` may queue commands (resubscribe) and they must be taken.
    if (ev_.up) ev_.up();
}

// Every failure ends here, once per connection or attempt. The state moves
// before any callback runs, so a callback that calls command() gets false
// instead of queueing onto a dead context; the queue is moved out first so
// such a call can't disturb the loop over it.
void redis_link::fail(const std::string& why, clock::time_point now) {
    if (ctx_) {
        redisFree(ctx_);
        ctx_ = nullptr;
    }
    state_ = state::waiting;
    pubsub_ = false;
    deadline_ = now + backoff_.next();
    std::deque<reply_fn> lost;
    lost.swap(pending_);
    for (auto& done : lost)
        if (done) done(nullptr);
    if (ev_.down) ev_.down(why);
}

void redis_link::tick(clock::time_point now) {
    if (now < deadline_) return;
    if (state_ == state::waiting) connect(now);
    else if (state_ == state::connecting) fail("connect: timed out", now);
}

std::optional<redis_link::clock::time_point> redis_link::next_deadline() const {
    if (state_ == state::waiting || state_ == state::connecting) return deadline_;
    return std::nullopt;
}

// ---- the poll loop's side ---------------------------------------------------

int redis_link::fd() const { return ctx_ ? ctx_->fd : -1; }

short redis_link::poll_events() const {
    switch (state_) {
    case state::connecting: return POLLOUT;  // writable = the handshake is over
    case state::up: return static_cast<short>(POLLIN | (sdslen(ctx_->obuf) ? POLLOUT : 0));
    default: return 0;
    }
}

void redis_link::on_poll(short revents, clock::time_point now) {
    if (state_ == state::connecting) {
        if (!(revents & (POLLOUT | POLLERR | POLLHUP))) return;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(ctx_->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
        if (err) return fail(errno_text("connect", err), now);
        established();
        // `up` may have queued commands: send them this turn.
        if (state_ == state::up && sdslen(ctx_->obuf)) flush(now);
        return;
    }
    if (state_ != state::up) return;
    // POLLERR / POLLHUP: read anyway; what is left arrives first, then the
    // error or EOF, which fails the link with hiredis' words for it.
    // redisBufferRead reads one chunk; a full one means more is probably
    // waiting, so read again now rather than one poll round per 16 KiB, a
    // few times at most so that a flood can't keep the loop from the rest.
    for (int round = 0; round < max_reads_per_turn && (revents & (POLLIN | POLLERR | POLLHUP));
         ++round) {
        const std::size_t before = ctx_->reader->len;
        if (redisBufferRead(ctx_) != REDIS_OK) return fail(ctx_->errstr, now);
        const bool full = ctx_->reader->len - before >= hiredis_read_chunk;
        read_replies(now);
        if (state_ != state::up) return;
        if (!full) break;
    }
    // Commands queued by this turn's callbacks go out now, not a poll later.
    if (sdslen(ctx_->obuf)) flush(now);
}

// The reader may hold many replies after one read: take them all. Each one
// is popped off the queue before its callback runs (which may queue more).
void redis_link::read_replies(clock::time_point now) {
    while (state_ == state::up) {
        void* raw = nullptr;
        if (redisGetReplyFromReader(ctx_, &raw) != REDIS_OK)
            return fail(std::string("protocol: ") + ctx_->errstr, now);
        if (!raw) return;  // needs more bytes
        const reply_ptr r(static_cast<redisReply*>(raw));
        if (pubsub_ && is_message(r.get())) {
            if (ev_.message) ev_.message(view_of(r->element[1]), view_of(r->element[2]));
            continue;
        }
        // A reply nobody asked for: our queue and Redis' disagree, and every
        // later reply would go to the wrong callback. Start over.
        if (pending_.empty()) return fail("protocol: a reply without a command", now);
        reply_fn done = std::move(pending_.front());
        pending_.pop_front();
        if (done) done(r.get());
    }
}

// One write per call, of as much of ctx->obuf as the socket takes; the rest
// stays for the next POLLOUT. hiredis writes with write(), not send() with
// MSG_NOSIGNAL, so a write to a reset connection would raise SIGPIPE and
// kill a process that did not ignore it: block it in this thread around
// the write and take back one it raised (EPIPE is what we act on).
void redis_link::flush(clock::time_point now) {
    sigset_t pipe_set, old_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
    int done = 0;
    const bool ok = redisBufferWrite(ctx_, &done) == REDIS_OK;
    if (!ok && !sigismember(&old_set, SIGPIPE)) {
        const timespec zero{};
        while (sigtimedwait(&pipe_set, nullptr, &zero) > 0) {}
    }
    pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
    if (!ok) fail(ctx_->errstr, now);
}

// ---- commands ---------------------------------------------------------------

bool redis_link::command(std::span<const std::string_view> argv, reply_fn done) {
    if (state_ != state::up || argv.empty()) return false;
    // Scratch arrays for hiredis' argv form, reused: no allocation per
    // command once they have grown. (command() never runs inside itself.)
    thread_local std::vector<const char*> ptrs;
    thread_local std::vector<std::size_t> lens;
    ptrs.clear();
    lens.clear();
    for (std::string_view a : argv) {
        ptrs.push_back(a.data() ? a.data() : "");  // an empty view may have no pointer
        lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), ptrs.data(), lens.data()) !=
        REDIS_OK)
        return false;  // out of memory; nothing was queued
    pending_.push_back(std::move(done));
    return true;
}

bool redis_link::subscribe(std::string_view channel, reply_fn done) {
    const std::string_view argv[] = {"SUBSCRIBE", channel};
    if (!command(argv, std::move(done))) return false;
    pubsub_ = true;
    return true;
}

bool redis_link::unsubscribe(std::string_view channel, reply_fn done) {
    const std::string_view argv[] = {"UNSUBSCRIBE", channel};
    return command(argv, std::move(done));
}

}  // namespace wsring::cluster

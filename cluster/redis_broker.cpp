// redis_broker: the bridge's thread and everything it owns. Reactors talk
// to it through one queue (publish, want, unwant) and an eventfd; it talks
// back through the topic log + ring (messages) and the reactors' inboxes
// (outcomes, "synced"). This file is the public face and the thread's poll
// loop: start and stop, the queue, one turn of links, timers and requests.
// What each turn does lives beside it: links and scripts in
// redis_broker_shards.cpp, the per-topic state in redis_broker_topics.cpp,
// channel messages in redis_broker_deliver.cpp, publishes in
// redis_broker_publish.cpp. Read next: redis_broker_topics.cpp, docs/cluster.md.
#include "cluster/redis_broker.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>

#include "cluster/redis_broker_impl.hpp"

namespace wsring::cluster {

using modes::broker_publish;

namespace detail {

std::string random_text(std::mt19937_64& rng, std::size_t n) {
    static constexpr std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    std::string s(n, '0');
    for (char& c : s) c = alphabet[pick(rng)];
    return s;
}

}  // namespace detail

redis_broker::impl::impl(modes::broadcast_hub& h, broker_options o)
    : hub(h), opts(std::move(o)), shards(opts.servers), producer(h.entries().make_producer()),
      rng(std::random_device{}()), shard_up(std::make_unique<std::atomic<bool>[]>(shards.size())),
      last_errors(shards.size()) {
    node_id = detail::random_text(rng, 8);
    wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

redis_broker::impl::~impl() {
    if (wake_fd >= 0) ::close(wake_fd);
}

void redis_broker::impl::enqueue(request r) {
    {
        std::lock_guard lock(mutex);
        queue.push_back(std::move(r));
    }
    if (!signalled.exchange(true, std::memory_order_acq_rel)) {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one);
    }
}

// ---- the loop ----------------------------------------------------------------

void redis_broker::impl::run() {
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
        check_started();

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

void redis_broker::impl::make_links(std::size_t s) {
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

// start() waits until every shard is up; this tells it so. Its deadline is
// start()'s own (a wait_for on started_cv), not kept here.
void redis_broker::impl::check_started() {
    bool all = true;
    for (std::size_t s = 0; s < links.size(); ++s) all = all && shard_ready(s);
    if (!all) return;
    std::lock_guard lock(mutex);
    if (started_done) return;
    started_done = true;
    started_cv.notify_all();
}

void redis_broker::impl::take_requests() {
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

// ---- the public face ----------------------------------------------------------

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

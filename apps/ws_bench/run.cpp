// The coordinator of run.hpp. It never touches a socket: it only moves the
// shared phase forward and reads the workers' live counters, which each
// worker refreshes ten times a second.
#include "apps/ws_bench/run.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "apps/ws_bench/worker.hpp"

namespace wsring::bench {

namespace {

using namespace std::chrono_literals;

double seconds_since(std::uint64_t t0) { return static_cast<double>(monotonic_ns() - t0) * 1e-9; }

struct totals {
    std::uint64_t messages = 0, bytes = 0, faults = 0, opened = 0, open_failed = 0, outstanding = 0,
                  delivered = 0, live_conns = 0;
    bool all_finished = true;
};

class coordinator {
public:
    explicit coordinator(const bench_options& opts) : opts_(opts) {}
    bench_result run();

private:
    void build_workers();
    totals sum() const;
    void set_phase(run_phase p) { shared_.phase.store(p, std::memory_order_release); }
    bool wait_setup();
    bool wait_fill();
    void run_window(double seconds, bool measured);
    void live_line(const char* tag, double t, const totals& now, const totals& before, double dt);
    void drain();
    void close_all();
    bool progress() const { return opts_.progress == 1 || (opts_.progress < 0 && isatty(2)); }

    const bench_options& opts_;
    shared_state shared_;
    std::vector<std::unique_ptr<worker>> workers_;
    std::vector<std::thread> threads_;
    std::size_t setup_expected_ = 0;
    std::size_t receivers_ = 0;
    bench_result r_;
    core::latency_histogram second_;  // the last second's latencies, for the live line
};

// Receivers and publishers are dealt round-robin, so every thread carries
// the same share of each kind.
void coordinator::build_workers() {
    unsigned t = opts_.threads;
    bool bcast = opts_.mode == bench_mode::broadcast;
    unsigned pubs = bcast ? opts_.publishers : 0;
    shared_.workers = t;
    shared_.publishers = pubs;
    shared_.published = std::make_unique<std::atomic<std::uint64_t>[]>(std::max(pubs, 1u));
    shared_.tracked = std::make_unique<std::atomic<std::uint64_t>[]>(static_cast<std::size_t>(t) * std::max(pubs, 1u));
    shared_.has_receivers.assign(t, 0);
    unsigned first_pub = 0;
    bool replay = opts_.mode == bench_mode::replay;
    for (unsigned i = 0; i < t; ++i) {
        std::size_t rc = opts_.conns / t + (i < opts_.conns % t ? 1 : 0);
        std::size_t pc = pubs / t + (i < pubs % t ? 1 : 0) + (replay && i == 0 ? 1 : 0);  // replay: the filler
        shared_.has_receivers[i] = rc > 0;
        shared_.live.push_back(std::make_unique<live_counters>());
        workers_.push_back(std::make_unique<worker>(opts_, shared_, i, rc + pc, rc, first_pub));
        first_pub += static_cast<unsigned>(pc);
    }
    receivers_ = opts_.conns;
    r_.conns_requested = opts_.conns + pubs + (replay ? 1 : 0);
    setup_expected_ = opts_.mode == bench_mode::connect ? 0 : replay ? 1 : r_.conns_requested;
}

totals coordinator::sum() const {
    totals s;
    for (auto& l : shared_.live) {
        s.messages += l->messages.load(std::memory_order_relaxed);
        s.bytes += l->bytes.load(std::memory_order_relaxed);
        s.faults += l->faults.load(std::memory_order_relaxed);
        s.opened += l->opened.load(std::memory_order_relaxed);
        s.open_failed += l->open_failed.load(std::memory_order_relaxed);
        s.outstanding += l->outstanding.load(std::memory_order_relaxed);
        s.delivered += l->delivered_all.load(std::memory_order_relaxed);
        s.live_conns += l->live_conns.load(std::memory_order_relaxed);
        s.all_finished = s.all_finished && l->finished.load(std::memory_order_acquire);
    }
    return s;
}

// Waits until every connection opened or failed (or the connect timeout).
bool coordinator::wait_setup() {
    std::uint64_t t0 = monotonic_ns();
    double next_line = 1;
    for (;;) {
        totals s = sum();
        if (s.opened + s.open_failed >= setup_expected_) break;
        double t = seconds_since(t0);
        if (t > opts_.connect_timeout + 1) {
            std::fprintf(stderr, "ws-bench: only %llu of %zu connections opened within %.0f s\n",
                         static_cast<unsigned long long>(s.opened), setup_expected_, opts_.connect_timeout);
            break;
        }
        if (progress() && t >= next_line) {
            std::fprintf(stderr, "[setup %4.0fs] %llu/%zu connections open\n", t,
                         static_cast<unsigned long long>(s.opened), setup_expected_);
            next_line += 1;
        }
        std::this_thread::sleep_for(5ms);
    }
    std::this_thread::sleep_for(150ms);  // let the last counters land
    r_.setup_s = seconds_since(t0);
    totals s = sum();
    r_.setup_complete = s.opened >= setup_expected_;
    return setup_expected_ == 0 || s.opened > 0;
}

// replay: the filler's messages must all be in the topic's history before
// any connection asks for them.
bool coordinator::wait_fill() {
    std::uint64_t t0 = monotonic_ns();
    while (seconds_since(t0) < opts_.connect_timeout) {
        int f = shared_.fill.load(std::memory_order_acquire);  // partner: the filler's release
        if (f != 0) return f > 0;
        std::this_thread::sleep_for(5ms);
    }
    std::fprintf(stderr, "ws-bench: the %llu history messages did not come back to their publisher within %.0f s\n",
                 static_cast<unsigned long long>(opts_.history), opts_.connect_timeout);
    return false;
}

void coordinator::live_line(const char* tag, double t, const totals& now, const totals& before, double dt) {
    {
        second_.reset();
        for (auto& l : shared_.live) {
            std::lock_guard lock(l->mu);
            second_.merge(l->interval);
            l->interval.reset();
        }
    }
    second_sample s{t, static_cast<double>(now.messages - before.messages) / dt,
                    static_cast<double>(now.bytes - before.bytes) / dt / 1e6,
                    static_cast<double>(second_.value_at_percentile(99)) / 1e3, now.faults};
    if (tag == nullptr) r_.timeline.push_back(s);
    if (progress())
        std::fprintf(stderr, "[%-6s %4.0fs] %12.0f msg/s %9.2f MB/s  p99 %9.1f us  errors %llu  conns %llu\n",
                     tag ? tag : "", t, s.msgs_per_s, s.mb_per_s, s.p99_us, static_cast<unsigned long long>(now.faults),
                     static_cast<unsigned long long>(now.live_conns));
}

// Runs `seconds` of load, with a live line each second. Messages count only
// in the measured window (workers look at the phase themselves).
void coordinator::run_window(double seconds, bool measured) {
    std::uint64_t t0 = monotonic_ns();
    std::uint64_t end = t0 + static_cast<std::uint64_t>(seconds * 1e9);
    std::uint64_t last = t0;
    totals before = sum();
    for (int tick = 1; monotonic_ns() < end; ++tick) {
        std::uint64_t next = std::min(end, t0 + static_cast<std::uint64_t>(tick) * 1'000'000'000u);
        while (monotonic_ns() < next) std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<std::uint64_t>(next - monotonic_ns(), 5'000'000)));
        std::uint64_t now_ns = monotonic_ns();
        totals now = sum();
        double dt = static_cast<double>(now_ns - last) * 1e-9;
        if (dt > 0.2) live_line(measured ? nullptr : "warmup", static_cast<double>(now_ns - t0) * 1e-9, now, before, dt);
        if (measured && opts_.server_pid)
            r_.server_rss_max = std::max(r_.server_rss_max, sample_process(opts_.server_pid).rss_bytes);
        before = now;
        last = now_ns;
        if (now.live_conns == 0 && setup_expected_ > 0) break;  // every connection is gone
    }
}

// No new sends; wait (bounded) for replies and deliveries already owed.
void coordinator::drain() {
    std::uint64_t t0 = monotonic_ns();
    std::uint64_t last_delivered = UINT64_MAX;
    std::uint64_t stable_since = t0;
    while (seconds_since(t0) < 3.0) {
        std::this_thread::sleep_for(20ms);
        totals s = sum();
        bool replies = opts_.mode == bench_mode::echo || opts_.mode == bench_mode::http_publish;
        if (replies && s.outstanding == 0) break;
        if (!replies && opts_.mode != bench_mode::broadcast) break;
        if (opts_.mode == bench_mode::broadcast) {
            std::uint64_t published = 0;
            for (unsigned p = 0; p < shared_.publishers; ++p) published += shared_.published[p].load();
            if (s.delivered >= published * receivers_) break;
            if (s.delivered != last_delivered) stable_since = monotonic_ns();
            else if (seconds_since(stable_since) > 0.5) break;  // nothing more is coming
            last_delivered = s.delivered;
        }
    }
}

void coordinator::close_all() {
    set_phase(run_phase::closing);
    std::uint64_t t0 = monotonic_ns();
    while (!sum().all_finished && seconds_since(t0) < 3.0) std::this_thread::sleep_for(10ms);
    set_phase(run_phase::done);
    for (auto& th : threads_) th.join();
}

bench_result coordinator::run() {
    if (opts_.server_pid) r_.server_base = sample_process(opts_.server_pid);
    build_workers();
    for (auto& w : workers_) threads_.emplace_back([&w] { w->run(); });
    bool usable = wait_setup();
    if (usable && opts_.mode == bench_mode::replay) usable = wait_fill();
    if (usable) {
        if (opts_.mode == bench_mode::broadcast) std::this_thread::sleep_for(200ms);  // subscriptions settle
        set_phase(run_phase::warmup);
        run_window(opts_.warmup, false);
        if (opts_.server_pid) r_.server_start = sample_process(opts_.server_pid);
        r_.self_start = sample_process(0);
        r_.server_rss_max = r_.server_start.rss_bytes;
        std::uint64_t t0 = monotonic_ns();
        shared_.measure_start_ns.store(t0);
        set_phase(run_phase::measure);
        run_window(opts_.duration, true);
        set_phase(run_phase::drain);
        r_.measured_s = seconds_since(t0);
        if (opts_.server_pid) r_.server_end = sample_process(opts_.server_pid);
        r_.self_end = sample_process(0);
        drain();
    }
    close_all();
    for (auto& w : workers_) r_.total.merge(w->stats());
    for (unsigned p = 0; p < shared_.publishers; ++p) r_.published.push_back(shared_.published[p].load());
    if (shared_.fill.load() > 0) r_.since = shared_.since_epoch + ":" + std::to_string(shared_.since_offset);
    return std::move(r_);
}

}  // namespace

bench_result run_bench(const bench_options& opts) {
    coordinator c(opts);
    return c.run();
}

}  // namespace wsring::bench

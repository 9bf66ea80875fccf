// Broadcast ring throughput beside a mutex + std::deque broadcast baseline,
// in the same run: P producers (1-4) publish N = 2^18 messages in all, C consumers
// (2) each receive all N. items/s counts messages published; `deliveries`
// counts consumer receptions (N x C). Both queues are bounded at 1024.
// Threads are pinned one per CPU when there are enough CPUs; otherwise the
// scheduler places them and the run is oversubscribed (counter `oversub`).
// Usage: taskset -c 0-N ./bench_ring --benchmark_min_time=0.5
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>

#include <array>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "core/broadcast_ring.hpp"

namespace {

using wsring::core::broadcast_ring;

struct message {
    std::uint32_t producer = 0;
    std::uint64_t seq = 0;
};

constexpr std::uint64_t messages_per_run = 1 << 18;
constexpr std::size_t capacity = 1024;
constexpr std::size_t batch = 64;

// Pins the calling thread to the index-th CPU we may run on, if there are
// at least `threads` of them (else pinning would only add contention).
void pin(std::size_t index, std::size_t threads)
{
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 ||
        static_cast<std::size_t>(CPU_COUNT(&allowed)) < threads)
        return;
    std::size_t seen = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (!CPU_ISSET(cpu, &allowed) || seen++ != index)
            continue;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        pthread_setaffinity_np(pthread_self(), sizeof one, &one);
        return;
    }
}

bool oversubscribed(std::size_t threads)
{
    cpu_set_t allowed;
    sched_getaffinity(0, sizeof allowed, &allowed);
    return static_cast<std::size_t>(CPU_COUNT(&allowed)) < threads;
}

// ---- the ring -----------------------------------------------------------------

void run_ring(std::size_t producers, std::size_t consumers)
{
    broadcast_ring<message> ring(capacity, consumers);
    std::vector<std::thread> threads;
    for (std::size_t c = 0; c < consumers; ++c)
        threads.emplace_back([&, c] {
            pin(c, producers + consumers);
            std::uint64_t got = 0, sum = 0;
            while (got < messages_per_run) {
                const auto n = ring.poll(c, batch, [&](const message& m) { sum += m.seq; });
                got += n;
                if (n == 0)
                    std::this_thread::yield();
            }
            benchmark::DoNotOptimize(sum);
        });
    for (std::size_t p = 0; p < producers; ++p)
        threads.emplace_back([&, p] {
            pin(consumers + p, producers + consumers);
            auto handle = ring.make_producer();
            for (std::uint64_t i = p; i < messages_per_run; i += producers)
                handle.publish(message{static_cast<std::uint32_t>(p), i});
        });
    for (auto& t : threads)
        t.join();
}

// ---- the baseline: one mutex-guarded deque per consumer ---------------------

struct alignas(64) locked_queue {
    std::mutex mutex;
    std::deque<message> items;
};

void run_mutex(std::size_t producers, std::size_t consumers)
{
    std::vector<locked_queue> queues(consumers);
    std::vector<std::thread> threads;
    for (std::size_t c = 0; c < consumers; ++c)
        threads.emplace_back([&, c] {
            pin(c, producers + consumers);
            std::array<message, batch> local;
            std::uint64_t got = 0, sum = 0;
            while (got < messages_per_run) {
                std::size_t n = 0;
                {
                    std::lock_guard lock(queues[c].mutex);
                    auto& q = queues[c].items;
                    for (; n < batch && !q.empty(); ++n) {
                        local[n] = q.front();
                        q.pop_front();
                    }
                }
                for (std::size_t i = 0; i < n; ++i)
                    sum += local[i].seq;
                got += n;
                if (n == 0)
                    std::this_thread::yield();
            }
            benchmark::DoNotOptimize(sum);
        });
    for (std::size_t p = 0; p < producers; ++p)
        threads.emplace_back([&, p] {
            pin(consumers + p, producers + consumers);
            for (std::uint64_t i = p; i < messages_per_run; i += producers)
                for (auto& q : queues) {  // a copy per consumer, bounded like the ring
                    for (;;) {
                        std::unique_lock lock(q.mutex);
                        if (q.items.size() < capacity) {
                            q.items.push_back(message{static_cast<std::uint32_t>(p), i});
                            break;
                        }
                        lock.unlock();
                        std::this_thread::yield();
                    }
                }
        });
    for (auto& t : threads)
        t.join();
}

template <void (*run)(std::size_t, std::size_t)>
void bm_broadcast(benchmark::State& state)
{
    const auto producers = static_cast<std::size_t>(state.range(0));
    const auto consumers = static_cast<std::size_t>(state.range(1));
    for (auto _ : state)
        run(producers, consumers);
    const auto published = static_cast<double>(state.iterations() * messages_per_run);
    state.SetItemsProcessed(static_cast<std::int64_t>(published));
    state.counters["deliveries"] =
        benchmark::Counter(published * static_cast<double>(consumers), benchmark::Counter::kIsRate);
    state.counters["oversub"] = oversubscribed(producers + consumers) ? 1 : 0;
}

void producers_by_consumers(benchmark::internal::Benchmark* b)
{
    for (int p = 1; p <= 4; ++p)
        b->Args({p, 2});
    b->ArgNames({"producers", "consumers"})->UseRealTime()->Unit(benchmark::kMillisecond);
}

// ---- one thread: the cost of the operations themselves, no contention ------

void bm_ring_single_thread(benchmark::State& state)
{
    broadcast_ring<message> ring(capacity, 2);
    auto producer = ring.make_producer();
    std::uint64_t sum = 0;
    for (auto _ : state) {
        for (std::uint64_t i = 0; i < batch; ++i)
            producer.publish(message{0, i});
        for (std::size_t c = 0; c < 2; ++c)
            ring.poll(c, batch, [&](const message& m) { sum += m.seq; });
    }
    benchmark::DoNotOptimize(sum);
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
}

void bm_mutex_single_thread(benchmark::State& state)
{
    std::vector<locked_queue> queues(2);
    std::uint64_t sum = 0;
    for (auto _ : state) {
        for (std::uint64_t i = 0; i < batch; ++i)
            for (auto& q : queues) {
                std::lock_guard lock(q.mutex);
                q.items.push_back(message{0, i});
            }
        for (auto& q : queues) {
            std::lock_guard lock(q.mutex);
            for (const auto& m : q.items)
                sum += m.seq;
            q.items.clear();
        }
    }
    benchmark::DoNotOptimize(sum);
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
}

}  // namespace

BENCHMARK(bm_broadcast<run_ring>)->Name("ring_broadcast")->Apply(producers_by_consumers);
BENCHMARK(bm_broadcast<run_mutex>)->Name("mutex_deque_broadcast")->Apply(producers_by_consumers);
BENCHMARK(bm_ring_single_thread)->Name("ring_single_thread");
BENCHMARK(bm_mutex_single_thread)->Name("mutex_deque_single_thread");

BENCHMARK_MAIN();

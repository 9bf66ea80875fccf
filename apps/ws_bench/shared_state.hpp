// What the coordinator thread and the worker threads share while a run is in
// flight: the phase of the run (set only by the coordinator), each worker's
// live counters (written only by that worker), and the broadcast publishers'
// progress. Everything is an atomic with relaxed order unless its comment
// names a partner; the live latency histogram sits behind a mutex taken
// about ten times a second, never per message.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/latency_histogram.hpp"

namespace wsring::bench {

// setup: connections open; warmup: load but not counted; measure: counted;
// drain: no new sends, outstanding replies come home; closing: close
// handshakes; done: workers leave their loops.
enum class run_phase : std::uint8_t { setup, warmup, measure, drain, closing, done };

struct live_counters {
    alignas(64) std::atomic<std::uint64_t> messages{0};   // in the measured window
    std::atomic<std::uint64_t> bytes{0};
    std::atomic<std::uint64_t> faults{0};
    std::atomic<std::uint64_t> opened{0};                 // connections that reached open
    std::atomic<std::uint64_t> open_failed{0};
    std::atomic<std::uint64_t> outstanding{0};            // echo replies still due
    std::atomic<std::uint64_t> delivered_all{0};          // broadcast deliveries, whole run
    std::atomic<std::uint64_t> live_conns{0};             // sockets not yet closed
    std::atomic<bool> finished{false};                    // left the loop
    std::mutex mu;                                        // guards `interval`
    core::latency_histogram interval;                     // since the coordinator last took it
};

struct shared_state {
    std::atomic<run_phase> phase{run_phase::setup};  // release by coordinator, acquire by workers
    std::atomic<std::uint64_t> measure_start_ns{0};
    std::vector<std::unique_ptr<live_counters>> live;  // one per worker

    // broadcast: per publisher, messages sent (whole run); per worker ×
    // publisher, the sequence its tracking receiver has seen (for windows).
    unsigned publishers = 0;
    unsigned workers = 0;
    std::unique_ptr<std::atomic<std::uint64_t>[]> published;
    std::unique_ptr<std::atomic<std::uint64_t>[]> tracked;
    std::vector<char> has_receivers;  // per worker, fixed before threads start

    // replay: the filler (worker 0's first connection) publishes --history
    // messages, then writes where they start and sets `fill` to 1 (release;
    // partner: the coordinator's acquire before warm-up), or -1 if it failed.
    std::atomic<int> fill{0};
    std::string since_epoch;
    std::uint64_t since_offset = 0;

    std::atomic<std::uint64_t>& tracked_at(unsigned worker, unsigned pub) {
        return tracked[static_cast<std::size_t>(worker) * publishers + pub];
    }
};

}  // namespace wsring::bench

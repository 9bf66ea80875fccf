// GET /metrics: the Prometheus text exposition format (version 0.0.4) —
// `# HELP`, `# TYPE`, then `name{label="value"} number` lines — built on
// request from collectors that read counters (core/counter.hpp) without a
// lock. A registry is filled before the server starts and only read after,
// so any thread (a reactor, the --metrics-port thread) may render it.
//
// Which families exist is the collectors' business: net/server_metrics.cpp
// (connections, messages, handshakes, TLS), modes/fanout_metrics.cpp
// (publish→delivery, topics, history), cluster/ (Redis), and the process
// collector here. docs/operations.md lists every one with its meaning.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bucket_histogram.hpp"

namespace wsring::net {

class metrics_text {
public:
    // A family's header. `type`: "counter" (its name ends in _total),
    // "gauge" or "histogram". Its samples follow, before the next family.
    void family(std::string_view name, std::string_view type, std::string_view help);
    // One sample line; `labels` is the inside of {...} (label() builds it),
    // empty for none.
    void sample(std::string_view name, std::uint64_t value, std::string_view labels = {});
    void sample(std::string_view name, double value, std::string_view labels = {});

    // Shorthands for a family of one unlabelled sample.
    void counter(std::string_view name, std::string_view help, std::uint64_t value);
    void gauge(std::string_view name, std::string_view help, double value);
    // A histogram of nanoseconds, exported in seconds: cumulative `_bucket`
    // lines (le = each bound, then +Inf), `_sum`, and `_count` equal to the
    // +Inf bucket (the buckets are read one by one while the writer goes
    // on: the count is taken from them, so the two always agree).
    void histogram_seconds(std::string_view name, std::string_view help, const core::bucket_histogram& h);

    // `key="value"`, the value escaped as the format asks (\\, \", \n).
    static std::string label(std::string_view key, std::string_view value);

    const std::string& text() const { return out_; }

private:
    void begin_sample(std::string_view name, std::string_view labels);  // "name{labels} "
    std::string out_;
};

// The content type a scraper is told (Prometheus text format 0.0.4).
inline constexpr std::string_view metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

class metrics_registry {
public:
    using collector = std::function<void(metrics_text&)>;
    // Before the server starts (collectors are then only read).
    void add(collector c) { collectors_.push_back(std::move(c)); }
    // Any thread: every collector, in the order they were added.
    std::string render() const;

private:
    std::vector<collector> collectors_;
};

// process_cpu_seconds_total, process_resident_memory_bytes,
// process_open_fds, process_max_fds, process_start_time_seconds — the
// standard process families, from /proc/self (Linux).
void collect_process_metrics(metrics_text& out);

}  // namespace wsring::net

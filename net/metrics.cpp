// The text format: https://prometheus.io/docs/instrumenting/exposition_formats/
// Numbers are written with std::to_chars (shortest round-trip form, no
// locale), so a scrape parses back to the values we hold.
#include "net/metrics.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace wsring::net {

namespace {

template <class T>
void append_number(std::string& out, T value) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, value);
    out.append(buf, r.ptr);
}

// Nanoseconds as decimal seconds ("0.00005", "2.5", "10"): exact, and the
// same `le` text on every scrape (Prometheus matches buckets by it).
std::string seconds_of(std::uint64_t ns) {
    std::string s = std::to_string(ns / 1'000'000'000);
    if (std::uint64_t frac = ns % 1'000'000'000) {
        char digits[10];
        std::snprintf(digits, sizeof digits, "%09llu", static_cast<unsigned long long>(frac));
        std::string f(digits);
        while (!f.empty() && f.back() == '0') f.pop_back();
        s += '.' + f;
    }
    return s;
}

}  // namespace

void metrics_text::family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;  // ours: plain text without backslashes or newlines
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
}

void metrics_text::begin_sample(std::string_view name, std::string_view labels) {
    out_ += name;
    if (!labels.empty()) {
        out_ += '{';
        out_ += labels;
        out_ += '}';
    }
    out_ += ' ';
}

void metrics_text::sample(std::string_view name, std::uint64_t value, std::string_view labels) {
    begin_sample(name, labels);
    append_number(out_, value);
    out_ += '\n';
}

void metrics_text::sample(std::string_view name, double value, std::string_view labels) {
    // A whole number reads as one ("100000", not to_chars' shortest "1e+05").
    if (value >= 0 && value < 9007199254740992.0 && value == static_cast<double>(static_cast<std::uint64_t>(value)))
        return sample(name, static_cast<std::uint64_t>(value), labels);
    begin_sample(name, labels);
    append_number(out_, value);
    out_ += '\n';
}

void metrics_text::counter(std::string_view name, std::string_view help, std::uint64_t value) {
    family(name, "counter", help);
    sample(name, value);
}

void metrics_text::gauge(std::string_view name, std::string_view help, double value) {
    family(name, "gauge", help);
    sample(name, value);
}

void metrics_text::histogram_seconds(std::string_view name, std::string_view help,
                                     const core::bucket_histogram& h) {
    family(name, "histogram", help);
    const std::string bucket = std::string(name) + "_bucket";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < core::bucket_histogram::bounds_ns.size(); ++i) {
        cumulative += h.bucket(i);
        sample(bucket, cumulative, label("le", seconds_of(core::bucket_histogram::bounds_ns[i])));
    }
    cumulative += h.bucket(core::bucket_histogram::bucket_count - 1);
    sample(bucket, cumulative, label("le", "+Inf"));
    sample(std::string(name) + "_sum", static_cast<double>(h.sum_ns()) / 1e9);
    sample(std::string(name) + "_count", cumulative);
}

std::string metrics_text::label(std::string_view key, std::string_view value) {
    std::string s(key);
    s += "=\"";
    for (char ch : value) {
        if (ch == '\\') s += "\\\\";
        else if (ch == '"') s += "\\\"";
        else if (ch == '\n') s += "\\n";
        else s += ch;
    }
    s += '"';
    return s;
}

std::string metrics_registry::render() const {
    metrics_text out;
    for (const collector& c : collectors_) c(out);
    return out.text();
}

// ---- the process (Linux /proc) ----------------------------------------------------

namespace {

// /proc/self/stat after the command name (which may hold spaces and
// parentheses: everything up to the last ')').
std::vector<std::string> stat_fields() {
    std::ifstream f("/proc/self/stat");
    std::string line;
    std::getline(f, line);
    std::vector<std::string> fields;
    auto close = line.rfind(')');
    if (close == std::string::npos) return fields;
    std::istringstream rest(line.substr(close + 1));
    for (std::string field; rest >> field;) fields.push_back(field);
    return fields;  // [0] is field 3 (state)
}

double boot_time_seconds() {
    std::ifstream f("/proc/stat");
    for (std::string key; f >> key;) {
        if (key == "btime") {
            double t = 0;
            f >> t;
            return t;
        }
        f.ignore(1 << 16, '\n');
    }
    return 0;
}

// Counting means listing /proc/self/fd: about 1 µs a descriptor (23 ms at
// 19,000 connections), on whichever thread renders — a reactor, on the
// WebSocket port. So the count is kept for 10 s: one scan per scrape
// interval at most, whatever the number of scrapers (docs/operations.md).
std::uint64_t scan_open_fds() {
    std::uint64_t n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (const dirent* e = ::readdir(d))
            if (e->d_name[0] != '.') ++n;
        ::closedir(d);
        --n;  // the directory's own descriptor
    }
    return n;
}

std::uint64_t open_fds() {
    static std::atomic<std::int64_t> scanned_at{-1};  // steady seconds
    static std::atomic<std::uint64_t> count{0};
    const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count();
    const std::int64_t at = scanned_at.load(std::memory_order_acquire);
    if (at >= 0 && now - at < 10) return count.load(std::memory_order_relaxed);
    count.store(scan_open_fds(), std::memory_order_relaxed);
    scanned_at.store(now, std::memory_order_release);
    return count.load(std::memory_order_relaxed);
}

}  // namespace

void collect_process_metrics(metrics_text& out) {
    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const std::vector<std::string> f = stat_fields();
    if (f.size() > 21) {
        // utime, stime: fields 14, 15; starttime: field 22; rss (pages): field 24.
        const double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
        out.family("process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.");
        out.sample("process_cpu_seconds_total", cpu);
        out.gauge("process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds.",
                  boot_time_seconds() + std::stod(f[19]) / ticks);
        out.gauge("process_resident_memory_bytes", "Resident memory size, in bytes.",
                  std::stod(f[21]) * static_cast<double>(::sysconf(_SC_PAGESIZE)));
    }
    out.gauge("process_open_fds", "Open file descriptors.", static_cast<double>(open_fds()));
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0)
        out.gauge("process_max_fds", "The limit on open file descriptors.", static_cast<double>(lim.rlim_cur));
}

}  // namespace wsring::net

#include "net/refusal_log.hpp"

#include <chrono>

#include "net/log.hpp"

namespace wsring::net {

std::string_view describe(refusal_reason r) {
    switch (r) {
    case refusal_reason::too_fast: return "too_fast";
    case refusal_reason::too_many_per_ip: return "too_many_per_ip";
    case refusal_reason::at_capacity: return "at_capacity";
    default: return describe(static_cast<access_refusal>(r));
    }
}

std::string refusal_log::note(refusal_reason r, std::int64_t now_s, std::string_view detail) {
    slot& s = slots_[static_cast<std::size_t>(r)];
    s.pending.fetch_add(1, std::memory_order_relaxed);
    std::int64_t last = s.last_s.load(std::memory_order_relaxed);
    // One writer per second: whoever moves last_s to this second.
    if (last >= now_s || !s.last_s.compare_exchange_strong(last, now_s, std::memory_order_relaxed))
        return {};
    const std::uint64_t n = s.pending.exchange(0, std::memory_order_relaxed);
    std::string line = "refused " + std::to_string(n) + " upgrade" + (n == 1 ? "" : "s") + ": " +
                       std::string(describe(r));
    if (last != INT64_MIN) line += " (since " + std::to_string(now_s - last) + " s ago)";
    if (!detail.empty()) line += ", latest from " + std::string(detail);
    return line;
}

void log_refusal(refusal_reason r, std::string_view detail) {
    static refusal_log counts;
    using namespace std::chrono;
    const auto now_s = duration_cast<seconds>(steady_clock::now().time_since_epoch()).count();
    // A limit the operator set was reached (they may want to raise it): warn.
    // A client without the right token or origin is the policy working: info.
    const bool limit = r == refusal_reason::too_fast || r == refusal_reason::too_many_per_ip ||
                       r == refusal_reason::at_capacity;
    const log_level level = limit ? log_level::warn : log_level::info;
    if (!log_enabled(level)) return;  // below the level: not even counted here (session_stats are)
    if (std::string line = counts.note(r, now_s, detail); !line.empty())
        log(level, "handshakes_refused", "%s", line.c_str());
}

}  // namespace wsring::net

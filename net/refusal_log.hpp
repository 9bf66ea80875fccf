// Refused upgrades as operator log lines, at most one per reason per second
// (issue 15): an attacker cycling bad tokens or addresses makes counters
// move, not the log scroll. Each reason keeps an atomic count and the second
// it last wrote; the first refusal in a new second writes one line with the
// count since the previous line. Lock-free and shared by every reactor.
// What the last second held when the refusals stopped is in the stop line's
// counters (net/session.hpp session_stats), not here.
// Read next: net/session.cpp (reject paths), net/log.hpp.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "net/access_policy.hpp"

namespace wsring::net {

// access_refusal's values, then the limits' refusals.
enum class refusal_reason : std::uint8_t {
    origin = static_cast<std::uint8_t>(access_refusal::origin),
    no_token,
    bad_token,
    expired_token,
    forbidden,
    token_twice,
    too_fast,         // 429
    too_many_per_ip,  // 503 per address
    at_capacity,      // 503 --max-connections
};
inline constexpr std::size_t refusal_reason_count = static_cast<std::size_t>(refusal_reason::at_capacity) + 1;
std::string_view describe(refusal_reason r);

class refusal_log {
public:
    // Counts one refusal at `now_s` (any monotonic seconds). Returns the
    // line to write ("" most of the time): the first refusal of a reason in
    // a second it has not written in yet writes for all since the last line.
    std::string note(refusal_reason r, std::int64_t now_s, std::string_view detail = {});

private:
    struct alignas(64) slot {
        std::atomic<std::uint64_t> pending{0};
        std::atomic<std::int64_t> last_s{INT64_MIN};
    };
    std::array<slot, refusal_reason_count> slots_;
};

// The process's log, written through net/log.hpp as event
// "handshakes_refused": warn for the limits (too_fast, too_many_per_ip,
// at_capacity), info for the access policy's refusals. `detail` (an
// address) is shown as the latest example.
void log_refusal(refusal_reason r, std::string_view detail = {});

}  // namespace wsring::net

// Everything one worker thread counts, and how the coordinator adds the
// workers up. Faults are named by kind — a load generator that folds a
// server's protocol errors into one "errors" number hides exactly what a
// user needs to see. Protocol errors are further split by the RFC rule the
// server broke (proto::error) and server-sent close frames by close code.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/latency_histogram.hpp"
#include "net/client_deflate.hpp"
#include "proto/error.hpp"

namespace wsring::bench {

enum class fault : std::uint8_t {
    connect_failed,      // TCP connect refused / unreachable / timed out
    handshake_rejected,  // not a valid 101 response (RFC 6455 §4.1)
    protocol_error,      // the server broke a framing rule (see protocol_errors)
    closed_by_server,    // a close frame arrived while we were still sending
    closed_early,        // EOF without a close frame (RFC 6455 §7.1.5: 1006)
    connection_reset,    // ECONNRESET / EPIPE / other socket error
    length_mismatch,     // a payload of the wrong length
    content_mismatch,    // --verify: a payload byte differs (or a bad header)
    sequence_mismatch,   // an echo out of order, duplicated or unasked for
    unexpected_opcode,   // text where binary was sent, or the reverse
    timeout,             // connect, upgrade or close took too long
    tls_failed,          // wss://: the TLS handshake failed or a record was bad
    position_gap,        // wsring.v1: an offset skipped (lost messages) or a new epoch
    position_repeat,     // wsring.v1: an offset at or before the last (duplicate, reordering)
    unrecovered,         // wsring.v1: "!unrecovered": the server could not honour ?since
    http_error,          // http-publish: not a 200 with a JSON offset, or bad HTTP framing
};
inline constexpr std::size_t fault_count = 16;
const char* fault_name(fault f);

// Per-publisher broadcast accounting, summed over the receivers of a worker.
struct publisher_tally {
    std::uint64_t received = 0;   // deliveries over the whole run
    std::uint64_t lost = 0;       // published but never delivered, per receiver
    std::uint64_t reordered = 0;  // arrived after a later sequence number
};

struct worker_stats {
    // The measured window only:
    std::uint64_t messages = 0;        // echoes, deliveries or connect cycles
    std::uint64_t bytes = 0;           // payload bytes of those messages
    std::uint64_t sent = 0;            // messages sent
    std::uint64_t unfinished = 0;      // outstanding when the window closed
    std::uint64_t cycles = 0;          // replay: reconnections that received the whole history
    core::latency_histogram latency;   // ns; unfinished ones at their age so far
    // The whole run:
    std::array<std::uint64_t, fault_count> faults{};
    std::array<std::string, fault_count> first_detail;  // what the first one looked like
    // By proto::error value: one slot for each value the enum's std::uint8_t
    // can hold, so no two errors ever share a counter.
    std::array<std::uint64_t, 256> protocol_errors{};
    static_assert(sizeof(proto::error) == 1, "one counter per possible proto::error value");
    std::array<std::uint64_t, 16> close_codes{};      // 1000-1014 by code-1000, [15] = other
    std::uint64_t opened = 0, open_failed = 0, closed_clean = 0, closed_unclean = 0;
    // wss://: TLS handshakes completed, whole run and in the measured window.
    std::uint64_t tls_full = 0, tls_resumed = 0, tls_full_measured = 0, tls_resumed_measured = 0;
    std::string tls_version;  // of the first handshake: "TLSv1.3 TLS_AES_256_GCM_SHA384"
    net::deflate_tally deflate;        // --deflate (RFC 7692), over the whole run
    // Fairness: messages completed in the window by each counted connection.
    std::vector<std::uint64_t> per_conn;
    std::vector<publisher_tally> publishers;

    std::uint64_t fault_total() const;
    void merge(const worker_stats& other);
};

}  // namespace wsring::bench

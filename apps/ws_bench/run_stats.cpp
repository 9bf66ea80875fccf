// Names for faults and the merge of per-worker counts.
#include "apps/ws_bench/run_stats.hpp"

#include <numeric>

namespace wsring::bench {

const char* fault_name(fault f) {
    switch (f) {
        case fault::connect_failed: return "connect_failed";
        case fault::handshake_rejected: return "handshake_rejected";
        case fault::protocol_error: return "protocol_error";
        case fault::closed_by_server: return "closed_by_server";
        case fault::closed_early: return "closed_early";
        case fault::connection_reset: return "connection_reset";
        case fault::length_mismatch: return "length_mismatch";
        case fault::content_mismatch: return "content_mismatch";
        case fault::sequence_mismatch: return "sequence_mismatch";
        case fault::unexpected_opcode: return "unexpected_opcode";
        case fault::timeout: return "timeout";
        case fault::tls_failed: return "tls_failed";
        case fault::position_gap: return "position_gap";
        case fault::position_repeat: return "position_repeat";
        case fault::unrecovered: return "unrecovered";
        case fault::http_error: return "http_error";
    }
    return "?";
}

std::uint64_t worker_stats::fault_total() const {
    return std::accumulate(faults.begin(), faults.end(), std::uint64_t{0});
}

void worker_stats::merge(const worker_stats& o) {
    messages += o.messages;
    bytes += o.bytes;
    sent += o.sent;
    unfinished += o.unfinished;
    cycles += o.cycles;
    latency.merge(o.latency);
    for (std::size_t i = 0; i < faults.size(); ++i) {
        faults[i] += o.faults[i];
        if (first_detail[i].empty()) first_detail[i] = o.first_detail[i];
    }
    for (std::size_t i = 0; i < protocol_errors.size(); ++i) protocol_errors[i] += o.protocol_errors[i];
    for (std::size_t i = 0; i < close_codes.size(); ++i) close_codes[i] += o.close_codes[i];
    opened += o.opened;
    open_failed += o.open_failed;
    closed_clean += o.closed_clean;
    closed_unclean += o.closed_unclean;
    tls_full += o.tls_full;
    tls_resumed += o.tls_resumed;
    tls_full_measured += o.tls_full_measured;
    tls_resumed_measured += o.tls_resumed_measured;
    if (tls_version.empty()) tls_version = o.tls_version;
    deflate.merge(o.deflate);
    per_conn.insert(per_conn.end(), o.per_conn.begin(), o.per_conn.end());
    if (publishers.size() < o.publishers.size()) publishers.resize(o.publishers.size());
    for (std::size_t i = 0; i < o.publishers.size(); ++i) {
        publishers[i].received += o.publishers[i].received;
        publishers[i].lost += o.publishers[i].lost;
        publishers[i].reordered += o.publishers[i].reordered;
    }
}

}  // namespace wsring::bench

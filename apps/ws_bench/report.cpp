// The summary table and the JSON report (report.hpp). Both read the same
// derived figures, computed once in derive(), so they cannot disagree.
#include "apps/ws_bench/report.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "apps/ws_bench/json_writer.hpp"
#include "proto/error.hpp"

namespace wsring::bench {

namespace {

struct derived {
    double msgs_per_s = 0, mb_per_s = 0;
    bool server = false;
    double server_cpu_s = 0, server_user_s = 0, server_sys_s = 0, server_cpu_pct = 0, msgs_per_server_cpu_s = 0;
    double self_cpu_s = 0, self_cpu_pct = 0;
    std::uint64_t fair_min = 0, fair_max = 0, fair_zero = 0, fair_n = 0, fair_sum = 0;
    double rss_per_conn = 0;  // server bytes per open connection (idle mode's figure)
};

// A load that moved nothing in its window measured nothing: a server that
// accepts and then stays silent, or a driver that never started sending
// (broadcast with --warmup 0 once published nothing and exited 0). Idle
// mode moves no messages by design.
bool measured_nothing(const bench_options& o, const bench_result& r) {
    return o.mode != bench_mode::idle && r.setup_complete && r.conns_requested > 0 && r.total.messages == 0;
}

derived derive(const bench_options& o, const bench_result& r) {
    derived d;
    double s = r.measured_s > 0 ? r.measured_s : 1;
    d.msgs_per_s = static_cast<double>(r.total.messages) / s;
    d.mb_per_s = static_cast<double>(r.total.bytes) / s / 1e6;
    d.server = o.server_pid && r.server_start.ok && r.server_end.ok;
    if (d.server) {
        d.server_cpu_s = r.server_end.cpu_s - r.server_start.cpu_s;
        d.server_user_s = r.server_end.user_s - r.server_start.user_s;
        d.server_sys_s = r.server_end.sys_s - r.server_start.sys_s;
        d.server_cpu_pct = 100 * d.server_cpu_s / s;
        if (d.server_cpu_s > 0) d.msgs_per_server_cpu_s = static_cast<double>(r.total.messages) / d.server_cpu_s;
        std::uint64_t opened = r.total.opened;
        if (r.server_base.ok && opened > 0 && r.server_start.rss_bytes > r.server_base.rss_bytes)
            d.rss_per_conn = static_cast<double>(r.server_start.rss_bytes - r.server_base.rss_bytes) /
                             static_cast<double>(std::min<std::uint64_t>(opened, r.conns_requested));
    }
    if (r.self_start.ok && r.self_end.ok) {
        d.self_cpu_s = r.self_end.cpu_s - r.self_start.cpu_s;
        d.self_cpu_pct = 100 * d.self_cpu_s / s;
    }
    const auto& pc = r.total.per_conn;
    if (!pc.empty()) {
        auto [lo, hi] = std::minmax_element(pc.begin(), pc.end());
        d.fair_min = *lo;
        d.fair_max = *hi;
        d.fair_zero = static_cast<std::uint64_t>(std::count(pc.begin(), pc.end(), 0u));
        d.fair_n = pc.size();
        for (auto v : pc) d.fair_sum += v;
    }
    return d;
}

// The enumerator's name for a protocol_errors index (the error's value).
std::string_view proto_error_name(std::size_t v) { return proto::name(static_cast<proto::error>(v)); }

double us(std::uint64_t ns) { return static_cast<double>(ns) / 1e3; }

// Payload bytes per wire byte of the compressed messages (0 when none).
double ratio(std::uint64_t payload, std::uint64_t wire) {
    return wire ? static_cast<double>(payload) / static_cast<double>(wire) : 0;
}

// --deflate: who agreed to what, and what compression did to the bytes.
void print_deflate(const bench_options& o, const bench_result& r) {
    if (!o.deflate) return;
    const net::deflate_tally& t = r.total.deflate;
    if (t.agreed == 0) {
        std::printf("  deflate        offered, declined by all %llu connections: messages went uncompressed\n",
                    static_cast<unsigned long long>(t.declined));
        return;
    }
    std::printf("  deflate        agreed by %llu of %llu connections (%s)\n", static_cast<unsigned long long>(t.agreed),
                static_cast<unsigned long long>(t.agreed + t.declined), t.params.c_str());
    std::printf("                 sent %.2f MB payload as %.2f MB (%.2f:1), received %.2f MB as %.2f MB (%.2f:1), whole run\n",
                static_cast<double>(t.sent_payload) / 1e6, static_cast<double>(t.sent_wire) / 1e6,
                ratio(t.sent_payload, t.sent_wire), static_cast<double>(t.received_payload) / 1e6,
                static_cast<double>(t.received_wire) / 1e6, ratio(t.received_payload, t.received_wire));
}

const char* unit_of(bench_mode m) {
    switch (m) {
        case bench_mode::connect: return "handshakes";
        case bench_mode::broadcast: return "deliveries";
        case bench_mode::replay: return "replayed";
        case bench_mode::http_publish: return "publishes";
        default: return "messages";
    }
}

// replay: what one cycle is, and how many the window saw.
void print_replay(const bench_options& o, const bench_result& r) {
    if (o.mode != bench_mode::replay) return;
    std::printf("  replay         %llu cycles of connect + ?since=%s + %llu replayed + close; latency: connect() to the last\n",
                static_cast<unsigned long long>(r.total.cycles), r.since.empty() ? "(no fill)" : r.since.c_str(),
                static_cast<unsigned long long>(o.history));
}

void print_latency(const bench_result& r) {
    const auto& h = r.total.latency;
    if (h.count() == 0) return;
    std::printf("  latency (us)   p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (mean %.1f, %llu samples",
                us(h.value_at_percentile(50)), us(h.value_at_percentile(90)), us(h.value_at_percentile(99)),
                us(h.value_at_percentile(99.9)), us(h.max()), h.mean() / 1e3, static_cast<unsigned long long>(h.count()));
    if (r.total.unfinished) std::printf(", %llu unfinished at their age", static_cast<unsigned long long>(r.total.unfinished));
    std::printf(")\n");
}

void print_server(const bench_options& o, const bench_result& r, const derived& d) {
    if (!o.server_pid) return;
    if (!d.server) {
        std::printf("  server pid %d  could not be read from /proc\n", o.server_pid);
        return;
    }
    std::printf("  server pid %d   cpu %.2f s (%.0f%% of a core; user %.2f s, sys %.2f s)", o.server_pid,
                d.server_cpu_s, d.server_cpu_pct, d.server_user_s, d.server_sys_s);
    if (d.msgs_per_server_cpu_s > 0) std::printf("  %.0f %s per server-CPU-second", d.msgs_per_server_cpu_s, unit_of(o.mode));
    std::printf("\n  server memory  rss %.1f MiB at start, %.1f MiB peak in window",
                static_cast<double>(r.server_start.rss_bytes) / 1048576.0, static_cast<double>(r.server_rss_max) / 1048576.0);
    if (d.rss_per_conn > 0)
        std::printf("; %.0f bytes per connection (%.1f MiB before connecting)", d.rss_per_conn,
                    static_cast<double>(r.server_base.rss_bytes) / 1048576.0);
    std::printf("\n");
}

void print_faults(const bench_result& r) {
    if (r.total.fault_total() == 0) {
        std::printf("  errors         none\n");
        return;
    }
    std::printf("  errors         %llu\n", static_cast<unsigned long long>(r.total.fault_total()));
    for (std::size_t i = 0; i < fault_count; ++i) {
        if (!r.total.faults[i]) continue;
        std::printf("    %-20s %llu  (first: %s)\n", fault_name(static_cast<fault>(i)),
                    static_cast<unsigned long long>(r.total.faults[i]), r.total.first_detail[i].c_str());
    }
    for (std::size_t i = 1; i < r.total.protocol_errors.size(); ++i)
        if (r.total.protocol_errors[i])
            std::printf("    protocol_error.%-20s %llu\n", std::string(proto_error_name(i)).c_str(),
                        static_cast<unsigned long long>(r.total.protocol_errors[i]));
}

void print_publishers(const bench_result& r) {
    if (r.published.empty()) return;
    std::uint64_t lost = 0, reordered = 0;
    for (const auto& t : r.total.publishers) lost += t.lost, reordered += t.reordered;
    if (lost || reordered)
        std::printf("  BROKEN ORDER   %llu deliveries lost, %llu reordered (per-publisher order must hold)\n",
                    static_cast<unsigned long long>(lost), static_cast<unsigned long long>(reordered));
    std::printf("  publisher      published   delivered        lost   reordered\n");
    for (std::size_t p = 0; p < r.published.size(); ++p) {
        publisher_tally t = p < r.total.publishers.size() ? r.total.publishers[p] : publisher_tally{};
        std::printf("  %9zu %12llu %11llu %11llu %11llu\n", p, static_cast<unsigned long long>(r.published[p]),
                    static_cast<unsigned long long>(t.received), static_cast<unsigned long long>(t.lost),
                    static_cast<unsigned long long>(t.reordered));
    }
}

}  // namespace

void print_summary(const bench_options& o, const bench_result& r) {
    derived d = derive(o, r);
    std::printf("ws-bench %s %s%s  conns %u  size %zu B  inflight %u  threads %u  %s%s%s%s  %.1f s measured (%.1f s warm-up)\n",
                mode_name(o.mode), o.url_text.c_str(), o.raw ? " (raw TCP)" : "", o.conns, o.size, o.inflight, o.threads,
                o.text ? "text" : "binary", o.payload == payload_kind::json ? " json" : "",
                o.deflate ? " deflate" : "", o.verify ? " verified" : "", r.measured_s, o.warmup);
    if (!o.subprotocol.empty()) std::printf("  subprotocol    %s (positions checked on every message)\n", o.subprotocol.c_str());
    if (o.mode != bench_mode::idle)
        std::printf("  %-14s %llu  (%.0f/s, %.2f MB/s payload; %llu sent)\n", unit_of(o.mode),
                    static_cast<unsigned long long>(r.total.messages), d.msgs_per_s, d.mb_per_s,
                    static_cast<unsigned long long>(r.total.sent));
    print_latency(r);
    print_replay(o, r);
    if (d.fair_n && o.mode != bench_mode::idle)
        std::printf("  fairness       per connection: min %llu  max %llu  (%llu of %llu completed none)\n",
                    static_cast<unsigned long long>(d.fair_min), static_cast<unsigned long long>(d.fair_max),
                    static_cast<unsigned long long>(d.fair_zero), static_cast<unsigned long long>(d.fair_n));
    if (o.per_connection && d.fair_n && o.mode != bench_mode::idle) {
        // In the order the connections opened, thread by thread.
        std::printf("  per connection");
        for (std::uint64_t n : r.total.per_conn) std::printf(" %llu", static_cast<unsigned long long>(n));
        std::printf("\n");
    }
    print_publishers(r);
    print_server(o, r, d);
    std::printf("  ws-bench cpu   %.2f s (%.0f%% of a core)\n", d.self_cpu_s, d.self_cpu_pct);
    std::printf("  connections    %llu opened of %zu%s, %llu failed to open, %llu closed cleanly, %llu not\n",
                static_cast<unsigned long long>(r.total.opened), r.conns_requested,
                o.mode == bench_mode::connect ? " (cycles)" : "", static_cast<unsigned long long>(r.total.open_failed),
                static_cast<unsigned long long>(r.total.closed_clean), static_cast<unsigned long long>(r.total.closed_unclean));
    if (o.target.tls)
        std::printf("  tls            %llu full + %llu resumed handshakes (%llu + %llu in the window)%s%s%s\n",
                    static_cast<unsigned long long>(r.total.tls_full), static_cast<unsigned long long>(r.total.tls_resumed),
                    static_cast<unsigned long long>(r.total.tls_full_measured),
                    static_cast<unsigned long long>(r.total.tls_resumed_measured), r.total.tls_version.empty() ? "" : "; ",
                    r.total.tls_version.c_str(), o.insecure ? "; --insecure: certificate not checked" : "");
    print_deflate(o, r);
    print_faults(r);
    if (measured_nothing(o, r))
        std::printf("  NOTHING MEASURED  no %s completed in the %.1f s window\n",
                    o.mode == bench_mode::connect ? "cycle" : "message", r.measured_s);
}

int exit_status(const bench_options& o, const bench_result& r) {
    // A broadcast server that loses or reorders one publisher's messages
    // failed as surely as one that corrupts them.
    for (const auto& t : r.total.publishers)
        if (t.lost || t.reordered) return 1;
    if (measured_nothing(o, r)) return 1;
    return r.total.fault_total() == 0 && (r.setup_complete || r.conns_requested == 0) ? 0 : 1;
}

namespace {

void json_config(json_writer& j, const bench_options& o) {
    j.begin_object("config");
    j.field("url", o.url_text);
    j.field("mode", mode_name(o.mode));
    j.field("raw", o.raw);
    j.field("conns", std::uint64_t{o.conns});
    j.field("size", std::uint64_t{o.size});
    j.field("inflight", std::uint64_t{o.inflight});
    j.field("duration", o.duration);
    j.field("warmup", o.warmup);
    j.field("threads", std::uint64_t{o.threads});
    j.field("text", o.text);
    j.field("payload", payload_kind_name(o.payload));
    j.field("deflate", o.deflate);
    j.field("verify", o.verify);
    if (o.mode == bench_mode::broadcast) {
        j.field("publishers", std::uint64_t{o.publishers});
        j.field("rate", o.rate);
    }
    if (o.server_pid) j.field("server_pid", o.server_pid);
    j.field("subprotocol", o.subprotocol);
    j.begin_array("headers");  // --header: the names only; a value may be a secret (a token)
    for (const std::string& h : o.headers) j.field({}, std::string_view(h).substr(0, h.find(':')));
    j.end_array();
    if (o.mode == bench_mode::replay) j.field("history", o.history);
    if (o.mode == bench_mode::http_publish) j.field("api_key", !o.api_key.empty());  // whether one was sent, never the key
    j.field("tls", o.target.tls);
    if (o.target.tls) {
        j.field("ca", o.ca_file);
        j.field("insecure", o.insecure);
        j.field("tls_resume", o.tls_resume);
    }
    j.end_object();
}

void json_tls(json_writer& j, const bench_options& o, const bench_result& r) {
    if (!o.target.tls) return j.null_field("tls");
    j.begin_object("tls");
    j.field("version", r.total.tls_version);
    j.field("handshakes_full", r.total.tls_full);
    j.field("handshakes_resumed", r.total.tls_resumed);
    j.field("measured_full", r.total.tls_full_measured);
    j.field("measured_resumed", r.total.tls_resumed_measured);
    j.end_object();
}

void json_deflate(json_writer& j, const bench_options& o, const bench_result& r) {
    if (!o.deflate) return j.null_field("deflate");
    const net::deflate_tally& t = r.total.deflate;
    j.begin_object("deflate");
    j.field("agreed", t.agreed);
    j.field("declined", t.declined);
    j.field("params", t.params);
    j.field("sent_payload_bytes", t.sent_payload);
    j.field("sent_wire_bytes", t.sent_wire);
    j.field("sent_ratio", ratio(t.sent_payload, t.sent_wire));
    j.field("received_wire_bytes", t.received_wire);
    j.field("received_payload_bytes", t.received_payload);
    j.field("received_ratio", ratio(t.received_payload, t.received_wire));
    j.end_object();
}

void json_latency(json_writer& j, const bench_result& r) {
    const auto& h = r.total.latency;
    j.begin_object("latency_us");
    j.field("count", h.count());
    j.field("min", us(h.min()));
    j.field("mean", h.mean() / 1e3);
    j.field("p50", us(h.value_at_percentile(50)));
    j.field("p90", us(h.value_at_percentile(90)));
    j.field("p99", us(h.value_at_percentile(99)));
    j.field("p99_9", us(h.value_at_percentile(99.9)));
    j.field("max", us(h.max()));
    j.field("unfinished", r.total.unfinished);
    j.end_object();
}

void json_errors(json_writer& j, const bench_result& r) {
    j.begin_object("errors");
    j.field("total", r.total.fault_total());
    j.begin_object("by_kind");
    for (std::size_t i = 0; i < fault_count; ++i) j.field(fault_name(static_cast<fault>(i)), r.total.faults[i]);
    j.end_object();
    j.begin_object("first");
    for (std::size_t i = 0; i < fault_count; ++i)
        if (r.total.faults[i]) j.field(fault_name(static_cast<fault>(i)), r.total.first_detail[i]);
    j.end_object();
    j.begin_object("protocol_errors");
    for (std::size_t i = 1; i < r.total.protocol_errors.size(); ++i)
        if (r.total.protocol_errors[i]) j.field(proto_error_name(i), r.total.protocol_errors[i]);
    j.end_object();
    j.begin_object("close_codes_received");
    for (std::size_t i = 0; i < r.total.close_codes.size(); ++i)
        if (r.total.close_codes[i]) j.field(i < 15 ? std::to_string(1000 + i) : "other", r.total.close_codes[i]);
    j.end_object();
    j.end_object();
}

void json_server(json_writer& j, const bench_options& o, const bench_result& r, const derived& d) {
    if (!d.server) return j.null_field("server");
    j.begin_object("server");
    j.field("pid", o.server_pid);
    j.field("cpu_seconds", d.server_cpu_s);
    j.field("user_seconds", d.server_user_s);
    j.field("sys_seconds", d.server_sys_s);
    j.field("cpu_percent", d.server_cpu_pct);
    j.field("msgs_per_cpu_sec", d.msgs_per_server_cpu_s);
    j.field("rss_bytes_before_connect", r.server_base.rss_bytes);
    j.field("rss_bytes_start", r.server_start.rss_bytes);
    j.field("rss_bytes_end", r.server_end.rss_bytes);
    j.field("rss_bytes_max", r.server_rss_max);
    j.field("rss_per_connection_bytes", d.rss_per_conn);
    j.end_object();
}

void json_broadcast(json_writer& j, const bench_result& r) {
    j.begin_array("publishers");
    for (std::size_t p = 0; p < r.published.size(); ++p) {
        publisher_tally t = p < r.total.publishers.size() ? r.total.publishers[p] : publisher_tally{};
        j.begin_object();
        j.field("id", std::uint64_t{p});
        j.field("published", r.published[p]);
        j.field("delivered", t.received);
        j.field("lost", t.lost);
        j.field("reordered", t.reordered);
        j.end_object();
    }
    j.end_array();
}

}  // namespace

std::string write_json(const bench_options& o, const bench_result& r, const std::string& path) {
    derived d = derive(o, r);
    json_writer j;
    j.begin_object();
    j.field("tool", "ws-bench");
    j.field("format", 1);
    json_config(j, o);
    j.field("setup_seconds", r.setup_s);
    j.field("setup_complete", r.setup_complete);
    j.field("measured_seconds", r.measured_s);
    j.field("messages", r.total.messages);
    j.field("bytes", r.total.bytes);
    j.field("sent", r.total.sent);
    j.field("msgs_per_sec", d.msgs_per_s);
    j.field("mb_per_sec", d.mb_per_s);
    json_latency(j, r);
    j.begin_object("fairness");
    j.field("connections", d.fair_n);
    j.field("min", d.fair_min);
    j.field("max", d.fair_max);
    j.field("completed_none", d.fair_zero);
    j.field("total", d.fair_sum);
    if (o.per_connection) {
        j.begin_array("per_connection");
        for (std::uint64_t n : r.total.per_conn) j.field("", n);
        j.end_array();
    }
    j.end_object();
    j.begin_object("connections");
    j.field("requested", std::uint64_t{r.conns_requested});
    j.field("opened", r.total.opened);
    j.field("open_failed", r.total.open_failed);
    j.field("closed_clean", r.total.closed_clean);
    j.field("closed_unclean", r.total.closed_unclean);
    j.end_object();
    json_errors(j, r);
    json_tls(j, o, r);
    json_deflate(j, o, r);
    json_server(j, o, r, d);
    j.begin_object("client");
    j.field("cpu_seconds", d.self_cpu_s);
    j.field("cpu_percent", d.self_cpu_pct);
    j.field("rss_bytes", r.self_end.rss_bytes);
    j.end_object();
    json_broadcast(j, r);
    if (o.mode == bench_mode::replay) {
        j.begin_object("replay");
        j.field("since", r.since);
        j.field("history", o.history);
        j.field("cycles", r.total.cycles);
        j.end_object();
    }
    j.begin_array("timeline");
    for (const auto& s : r.timeline) {
        j.begin_object();
        j.field("t", s.t);
        j.field("msgs_per_sec", s.msgs_per_s);
        j.field("mb_per_sec", s.mb_per_s);
        j.field("p99_us", s.p99_us);
        j.field("errors", s.faults);
        j.end_object();
    }
    j.end_array();
    j.field("exit_status", exit_status(o, r));
    j.end_object();
    std::ofstream out(path);
    out << j.str() << '\n';
    if (!out) return "cannot write " + path;
    return {};
}

}  // namespace wsring::bench

#include "cluster/broker_metrics.hpp"

namespace wsring::cluster {

void collect_broker_metrics(const redis_broker& b, net::metrics_text& out) {
    using net::metrics_text;
    constexpr std::string_view up = "wsring_broker_up";
    out.family(up, "gauge", "1 while both links to this Redis are up (it takes publishes), else 0.");
    for (std::size_t i = 0; i < b.servers(); ++i)
        out.sample(up, std::uint64_t{b.server_up(i) ? 1u : 0u}, metrics_text::label("redis", b.server_name(i)));
    out.histogram_seconds("wsring_broker_publish_seconds",
                          "From a batch of publishes sent to Redis to its confirmation, per batch.",
                          b.publish_latency());
    const broker_stats s = b.stats();
    out.counter("wsring_broker_published_total", "Publish batches Redis confirmed.", s.published);
    out.counter("wsring_broker_publish_failed_total", "Publish batches Redis refused or lost with a link.",
                s.publish_failed);
    out.counter("wsring_broker_received_total", "Message batches received from Redis channels and applied.",
                s.received);
    out.counter("wsring_broker_duplicates_total", "Batches from Redis dropped as already applied.", s.duplicates);
    out.counter("wsring_broker_repaired_total", "Messages delivered from a Redis stream after a gap.", s.repaired);
    out.counter("wsring_broker_resets_total", "Topics whose gap could not be repaired (history lost in Redis).",
                s.resets);
    out.counter("wsring_broker_reconnects_total", "Redis links that came back after a loss.", s.reconnects);
}

}  // namespace wsring::cluster

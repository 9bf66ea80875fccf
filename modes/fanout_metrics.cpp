#include "modes/fanout_metrics.hpp"

namespace wsring::modes {

void collect_fanout_metrics(const std::vector<pubsub_handler*>& handlers, const broadcast_hub& hub,
                            net::metrics_text& out) {
    using net::metrics_text;
    const fanout_stats f = sum_stats(handlers);
    core::bucket_histogram delivery;
    for (const pubsub_handler* h : handlers)
        if (h) delivery += h->delivery_latency();
    out.counter("wsring_published_total", "Messages this node's clients published (HTTP publish API included).",
                f.published);
    out.counter("wsring_http_published_total", "Messages published with POST /publish.", f.http_published);
    constexpr std::string_view slow = "wsring_slow_consumers_total";
    out.family(slow, "counter",
               "Times a receiver over --max-backpressure was acted on: closed 1008, or left out of a delivery.");
    out.sample(slow, f.slow_closed.get(), metrics_text::label("action", "closed"));
    out.sample(slow, f.skip_events.get(), metrics_text::label("action", "skipped"));
    out.counter("wsring_messages_skipped_total", "Messages slow receivers were left out of (--slow-consumer skip).",
                f.skipped);
    out.counter("wsring_ring_stalls_total", "Publishes that found the broadcast ring full and waited.", f.stalls);
    out.histogram_seconds("wsring_publish_to_delivery_seconds",
                          "From a message entering the broadcast ring on this node to a reactor queueing it "
                          "to its subscribers, per message and reactor.",
                          delivery);
    const topic_log& log = hub.log();
    const topic_log_stats t = log.stats();
    out.gauge("wsring_topics", "Topics this node knows now (published to or followed).",
              static_cast<double>(t.topics.get()));
    if (log.keeps_history()) {
        out.gauge("wsring_history_messages", "Messages kept in topic history now.", static_cast<double>(t.messages.get()));
        out.gauge("wsring_history_bytes", "Bytes of topic history now (frames and bookkeeping).",
                  static_cast<double>(t.bytes.get()));
        out.counter("wsring_history_evicted_bytes_total", "History bytes dropped to stay under --history-max-bytes.",
                    t.evicted_bytes);
        out.counter("wsring_history_expired_messages_total", "History messages dropped by --history-ttl.", t.expired);
    }
    constexpr std::string_view recovery = "wsring_recovery_total";
    out.family(recovery, "counter", "wsring.v1 resubscriptions: answered from history, or told !unrecovered.");
    out.sample(recovery, f.recovered.get(), metrics_text::label("result", "recovered"));
    out.sample(recovery, f.unrecovered.get(), metrics_text::label("result", "unrecovered"));
    out.counter("wsring_replayed_messages_total", "Messages sent from history to resubscribing clients.", f.replayed);
    if (hub.remote())
        out.counter("wsring_publish_refused_total", "Publishes the broker (Redis) did not take.", f.refused);
}

}  // namespace wsring::modes

// pubsub_handler's side of the HTTP publish API (--api-key): a POST
// /publish/<topic> body is published like a client's message (publish_now)
// and answered with its position; multi-node, the answer waits for the
// broker's outcome (pubsub_broker.cpp, on_outcome). Not here: judging the
// request (modes/publish_api.cpp) or reading its body (net/session.cpp).
#include "modes/pubsub_handler.hpp"

#include "modes/publish_api.hpp"
#include "proto/encoder.hpp"

namespace wsring::modes {

// The head is judged twice (here, and again with the body): a reactor may
// be reading several requests' bodies at once, so nothing of one request
// is kept in the handler between the two calls.
bool pubsub_handler::on_http_head(session& s, connection&, const proto::http_request& req,
                                  net::http_answer& answer) {
    session_ = &s;
    publish_target target;
    return judge_publish(req, opts_.api_key, opts_.per_path_topics, target, answer) !=
           publish_verdict::not_ours;
}

void pubsub_handler::on_http_body(session&, connection& c, const proto::http_request& req,
                                  std::span<const std::byte> body, net::http_answer& answer) {
    publish_target target;
    if (judge_publish(req, opts_.api_key, opts_.per_path_topics, target, answer) != publish_verdict::accepted)
        return;
    if (!check_publish_body(target, body, answer)) return;
    ++stats_.http_published;
    if (broker* b = hub_.remote()) {
        // Multi-node: the answer (its position) comes with the broker's
        // outcome (on_outcome); the connection reads nothing more until then.
        ++stats_.published;
        broker_publish p{index_, ticket_of(c), std::string(target.topic), {}, 1};
        p.frames.resize(proto::frame_size(body.size(), false));
        proto::encode_frame(p.frames, target.op, body);
        if (b->publish(std::move(p))) {
            answer.deferred = true;
            return;
        }
        forget_ticket(c);
        ++stats_.refused;
        answer.status = 503;
        answer.body = "publish refused: redis unavailable\n";
        answer.extra_headers = "Retry-After: 1\r\n";
        return;
    }
    topic_position p = publish_now(target.topic, target.op, body);
    publish_answer(p.epoch, p.offset, answer);
}

void pubsub_handler::on_http_abandoned(session&, connection& c) { forget_ticket(c); }

}  // namespace wsring::modes

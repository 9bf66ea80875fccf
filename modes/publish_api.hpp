// The HTTP publish API: backends publish without holding a WebSocket.
//   POST /publish/<topic>            (broadcast mode: any /publish path)
//   Authorization: apikey <KEY>      (ws-server --api-key KEY)
//   Content-Type: text/* or application/json → a text message (UTF-8
//   checked, else 400); anything else → binary.
//   → 200 {"epoch":"…","offset":N}, delivered exactly like a message from
//     a client (modes/pubsub_publish.cpp, publish_now).
// 401 without the key, 404 for other methods and paths, 413 past
// --max-message (the session checks that before reading the body).
// This file only judges requests; it publishes nothing itself.
// Read next: modes/pubsub_http.cpp, on_http_head.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "net/message_handler.hpp"
#include "proto/opcode.hpp"

namespace wsring::proto {
struct http_request;
}

namespace wsring::modes {

enum class publish_verdict : std::uint8_t {
    not_ours,  // not an API request: the session's own answers (/healthz, 405, 426)
    refused,   // `answer` holds the refusal (401, 404)
    accepted,  // read the body; `topic` and `op` say where and how to publish it
};

struct publish_target {
    std::string topic;
    proto::opcode op = proto::opcode::binary;
};

// Judges a request's head. `api_key` empty: the API is off (not_ours).
publish_verdict judge_publish(const proto::http_request& req, std::string_view api_key,
                              bool per_path_topics, publish_target& target, net::http_answer& answer);

// A text body must be UTF-8 (RFC 6455 §8.1 holds for what we would deliver):
// false sets a 400 in `answer`.
bool check_publish_body(const publish_target& target, std::span<const std::byte> body,
                        net::http_answer& answer);

// The 200 answer: {"epoch":"…","offset":N}.
void publish_answer(std::string_view epoch, std::uint64_t offset, net::http_answer& answer);

}  // namespace wsring::modes

// publish_api: the routing and checks of POST /publish/<topic>, in the
// order a client would want to hear about them: the wrong place (404),
// then the missing key (401), then the body (413 in the session, 400 here).
#include "modes/publish_api.hpp"

#include <string>

#include "proto/handshake.hpp"
#include "proto/utf8.hpp"

namespace wsring::modes {

namespace {

constexpr std::string_view prefix = "/publish";

// Compares without an early exit, so the time taken does not tell an
// attacker how many leading characters of a guessed key were right.
bool same_key(std::string_view given, std::string_view key) {
    if (given.size() != key.size()) return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < key.size(); ++i)
        diff |= static_cast<unsigned char>(given[i] ^ key[i]);
    return diff == 0;
}

// "Authorization: apikey KEY" (the scheme is case-insensitive, RFC 9110 §11.1).
bool authorized(const proto::http_request& req, std::string_view key) {
    std::string_view v = req.header("Authorization");
    constexpr std::string_view scheme = "apikey ";
    if (v.size() <= scheme.size() || !proto::iequals(v.substr(0, scheme.size()), scheme)) return false;
    v.remove_prefix(scheme.size());
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    return same_key(v, key);
}

// text/* and application/json are text (RFC 9110 §8.3: the media type is
// case-insensitive, parameters such as charset follow a ';').
bool is_text(std::string_view content_type) {
    content_type = content_type.substr(0, content_type.find(';'));
    while (!content_type.empty() && content_type.back() == ' ') content_type.remove_suffix(1);
    constexpr std::string_view text = "text/";
    if (content_type.size() > text.size() && proto::iequals(content_type.substr(0, text.size()), text))
        return true;
    return proto::iequals(content_type, "application/json");
}

void refuse(net::http_answer& answer, int status, std::string_view why, std::string headers = {}) {
    answer.status = status;
    answer.body = std::string(why);
    answer.extra_headers = std::move(headers);
}

}  // namespace

publish_verdict judge_publish(const proto::http_request& req, std::string_view api_key,
                              bool per_path_topics, publish_target& target, net::http_answer& answer) {
    if (api_key.empty()) return publish_verdict::not_ours;
    const bool api_path = req.path == prefix || req.path.starts_with("/publish/");
    // GETs (and HEADs: the --web pages) elsewhere are the WebSocket endpoint's,
    // /healthz's and the static site's.
    if ((req.method == "GET" || req.method == "HEAD") && !api_path) return publish_verdict::not_ours;
    if (req.method != "POST" || !api_path || (per_path_topics && req.path == prefix)) {
        refuse(answer, 404, "not found: publish with POST /publish/<topic>\n");
        return publish_verdict::refused;
    }
    if (!authorized(req, api_key)) {
        refuse(answer, 401, "missing or wrong API key: send Authorization: apikey <key>\n",
               "WWW-Authenticate: apikey\r\n");
        return publish_verdict::refused;
    }
    // "/publish/chat/room42" → "chat/room42", as "/chat/room42" names it
    // for a WebSocket; broadcast mode has the one topic "".
    target.topic = per_path_topics ? std::string(req.path.substr(prefix.size() + 1)) : std::string();
    target.op = is_text(req.header("Content-Type")) ? proto::opcode::text : proto::opcode::binary;
    return publish_verdict::accepted;
}

bool check_publish_body(const publish_target& target, std::span<const std::byte> body,
                        net::http_answer& answer) {
    if (target.op == proto::opcode::text && !proto::is_valid_utf8(body)) {
        refuse(answer, 400, "a text message must be UTF-8 (send binary with another Content-Type)\n");
        return false;
    }
    return true;
}

void publish_answer(std::string_view epoch, std::uint64_t offset, net::http_answer& answer) {
    answer.status = 200;
    answer.content_type = "application/json";
    answer.body = "{\"epoch\":\"";
    answer.body.append(epoch).append("\",\"offset\":").append(std::to_string(offset)).append("}\n");
}

}  // namespace wsring::modes

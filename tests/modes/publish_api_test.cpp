// The publish API's judgement of a request (modes/publish_api.hpp): where it
// goes, who may, what kind of message the body becomes. Requests are parsed
// from raw bytes, as the session parses them.
#include "modes/publish_api.hpp"

#include <gtest/gtest.h>

#include <string>

#include "proto/handshake.hpp"

namespace wsring::modes {
namespace {

struct judged {
    publish_verdict verdict;
    publish_target target;
    net::http_answer answer;
};

judged judge(std::string head, std::string_view key = "s3cret", bool per_path = true) {
    proto::request_parser p;
    std::size_t used = 0;
    head += "\r\n";
    EXPECT_EQ(p.feed(std::as_bytes(std::span(head.data(), head.size())), used),
              proto::request_parser::status::complete)
        << head;
    judged j;
    j.verdict = judge_publish(p.request(), key, per_path, j.target, j.answer);
    return j;
}

constexpr const char* auth = "Authorization: apikey s3cret\r\n";

TEST(PublishApi, AcceptsAPostToATopicWithTheKey) {
    judged j = judge(std::string("POST /publish/chat/room42 HTTP/1.1\r\nHost: h\r\n") + auth +
                     "Content-Type: text/plain; charset=utf-8\r\n");
    EXPECT_EQ(j.verdict, publish_verdict::accepted);
    EXPECT_EQ(j.target.topic, "chat/room42") << "named as /chat/room42 names it for a WebSocket";
    EXPECT_EQ(j.target.op, proto::opcode::text);
}

TEST(PublishApi, ContentTypeChoosesTextOrBinary) {
    for (auto [type, op] : {std::pair{"text/plain", proto::opcode::text},
                            {"TEXT/CSV", proto::opcode::text},
                            {"application/json", proto::opcode::text},
                            {"Application/JSON ; charset=utf-8", proto::opcode::text},
                            {"application/octet-stream", proto::opcode::binary},
                            {"application/jsonx", proto::opcode::binary},
                            {"text/", proto::opcode::binary},
                            {"", proto::opcode::binary}}) {
        std::string head = std::string("POST /publish/t HTTP/1.1\r\nHost: h\r\n") + auth;
        if (*type) head += std::string("Content-Type: ") + type + "\r\n";
        judged j = judge(head);
        EXPECT_EQ(j.verdict, publish_verdict::accepted) << type;
        EXPECT_EQ(j.target.op, op) << type;
    }
}

TEST(PublishApi, RefusesWithoutTheRightKey) {
    for (const char* a : {"", "Authorization: apikey wrong\r\n", "Authorization: Bearer s3cret\r\n",
                          "Authorization: apikey s3cre\r\n", "Authorization: apikey s3cretX\r\n",
                          "Authorization: apikey\r\n"}) {
        judged j = judge(std::string("POST /publish/t HTTP/1.1\r\nHost: h\r\n") + a);
        EXPECT_EQ(j.verdict, publish_verdict::refused) << a;
        EXPECT_EQ(j.answer.status, 401) << a;
    }
    judged ok = judge(std::string("POST /publish/t HTTP/1.1\r\nHost: h\r\nAuthorization: APIKEY s3cret\r\n"));
    EXPECT_EQ(ok.verdict, publish_verdict::accepted) << "the scheme is case-insensitive";
}

TEST(PublishApi, OtherMethodsAndPathsAreNotFound) {
    for (const char* line : {"GET /publish/t", "PUT /publish/t", "DELETE /publish/t", "POST /other",
                             "POST /publishx/t", "POST /publish"}) {
        judged j = judge(std::string(line) + " HTTP/1.1\r\nHost: h\r\n" + auth);
        EXPECT_EQ(j.verdict, publish_verdict::refused) << line;
        EXPECT_EQ(j.answer.status, 404) << line;
    }
}

TEST(PublishApi, LeavesTheRestToTheSession) {
    EXPECT_EQ(judge("GET /healthz HTTP/1.1\r\nHost: h\r\n").verdict, publish_verdict::not_ours);
    EXPECT_EQ(judge("GET /chat HTTP/1.1\r\nHost: h\r\n").verdict, publish_verdict::not_ours);
    EXPECT_EQ(judge("HEAD /chat.js HTTP/1.1\r\nHost: h\r\n").verdict, publish_verdict::not_ours);
    EXPECT_EQ(judge(std::string("POST /publish/t HTTP/1.1\r\nHost: h\r\n") + auth, "").verdict,
              publish_verdict::not_ours)
        << "no --api-key: no API";
}

TEST(PublishApi, BroadcastModeHasOneTopic) {
    for (const char* path : {"/publish", "/publish/anything"}) {
        judged j = judge(std::string("POST ") + path + " HTTP/1.1\r\nHost: h\r\n" + auth, "s3cret", false);
        EXPECT_EQ(j.verdict, publish_verdict::accepted) << path;
        EXPECT_EQ(j.target.topic, "") << path;
    }
}

TEST(PublishApi, TextBodiesMustBeUtf8) {
    net::http_answer a;
    const std::string bad = "\xc3\x28";
    EXPECT_FALSE(check_publish_body({"t", proto::opcode::text}, std::as_bytes(std::span(bad.data(), bad.size())), a));
    EXPECT_EQ(a.status, 400);
    net::http_answer b;
    EXPECT_TRUE(check_publish_body({"t", proto::opcode::binary}, std::as_bytes(std::span(bad.data(), bad.size())), b));
    EXPECT_EQ(b.status, 0);
}

TEST(PublishApi, AnswersThePosition) {
    net::http_answer a;
    publish_answer("e1", 42, a);
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(a.content_type, "application/json");
    EXPECT_EQ(a.body, "{\"epoch\":\"e1\",\"offset\":42}\n");
}

}  // namespace
}  // namespace wsring::modes

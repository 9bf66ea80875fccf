// Tests for proto/http_body.*: the body length of a request (RFC 9112 §6.3,
// RFC 9110 §8.6: lists, repeats, overflow, Transfer-Encoding), whether the
// connection persists (RFC 9112 §9.3) and the answer's bytes. Each request
// is raw bytes through proto::request_parser, as the server sees it.
#include "proto/http_body.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace wsring::proto {
namespace {

// Parses a request made of `start` and these header lines. The request's
// views point into the parser, so the parser is static: valid until the next call.
const http_request& parse(const std::vector<std::string>& lines,
                          std::string_view start = "POST /publish/t HTTP/1.1") {
    static request_parser p;
    p.reset();
    std::string raw(start);
    raw += "\r\n";
    for (const auto& l : lines) raw += l + "\r\n";
    raw += "\r\n";
    std::size_t consumed = 0;
    const auto st = p.feed(std::as_bytes(std::span(raw.data(), raw.size())), consumed);
    EXPECT_EQ(st, request_parser::status::complete) << raw;
    return p.request();
}

body_framing body_of(const std::vector<std::string>& lines) { return request_body(parse(lines)); }
body_status status_of(const std::vector<std::string>& lines) { return body_of(lines).status; }

// ---- the body's length ----------------------------------------------------------

TEST(HttpBody, NoneWithoutLengthOrTransferEncoding_RFC9112_6_3) {
    const auto f = body_of({"Host: h"});
    EXPECT_EQ(f.status, body_status::none);
    EXPECT_EQ(f.length, 0u);
}

TEST(HttpBody, ContentLength_RFC9112_6_3) {
    auto f = body_of({"Host: h", "Content-Length: 5"});
    EXPECT_EQ(f.status, body_status::length);
    EXPECT_EQ(f.length, 5u);
    f = body_of({"content-length: 0"});
    EXPECT_EQ(f.status, body_status::length);
    EXPECT_EQ(f.length, 0u);
    f = body_of({"Content-Length: 007"});  // 1*DIGIT: leading zeros are digits
    EXPECT_EQ(f.status, body_status::length);
    EXPECT_EQ(f.length, 7u);
}

TEST(HttpBody, MaxUint64FitsAndOnePastIsBad) {
    auto f = body_of({"Content-Length: 18446744073709551615"});
    EXPECT_EQ(f.status, body_status::length);
    EXPECT_EQ(f.length, UINT64_MAX);
    EXPECT_EQ(status_of({"Content-Length: 18446744073709551616"}), body_status::bad_length);
    EXPECT_EQ(status_of({"Content-Length: 99999999999999999999999"}), body_status::bad_length);
}

TEST(HttpBody, NonDigitsAreBad_RFC9110_8_6) {
    for (std::string line : {"Content-Length: -1", "Content-Length: +5", "Content-Length: 5x",
                             "Content-Length: 0x10", "Content-Length: 5.0", "Content-Length: 5 5",
                             "Content-Length: five", "Content-Length:"})
        EXPECT_EQ(status_of({line}), body_status::bad_length) << line;
}

TEST(HttpBody, DifferingListIsBad_RFC9112_6_3) {
    EXPECT_EQ(status_of({"Content-Length: 1, 2"}), body_status::bad_length);
    EXPECT_EQ(status_of({"Content-Length: 5, 05"}), body_status::bad_length);  // not identical
    EXPECT_EQ(status_of({"Content-Length: 5", "Content-Length: 6"}), body_status::bad_length);
    EXPECT_EQ(status_of({"Content-Length: 5, x"}), body_status::bad_length);
    EXPECT_EQ(status_of({"Content-Length: 5,"}), body_status::bad_length);
    EXPECT_EQ(status_of({"Content-Length: ,5"}), body_status::bad_length);
}

TEST(HttpBody, IdenticalListIsOneLength_RFC9110_8_6) {
    auto f = body_of({"Content-Length: 5, 5"});
    EXPECT_EQ(f.status, body_status::length);
    EXPECT_EQ(f.length, 5u);
    f = body_of({"Content-Length: 5", "Content-Length: 5,5"});
    EXPECT_EQ(f.status, body_status::length);
    EXPECT_EQ(f.length, 5u);
}

TEST(HttpBody, AnyTransferEncodingIsUnsupported_RFC9112_6_1) {
    for (std::string line : {"Transfer-Encoding: chunked", "Transfer-Encoding: gzip, chunked",
                             "Transfer-Encoding: identity", "transfer-encoding: CHUNKED"})
        EXPECT_EQ(status_of({line}), body_status::unsupported) << line;
}

TEST(HttpBody, TransferEncodingWinsOverContentLength_RFC9112_6_3) {
    EXPECT_EQ(status_of({"Content-Length: 5", "Transfer-Encoding: chunked"}), body_status::unsupported);
    EXPECT_EQ(status_of({"Transfer-Encoding: chunked", "Content-Length: x"}), body_status::unsupported);
}

// ---- keep-alive -----------------------------------------------------------------

TEST(HttpKeepAlive, Http11PersistsByDefault_RFC9112_9_3) {
    EXPECT_TRUE(wants_keep_alive(parse({"Host: h"})));
    EXPECT_TRUE(wants_keep_alive(parse({"Connection: keep-alive"})));
}

TEST(HttpKeepAlive, CloseEnds_RFC9112_9_3) {
    EXPECT_FALSE(wants_keep_alive(parse({"Connection: close"})));
    EXPECT_FALSE(wants_keep_alive(parse({"Connection: CLOSE"})));
    EXPECT_FALSE(wants_keep_alive(parse({"Connection: foo, Close"})));
    EXPECT_FALSE(wants_keep_alive(parse({"Connection: keep-alive", "Connection: close"})));
    EXPECT_TRUE(wants_keep_alive(parse({"Connection: closed, enclose"})));
}

TEST(HttpKeepAlive, Http10ClosesByDefault_RFC9112_9_3) {
    EXPECT_FALSE(wants_keep_alive(parse({"Host: h"}, "POST / HTTP/1.0")));
    EXPECT_FALSE(wants_keep_alive(parse({"Connection: foo"}, "POST / HTTP/1.0")));
}

TEST(HttpKeepAlive, Http10WithKeepAlivePersists_RFC9112_9_3) {
    EXPECT_TRUE(wants_keep_alive(parse({"Connection: keep-alive"}, "POST / HTTP/1.0")));
    EXPECT_TRUE(wants_keep_alive(parse({"Connection: foo, Keep-Alive"}, "POST / HTTP/1.0")));
    EXPECT_FALSE(wants_keep_alive(parse({"Connection: keep-alive, close"}, "POST / HTTP/1.0")));
}

// ---- the answer -----------------------------------------------------------------

TEST(HttpAnswer, KeepAlive) {
    EXPECT_EQ(http_answer_bytes(200, "application/json", "{\"offset\":4}\n", true),
              "HTTP/1.1 200 OK\r\n"
              "Content-Type: application/json\r\n"
              "Content-Length: 13\r\n"
              "Connection: keep-alive\r\n"
              "\r\n"
              "{\"offset\":4}\n");
}

TEST(HttpAnswer, CloseWithExtraHeaders) {
    EXPECT_EQ(http_answer_bytes(401, "text/plain", "no\n", false, "WWW-Authenticate: apikey\r\n"),
              "HTTP/1.1 401 Unauthorized\r\n"
              "Content-Type: text/plain\r\n"
              "Content-Length: 3\r\n"
              "Connection: close\r\n"
              "WWW-Authenticate: apikey\r\n"
              "\r\n"
              "no\n");
}

TEST(HttpAnswer, ReasonPhrasesOfThePublishApi) {
    EXPECT_EQ(reason_phrase(411), "Length Required");
    EXPECT_EQ(reason_phrase(413), "Content Too Large");
    EXPECT_EQ(reason_phrase(501), "Not Implemented");
    EXPECT_TRUE(http_answer_bytes(413, "text/plain", "", false)
                    .starts_with("HTTP/1.1 413 Content Too Large\r\n"));
}

TEST(HttpAnswer, HttpResponseIsTheClosingTextAnswer) {
    EXPECT_EQ(http_response(404, "nope\n", "X: y\r\n"),
              http_answer_bytes(404, "text/plain; charset=utf-8", "nope\n", false, "X: y\r\n"));
}

}  // namespace
}  // namespace wsring::proto

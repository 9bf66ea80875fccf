// Tests for proto/handshake.*: the RFC 6455 §1.3 golden vector, the request
// parser (any split, the cap, bytes after the request, RFC 9112 syntax
// errors), each §4.2.1 rule with its status and body, subprotocol choice and
// the plain HTTP responses. Test names end in the RFC section they check.
#include "proto/handshake.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "proto/base64.hpp"
#include "tests/proto/guard_page.hpp"

namespace wsring::proto {
namespace {

using status = request_parser::status;

std::span<const std::byte> as_bytes(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

// The client's handshake from RFC 6455 §1.3.
const std::string rfc_request =
    "GET /chat HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

// A valid upgrade request made of these header lines.
std::string request_from(const std::vector<std::string>& lines,
                         std::string_view start = "GET /chat HTTP/1.1") {
    std::string r(start);
    r += "\r\n";
    for (const auto& l : lines) r += l + "\r\n";
    return r + "\r\n";
}

const std::vector<std::string> good_lines = {
    "Host: example.com", "Upgrade: websocket", "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"};

// good_lines with the line starting with `name:` replaced (or dropped when
// `line` is empty).
std::vector<std::string> with(std::string_view name, std::string_view line) {
    std::vector<std::string> out;
    for (const auto& l : good_lines) {
        if (l.compare(0, name.size() + 1, std::string(name) + ":") == 0) {
            if (!line.empty()) out.emplace_back(line);
        } else {
            out.push_back(l);
        }
    }
    return out;
}

// Parses `text` in one feed; the result and how much was consumed.
struct parsed {
    status st;
    std::size_t consumed;
};
parsed parse_whole(request_parser& p, std::string_view text) {
    std::size_t consumed = 0;
    const auto st = p.feed(as_bytes(text), consumed);
    return {st, consumed};
}

// Parses a request and runs accept_upgrade on it. The result's `protocol`
// points into the parser's buffer, so the parser outlives the call (until
// the next one).
handshake_result upgrade(std::string_view text, const handshake_policy& policy = {}) {
    static request_parser p;
    p.reset();
    const auto r = parse_whole(p, text);
    EXPECT_EQ(r.st, status::complete) << text;
    return accept_upgrade(p.request(), policy);
}

// Feeds `text` cut at `cuts`; returns the final status and the total consumed.
parsed parse_split(request_parser& p, std::string_view text, const std::vector<std::size_t>& cuts) {
    std::size_t from = 0, total = 0;
    status st = status::need_more;
    for (std::size_t i = 0; i <= cuts.size(); ++i) {
        const std::size_t to = i < cuts.size() ? cuts[i] : text.size();
        std::size_t consumed = 0;
        st = p.feed(as_bytes(text.substr(from, to - from)), consumed);
        EXPECT_LE(consumed, to - from);
        total += consumed;
        from = to;
        if (st != status::need_more) break;
    }
    return {st, total};
}

// ---- the accept key ----------------------------------------------------------

TEST(Handshake, AcceptKeyMatchesGoldenVector_1_3) {
    EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

// The digest context is reused, one per thread: consecutive keys must not
// leak into each other, and reactors on several threads hash at once.
TEST(Handshake, AcceptKeysOnSeveralThreadsStayIndependent) {
    std::vector<std::thread> threads;
    std::atomic<int> wrong{0};
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 500; ++i) {
                if (accept_key("dGhlIHNhbXBsZSBub25jZQ==") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") ++wrong;
                // RFC 6455 §1.3's key with its last symbol changed: another digest.
                if (accept_key("dGhlIHNhbXBsZSBub25jZA==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") ++wrong;
            }
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(wrong.load(), 0);
}

TEST(Handshake, RfcExampleRequestGetsTheRfcResponse_1_3) {
    const auto r = upgrade(rfc_request, {.subprotocols = {"chat"}});
    ASSERT_TRUE(r.accepted()) << name(r.err);
    EXPECT_EQ(r.protocol, "chat");
    EXPECT_EQ(r.response,
              "HTTP/1.1 101 Switching Protocols\r\n"
              "Upgrade: websocket\r\n"
              "Connection: Upgrade\r\n"
              "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
              "Sec-WebSocket-Protocol: chat\r\n"
              "\r\n");
}

// ---- the request parser ------------------------------------------------------

TEST(RequestParser, ExposesRequestLineAndHeadersForRouting) {
    request_parser p;
    const std::string text = request_from(
        {"Host: a.example", "origin: https://b.example", "Cookie: s=1; t=2",
         "Authorization: Bearer abc", "X-Empty:", "X-Spaces: \t v w \t"},
        "GET /chat/room42?token=x&y=1 HTTP/1.1");
    ASSERT_EQ(parse_whole(p, text).st, status::complete);
    const auto& req = p.request();
    EXPECT_EQ(req.method, "GET");
    EXPECT_EQ(req.target, "/chat/room42?token=x&y=1");
    EXPECT_EQ(req.path, "/chat/room42");
    EXPECT_EQ(req.query, "token=x&y=1");
    EXPECT_EQ(req.version_minor, 1);
    EXPECT_EQ(req.headers.size(), 6u);
    EXPECT_EQ(req.header("ORIGIN"), "https://b.example");  // RFC 9110 §5.1: case-insensitive
    EXPECT_EQ(req.header("cookie"), "s=1; t=2");
    EXPECT_EQ(req.header("Authorization"), "Bearer abc");
    EXPECT_EQ(req.header("X-Empty"), "");
    EXPECT_EQ(req.header("X-Spaces"), "v w");  // OWS trimmed, inner spaces kept
    EXPECT_EQ(req.header("Missing"), "");
    EXPECT_EQ(req.count("host"), 1u);
}

// The edges of what RFC 9110 allows: every tchar in a name (§5.6.2), and
// HTAB, obs-text (0x80-0xFF) and "~" (the last VCHAR) inside a value (§5.5).
TEST(RequestParser, AcceptsEveryTcharInNamesAndObsTextInValues) {
    request_parser p;
    const std::string text = request_from(
        {"Host: a", "!#$%&'*+-.^_`|~09azAZ: x", "X-Obs: caf\xc3\xa9\x80\xff", "X-Tab: a\tb~"});
    ASSERT_EQ(parse_whole(p, text).st, status::complete);
    EXPECT_EQ(p.request().header("!#$%&'*+-.^_`|~09AZaz"), "x");
    EXPECT_EQ(p.request().header("X-Obs"), "caf\xc3\xa9\x80\xff");
    EXPECT_EQ(p.request().header("X-Tab"), "a\tb~");
}

TEST(RequestParser, PathWithoutQueryHasEmptyQuery) {
    request_parser p;
    ASSERT_EQ(parse_whole(p, request_from(good_lines, "GET / HTTP/1.1")).st, status::complete);
    EXPECT_EQ(p.request().path, "/");
    EXPECT_EQ(p.request().query, "");
}

TEST(RequestParser, SameResultAtEverySplitPoint) {
    const std::string text = rfc_request;
    request_parser whole;
    ASSERT_EQ(parse_whole(whole, text).st, status::complete);
    const auto expected = accept_upgrade(whole.request(), {.subprotocols = {"superchat"}}).response;
    for (std::size_t cut = 0; cut <= text.size(); ++cut) {
        request_parser p;
        const auto r = parse_split(p, text, {cut});
        ASSERT_EQ(r.st, status::complete) << "cut at " << cut;
        ASSERT_EQ(r.consumed, text.size()) << "cut at " << cut;
        ASSERT_EQ(p.request().headers.size(), 7u);
        ASSERT_EQ(accept_upgrade(p.request(), {.subprotocols = {"superchat"}}).response, expected);
    }
}

TEST(RequestParser, OneByteAtATime) {
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < rfc_request.size(); ++i) cuts.push_back(i);
    request_parser p;
    const auto r = parse_split(p, rfc_request, cuts);
    ASSERT_EQ(r.st, status::complete);
    EXPECT_EQ(r.consumed, rfc_request.size());
    EXPECT_EQ(p.request().header("sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==");
    EXPECT_TRUE(accept_upgrade(p.request()).accepted());
}

TEST(RequestParser, BytesAfterTheRequestAreNotConsumed) {
    // RFC 6455 §5.7's masked "Hello" right behind the request, in one read.
    const std::string frame = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
    const std::string text = rfc_request + frame;
    request_parser p;
    const auto r = parse_whole(p, text);
    ASSERT_EQ(r.st, status::complete);
    EXPECT_EQ(r.consumed, rfc_request.size());
    EXPECT_EQ(text.substr(r.consumed), frame);
    // Also when the read boundary falls anywhere inside the request.
    for (std::size_t cut = 0; cut < rfc_request.size(); ++cut) {
        request_parser q;
        const auto s = parse_split(q, text, {cut});
        ASSERT_EQ(s.st, status::complete);
        ASSERT_EQ(s.consumed, rfc_request.size()) << "cut at " << cut;
    }
}

TEST(RequestParser, FeedAfterCompleteConsumesNothing) {
    request_parser p;
    ASSERT_EQ(parse_whole(p, rfc_request).st, status::complete);
    const auto again = parse_whole(p, "GET / HTTP/1.1\r\n\r\n");
    EXPECT_EQ(again.st, status::complete);
    EXPECT_EQ(again.consumed, 0u);
    EXPECT_EQ(p.request().path, "/chat");
}

TEST(RequestParser, ResetStartsANewRequest) {
    request_parser p;
    ASSERT_EQ(parse_whole(p, "BAD\r\n\r\n").st, status::malformed);
    p.reset();
    ASSERT_EQ(parse_whole(p, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").st, status::complete);
    EXPECT_EQ(p.request().path, "/healthz");
}

// The cap counts every byte up to and including the blank line.
std::string request_of_size(std::size_t size) {
    const std::string head = "GET / HTTP/1.1\r\nX-Pad: ";
    const std::string tail = "\r\n\r\n";
    return head + std::string(size - head.size() - tail.size(), 'p') + tail;
}

TEST(RequestParser, HeaderBlockOfExactlyTheCapIsAccepted) {
    for (std::size_t cap : {64u, 8192u}) {
        const auto text = request_of_size(cap);
        ASSERT_EQ(text.size(), cap);
        request_parser p(cap);
        const auto r = parse_whole(p, text + "\x81");  // a frame byte behind it does not count
        EXPECT_EQ(r.st, status::complete) << cap;
        EXPECT_EQ(r.consumed, cap);
    }
}

TEST(RequestParser, HeaderBlockOneByteOverTheCapIsTooLarge) {
    for (std::size_t cap : {64u, 8192u}) {
        const auto text = request_of_size(cap + 1);
        request_parser p(cap);
        EXPECT_EQ(parse_whole(p, text).st, status::too_large) << cap;
        // The same at one byte per feed: the verdict comes at byte cap + 1.
        request_parser q(cap);
        std::vector<std::size_t> cuts;
        for (std::size_t i = 1; i < text.size(); ++i) cuts.push_back(i);
        EXPECT_EQ(parse_split(q, text, cuts).st, status::too_large);
    }
}

TEST(RequestParser, DefaultCapIs8KiB) {
    request_parser p;
    EXPECT_EQ(parse_whole(p, request_of_size(8192)).st, status::complete);
    request_parser q;
    EXPECT_EQ(parse_whole(q, request_of_size(8193)).st, status::too_large);
}

TEST(RequestParser, EndlessHeaderWithoutBlankLineIsTooLarge) {
    request_parser p(1024);
    const std::string line = "X-A: b\r\n";
    status st = status::need_more;
    std::size_t consumed = 0;
    st = p.feed(as_bytes("GET / HTTP/1.1\r\n"), consumed);
    for (int i = 0; i < 200 && st == status::need_more; ++i) st = p.feed(as_bytes(line), consumed);
    EXPECT_EQ(st, status::too_large);
}

TEST(RequestParser, PlainGetIsNotAnUpgrade) {
    request_parser p;
    ASSERT_EQ(parse_whole(p, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").st, status::complete);
    EXPECT_EQ(p.request().path, "/healthz");
    EXPECT_FALSE(p.request().wants_websocket());
    EXPECT_EQ(accept_upgrade(p.request()).err, error::no_upgrade_websocket);
}

TEST(RequestParser, UpgradeRequestWantsWebsocket) {
    request_parser p;
    ASSERT_EQ(parse_whole(p, rfc_request).st, status::complete);
    EXPECT_TRUE(p.request().wants_websocket());
}

// RFC 9112 §2.2: "a recipient MAY recognize a single LF as a line terminator".
// We do, like nginx and picohttpparser; a bare CR stays an error.
TEST(RequestParser, AcceptsBareLfLineEndings_9112_2_2) {
    std::string text = rfc_request;
    for (std::size_t at; (at = text.find("\r\n")) != std::string::npos;) text.erase(at, 1);
    request_parser p;
    const auto r = parse_whole(p, text + "\x81");
    ASSERT_EQ(r.st, status::complete);
    EXPECT_EQ(r.consumed, text.size());
    EXPECT_TRUE(accept_upgrade(p.request()).accepted());
}

TEST(RequestParser, SkipsEmptyLinesBeforeTheRequestLine_9112_2_2) {
    request_parser p;
    const std::string text = "\r\n\n" + rfc_request;
    const auto r = parse_whole(p, text);
    ASSERT_EQ(r.st, status::complete);
    EXPECT_EQ(r.consumed, text.size());
    EXPECT_EQ(p.request().method, "GET");
}

TEST(RequestParser, AcceptsHttp10ForPlainRequests) {
    request_parser p;
    ASSERT_EQ(parse_whole(p, "GET /healthz HTTP/1.0\r\n\r\n").st, status::complete);
    EXPECT_EQ(p.request().version_minor, 0);
}

struct malformed_case {
    const char* name;
    std::string text;
};

void PrintTo(const malformed_case& c, std::ostream* os) { *os << c.name; }

class RejectsMalformed : public testing::TestWithParam<malformed_case> {};

TEST_P(RejectsMalformed, AsMalformed_9112) {
    request_parser p;
    EXPECT_EQ(parse_whole(p, GetParam().text).st, status::malformed);
    // At one byte per feed too, never complete.
    request_parser q;
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < GetParam().text.size(); ++i) cuts.push_back(i);
    EXPECT_EQ(parse_split(q, GetParam().text, cuts).st, status::malformed);
}

INSTANTIATE_TEST_SUITE_P(
    RequestParser, RejectsMalformed,
    testing::Values(
        malformed_case{"MissingVersion", "GET /chat\r\nHost: x\r\n\r\n"},
        malformed_case{"OnlyAMethod", "GET\r\n\r\n"},
        malformed_case{"Http2Version", "GET / HTTP/2.0\r\nHost: x\r\n\r\n"},
        malformed_case{"LowercaseVersion", "GET / http/1.1\r\nHost: x\r\n\r\n"},
        malformed_case{"VersionWithTrailingSpace", "GET / HTTP/1.1 \r\nHost: x\r\n\r\n"},
        malformed_case{"TwoSpacesInRequestLine", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n"},
        malformed_case{"EmptyTarget", "GET  HTTP/1.1\r\n\r\n"},
        malformed_case{"TabInTarget", "GET /a\tb HTTP/1.1\r\n\r\n"},
        malformed_case{"NonTokenMethod", "G(T / HTTP/1.1\r\n\r\n"},
        malformed_case{"ObsFold_5_2", "GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n  continued\r\n\r\n"},
        malformed_case{"WhitespaceBeforeColon_5_1", "GET / HTTP/1.1\r\nHost : x\r\n\r\n"},
        malformed_case{"TabBeforeColon_5_1", "GET / HTTP/1.1\r\nHost\t: x\r\n\r\n"},
        malformed_case{"InvalidTokenCharInName", "GET / HTTP/1.1\r\nHo@st: x\r\n\r\n"},
        malformed_case{"EmptyHeaderName", "GET / HTTP/1.1\r\n: x\r\n\r\n"},
        malformed_case{"NoColon", "GET / HTTP/1.1\r\nHost x\r\n\r\n"},
        malformed_case{"NulInValue", std::string("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n", 29)},
        malformed_case{"ControlCharInValue", "GET / HTTP/1.1\r\nHost: a\x01" "b\r\n\r\n"},
        malformed_case{"DelInValue", "GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n"},
        malformed_case{"BareCrInValue", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"},
        malformed_case{"BareCrLineEnding", "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n"},
        malformed_case{"WhitespaceLineAfterRequestLine", "GET / HTTP/1.1\r\n \r\nHost: x\r\n\r\n"},
        malformed_case{"BareCrInRequestLine", "GET / HTTP/1.1\rHost: x\r\n\r\n"},
        malformed_case{"TlsClientHello", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15)}),
    [](const testing::TestParamInfo<malformed_case>& c) { return std::string(c.param.name); });

TEST(RequestParser, RejectsBadRequestLineBeforeTheBlankLine) {
    request_parser p;
    std::size_t consumed = 0;
    EXPECT_EQ(p.feed(as_bytes("\x16\x03\x01 garbage\r\n"), consumed), status::malformed);
}

TEST(RequestParser, NeverReadsPastTheInput) {
    // Each prefix of the request sits right before a PROT_NONE page: a read
    // of one byte too many would crash.
    test::guard_page_buffer guard(rfc_request.size() + 16);
    for (std::size_t n = 0; n <= rfc_request.size(); ++n) {
        const auto in = guard.place(std::string_view(rfc_request).substr(0, n));
        request_parser p;
        std::size_t consumed = 0;
        const auto st = p.feed(in, consumed);
        ASSERT_EQ(st, n == rfc_request.size() ? status::complete : status::need_more) << n;
        ASSERT_EQ(consumed, n);
    }
    // And one byte per feed, each byte the last one before the guard page.
    request_parser p;
    status st = status::need_more;
    for (char c : rfc_request) {
        std::size_t consumed = 0;
        st = p.feed(guard.place(std::string_view(&c, 1)), consumed);
    }
    EXPECT_EQ(st, status::complete);
    EXPECT_TRUE(accept_upgrade(p.request()).accepted());
}

// ---- RFC 6455 §4.2.1, one rule at a time ---------------------------------------

TEST(AcceptUpgrade, GoodRequestGets101WithoutSubprotocol_4_2_2) {
    const auto r = upgrade(request_from(good_lines));
    ASSERT_TRUE(r.accepted()) << name(r.err);
    EXPECT_EQ(r.protocol, "");
    EXPECT_EQ(r.response.find("Sec-WebSocket-Protocol"), std::string::npos);
    EXPECT_NE(r.response.find("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
              std::string::npos);
}

struct rule_case {
    const char* name;
    std::string text;
    error err;           // the named rule broken, none for a 101
    int status;
    std::string reason;  // the one-line body; "" for a 101
    std::string extra_header = {};
};

void PrintTo(const rule_case& c, std::ostream* os) { *os << c.name; }

class UpgradeRule : public testing::TestWithParam<rule_case> {};

TEST_P(UpgradeRule, GetsItsStatusAndBody_4_2_1) {
    const auto& c = GetParam();
    const auto r = upgrade(c.text);
    EXPECT_EQ(r.err, c.err) << name(r.err);
    EXPECT_EQ(r.status(), c.status);
    if (c.status == 101) return;
    EXPECT_EQ(describe(r.err), c.reason);
    const auto expected_start = "HTTP/1.1 " + std::to_string(c.status) + " ";
    EXPECT_EQ(r.response.substr(0, expected_start.size()), expected_start);
    EXPECT_EQ(r.response.substr(r.response.size() - c.reason.size() - 1), c.reason + "\n");
    EXPECT_NE(r.response.find("\r\nConnection: close\r\n"), std::string::npos);
    if (!c.extra_header.empty()) {
        EXPECT_NE(r.response.find("\r\n" + c.extra_header + "\r\n"), std::string::npos) << r.response;
    }
}

const std::string bad_key = "missing Sec-WebSocket-Key";
const std::string key_shape = "Sec-WebSocket-Key must be base64 of 16 bytes";
const std::string no_upgrade = "Upgrade header must include websocket";
const std::string no_connection = "Connection header must include upgrade";

INSTANTIATE_TEST_SUITE_P(
    AcceptUpgrade, UpgradeRule,
    testing::Values(
        // item 1: GET, HTTP/1.1 or later
        rule_case{"PostIs405WithAllow", request_from(good_lines, "POST /chat HTTP/1.1"),
                  error::bad_method, 405, "method must be GET", "Allow: GET"},
        rule_case{"LowercaseGetIs405", request_from(good_lines, "get /chat HTTP/1.1"),
                  error::bad_method, 405, "method must be GET", "Allow: GET"},
        rule_case{"Http10Is400", request_from(good_lines, "GET /chat HTTP/1.0"),
                  error::bad_http_version, 400, "HTTP/1.1 or later required"},
        rule_case{"Http12IsAccepted", request_from(good_lines, "GET /chat HTTP/1.2"), error::none, 101, ""},
        // item 2: Host
        rule_case{"MissingHostIs400", request_from(with("Host", "")),
                  error::no_host, 400, "missing Host header"},
        rule_case{"TwoHostsIs400", request_from(with("Host", "Host: a\r\nHost: b")),
                  error::duplicate_host, 400, "more than one Host header"},
        // item 3: Upgrade
        rule_case{"MissingUpgradeIs400", request_from(with("Upgrade", "")),
                  error::no_upgrade_websocket, 400, no_upgrade},
        rule_case{"OtherUpgradeIs400", request_from(with("Upgrade", "Upgrade: h2c")),
                  error::no_upgrade_websocket, 400, no_upgrade},
        rule_case{"UpgradeIsCaseInsensitive", request_from(with("Upgrade", "upgrade: WebSocket")),
                  error::none, 101, ""},
        rule_case{"UpgradeListWithWebsocket", request_from(with("Upgrade", "Upgrade: foo/2, websocket")),
                  error::none, 101, ""},
        rule_case{"UpgradeTokenMustMatchWhole", request_from(with("Upgrade", "Upgrade: websockets")),
                  error::no_upgrade_websocket, 400, no_upgrade},
        // item 4: Connection
        rule_case{"MissingConnectionIs400", request_from(with("Connection", "")),
                  error::no_connection_upgrade, 400, no_connection},
        rule_case{"KeepAliveOnlyIs400", request_from(with("Connection", "Connection: keep-alive")),
                  error::no_connection_upgrade, 400, no_connection},
        rule_case{"ConnectionListWithUpgrade",
                  request_from(with("Connection", "Connection: keep-alive, Upgrade")), error::none, 101, ""},
        rule_case{"ConnectionCaseInsensitive", request_from(with("Connection", "CONNECTION: UPGRADE")),
                  error::none, 101, ""},
        rule_case{"ConnectionSpreadOverTwoHeaders",
                  request_from(with("Connection", "Connection: keep-alive\r\nConnection: ,upgrade ,")),
                  error::none, 101, ""},
        rule_case{"ConnectionSubstringIsNotAToken",
                  request_from(with("Connection", "Connection: upgrade-insecure")),
                  error::no_connection_upgrade, 400, no_connection},
        // item 5: Sec-WebSocket-Key
        rule_case{"MissingKeyIs400", request_from(with("Sec-WebSocket-Key", "")),
                  error::no_sec_key, 400, bad_key},
        rule_case{"TwoKeysIs400",
                  request_from(with("Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                                         "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==")),
                  error::duplicate_sec_key, 400, "more than one Sec-WebSocket-Key"},
        rule_case{"UnpaddedKeyIs400",
                  request_from(with("Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ")),
                  error::bad_sec_key, 400, key_shape},
        rule_case{"KeyOf15BytesIs400",
                  request_from(with("Sec-WebSocket-Key", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA")),
                  error::bad_sec_key, 400, key_shape},
        rule_case{"KeyOf17BytesIs400",
                  request_from(with("Sec-WebSocket-Key", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA=")),
                  error::bad_sec_key, 400, key_shape},
        rule_case{"KeyWithBadCharIs400",
                  request_from(with("Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ!==")),
                  error::bad_sec_key, 400, key_shape},
        rule_case{"KeyWithNonZeroPadBitsIs400",
                  request_from(with("Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==")),
                  error::bad_sec_key, 400, key_shape},
        rule_case{"NotBase64KeyIs400",
                  request_from(with("Sec-WebSocket-Key", "Sec-WebSocket-Key: hello")),
                  error::bad_sec_key, 400, key_shape},
        // item 6: Sec-WebSocket-Version (§4.4: 426 names the version we speak)
        rule_case{"MissingVersionIs426", request_from(with("Sec-WebSocket-Version", "")),
                  error::no_sec_version, 426, "missing Sec-WebSocket-Version (this server speaks 13)",
                  "Sec-WebSocket-Version: 13"},
        rule_case{"Version8Is426", request_from(with("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8")),
                  error::bad_sec_version, 426, "unsupported Sec-WebSocket-Version (this server speaks 13)",
                  "Sec-WebSocket-Version: 13"},
        rule_case{"VersionListIs426",
                  request_from(with("Sec-WebSocket-Version", "Sec-WebSocket-Version: 13, 8")),
                  error::bad_sec_version, 426, "unsupported Sec-WebSocket-Version (this server speaks 13)",
                  "Sec-WebSocket-Version: 13"}),
    [](const testing::TestParamInfo<rule_case>& c) { return std::string(c.param.name); });

// ---- subprotocols (RFC 6455 §4.2.2 item 5.4 /subprotocol/) ------------------------

std::string_view choose(std::vector<std::string> server, const std::vector<std::string>& client_lines,
                        handshake_result& keep) {
    std::vector<std::string> lines = good_lines;
    lines.insert(lines.end(), client_lines.begin(), client_lines.end());
    static request_parser p;  // the chosen view points into the parser's buffer
    p.reset();
    std::size_t consumed = 0;
    const auto text = request_from(lines);
    EXPECT_EQ(p.feed(as_bytes(text), consumed), status::complete);
    keep = accept_upgrade(p.request(), {.subprotocols = std::move(server)});
    EXPECT_TRUE(keep.accepted());
    return keep.protocol;
}

TEST(Subprotocol, ServerPreferenceWinsOverClientOrder) {
    handshake_result r;
    EXPECT_EQ(choose({"b", "a"}, {"Sec-WebSocket-Protocol: a, b"}, r), "b");
    EXPECT_NE(r.response.find("\r\nSec-WebSocket-Protocol: b\r\n"), std::string::npos);
}

TEST(Subprotocol, OffersSpreadOverSeveralHeaders) {
    handshake_result r;
    EXPECT_EQ(choose({"mqtt", "wamp"}, {"Sec-WebSocket-Protocol: a", "sec-websocket-protocol: x, wamp"}, r),
              "wamp");
}

TEST(Subprotocol, NoneInCommonMeansNoHeader) {
    handshake_result r;
    EXPECT_EQ(choose({"mqtt"}, {"Sec-WebSocket-Protocol: chat"}, r), "");
    EXPECT_EQ(r.response.find("Sec-WebSocket-Protocol"), std::string::npos);
}

TEST(Subprotocol, ComparedCaseSensitively) {
    handshake_result r;
    EXPECT_EQ(choose({"Chat"}, {"Sec-WebSocket-Protocol: chat"}, r), "");
}

TEST(Subprotocol, ServerWithoutPolicyChoosesNone) {
    handshake_result r;
    EXPECT_EQ(choose({}, {"Sec-WebSocket-Protocol: chat"}, r), "");
}

TEST(Subprotocol, ClientOfferingNoneGetsNone) {
    handshake_result r;
    EXPECT_EQ(choose({"chat"}, {}, r), "");
}

TEST(Subprotocol, EmptyListElementsAndWhitespaceIgnored) {
    handshake_result r;
    EXPECT_EQ(choose({"chat"}, {"Sec-WebSocket-Protocol: , \t chat \t,"}, r), "chat");
}

// ---- plain HTTP responses ------------------------------------------------------

TEST(HttpResponse, HasLengthTypeAndConnectionClose) {
    EXPECT_EQ(http_response(200, "ok\n"),
              "HTTP/1.1 200 OK\r\n"
              "Content-Type: text/plain; charset=utf-8\r\n"
              "Content-Length: 3\r\n"
              "Connection: close\r\n"
              "\r\n"
              "ok\n");
}

TEST(HttpResponse, ExtraHeadersGoBeforeTheBlankLine) {
    const auto r = http_response(503, "", "Retry-After: 1\r\n");
    EXPECT_EQ(r, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 "Content-Length: 0\r\nConnection: close\r\nRetry-After: 1\r\n\r\n");
}

TEST(HttpResponse, ReasonPhrases) {
    EXPECT_EQ(reason_phrase(101), "Switching Protocols");
    EXPECT_EQ(reason_phrase(404), "Not Found");
    EXPECT_EQ(reason_phrase(405), "Method Not Allowed");
    EXPECT_EQ(reason_phrase(426), "Upgrade Required");
    EXPECT_EQ(reason_phrase(431), "Request Header Fields Too Large");
    EXPECT_EQ(reason_phrase(599), "Unknown");
}

// ---- strict base64 ----------------------------------------------------------------

TEST(Base64, RoundTripsEveryLengthUpTo40) {
    std::vector<std::byte> data;
    for (std::size_t n = 0; n <= 40; ++n) {
        const auto text = base64_encode(data);
        EXPECT_EQ(text.size(), 4 * ((n + 2) / 3));
        std::vector<std::byte> out(n + 3);
        ASSERT_EQ(base64_decode(text, out), static_cast<long>(n)) << text;
        EXPECT_TRUE(std::equal(data.begin(), data.end(), out.begin()));
        data.push_back(static_cast<std::byte>(n * 37 + 11));
    }
}

TEST(Base64, StrictDecodingRejectsEveryOtherSpelling_4648_3) {
    EXPECT_EQ(base64_decode("Zm9vYg=="), 4);
    EXPECT_EQ(base64_decode("Zm9vYg"), -1);      // §3.2 padding required
    EXPECT_EQ(base64_decode("Zm9vYh=="), -1);    // §3.5 non-zero pad bits
    EXPECT_EQ(base64_decode("Zm9v Yg=="), -1);   // no whitespace
    EXPECT_EQ(base64_decode("Zm=vYg=="), -1);    // '=' only at the end
    EXPECT_EQ(base64_decode("Zm9vY==="), -1);
    EXPECT_EQ(base64_decode("===="), -1);
    EXPECT_EQ(base64_decode("Zm9v-_=="), -1);    // base64url alphabet is not base64
    EXPECT_EQ(base64_decode(""), 0);
}

}  // namespace
}  // namespace wsring::proto

// Tests for proto/client_handshake.*: the random key, the request our
// server accepts, and the response checks of RFC 6455 §4.1 (101, Upgrade,
// Connection, Sec-WebSocket-Accept, no subprotocol or extension we did not
// offer), with the response's end found in any split; and permessage-deflate
// (RFC 7692 §7.1) offered, agreed, declined and refused.
#include "proto/client_handshake.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "proto/base64.hpp"
#include "proto/handshake.hpp"
#include "proto/permessage_deflate.hpp"
#include "tests/proto/guard_page.hpp"

namespace wsring::proto {
namespace {

using status = response_checker::status;

std::span<const std::byte> as_bytes(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

const std::string rfc_key = "dGhlIHNhbXBsZSBub25jZQ==";  // RFC 6455 §1.3

// The server's handshake from RFC 6455 §1.3, with the headers we vary.
std::string response_with(std::vector<std::string> lines,
                          std::string_view status_line = "HTTP/1.1 101 Switching Protocols") {
    std::string r(status_line);
    r += "\r\n";
    for (const auto& l : lines) r += l + "\r\n";
    return r + "\r\n";
}

const std::vector<std::string> rfc_lines = {"Upgrade: websocket", "Connection: Upgrade",
                                            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="};

std::vector<std::string> plus(std::vector<std::string> lines, std::string line) {
    lines.push_back(std::move(line));
    return lines;
}

status check(std::string_view response, std::vector<std::string> offered = {},
             std::string* error = nullptr, std::size_t* consumed_out = nullptr) {
    response_checker c(rfc_key, std::move(offered));
    std::size_t consumed = 0;
    const auto st = c.feed(as_bytes(response), consumed);
    if (error) *error = c.error();
    if (consumed_out) *consumed_out = consumed;
    return st;
}

TEST(ClientKey, Is24CharsOfBase64For16RandomBytes_4_1) {
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        const auto key = make_client_key();
        EXPECT_EQ(key.size(), 24u);
        EXPECT_EQ(base64_decode(key), 16);
        seen.insert(key);
    }
    EXPECT_EQ(seen.size(), 100u);  // fresh for every connection
}

TEST(ClientRequest, CarriesEveryRequiredField_4_1) {
    const auto text = make_client_request(
        {.host = "127.0.0.1:9001", .path = "/chat?x=1", .subprotocols = {"chat", "superchat"},
         .origin = "http://example.com", .extra_headers = {"Authorization: Bearer t"}},
        rfc_key);
    EXPECT_EQ(text,
              "GET /chat?x=1 HTTP/1.1\r\n"
              "Host: 127.0.0.1:9001\r\n"
              "Upgrade: websocket\r\n"
              "Connection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              "Sec-WebSocket-Version: 13\r\n"
              "Sec-WebSocket-Protocol: chat, superchat\r\n"
              "Origin: http://example.com\r\n"
              "Authorization: Bearer t\r\n"
              "\r\n");
}

// Our client and our server agree, for many keys and subprotocol offers.
TEST(ClientServer, RequestAcceptedAndResponseChecked) {
    const std::vector<std::vector<std::string>> offers = {{}, {"chat"}, {"a", "chat"}, {"x", "y"}};
    for (int i = 0; i < 200; ++i) {
        const auto& offered = offers[static_cast<std::size_t>(i) % offers.size()];
        const auto key = make_client_key();
        const auto request = make_client_request({.host = "localhost", .path = "/t", .subprotocols = offered},
                                                 key);
        request_parser parser;
        std::size_t consumed = 0;
        ASSERT_EQ(parser.feed(as_bytes(request), consumed), request_parser::status::complete);
        const auto result = accept_upgrade(parser.request(), {.subprotocols = {"chat", "y"}});
        ASSERT_TRUE(result.accepted()) << name(result.err);
        response_checker checker(key, offered);
        ASSERT_EQ(checker.feed(as_bytes(result.response), consumed), status::accepted) << checker.error();
        EXPECT_EQ(consumed, result.response.size());
        EXPECT_EQ(checker.http_status(), 101);
        EXPECT_EQ(checker.protocol(), std::string(result.protocol));
    }
}

TEST(ResponseChecker, AcceptsTheRfcResponse_1_3) {
    EXPECT_EQ(check(response_with(rfc_lines)), status::accepted);
    EXPECT_EQ(check(response_with(plus(rfc_lines, "Sec-WebSocket-Protocol: chat")), {"chat", "superchat"}),
              status::accepted);
}

TEST(ResponseChecker, ReportsTheChosenSubprotocol) {
    response_checker c(rfc_key, {"chat", "superchat"});
    std::size_t consumed = 0;
    const auto text = response_with(plus(rfc_lines, "Sec-WebSocket-Protocol: superchat"));
    ASSERT_EQ(c.feed(as_bytes(text), consumed), status::accepted);
    EXPECT_EQ(c.protocol(), "superchat");
}

TEST(ResponseChecker, TokensCompareCaseInsensitively_4_1) {
    EXPECT_EQ(check(response_with({"upgrade: WebSocket", "connection: keep-alive, upgrade",
                                   "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="})),
              status::accepted);
}

TEST(ResponseChecker, BytesAfterTheResponseAreFrames) {
    const std::string frame = "\x81\x05Hello";  // RFC 6455 §5.7, unmasked from a server
    const auto response = response_with(rfc_lines);
    std::size_t consumed = 0;
    ASSERT_EQ(check(response + frame, {}, nullptr, &consumed), status::accepted);
    EXPECT_EQ(consumed, response.size());
}

TEST(ResponseChecker, SameResultAtEverySplitPoint) {
    const auto response = response_with(plus(rfc_lines, "Sec-WebSocket-Protocol: chat")) + std::string("\x81\x00", 2);
    const auto end = response.size() - 2;
    for (std::size_t cut = 0; cut <= response.size(); ++cut) {
        response_checker c(rfc_key, {"chat"});
        std::size_t a = 0, b = 0;
        auto st = c.feed(as_bytes(std::string_view(response).substr(0, cut)), a);
        if (st == status::need_more) st = c.feed(as_bytes(std::string_view(response).substr(cut)), b);
        ASSERT_EQ(st, status::accepted) << "cut at " << cut;
        ASSERT_EQ(a + b, end) << "cut at " << cut;
        ASSERT_EQ(c.protocol(), "chat");
    }
}

TEST(ResponseChecker, NeverReadsPastTheInput) {
    const auto response = response_with(rfc_lines);
    test::guard_page_buffer guard(response.size());
    response_checker c(rfc_key);
    status st = status::need_more;
    for (char ch : response) {
        std::size_t consumed = 0;
        st = c.feed(guard.place(std::string_view(&ch, 1)), consumed);
    }
    EXPECT_EQ(st, status::accepted);
}

struct reject_case {
    const char* name;
    std::string response;
    std::vector<std::string> offered;
    std::string error;
};

void PrintTo(const reject_case& c, std::ostream* os) { *os << c.name; }

class ResponseRejected : public testing::TestWithParam<reject_case> {};

TEST_P(ResponseRejected, WithItsReason_4_1) {
    std::string error;
    EXPECT_EQ(check(GetParam().response, GetParam().offered, &error), status::rejected);
    EXPECT_EQ(error, GetParam().error);
}

std::vector<std::string> without(std::string_view name) {
    std::vector<std::string> out;
    for (const auto& l : rfc_lines)
        if (l.compare(0, name.size(), name) != 0) out.push_back(l);
    return out;
}

INSTANTIATE_TEST_SUITE_P(
    ResponseChecker, ResponseRejected,
    testing::Values(
        reject_case{"WrongAccept",
                    response_with({"Upgrade: websocket", "Connection: Upgrade",
                                   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOp="}),
                    {}, "Sec-WebSocket-Accept does not match the key"},
        reject_case{"MissingAccept", response_with(without("Sec-WebSocket-Accept")), {},
                    "missing Sec-WebSocket-Accept"},
        reject_case{"TwoAccepts",
                    response_with(plus(rfc_lines, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")), {},
                    "more than one Sec-WebSocket-Accept"},
        reject_case{"Status200", response_with({"Content-Length: 0"}, "HTTP/1.1 200 OK"), {},
                    "server answered 200 instead of 101"},
        reject_case{"Status426", response_with({"Sec-WebSocket-Version: 13"}, "HTTP/1.1 426 Upgrade Required"),
                    {}, "server answered 426 instead of 101"},
        reject_case{"Http10", response_with(rfc_lines, "HTTP/1.0 101 Switching Protocols"), {},
                    "not an HTTP/1.1 status line"},
        reject_case{"NotHttp", "SSH-2.0-OpenSSH_9.2\r\n\r\n", {}, "not an HTTP/1.1 status line"},
        reject_case{"BareCrInStatusLine", response_with(rfc_lines, "HTTP/1.1 101 Switching\rProtocols"), {},
                    "control character in status line"},
        reject_case{"MissingUpgrade", response_with(without("Upgrade")), {},
                    "Upgrade header missing or not websocket"},
        reject_case{"UpgradeNotWebsocket",
                    response_with({"Upgrade: h2c", rfc_lines[1], rfc_lines[2]}), {},
                    "Upgrade header missing or not websocket"},
        reject_case{"MissingConnection", response_with(without("Connection")), {},
                    "Connection header missing or not upgrade"},
        reject_case{"UnrequestedSubprotocol", response_with(plus(rfc_lines, "Sec-WebSocket-Protocol: chat")),
                    {}, "server chose a subprotocol we did not offer"},
        reject_case{"SubprotocolNotAmongOffered",
                    response_with(plus(rfc_lines, "Sec-WebSocket-Protocol: mqtt")), {"chat"},
                    "server chose a subprotocol we did not offer"},
        reject_case{"SubprotocolList",
                    response_with(plus(rfc_lines, "Sec-WebSocket-Protocol: chat, superchat")),
                    {"chat", "superchat"}, "server chose a subprotocol we did not offer"},
        reject_case{"AnyExtension",
                    response_with(plus(rfc_lines, "Sec-WebSocket-Extensions: permessage-deflate")), {},
                    "server chose an extension we did not offer"},
        reject_case{"MalformedHeader", response_with(plus(rfc_lines, "Bad Header: x")), {},
                    "malformed header line"},
        reject_case{"TooLarge", response_with(plus(rfc_lines, "X-Pad: " + std::string(9000, 'p'))), {},
                    "response header block too large"}),
    [](const testing::TestParamInfo<reject_case>& c) { return std::string(c.param.name); });

TEST(ResponseChecker, Non101IsRejectedAsSoonAsTheStatusLineArrives) {
    response_checker c(rfc_key);
    std::size_t consumed = 0;
    EXPECT_EQ(c.feed(as_bytes("HTTP/1.1 503 Service Unavailable\r\n"), consumed), status::rejected);
    EXPECT_EQ(c.http_status(), 503);
}

TEST(ResponseChecker, VerdictIsSticky) {
    response_checker c(rfc_key);
    std::size_t consumed = 0;
    const auto text = response_with(rfc_lines);
    ASSERT_EQ(c.feed(as_bytes(text), consumed), status::accepted);
    EXPECT_EQ(c.feed(as_bytes(text), consumed), status::accepted);
    EXPECT_EQ(consumed, 0u);
}

// ---- permessage-deflate (RFC 7692) ----------------------------------------------

TEST(ClientRequest, OffersAnExtension_9_1) {
    const auto text = make_client_request(
        {.host = "h", .subprotocols = {"chat"}, .origin = "http://o", .extensions = "permessage-deflate; client_max_window_bits"},
        rfc_key);
    EXPECT_EQ(text,
              "GET / HTTP/1.1\r\n"
              "Host: h\r\n"
              "Upgrade: websocket\r\n"
              "Connection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              "Sec-WebSocket-Version: 13\r\n"
              "Sec-WebSocket-Protocol: chat\r\n"
              "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
              "Origin: http://o\r\n"
              "\r\n");
}

// The checker after a response to an offer made with `cfg`.
struct deflate_check {
    status st;
    std::optional<deflate_params> agreed;
    std::string error;
};

deflate_check check_deflate(std::string_view response, deflate_client_config cfg = {}) {
    response_checker c(rfc_key, {}, 8192, cfg);
    std::size_t consumed = 0;
    const auto st = c.feed(as_bytes(response), consumed);
    return {st, c.deflate(), c.error()};
}

TEST(ResponseChecker, AcceptsPermessageDeflateWhenOffered_7692_7_1) {
    const auto r = check_deflate(response_with(plus(rfc_lines, "Sec-WebSocket-Extensions: permessage-deflate")));
    ASSERT_EQ(r.st, status::accepted) << r.error;
    ASSERT_TRUE(r.agreed);
    EXPECT_EQ(*r.agreed, deflate_params{});  // no parameter: contexts kept, 32 KiB windows
}

TEST(ResponseChecker, ReportsEveryAgreedParameter_7692_7_1) {
    const auto r = check_deflate(response_with(plus(
        rfc_lines, "sec-websocket-extensions: permessage-deflate; server_no_context_takeover; "
                   "client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9")));
    ASSERT_EQ(r.st, status::accepted) << r.error;
    ASSERT_TRUE(r.agreed);
    EXPECT_EQ(*r.agreed, (deflate_params{.server_no_context_takeover = true, .client_no_context_takeover = true,
                                         .server_max_window_bits = 10, .client_max_window_bits = 9,
                                         .name_server_max_window_bits = true}));
}

TEST(ResponseChecker, NoAnswerMeansDeclined_7692_5) {
    for (const auto& lines : {rfc_lines, plus(rfc_lines, "Sec-WebSocket-Extensions: "),
                              plus(rfc_lines, "Sec-WebSocket-Extensions: , ,")}) {
        const auto r = check_deflate(response_with(lines));
        EXPECT_EQ(r.st, status::accepted) << r.error;
        EXPECT_FALSE(r.agreed);
    }
}

// RFC 6455 §9.1: the list may be split over several header lines.
TEST(ResponseChecker, ExtensionListOverSeveralLines_9_1) {
    const auto r = check_deflate(response_with(plus(plus(rfc_lines, "Sec-WebSocket-Extensions:"),
                                                    "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover")));
    ASSERT_EQ(r.st, status::accepted) << r.error;
    ASSERT_TRUE(r.agreed);
    EXPECT_TRUE(r.agreed->server_no_context_takeover);
}

TEST(ResponseChecker, AgreedParametersAtEverySplitPoint) {
    const auto response =
        response_with(plus(rfc_lines, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=12"));
    for (std::size_t cut = 0; cut <= response.size(); ++cut) {
        response_checker c(rfc_key, {}, 8192, deflate_client_config{});
        std::size_t a = 0, b = 0;
        auto st = c.feed(as_bytes(std::string_view(response).substr(0, cut)), a);
        if (st == status::need_more) st = c.feed(as_bytes(std::string_view(response).substr(cut)), b);
        ASSERT_EQ(st, status::accepted) << "cut at " << cut;
        ASSERT_TRUE(c.deflate()) << "cut at " << cut;
        ASSERT_EQ(c.deflate()->client_max_window_bits, 12) << "cut at " << cut;
    }
}

struct deflate_reject_case {
    const char* name;
    std::string extensions;  // the Sec-WebSocket-Extensions line(s), "\r\n" between lines
    deflate_client_config cfg;
    std::string error;
};

void PrintTo(const deflate_reject_case& c, std::ostream* os) { *os << c.name; }

class DeflateResponseRejected : public testing::TestWithParam<deflate_reject_case> {};

TEST_P(DeflateResponseRejected, WithItsReason_7692_7_1) {
    const auto r = check_deflate(response_with(plus(rfc_lines, GetParam().extensions)), GetParam().cfg);
    EXPECT_EQ(r.st, status::rejected);
    EXPECT_EQ(r.error, GetParam().error);
    EXPECT_FALSE(r.agreed);
}

const std::string not_offered = "server chose an extension we did not offer";
const std::string twice = "server chose permessage-deflate more than once";
const std::string bad_params = "server's permessage-deflate parameters are not acceptable (RFC 7692 §7.1)";
const deflate_client_config no_client_window{.offer_client_max_window_bits = false};
const deflate_client_config wants_server_reset{.request_server_no_context_takeover = true};
const deflate_client_config asks_server_window_10{.server_max_window_bits = 10};

INSTANTIATE_TEST_SUITE_P(
    ResponseChecker, DeflateResponseRejected,
    testing::Values(
        // RFC 6455 §4.1 item 5 / §9.1: nothing but what we offered
        deflate_reject_case{"AnotherExtension", "Sec-WebSocket-Extensions: x-webkit-deflate-frame", {}, not_offered},
        deflate_reject_case{"DeflateAndAnother", "Sec-WebSocket-Extensions: permessage-deflate, x-foo", {}, not_offered},
        deflate_reject_case{"AnotherAndDeflate", "Sec-WebSocket-Extensions: x-foo; a=1, permessage-deflate", {},
                            not_offered},
        deflate_reject_case{"TwiceOnOneLine", "Sec-WebSocket-Extensions: permessage-deflate, permessage-deflate", {},
                            twice},
        deflate_reject_case{"TwiceOnTwoLines",
                            "Sec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Extensions: permessage-deflate",
                            {}, twice},
        // RFC 7692 §7.1: the parameters (judged by accept_deflate_response)
        deflate_reject_case{"UnknownParameter", "Sec-WebSocket-Extensions: permessage-deflate; foo", {}, bad_params},
        deflate_reject_case{"DuplicateParameter",
                            "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
                            "server_no_context_takeover",
                            {}, bad_params},
        deflate_reject_case{"ValueOnAFlag", "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover=1",
                            {}, bad_params},
        deflate_reject_case{"ServerWindowOutOfRange", "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=16",
                            {}, bad_params},
        deflate_reject_case{"ServerWindowAboveTheRequest",
                            "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12",
                            asks_server_window_10, bad_params},
        deflate_reject_case{"ClientWindowNotOffered",
                            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10", no_client_window,
                            bad_params},
        deflate_reject_case{"ClientWindowWithoutValue",
                            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits", {}, bad_params},
        deflate_reject_case{"RequestedServerResetMissing", "Sec-WebSocket-Extensions: permessage-deflate",
                            wants_server_reset, bad_params},
        // a quoted comma does not split the element (RFC 9110 §5.6.4): one offer, a bad value
        deflate_reject_case{"CommaInsideQuotes",
                            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=\"1,0\"", {},
                            bad_params}),
    [](const testing::TestParamInfo<deflate_reject_case>& c) { return std::string(c.param.name); });

// Our client's offer, our server's choice and answer, our client's check:
// both ends agree on the same parameters, whatever each side's config.
TEST(ClientServer, DeflateOfferNegotiatedAndAnswerAccepted_7692_7_1) {
    const std::vector<deflate_client_config> clients = {
        {}, no_client_window, wants_server_reset, asks_server_window_10,
        {.offer_client_no_context_takeover = true, .server_max_window_bits = 15}};
    const std::vector<deflate_server_config> servers = {{}, {.context_takeover = true},
                                                        {.context_takeover = true, .max_window_bits = 11}};
    for (const auto& client : clients) {
        for (const auto& server : servers) {
            const auto key = make_client_key();
            const auto request = make_client_request({.host = "h", .extensions = format_deflate_offer(client)}, key);
            request_parser parser;
            std::size_t consumed = 0;
            ASSERT_EQ(parser.feed(as_bytes(request), consumed), request_parser::status::complete);
            std::vector<std::string_view> offers;
            for (const auto& h : parser.request().headers)
                if (iequals(h.name, "Sec-WebSocket-Extensions")) offers.push_back(h.value);
            const auto agreed = negotiate_deflate(offers, server);
            ASSERT_TRUE(agreed) << request;
            const auto result = accept_upgrade(parser.request(), {}, format_deflate_response(*agreed));
            ASSERT_TRUE(result.accepted()) << name(result.err);
            response_checker checker(key, {}, 8192, client);
            ASSERT_EQ(checker.feed(as_bytes(result.response), consumed), status::accepted)
                << checker.error() << "\n" << result.response;
            ASSERT_TRUE(checker.deflate());
            // Whether server_max_window_bits was named is how the answer was
            // spelt, not what was agreed: compare the rest.
            auto seen = *checker.deflate(), meant = *agreed;
            seen.name_server_max_window_bits = meant.name_server_max_window_bits = false;
            EXPECT_EQ(seen, meant) << result.response;
        }
    }
}

}  // namespace
}  // namespace wsring::proto

// Tests for proto/error.*: every enumerator keeps its written value and its
// name (reports and logs depend on both), the close code each frame error
// earns (RFC 6455 §7.4.1) and the HTTP status each handshake error earns
// (§4.2.1, §4.4; RFC 9110 §15.5.6; RFC 6585 §5). Expected values are literals.
#include "proto/error.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <string_view>

#include "proto/handshake.hpp"

namespace wsring::proto {
namespace {

struct named {
    int value;
    std::string_view name;
};

// The whole vocabulary by value: a renumbered or renamed enumerator fails here.
constexpr named vocabulary[] = {
    {0, "none"},
    {1, "reserved_bits"},
    {2, "reserved_opcode"},
    {3, "control_fragmented"},
    {4, "control_too_long"},
    {5, "unmasked_client_frame"},
    {6, "masked_server_frame"},
    {7, "length_msb_set"},
    {8, "unexpected_continuation"},
    {9, "expected_continuation"},
    {10, "message_too_big"},
    {11, "invalid_utf8"},
    {12, "close_payload_one_byte"},
    {13, "invalid_close_code"},
    {14, "invalid_close_reason"},
    {15, "deflate_corrupt"},
    {32, "bad_method"},
    {33, "bad_http_version"},
    {34, "no_host"},
    {35, "duplicate_host"},
    {36, "no_upgrade_websocket"},
    {37, "no_connection_upgrade"},
    {38, "no_sec_version"},
    {39, "bad_sec_version"},
    {40, "no_sec_key"},
    {41, "duplicate_sec_key"},
    {42, "bad_sec_key"},
    {43, "malformed_request"},
    {44, "request_too_large"},
};

error as_error(int v) { return static_cast<error>(v); }

TEST(Error, EveryValueKeepsItsName) {
    for (const auto& n : vocabulary) EXPECT_EQ(name(as_error(n.value)), n.name) << n.value;
}

TEST(Error, ValuesNamingNoEnumeratorAreUnknown) {
    std::set<int> known;
    for (const auto& n : vocabulary) known.insert(n.value);
    for (int v = 0; v < 256; ++v) {
        if (known.count(v)) continue;
        EXPECT_EQ(name(as_error(v)), "unknown") << v;
        EXPECT_EQ(describe(as_error(v)), "unknown error") << v;
    }
}

TEST(Error, EveryEnumeratorHasAReasonThatFitsACloseFrame_5_5_1) {
    for (const auto& n : vocabulary) {
        const auto reason = describe(as_error(n.value));
        EXPECT_FALSE(reason.empty()) << n.name;
        EXPECT_LE(reason.size(), 123u) << n.name;  // 125 minus the 2-byte code
        EXPECT_NE(reason, "unknown error") << n.name;
    }
}

TEST(Error, FrameErrorsMapToTheirCloseCodes_7_4_1) {
    EXPECT_EQ(to_close_code(error::reserved_opcode), close_code::protocol_error);
    EXPECT_EQ(to_close_code(error::control_fragmented), close_code::protocol_error);
    EXPECT_EQ(to_close_code(error::message_too_big), close_code::message_too_big);
    EXPECT_EQ(to_close_code(error::invalid_utf8), close_code::invalid_payload);
    EXPECT_EQ(to_close_code(error::invalid_close_reason), close_code::invalid_payload);
    EXPECT_EQ(to_close_code(error::deflate_corrupt), close_code::invalid_payload);  // RFC 7692 §6.2
    EXPECT_EQ(to_close_code(error::none), close_code::normal);
}

TEST(Error, HandshakeErrorsMapToTheirHttpStatus_4_2_1) {
    EXPECT_EQ(http_status(error::none), 101);
    EXPECT_EQ(http_status(error::bad_method), 405);
    EXPECT_EQ(http_status(error::bad_http_version), 400);
    EXPECT_EQ(http_status(error::no_host), 400);
    EXPECT_EQ(http_status(error::duplicate_host), 400);
    EXPECT_EQ(http_status(error::no_upgrade_websocket), 400);
    EXPECT_EQ(http_status(error::no_connection_upgrade), 400);
    EXPECT_EQ(http_status(error::no_sec_version), 426);
    EXPECT_EQ(http_status(error::bad_sec_version), 426);
    EXPECT_EQ(http_status(error::no_sec_key), 400);
    EXPECT_EQ(http_status(error::duplicate_sec_key), 400);
    EXPECT_EQ(http_status(error::bad_sec_key), 400);
    EXPECT_EQ(http_status(error::malformed_request), 400);
    EXPECT_EQ(http_status(error::request_too_large), 431);
}

TEST(Error, HandshakeRangeHoldsOnlyHandshakeErrors) {
    for (const auto& n : vocabulary)
        EXPECT_EQ(is_handshake_error(as_error(n.value)), n.value >= 32) << n.name;
}

TEST(ErrorResponse, CarriesStatusRequiredHeaderAndReason) {
    EXPECT_EQ(error_response(error::request_too_large),
              "HTTP/1.1 431 Request Header Fields Too Large\r\n"
              "Content-Type: text/plain; charset=utf-8\r\n"
              "Content-Length: 32\r\n"
              "Connection: close\r\n"
              "\r\n"
              "request header fields too large\n");
    EXPECT_NE(error_response(error::bad_method).find("\r\nAllow: GET\r\n"), std::string::npos);
    EXPECT_NE(error_response(error::no_sec_version).find("\r\nSec-WebSocket-Version: 13\r\n"), std::string::npos);
    EXPECT_EQ(error_response(error::malformed_request).substr(0, 25), "HTTP/1.1 400 Bad Request\r");
}

}  // namespace
}  // namespace wsring::proto

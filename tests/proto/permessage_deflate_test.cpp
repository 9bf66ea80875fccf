// Tests for proto/permessage_deflate.*: Sec-WebSocket-Extensions values in,
// agreed parameters and the response string out. The offers real clients
// send (Chromium, Firefox, Python websockets, Node ws) in both server
// modes, every parameter combination, every class of invalid offer, several
// offers across lines, then the client side (the offer we write, the
// responses we accept or fail on) and a round trip through our own server.
// Test names end in the RFC 7692 section (or RFC 6455 §9.1) they check.
#include "proto/permessage_deflate.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace wsring::proto {

void PrintTo(const deflate_params& p, std::ostream* os) {
    *os << "{snct=" << p.server_no_context_takeover << " cnct=" << p.client_no_context_takeover
        << " smwb=" << int(p.server_max_window_bits) << " cmwb=" << int(p.client_max_window_bits)
        << " name_smwb=" << p.name_server_max_window_bits << "}";
}

namespace {

const deflate_server_config shared_mode{};  // the default: no context takeover
const deflate_server_config takeover_mode{.context_takeover = true};

std::optional<deflate_params> negotiate(std::initializer_list<std::string_view> lines,
                                        const deflate_server_config& cfg = shared_mode) {
    const std::vector<std::string_view> v(lines);
    return negotiate_deflate(v, cfg);
}

// The response header value, or "declined".
std::string answer(std::initializer_list<std::string_view> lines, const deflate_server_config& cfg = shared_mode) {
    const auto p = negotiate(lines, cfg);
    return p ? format_deflate_response(*p) : "declined";
}

constexpr std::string_view both_off = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

// ---- what real clients offer --------------------------------------------------

struct client_offer {
    std::string_view client, offer;
};
constexpr client_offer real_clients[] = {
    {"Chromium", "permessage-deflate; client_max_window_bits"},
    {"Firefox", "permessage-deflate"},
    {"Python websockets", "permessage-deflate; client_max_window_bits"},
    {"Node ws", "permessage-deflate; client_max_window_bits"},
};

TEST(DeflateNegotiation, RealClientsSharedModeGetBothNoContextTakeover_7_1_1) {
    for (const auto& c : real_clients) {
        SCOPED_TRACE(c.client);
        const auto p = negotiate({c.offer});
        ASSERT_TRUE(p);
        EXPECT_EQ(*p, (deflate_params{.server_no_context_takeover = true, .client_no_context_takeover = true}));
        EXPECT_EQ(format_deflate_response(*p), both_off);
    }
}

TEST(DeflateNegotiation, RealClientsTakeoverModeGetThePlainName_7_1) {
    for (const auto& c : real_clients) {
        SCOPED_TRACE(c.client);
        const auto p = negotiate({c.offer}, takeover_mode);
        ASSERT_TRUE(p);
        EXPECT_EQ(*p, deflate_params{});
        EXPECT_EQ(format_deflate_response(*p), "permessage-deflate");
    }
}

TEST(DeflateNegotiation, RealClientsWithSmallerServerWindowGetItUnasked_7_1_2_1) {
    const deflate_server_config small{.max_window_bits = 12};
    const deflate_server_config small_takeover{.context_takeover = true, .max_window_bits = 12};
    for (const auto& c : real_clients) {
        SCOPED_TRACE(c.client);
        EXPECT_EQ(answer({c.offer}, small), std::string(both_off) + "; server_max_window_bits=12");
        EXPECT_EQ(answer({c.offer}, small_takeover), "permessage-deflate; server_max_window_bits=12");
    }
}

// ---- every combination of the four parameters ----------------------------------

struct combination {
    std::string_view offer, shared, takeover;  // the offer's parameters, each mode's answer's
};
constexpr combination combinations[] = {
    {"", "", ""},
    {"; server_no_context_takeover", "", "; server_no_context_takeover"},
    {"; client_no_context_takeover", "", "; client_no_context_takeover"},
    {"; server_no_context_takeover; client_no_context_takeover", "", "; server_no_context_takeover; client_no_context_takeover"},
    {"; server_max_window_bits=10", "; server_max_window_bits=10", "; server_max_window_bits=10"},
    {"; client_max_window_bits", "", ""},
    {"; client_max_window_bits=11", "; client_max_window_bits=11", "; client_max_window_bits=11"},
    {"; server_no_context_takeover; server_max_window_bits=10", "; server_max_window_bits=10",
     "; server_no_context_takeover; server_max_window_bits=10"},
    {"; client_no_context_takeover; client_max_window_bits", "", "; client_no_context_takeover"},
    {"; server_max_window_bits=10; client_max_window_bits", "; server_max_window_bits=10", "; server_max_window_bits=10"},
    {"; client_max_window_bits; server_no_context_takeover; server_max_window_bits=9; client_no_context_takeover",
     "; server_max_window_bits=9",
     "; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9"},
    {"; server_max_window_bits=15; client_max_window_bits=15", "; server_max_window_bits=15", "; server_max_window_bits=15"},
};

TEST(DeflateNegotiation, EveryParameterCombinationBothModes_7_1) {
    for (const auto& c : combinations) {
        const std::string offer = "permessage-deflate" + std::string(c.offer);
        SCOPED_TRACE(offer);
        // Shared mode always names both no_context_takeover (§7.1.1.1, §7.1.1.2 allow it unasked).
        EXPECT_EQ(answer({offer}), std::string(both_off) + std::string(c.shared));
        EXPECT_EQ(answer({offer}, takeover_mode), "permessage-deflate" + std::string(c.takeover));
    }
}

TEST(DeflateNegotiation, SharedModeAgreesBothResetsWhateverTheOffer_7_1_1) {
    for (const auto& c : combinations) {
        const auto p = negotiate({"permessage-deflate" + std::string(c.offer)});
        ASSERT_TRUE(p);
        EXPECT_TRUE(p->server_no_context_takeover && p->client_no_context_takeover);
    }
}

TEST(DeflateNegotiation, TakeoverModeResetsOnlyWhatTheClientAsked_7_1_1) {
    auto p = negotiate({"permessage-deflate; server_no_context_takeover"}, takeover_mode);
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->server_no_context_takeover);
    EXPECT_FALSE(p->client_no_context_takeover);
    p = negotiate({"permessage-deflate; client_no_context_takeover"}, takeover_mode);
    ASSERT_TRUE(p);
    EXPECT_FALSE(p->server_no_context_takeover);
    EXPECT_TRUE(p->client_no_context_takeover);  // the client's hint, named back so we reset too
}

// ---- window bits ---------------------------------------------------------------

TEST(DeflateNegotiation, ServerWindowIsTheSmallerOfOfferAndConfig_7_1_2_1) {
    EXPECT_EQ(negotiate({"permessage-deflate; server_max_window_bits=12"}, {.max_window_bits = 10})->server_max_window_bits, 10);
    EXPECT_EQ(negotiate({"permessage-deflate; server_max_window_bits=10"}, {.max_window_bits = 12})->server_max_window_bits, 10);
    EXPECT_EQ(answer({"permessage-deflate; server_max_window_bits=12"}, {.context_takeover = true, .max_window_bits = 10}),
              "permessage-deflate; server_max_window_bits=10");
}

TEST(DeflateNegotiation, OfferedServerWindow15IsNamedBack_7_1_2_1) {
    const auto p = negotiate({"permessage-deflate; server_max_window_bits=15"}, takeover_mode);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->server_max_window_bits, 15);
    EXPECT_TRUE(p->name_server_max_window_bits);
    EXPECT_EQ(format_deflate_response(*p), "permessage-deflate; server_max_window_bits=15");
}

TEST(DeflateNegotiation, DeclinesServerWindow8ZlibHasNoRaw8BitWindow_7) {
    EXPECT_EQ(negotiate({"permessage-deflate; server_max_window_bits=8"}), std::nullopt);
    EXPECT_EQ(negotiate({"permessage-deflate; server_max_window_bits=8"}, takeover_mode), std::nullopt);
    EXPECT_EQ(answer({"permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=9"}),
              std::string(both_off) + "; server_max_window_bits=9");
}

TEST(DeflateNegotiation, ConfigWindowOutside9To15IsClamped) {
    EXPECT_EQ(negotiate({"permessage-deflate"}, {.max_window_bits = 8})->server_max_window_bits, 9);
    EXPECT_EQ(negotiate({"permessage-deflate"}, {.max_window_bits = 0})->server_max_window_bits, 9);
    EXPECT_EQ(negotiate({"permessage-deflate"}, {.max_window_bits = 200})->server_max_window_bits, 15);
}

TEST(DeflateNegotiation, ClientWindowNeverNamedUnlessOffered_7_1_2_2) {
    for (const auto cfg : {shared_mode, takeover_mode, deflate_server_config{.max_window_bits = 9}}) {
        for (const auto offer : {"permessage-deflate", "permessage-deflate; server_max_window_bits=9",
                                 "permessage-deflate; client_no_context_takeover"}) {
            SCOPED_TRACE(offer);
            const auto p = negotiate({offer}, cfg);
            ASSERT_TRUE(p);
            EXPECT_EQ(p->client_max_window_bits, 15);
            EXPECT_EQ(format_deflate_response(*p).find("client_max_window_bits"), std::string::npos);
        }
    }
}

TEST(DeflateNegotiation, ClientWindowWithoutValueIsNotLimited_7_1_2_2) {
    const auto p = negotiate({"permessage-deflate; client_max_window_bits"}, {.max_window_bits = 9});
    ASSERT_TRUE(p);
    EXPECT_EQ(p->client_max_window_bits, 15);  // our inflater reads any window: we never lower it
}

TEST(DeflateNegotiation, ClientWindowValueIsRecordedAndNamedBack_7_1_2_2) {
    for (int bits = 8; bits <= 14; ++bits) {
        const std::string offer = "permessage-deflate; client_max_window_bits=" + std::to_string(bits);
        SCOPED_TRACE(offer);
        const auto p = negotiate({offer}, takeover_mode);
        ASSERT_TRUE(p);  // 8 too: it limits the client's compressor, not ours
        EXPECT_EQ(p->client_max_window_bits, bits);
        EXPECT_EQ(format_deflate_response(*p), "permessage-deflate; client_max_window_bits=" + std::to_string(bits));
    }
}

TEST(DeflateNegotiation, AcceptsEveryWindowFrom9To15_7_1_2) {
    for (int bits = 9; bits <= 15; ++bits) {
        const auto p = negotiate({"permessage-deflate; server_max_window_bits=" + std::to_string(bits) +
                                  "; client_max_window_bits=" + std::to_string(bits)});
        ASSERT_TRUE(p) << bits;
        EXPECT_EQ(p->server_max_window_bits, bits);
        EXPECT_EQ(p->client_max_window_bits, bits);
    }
}

// ---- invalid offers: declined, and the next offer is considered -----------------

// Each `bad` parameter list makes its offer invalid; alone it gets no
// extension, and followed by a valid offer that one is accepted.
void expect_declined(std::string_view bad) {
    const std::string offer = "permessage-deflate" + std::string(bad);
    SCOPED_TRACE(offer);
    EXPECT_EQ(negotiate({offer}), std::nullopt);
    EXPECT_EQ(negotiate({offer}, takeover_mode), std::nullopt);
    EXPECT_EQ(answer({offer + ", permessage-deflate; server_max_window_bits=11"}, takeover_mode),
              "permessage-deflate; server_max_window_bits=11");
}

TEST(DeflateNegotiation, DeclinesUnknownParameter_7) {
    for (const auto bad : {"; foo", "; x-webkit-deflate-frame", "; max_window_bits=10",
                           "; server_max_window_bits=10; client_no_context_takeover; mux", "; client_max_window_bit"})
        expect_declined(bad);
}

TEST(DeflateNegotiation, DeclinesDuplicateParameter_7) {
    for (const auto bad : {"; server_no_context_takeover; server_no_context_takeover",
                           "; client_no_context_takeover; client_no_context_takeover",
                           "; server_max_window_bits=10; server_max_window_bits=10",
                           "; server_max_window_bits=10; server_max_window_bits=11",
                           "; client_max_window_bits; client_max_window_bits",
                           "; client_max_window_bits=9; client_max_window_bits",
                           "; server_no_context_takeover; SERVER_NO_CONTEXT_TAKEOVER"})
        expect_declined(bad);
}

TEST(DeflateNegotiation, DeclinesValueOnFlagParameter_7_1_1) {
    for (const auto bad : {"; server_no_context_takeover=1", "; client_no_context_takeover=true",
                           "; server_no_context_takeover=\"x\"", "; client_no_context_takeover = 0"})
        expect_declined(bad);
}

TEST(DeflateNegotiation, DeclinesServerWindowWithoutValue_7_1_2_1) {
    expect_declined("; server_max_window_bits");
    expect_declined("; server_max_window_bits; client_max_window_bits");
}

TEST(DeflateNegotiation, DeclinesWindowOutOf8To15_7_1_2) {
    for (const auto v : {"0", "7", "16", "255", "99999999999999999999", "1"}) {
        expect_declined("; server_max_window_bits=" + std::string(v));
        expect_declined("; client_max_window_bits=" + std::string(v));
    }
}

TEST(DeflateNegotiation, DeclinesWindowNotPlainDecimal_7_1_2) {
    for (const auto v : {"09", "010", "00", "+9", "-9", "9.0", "0x9", "1e1", "ten", "\"09\"", "\"+10\""}) {
        expect_declined("; server_max_window_bits=" + std::string(v));
        expect_declined("; client_max_window_bits=" + std::string(v));
    }
}

// RFC 6455 §9.1: "the value after quoted-string unescaping MUST conform to
// the 'token' ABNF" — so a quoted value is that token, escapes and all.
TEST(DeflateNegotiation, QuotedValueIsTheTokenItUnescapesTo_9_1) {
    auto p = negotiate({"permessage-deflate; server_max_window_bits=\"10\"; client_max_window_bits=\"12\""});
    ASSERT_TRUE(p);
    EXPECT_EQ(p->server_max_window_bits, 10);
    EXPECT_EQ(p->client_max_window_bits, 12);
    p = negotiate({"permessage-deflate; server_max_window_bits=\"1\\0\""});
    ASSERT_TRUE(p);
    EXPECT_EQ(p->server_max_window_bits, 10);
    // The answer is always written with plain tokens.
    EXPECT_EQ(answer({"permessage-deflate; server_max_window_bits=\"10\""}, takeover_mode),
              "permessage-deflate; server_max_window_bits=10");
}

// ---- syntax: a broken list declines the extension ---------------------------------

TEST(DeflateNegotiation, DeclinesWholeListThatBreaksTheGrammar_9_1) {
    for (const auto bad : {
             "permessage-deflate;",                                  // no param after ";"
             "permessage-deflate; ;client_max_window_bits",          // empty param
             "permessage-deflate client_max_window_bits",            // two tokens, no ";"
             "permessage-deflate; server_max_window_bits=",          // "=" without a value
             "permessage-deflate; server_max_window_bits==10",
             "permessage-deflate; server_max_window_bits=10=11",
             "permessage-deflate; server_max_window_bits=10 11",
             "permessage-deflate; =10",
             "; permessage-deflate",
             "permes sage-deflate",
             "permessage-deflate\x01",
             "permessage-deflate; client_max_window_bits=\x7f",
             "(permessage-deflate)",
             "permessage-deflate; server_max_window_bits=\"10",      // unterminated quote
             "permessage-deflate; server_max_window_bits=\"\"",      // unescapes to no token
             "permessage-deflate; server_max_window_bits=\"1 0\"",   // unescapes to no token
             "permessage-deflate; server_max_window_bits=\"10\"x",
             "permessage-deflate; server_max_window_bits=\"1\\",
             "permessage-deflate; x=\"a\tb\"",
             "permessage-deflate; x=\"a\x01\"",
             "\"permessage-deflate\"",
             "permessage-deflate; client_max_window_bits\xc3\xa9",
         }) {
        SCOPED_TRACE(bad);
        EXPECT_EQ(negotiate({bad}), std::nullopt);
        EXPECT_EQ(negotiate({bad}, takeover_mode), std::nullopt);
    }
}

TEST(DeflateNegotiation, DeclinesWhenAnyLineIsBrokenEvenAfterAGoodOffer_9_1) {
    EXPECT_EQ(negotiate({"permessage-deflate, x-foo; ;"}), std::nullopt);
    EXPECT_EQ(negotiate({"permessage-deflate", "x-foo;"}), std::nullopt);
    EXPECT_EQ(negotiate({"x-foo; a=\"", "permessage-deflate"}), std::nullopt);
}

TEST(DeflateNegotiation, AllowsWhitespaceAroundSeparators_9_1) {
    EXPECT_EQ(answer({"permessage-deflate ; server_max_window_bits = 10 ,x-foo"}, takeover_mode),
              "permessage-deflate; server_max_window_bits=10");
    EXPECT_EQ(answer({" \tpermessage-deflate\t;\tserver_no_context_takeover\t"}, takeover_mode),
              "permessage-deflate; server_no_context_takeover");
    EXPECT_EQ(answer({"permessage-deflate; server_max_window_bits= \"11\" "}, takeover_mode),
              "permessage-deflate; server_max_window_bits=11");
}

TEST(DeflateNegotiation, SkipsEmptyListElementsAndBlankLines_9_1) {
    EXPECT_EQ(answer({", ,permessage-deflate,,"}), both_off);
    EXPECT_EQ(answer({"", "  ", "permessage-deflate", ","}), both_off);
}

TEST(DeflateNegotiation, NothingToAcceptWithoutAPermessageDeflateOffer_9_1) {
    EXPECT_EQ(negotiate({}), std::nullopt);
    EXPECT_EQ(negotiate({""}), std::nullopt);
    EXPECT_EQ(negotiate({"x-webkit-deflate-frame"}), std::nullopt);
    EXPECT_EQ(negotiate({"permessage-deflate-2; server_max_window_bits=10", "deflate-frame"}), std::nullopt);
}

// ---- several offers ---------------------------------------------------------------

TEST(DeflateNegotiation, FirstAcceptableOfferInOneHeaderWins_5) {
    EXPECT_EQ(answer({"permessage-deflate; server_max_window_bits=8, permessage-deflate; foo, "
                      "permessage-deflate; server_max_window_bits=10, permessage-deflate"},
                     takeover_mode),
              "permessage-deflate; server_max_window_bits=10");
    // An acceptable offer first wins even when a later one would suit us better.
    EXPECT_EQ(answer({"permessage-deflate; server_max_window_bits=12, permessage-deflate"}, takeover_mode),
              "permessage-deflate; server_max_window_bits=12");
}

TEST(DeflateNegotiation, SeveralHeaderLinesAreOneListInOrder_9_1) {
    EXPECT_EQ(answer({"permessage-deflate; foo", "permessage-deflate; client_no_context_takeover",
                      "permessage-deflate; server_no_context_takeover"},
                     takeover_mode),
              "permessage-deflate; client_no_context_takeover");
    EXPECT_EQ(answer({"x-foo", "permessage-deflate; server_max_window_bits=8",
                      "x-bar, permessage-deflate; server_max_window_bits=13"},
                     takeover_mode),
              "permessage-deflate; server_max_window_bits=13");
}

TEST(DeflateNegotiation, OtherExtensionsBeforeAndAfterAreSkipped_9_1) {
    EXPECT_EQ(answer({"x-foo; a=1; b=\"two\", permessage-deflate; server_no_context_takeover, x-bar"}, takeover_mode),
              "permessage-deflate; server_no_context_takeover");
    // Parameters that would be invalid for us are another extension's business.
    EXPECT_EQ(answer({"x-foo; server_max_window_bits=99; bogus", "permessage-deflate"}), both_off);
    EXPECT_EQ(answer({"permessage-deflate", "x-webkit-deflate-frame; no_context_takeover"}), both_off);
}

// §9.1 does not say whether extension tokens are case-sensitive; we accept
// any case (as Beast does) and always answer in the registered spelling.
TEST(DeflateNegotiation, NamesCompareCaseInsensitively_9_1) {
    EXPECT_EQ(answer({"PerMessage-Deflate; Server_Max_Window_Bits=10; CLIENT_NO_CONTEXT_TAKEOVER"}, takeover_mode),
              "permessage-deflate; client_no_context_takeover; server_max_window_bits=10");
    EXPECT_EQ(answer({"PERMESSAGE-DEFLATE"}), both_off);
}

// ---- the response string ------------------------------------------------------------

TEST(DeflateResponse, NamesOnlyWhatDiffersFromTheDefaults_7_1) {
    EXPECT_EQ(format_deflate_response({}), "permessage-deflate");
    EXPECT_EQ(format_deflate_response({.server_max_window_bits = 15, .name_server_max_window_bits = true}),
              "permessage-deflate; server_max_window_bits=15");
    EXPECT_EQ(format_deflate_response({.server_no_context_takeover = true, .client_no_context_takeover = true,
                                       .server_max_window_bits = 9, .client_max_window_bits = 10}),
              std::string(both_off) + "; server_max_window_bits=9; client_max_window_bits=10");
}

// ---- the client side -----------------------------------------------------------------

TEST(DeflateClient, OfferNamesWhatTheConfigAsks_7_1) {
    EXPECT_EQ(format_deflate_offer({}), "permessage-deflate; client_max_window_bits");
    EXPECT_EQ(format_deflate_offer({.offer_client_max_window_bits = false}), "permessage-deflate");
    EXPECT_EQ(format_deflate_offer({.request_server_no_context_takeover = true,
                                    .offer_client_no_context_takeover = true,
                                    .server_max_window_bits = 10}),
              std::string(both_off) + "; server_max_window_bits=10; client_max_window_bits");
    EXPECT_EQ(format_deflate_offer({.server_max_window_bits = 3, .offer_client_max_window_bits = false}),
              "permessage-deflate; server_max_window_bits=8");
    EXPECT_EQ(format_deflate_offer({.server_max_window_bits = 99, .offer_client_max_window_bits = false}),
              "permessage-deflate; server_max_window_bits=15");
}

std::optional<deflate_params> accept(std::string_view response, const deflate_client_config& cfg = {}) {
    return accept_deflate_response(response, cfg);
}

TEST(DeflateClient, AcceptsPlainAndUnaskedParameters_7_1) {
    EXPECT_EQ(accept("permessage-deflate"), deflate_params{});
    // §7.1.1.1, §7.1.1.2, §7.1.2.1: a server may name these unasked.
    EXPECT_EQ(accept("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9"),
              (deflate_params{.server_no_context_takeover = true, .client_no_context_takeover = true,
                              .server_max_window_bits = 9, .name_server_max_window_bits = true}));
    // §7.1.2.2: a limit on our window, having offered client_max_window_bits.
    EXPECT_EQ(accept("permessage-deflate; client_max_window_bits=10")->client_max_window_bits, 10);
    EXPECT_EQ(accept("PerMessage-Deflate ; Server_No_Context_Takeover")->server_no_context_takeover, true);
}

TEST(DeflateClient, OurClientNoContextTakeoverHintHolds_7_1_1_2) {
    const auto p = accept("permessage-deflate", {.offer_client_no_context_takeover = true});
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->client_no_context_takeover);  // we said we would reset; we do
}

TEST(DeflateClient, FailsOnUnknownDuplicateOrInvalidParameter_7) {
    for (const auto bad : {"permessage-deflate; foo",
                           "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                           "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
                           "permessage-deflate; client_max_window_bits=10; client_max_window_bits=10",
                           "permessage-deflate; server_no_context_takeover=1",
                           "permessage-deflate; client_no_context_takeover=\"x\"",
                           "permessage-deflate; server_max_window_bits",
                           "permessage-deflate; server_max_window_bits=16",
                           "permessage-deflate; server_max_window_bits=7",
                           "permessage-deflate; server_max_window_bits=09",
                           "permessage-deflate; client_max_window_bits=16",
                           "permessage-deflate; client_max_window_bits=010"}) {
        SCOPED_TRACE(bad);
        EXPECT_EQ(accept(bad), std::nullopt);
    }
}

TEST(DeflateClient, FailsOnClientWindowWithoutValue_7_1_2_2) {
    EXPECT_EQ(accept("permessage-deflate; client_max_window_bits"), std::nullopt);
}

TEST(DeflateClient, FailsOnClientWindowWeDidNotOffer_7_1_2_2) {
    EXPECT_EQ(accept("permessage-deflate; client_max_window_bits=12", {.offer_client_max_window_bits = false}),
              std::nullopt);
}

TEST(DeflateClient, FailsOnClientWindow8OurCompressorCannotHonour_7) {
    EXPECT_EQ(accept("permessage-deflate; client_max_window_bits=8"), std::nullopt);
    EXPECT_EQ(accept("permessage-deflate; client_max_window_bits=9")->client_max_window_bits, 9);
}

TEST(DeflateClient, FailsWhenRequestedServerNoContextTakeoverIsMissing_7_1_1_1) {
    const deflate_client_config cfg{.request_server_no_context_takeover = true};
    EXPECT_EQ(accept("permessage-deflate", cfg), std::nullopt);
    EXPECT_EQ(accept("permessage-deflate; client_no_context_takeover", cfg), std::nullopt);
    EXPECT_TRUE(accept("permessage-deflate; server_no_context_takeover", cfg));
}

TEST(DeflateClient, FailsWhenServerWindowIsMissingOrLargerThanAsked_7_1_2_1) {
    const deflate_client_config cfg{.server_max_window_bits = 10};
    EXPECT_EQ(accept("permessage-deflate", cfg), std::nullopt);
    EXPECT_EQ(accept("permessage-deflate; server_max_window_bits=11", cfg), std::nullopt);
    EXPECT_EQ(accept("permessage-deflate; server_max_window_bits=10", cfg)->server_max_window_bits, 10);
    EXPECT_EQ(accept("permessage-deflate; server_max_window_bits=8", cfg)->server_max_window_bits, 8);
}

TEST(DeflateClient, FailsOnMoreThanOneExtensionOrAnother_5) {
    for (const auto bad : {"permessage-deflate, permessage-deflate", "permessage-deflate, x-foo",
                           "x-foo, permessage-deflate", "x-webkit-deflate-frame", "", ",", "permessage-deflate;",
                           "permessage-deflate; server_max_window_bits=\"1 0\""}) {
        SCOPED_TRACE(bad);
        EXPECT_EQ(accept(bad), std::nullopt);
    }
}

// Our client against our server: every client config, both server modes
// and a few server windows; the response our server writes is one our
// client accepts, and both sides agree.
TEST(DeflateClient, AcceptsWhatOurServerAnswers_7_1) {
    for (int bits = 0; bits < 32; ++bits) {
        const deflate_client_config client{.request_server_no_context_takeover = (bits & 1) != 0,
                                           .offer_client_no_context_takeover = (bits & 2) != 0,
                                           .server_max_window_bits = std::uint8_t((bits & 4) ? 10 : (bits & 8) ? 15 : 0),
                                           .offer_client_max_window_bits = (bits & 16) != 0};
        const std::string offer = format_deflate_offer(client);
        for (const auto server : {shared_mode, takeover_mode, deflate_server_config{.max_window_bits = 12},
                                  deflate_server_config{.context_takeover = true, .max_window_bits = 9}}) {
            SCOPED_TRACE(offer);
            const auto agreed = negotiate({offer}, server);
            ASSERT_TRUE(agreed);
            const auto seen = accept(format_deflate_response(*agreed), client);
            ASSERT_TRUE(seen) << format_deflate_response(*agreed);
            EXPECT_EQ(*seen, *agreed);
        }
    }
}

}  // namespace
}  // namespace wsring::proto

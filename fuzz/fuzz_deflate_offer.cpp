// Fuzzes permessage-deflate negotiation (proto/permessage_deflate.*). The
// first byte picks our server window (9..15) and a client config; the rest,
// split at '\n', is a request's Sec-WebSocket-Extensions lines. In both
// server modes: the agreement is in range and obeys the mode, the answer
// names client_max_window_bits only if the input did, our client accepts
// our answer with the same parameters, and the lines joined into one give
// the same agreement. The joined line is also checked as a server's answer.
#include <algorithm>
#include <iterator>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proto/permessage_deflate.hpp"

using namespace wsring::proto;

#define CHECK(x) ((x) ? (void)0 : std::abort())

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::uint8_t knobs = data[0];
    const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
    std::vector<std::string_view> lines;
    std::string joined, lower;
    for (std::size_t at = 0; at <= in.size();) {
        const auto nl = std::min(in.find('\n', at), in.size());
        lines.push_back(in.substr(at, nl - at));
        joined.append(lines.size() > 1 ? ", " : "").append(lines.back());
        at = nl + 1;
    }
    std::transform(in.begin(), in.end(), std::back_inserter(lower), [](char c) { return char(std::tolower(c)); });
    const bool offered_client_window = lower.find("client_max_window_bits") != std::string::npos;

    const std::uint8_t window = 9 + knobs % 7;
    for (const bool takeover : {false, true}) {
        const deflate_server_config cfg{.context_takeover = takeover, .max_window_bits = window};
        const auto p = negotiate_deflate(lines, cfg);
        if (!p) continue;
        CHECK(p->server_max_window_bits >= 9 && p->server_max_window_bits <= window);
        CHECK(p->client_max_window_bits >= 8 && p->client_max_window_bits <= 15);
        CHECK(takeover || (p->server_no_context_takeover && p->client_no_context_takeover));
        const std::string answer = format_deflate_response(*p);
        CHECK(offered_client_window || answer.find("client_max_window_bits") == std::string::npos);
        const std::string_view one(joined);
        CHECK(negotiate_deflate({&one, 1}, cfg) == p);
        // A client that offered nothing but client_max_window_bits accepts
        // any answer of ours, except a limit of 8 on its own window.
        const auto seen = accept_deflate_response(answer, {});
        CHECK(p->client_max_window_bits == 8 ? !seen : seen == p);
    }

    const deflate_client_config client{.request_server_no_context_takeover = (knobs & 0x10) != 0,
                                       .offer_client_no_context_takeover = (knobs & 0x20) != 0,
                                       .server_max_window_bits = std::uint8_t((knobs & 0x40) ? window : 0),
                                       .offer_client_max_window_bits = (knobs & 0x80) != 0};
    if (const auto r = accept_deflate_response(joined, client)) {
        CHECK(r->server_max_window_bits >= 8 && r->server_max_window_bits <= 15);
        CHECK(r->client_max_window_bits >= 9 && r->client_max_window_bits <= 15);
        CHECK(!client.request_server_no_context_takeover || r->server_no_context_takeover);
        CHECK(!client.server_max_window_bits || r->server_max_window_bits <= window);
        CHECK(client.offer_client_max_window_bits || r->client_max_window_bits == 15);
    }
    return 0;
}

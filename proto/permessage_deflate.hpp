// permessage-deflate negotiation (RFC 7692 §5, §7.1), sans-IO: parsing the
// Sec-WebSocket-Extensions offers a client sends (RFC 6455 §9.1 grammar),
// choosing the first acceptable one and writing the answer; and, for a
// client, writing an offer and checking the server's answer. Compression
// itself is elsewhere (deflater.hpp, inflater.hpp); this file only decides
// what the two sides agreed.
// Read next: deflater.hpp, then inflater.hpp.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace wsring::proto {

// The "agreed parameters" of RFC 7692 §7.1: what each side's compressor may
// do. Window bits are the base-2 log of the LZ77 window, 8..15 (15 = 32 KiB,
// the default when a parameter is absent).
struct deflate_params {
    bool server_no_context_takeover = false;  // §7.1.1.1: server resets its compressor per message
    bool client_no_context_takeover = false;  // §7.1.1.2: client resets its compressor per message
    std::uint8_t server_max_window_bits = 15; // §7.1.2.1: the server's compressor window
    std::uint8_t client_max_window_bits = 15; // §7.1.2.2: the client's compressor window
    // The response names server_max_window_bits. Needed at 15 only: an
    // offer that names it is accepted only by a response that names it too
    // (§7.1.2.1). negotiate_deflate sets it when the response will name it
    // (offered, or below 15); accept_deflate_response when the response did;
    // so both sides of one handshake agree on the whole struct.
    bool name_server_max_window_bits = false;

    friend bool operator==(const deflate_params&, const deflate_params&) = default;
};

// What a server is willing to agree to.
struct deflate_server_config {
    // false (the default): answer server_no_context_takeover and
    // client_no_context_takeover whatever the offer says (both allowed in a
    // response, §7.1.1.1 and §7.1.1.2), so one compressor and one
    // decompressor per reactor serve every connection. true: keep contexts
    // per connection unless the client asks otherwise (better ratio, more memory).
    bool context_takeover = false;
    // The largest window our compressor uses (9..15). Answered as
    // server_max_window_bits when below 15 or when the client asked for one.
    std::uint8_t max_window_bits = 15;
};

// The server's choice among the offers in every Sec-WebSocket-Extensions
// header of a request (`headers`, in order: §9.1 allows the list to be split
// over several header lines). Offers of other extensions are skipped. The
// first permessage-deflate offer that is valid (§7.1: no unknown, duplicate
// or out-of-range parameter, no value where none is allowed) and that we can
// honour wins; an offer we cannot honour (e.g. server_max_window_bits=8: zlib
// has no raw 256-byte window) is declined, and so is every invalid one.
// nullopt: no offer acceptable — the handshake goes on without the extension.
// A list that breaks the §9.1 grammar anywhere is declined as a whole.
// Extension and parameter names compare ASCII case-insensitively (§9.1 does
// not say; Beast does the same); a quoted value counts as the token it
// unescapes to (§9.1), so server_max_window_bits="10" is 10.
// docs/deflate.md "Negotiation" lists every rule with examples.
std::optional<deflate_params> negotiate_deflate(std::span<const std::string_view> headers,
                                                const deflate_server_config& cfg);

// The Sec-WebSocket-Extensions value answering an accepted offer, e.g.
// "permessage-deflate; server_no_context_takeover; client_no_context_takeover".
// Names only what `p` needs: each no_context_takeover that is set,
// server_max_window_bits when below 15 or name_server_max_window_bits, and
// client_max_window_bits when below 15 (negotiate_deflate records a value
// there only when the client's offer carried it, so naming it back is
// allowed by §7.1.2.2 and tells the client nothing new).
std::string format_deflate_response(const deflate_params& p);

// ---- the client side -----------------------------------------------------------

struct deflate_client_config {
    bool request_server_no_context_takeover = false;
    bool offer_client_no_context_takeover = false;
    std::uint8_t server_max_window_bits = 0;  // 0: not asked; else 8..15
    bool offer_client_max_window_bits = true; // "client_max_window_bits" (no value): we accept a limit
};

// The offer a client sends, e.g. "permessage-deflate; client_max_window_bits".
std::string format_deflate_offer(const deflate_client_config& cfg);

// Checks the server's Sec-WebSocket-Extensions answer against what `cfg`
// offered (§7.1: a response with an unknown or duplicate parameter, a
// parameter we did not allow, a window out of range, or a missing
// server_no_context_takeover we asked for fails the connection; so do a
// missing or larger server_max_window_bits than we asked, more than one
// element or another extension, and client_max_window_bits=8, which our
// compressor cannot honour). Returns the agreed parameters, or nullopt
// when the answer is not acceptable.
// An empty `header` is not an error for the connection (the server declined):
// callers check that before calling.
std::optional<deflate_params> accept_deflate_response(std::string_view header,
                                                      const deflate_client_config& cfg);

}  // namespace wsring::proto

// wsring.v1, the opt-in subprotocol of pub/sub positions (docs/protocol-v1.md):
// every delivered message starts with its topic position as a first line,
// "<epoch>:<offset>\n", and a subscriber can come back with
// "?since=<epoch>:<offset>" to get what it missed. Notices are text messages
// that start with '!' (no epoch can): "!position E:O", "!unrecovered E:O".
//
// Sans-IO and allocation-free on the hot path: the server writes prefixes
// straight into frames it encodes; ws-bench and the tests read them back with
// the same functions. Nothing here knows of topics or history (modes/).
// Read next: modes/topic_log.hpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace wsring::proto::v1 {

// The Sec-WebSocket-Protocol token (RFC 6455 §1.9, §11.3.4).
inline constexpr std::string_view subprotocol = "wsring.v1";

// An epoch is 1–32 characters of [A-Za-z0-9_-]: it names one run of a
// topic's offsets; a new epoch means the topic's history was lost.
inline constexpr std::size_t max_epoch_size = 32;
bool valid_epoch(std::string_view epoch);

// A position: the epoch and the offset of the last message (0 before the
// first). `epoch` is a view: valid as long as what it was parsed from.
struct position {
    std::string_view epoch;
    std::uint64_t offset = 0;
};

// "<epoch>:<offset>" exactly: a valid epoch, one ':', then 1–20 decimal
// digits that fit in 64 bits (no sign, no spaces; leading zeros allowed).
bool parse_position(std::string_view text, position& out);

// The `since` parameter of a request's query string ("a=1&since=E%3A5"):
// its value percent-decoded (RFC 3986 §2.1: browsers' URLSearchParams send
// ':' as %3A) into `storage`, then parsed; `out.epoch` points into `storage`.
enum class since_status : std::uint8_t {
    absent,     // no `since` parameter: a fresh subscription
    ok,         // `out` holds the position
    malformed,  // present but not a position, or given twice: 400 before the upgrade
};
since_status find_since(std::string_view query, std::string& storage, position& out);

// The first line of a delivered message, "<epoch>:<offset>\n": its size, and
// writing it (out.size() >= prefix_size(...); returns the bytes written).
std::size_t prefix_size(std::string_view epoch, std::uint64_t offset);
std::size_t write_prefix(std::span<std::byte> out, std::string_view epoch, std::uint64_t offset);

// The notices (text messages): "!position E:O" on a fresh subscription,
// "!unrecovered E:O" when a `since` could not be honoured.
std::string position_notice(std::string_view epoch, std::uint64_t offset);
std::string unrecovered_notice(std::string_view epoch, std::uint64_t offset);
// "!error <reason>": a message this client published was not accepted
// (multi-node: its topic's broker is unreachable); the connection stays.
std::string error_notice(std::string_view reason);

// The client side: what a wsring.v1 message is.
enum class message_kind : std::uint8_t {
    data,         // `pos` and `data` are set
    position,     // "!position E:O": `pos` is set
    unrecovered,  // "!unrecovered E:O": `pos` is set
    error,        // "!error <reason>": `data` is the reason
    malformed,    // none of these (a server bug or not wsring.v1)
};
struct parsed_message {
    message_kind kind = message_kind::malformed;
    position pos;
    std::span<const std::byte> data;  // the published bytes (data only)
};
// Views point into `message`.
parsed_message parse_message(std::span<const std::byte> message);

}  // namespace wsring::proto::v1

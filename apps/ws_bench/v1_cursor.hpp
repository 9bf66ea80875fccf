// Where one wsring.v1 connection stands in its topic, and the check every
// message it receives passes (docs/protocol-v1.md): a fresh subscription
// first gets "!position E:O"; every delivery after it carries "E:O+1\n",
// "E:O+2\n", ... in front of the published bytes, so a gap (a lost message)
// or a repeat (a duplicate or a reordering) shows in one comparison. A
// connection that came back with "?since=E:O" starts positioned at E:O.
// The bytes are read by proto/wsring_v1.hpp; this file only keeps the
// position and names what went wrong. Read next: worker_read.cpp, "deliver".
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace wsring::bench {

struct v1_cursor {
    bool on = false;          // the server chose wsring.v1 for this connection
    bool positioned = false;  // a "!position" notice (or a ?since) set `epoch`/`offset`
    std::string epoch;
    std::uint64_t offset = 0;  // the last offset received (0: none yet)

    void reset() { *this = v1_cursor{}; }
    void place(std::string_view e, std::uint64_t o) {
        positioned = true;
        epoch = e;
        offset = o;
    }
};

enum class v1_verdict : std::uint8_t {
    data,           // the next offset: `message` now holds the published bytes
    notice,         // a "!position" notice that fits (the first, or a repeat of where we stand)
    gap,            // an offset past the next one: messages were lost
    repeat,         // an offset at or before the last one: a duplicate or a reordering
    epoch_changed,  // another epoch mid-connection: the topic's history was lost
    unpositioned,   // data before the "!position" notice on a fresh subscription
    unrecovered,    // "!unrecovered E:O": the server could not honour ?since
    refused,        // "!error <reason>": a message we published was not accepted
    malformed,      // not a wsring.v1 message (or a notice sent as binary)
};

// Checks one received message and moves the cursor. On `data` the span is
// narrowed to the published bytes; on anything but data/notice `why` says
// what arrived where (allocating only then).
v1_verdict v1_accept(v1_cursor& c, std::span<std::byte>& message, bool text, std::string& why);

}  // namespace wsring::bench

// ws-client --resume: where the client stands in its wsring.v1 topic
// (docs/protocol-v1.md). It remembers the last position it delivered, so a
// reconnect asks for "?since=<epoch>:<offset>" and the server sends exactly
// what was missed; a delivery at or before that position (a replay the
// client already printed) is dropped, so nothing prints twice. The bytes are
// read by proto/wsring_v1.hpp (the same parser as the server's tests and
// ws-bench's v1_cursor); this file only keeps the position.
#pragma once
#include <cstdint>
#include <span>
#include <string>

namespace wsring::apps {

class resume_cursor {
public:
    enum class verdict : std::uint8_t {
        deliver,      // new data: `payload` is the published bytes, `whole` the message
        duplicate,    // at or before the last position delivered: drop it
        notice,       // "!position": nothing to print
        unrecovered,  // "!unrecovered E:O": what was missed is gone; `note` says so
        error,        // "!error <reason>": `note` says it
        malformed,    // not wsring.v1: printed as it came
    };
    struct result {
        verdict what = verdict::malformed;
        std::span<const std::byte> payload;
        std::string note;  // the notice line, for stderr
    };

    // The request-target for the next attempt: `path` with since= once positioned.
    std::string path_for(const std::string& path) const;
    result accept(std::span<const std::byte> message);

    bool positioned() const { return positioned_; }
    std::string position_text() const { return epoch_ + ":" + std::to_string(offset_); }

private:
    bool positioned_ = false;
    std::string epoch_;
    std::uint64_t offset_ = 0;
};

}  // namespace wsring::apps

// Operator log lines (issue 15): one line per event worth an operator's
// attention — start, stop, reloads, Redis up or down, limits hit, refused
// handshakes as per-second summaries — never one per message or connection.
// net/ is a library, so it does not know which binary it runs in: the
// application sets the program name, the format and the level once at
// start-up, before any thread starts, and every line says who is speaking.
//
// Each line has a level and an event, a short stable machine name
// ("listening", "broker_down"). Two formats, same streams in both:
//   text  "ws-server: listening on 127.0.0.1:9001 ..." — the words only,
//         no time (journald and the like add their own)
//   json  {"time":"2026-12-01T08:47:06.123Z","level":"info","program":
//         "ws-server","event":"listening","msg":"listening on ..."}
// log() writes stderr (the library's lines, warnings, errors); report()
// writes stdout (the application's own account: listening, reloads, the
// stop summary). A line below the level is not formatted at all. Each line
// is built whole and written with one write(2), so threads never interleave.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace wsring::net {

enum class log_level : std::uint8_t { error, warn, info, debug };
enum class log_format : std::uint8_t { text, json };
enum class log_stream : std::uint8_t { err, out };

std::string_view name(log_level l);  // "error", "warn", "info", "debug"

// Before any thread starts (thread start is the synchronisation). The
// defaults: "wsring", text, info. The name is copied.
void set_program_name(std::string_view name);
void set_log_format(log_format f);
void set_log_level(log_level l);

// Whether a line at `l` is written: the cheap check every call makes first.
bool log_enabled(log_level l);

// printf-style, one line (the newline is added; the message should hold none:
// in text it would start a line of its own, in json it is escaped).
[[gnu::format(printf, 3, 4)]] void log(log_level l, std::string_view event, const char* fmt, ...);
[[gnu::format(printf, 3, 4)]] void report(log_level l, std::string_view event, const char* fmt, ...);

// For tests: where whole lines go instead of fd 2 / fd 1 (nullptr: back to
// those). A sink may be called from several threads at once.
using log_sink = void (*)(log_stream to, std::string_view line);
void set_log_sink(log_sink sink);

// The pieces, for tests. One line with its newline, in the current format
// and program name; `unix_ms` is the time (json only).
std::string format_log_line(log_level l, std::string_view event, std::string_view msg, std::int64_t unix_ms);
// `s` as a JSON string with its quotes: '"', '\' and control characters
// escaped, valid UTF-8 kept as it is, each byte of invalid UTF-8 → \ufffd.
void append_json_string(std::string& out, std::string_view s);

}  // namespace wsring::net

// The process's one log writer (net/log.hpp). The settings are atomics read
// relaxed: they are set before the threads start, and the atomics only keep
// a test that changes them between runs honest under TSan.
#include "net/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <ctime>

#include "proto/utf8.hpp"

namespace wsring::net {

namespace {

std::atomic<log_level> level_{log_level::info};
std::atomic<log_format> format_{log_format::text};
std::atomic<log_sink> sink_{nullptr};

std::string& program_name() {
    static std::string name = "wsring";
    return name;
}

// One write(2) for the whole line; a pipe takes up to PIPE_BUF bytes whole.
// The loop is for a partial write (a longer line, a full pipe), not the rule.
void write_fd(log_stream to, std::string_view line) {
    const int fd = to == log_stream::out ? STDOUT_FILENO : STDERR_FILENO;
    while (!line.empty()) {
        const ssize_t n = ::write(fd, line.data(), line.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // a closed stdout (EPIPE; SIGPIPE is ignored) loses the line
        line.remove_prefix(static_cast<std::size_t>(n));
    }
}

std::int64_t now_unix_ms() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return std::int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

// "2026-12-01T08:47:06.123Z" (RFC 3339, UTC).
void append_time(std::string& out, std::int64_t unix_ms) {
    const std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
    std::tm t{};
    gmtime_r(&secs, &t);
    char text[32];
    out.append(text, std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &t));
    const int ms = static_cast<int>(unix_ms % 1000);
    out += {'.', static_cast<char>('0' + ms / 100), static_cast<char>('0' + ms / 10 % 10),
            static_cast<char>('0' + ms % 10), 'Z'};
}

// The length of the valid UTF-8 sequence at the start of `s`, or 0 (the
// validator's DFA, one code point at a time).
std::size_t utf8_sequence(std::string_view s) {
    auto st = proto::utf8_validator::accept;
    for (std::size_t i = 0; i < s.size() && i < 4; ++i) {
        st = proto::utf8_validator::step(st, static_cast<std::uint8_t>(s[i]));
        if (st == proto::utf8_validator::accept) return i + 1;
        if (st == proto::utf8_validator::reject) return 0;
    }
    return 0;  // cut short by the end of the text
}

void vwrite(log_stream to, log_level l, std::string_view event, const char* fmt, va_list args) {
    const int saved_errno = errno;  // a caller may log and then look at errno
    char small[512];
    std::string big;
    va_list again;
    va_copy(again, args);
    const int n = std::vsnprintf(small, sizeof small, fmt, args);
    std::string_view msg = n < 0 ? std::string_view("(unprintable log line)") : std::string_view(small);
    if (n >= static_cast<int>(sizeof small)) {  // rare: the stop summary with many counters
        big.resize(static_cast<std::size_t>(n));
        std::vsnprintf(big.data(), big.size() + 1, fmt, again);
        msg = big;
    }
    va_end(again);
    const std::string line = format_log_line(l, event, msg, now_unix_ms());
    const log_sink sink = sink_.load(std::memory_order_relaxed);
    sink ? sink(to, line) : write_fd(to, line);
    errno = saved_errno;
}

}  // namespace

std::string_view name(log_level l) {
    switch (l) {
    case log_level::error: return "error";
    case log_level::warn: return "warn";
    case log_level::info: return "info";
    case log_level::debug: return "debug";
    }
    return "?";
}

void set_program_name(std::string_view name) { program_name() = name; }
void set_log_format(log_format f) { format_.store(f, std::memory_order_relaxed); }
void set_log_level(log_level l) { level_.store(l, std::memory_order_relaxed); }
void set_log_sink(log_sink sink) { sink_.store(sink, std::memory_order_relaxed); }

bool log_enabled(log_level l) { return l <= level_.load(std::memory_order_relaxed); }

void log(log_level l, std::string_view event, const char* fmt, ...) {
    if (!log_enabled(l)) return;
    va_list args;
    va_start(args, fmt);
    vwrite(log_stream::err, l, event, fmt, args);
    va_end(args);
}

void report(log_level l, std::string_view event, const char* fmt, ...) {
    if (!log_enabled(l)) return;
    va_list args;
    va_start(args, fmt);
    vwrite(log_stream::out, l, event, fmt, args);
    va_end(args);
}

std::string format_log_line(log_level l, std::string_view event, std::string_view msg, std::int64_t unix_ms) {
    std::string line;
    line.reserve(msg.size() + 128);
    if (format_.load(std::memory_order_relaxed) == log_format::text) {
        line.append(program_name()).append(": ").append(msg);
    } else {
        line += "{\"time\":\"";
        append_time(line, unix_ms);
        line.append("\",\"level\":\"").append(name(l)).append("\",\"program\":");
        append_json_string(line, program_name());
        line += ",\"event\":";
        append_json_string(line, event);
        line += ",\"msg\":";
        append_json_string(line, msg);
        line += '}';
    }
    line += '\n';
    return line;
}

void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x80) {  // RFC 8259 §8.1: JSON text is UTF-8
            const std::size_t n = utf8_sequence(s.substr(i));
            out += n ? s.substr(i, n) : std::string_view("\\ufffd");
            i += n ? n : 1;
            continue;
        }
        switch (c) {  // RFC 8259 §7: '"', '\' and U+0000..U+001F must be escaped
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20 || c == 0x7f) {  // DEL too: harmless in JSON, not on a terminal
                char u[8];
                std::snprintf(u, sizeof u, "\\u%04x", c);
                out += u;
            } else {
                out += static_cast<char>(c);
            }
        }
        ++i;
    }
    out += '"';
}

}  // namespace wsring::net

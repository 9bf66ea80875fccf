// A minimal streaming JSON writer for ws-bench's --json: objects, arrays,
// numbers, strings with the escapes RFC 8259 §7 requires, and commas placed
// by a small stack. Enough for one report; not a general library.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace wsring::bench {

class json_writer {
public:
    void begin_object(std::string_view key = {}) { open(key, '{'); }
    void end_object() { close('}'); }
    void begin_array(std::string_view key = {}) { open(key, '['); }
    void end_array() { close(']'); }

    void field(std::string_view key, std::string_view v) { name(key); quoted(v); }
    void field(std::string_view key, const char* v) { field(key, std::string_view(v)); }
    void field(std::string_view key, bool v) { name(key); out_ += v ? "true" : "false"; }
    void field(std::string_view key, double v) { name(key); number(v); }
    void field(std::string_view key, std::uint64_t v) { name(key); out_ += std::to_string(v); }
    void field(std::string_view key, int v) { name(key); out_ += std::to_string(v); }
    void null_field(std::string_view key) { name(key); out_ += "null"; }

    const std::string& str() const { return out_; }

private:
    void open(std::string_view key, char c) {
        name(key);
        out_ += c;
        first_.push_back(true);
    }
    void close(char c) {
        first_.pop_back();
        out_ += c;
    }
    // Writes the comma and, inside an object, the key.
    void name(std::string_view key) {
        if (!first_.empty()) {
            if (!first_.back()) out_ += ',';
            first_.back() = false;
        }
        if (!key.empty()) {
            quoted(key);
            out_ += ':';
        }
    }
    void number(double v) {
        if (!std::isfinite(v)) {
            out_ += "null";
            return;
        }
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.10g", v);
        out_ += buf;
    }
    void quoted(std::string_view s) {
        out_ += '"';
        for (char ch : s) {
            auto u = static_cast<unsigned char>(ch);
            if (ch == '"' || ch == '\\') {
                out_ += '\\';
                out_ += ch;
            } else if (u < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", u);
                out_ += buf;
            } else {
                out_ += ch;
            }
        }
        out_ += '"';
    }

    std::string out_;
    std::vector<bool> first_;
};

}  // namespace wsring::bench

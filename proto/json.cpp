// A recursive-descent reader for RFC 8259's grammar, one function per rule
// (§2 values, §4 objects, §5 arrays, §6 numbers, §7 strings). Each returns
// false at the first byte that does not fit; nothing is repaired.
#include "proto/json.hpp"

#include <charconv>
#include <cstdint>

#include "proto/utf8.hpp"

namespace wsring::proto {

const json_value* json_value::find(std::string_view name) const {
    for (const json_member& m : members)
        if (m.name == name) return &m.value;
    return nullptr;
}

namespace {

class reader {
public:
    reader(std::string_view text, int max_depth) : s_(text), depth_left_(max_depth) {}

    bool document(json_value& out) {
        skip_space();
        if (!value(out)) return false;
        skip_space();
        return at_ == s_.size();
    }

private:
    bool value(json_value& out) {
        if (at_ == s_.size()) return false;
        switch (s_[at_]) {
        case '{': return object(out);
        case '[': return array(out);
        case '"': out.type = json_value::kind::string; return string(out.string);
        case 't': out.type = json_value::kind::boolean; out.boolean = true; return literal("true");
        case 'f': out.type = json_value::kind::boolean; return literal("false");
        case 'n': return literal("null");
        default: out.type = json_value::kind::number; return number(out.number);
        }
    }

    bool object(json_value& out) {
        out.type = json_value::kind::object;
        if (--depth_left_ < 0) return false;
        ++at_;  // {
        skip_space();
        if (take('}')) return ++depth_left_, true;
        do {
            skip_space();
            std::string name;
            if (at_ == s_.size() || s_[at_] != '"' || !string(name)) return false;
            if (out.find(name)) return false;  // a duplicate name: refused (see json.hpp)
            skip_space();
            if (!take(':')) return false;
            skip_space();
            json_value v;
            if (!value(v)) return false;
            out.members.push_back({std::move(name), std::move(v)});
            skip_space();
        } while (take(','));
        ++depth_left_;
        return take('}');
    }

    bool array(json_value& out) {
        out.type = json_value::kind::array;
        if (--depth_left_ < 0) return false;
        ++at_;  // [
        skip_space();
        if (take(']')) return ++depth_left_, true;
        do {
            skip_space();
            json_value v;
            if (!value(v)) return false;
            out.items.push_back(std::move(v));
            skip_space();
        } while (take(','));
        ++depth_left_;
        return take(']');
    }

    // §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
    bool number(double& out) {
        const std::size_t start = at_;
        take('-');
        if (take('0')) {
        } else if (!digits()) {
            return false;
        }
        if (take('.') && !digits()) return false;
        if (at_ < s_.size() && (s_[at_] == 'e' || s_[at_] == 'E')) {
            ++at_;
            if (!take('+')) take('-');
            if (!digits()) return false;
        }
        auto [end, ec] = std::from_chars(s_.data() + start, s_.data() + at_, out);
        // Out of range (1e999): refused rather than read as infinity.
        return ec == std::errc() && end == s_.data() + at_;
    }

    bool digits() {
        const std::size_t start = at_;
        while (at_ < s_.size() && s_[at_] >= '0' && s_[at_] <= '9') ++at_;
        return at_ > start;
    }

    // §7: a quoted string; control characters must be escaped; \uXXXX
    // surrogate pairs become one code point. The result must be UTF-8 (§8.1).
    bool string(std::string& out) {
        ++at_;  // "
        for (;;) {
            if (at_ == s_.size()) return false;
            const char ch = s_[at_++];
            if (ch == '"') return is_valid_utf8(out);
            if (static_cast<unsigned char>(ch) < 0x20) return false;
            if (ch != '\\') {
                out += ch;
                continue;
            }
            if (at_ == s_.size()) return false;
            switch (s_[at_++]) {
            case '"': out += '"'; break;
            case '\\': out += '\\'; break;
            case '/': out += '/'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u':
                if (!escaped_code_point(out)) return false;
                break;
            default: return false;
            }
        }
    }

    bool escaped_code_point(std::string& out) {
        std::uint32_t cp = 0;
        if (!hex4(cp)) return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a low surrogate first
        if (cp >= 0xD800 && cp <= 0xDBFF) {              // a high one: its pair must follow
            std::uint32_t low = 0;
            if (!take('\\') || !take('u') || !hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        append_utf8(out, cp);
        return true;
    }

    bool hex4(std::uint32_t& out) {
        if (s_.size() - at_ < 4) return false;
        for (int i = 0; i < 4; ++i) {
            const char h = s_[at_++];
            std::uint32_t v;
            if (h >= '0' && h <= '9') v = static_cast<std::uint32_t>(h - '0');
            else if (h >= 'a' && h <= 'f') v = static_cast<std::uint32_t>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') v = static_cast<std::uint32_t>(h - 'A' + 10);
            else return false;
            out = out << 4 | v;
        }
        return true;
    }

    static void append_utf8(std::string& out, std::uint32_t cp) {
        auto put = [&](std::uint32_t b) { out += static_cast<char>(b); };
        if (cp < 0x80) {
            put(cp);
        } else if (cp < 0x800) {
            put(0xC0 | cp >> 6), put(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            put(0xE0 | cp >> 12), put(0x80 | (cp >> 6 & 0x3F)), put(0x80 | (cp & 0x3F));
        } else {
            put(0xF0 | cp >> 18), put(0x80 | (cp >> 12 & 0x3F)), put(0x80 | (cp >> 6 & 0x3F)),
                put(0x80 | (cp & 0x3F));
        }
    }

    bool literal(std::string_view word) {
        if (s_.substr(at_, word.size()) != word) return false;
        at_ += word.size();
        return true;
    }

    bool take(char ch) {
        if (at_ < s_.size() && s_[at_] == ch) return ++at_, true;
        return false;
    }

    void skip_space() {  // §2: space, tab, LF, CR only
        while (at_ < s_.size() && (s_[at_] == ' ' || s_[at_] == '\t' || s_[at_] == '\n' || s_[at_] == '\r'))
            ++at_;
    }

    std::string_view s_;
    std::size_t at_ = 0;
    int depth_left_;
};

}  // namespace

std::optional<json_value> parse_json(std::string_view text, int max_depth) {
    json_value v;
    if (!reader(text, max_depth).document(v)) return std::nullopt;
    return v;
}

}  // namespace wsring::proto

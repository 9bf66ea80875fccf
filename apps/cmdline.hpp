// The value parsing every wsring binary's command line shares (ws-server,
// ws-bench, tcp-echo-server): whole numbers in a range, byte sizes with a
// K/M/G suffix, decimals with at most three places (seconds at millisecond
// resolution, rates), and the true/false of a flag written "--flag=value".
// Every parser is strict — no sign, space, exponent, inf or nan, no trailing
// characters, no silent overflow or rounding — and returns "" or a reason
// that names the value ("70000 is out of range [0, 65535]"), which the
// caller prefixes with the binary and the option. Header-only, so that
// tcp-echo-server, built from one file without our libraries, can use it.
#pragma once
#include <charconv>
#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace wsring::cmdline {

inline constexpr std::uint64_t no_limit = std::numeric_limits<std::uint64_t>::max();

namespace detail {

inline bool all_digits(std::string_view s) {
    for (char ch : s)
        if (ch < '0' || ch > '9') return false;
    return !s.empty();
}

// What was typed, quoted when it is not even a number ("'12x'", "''").
inline std::string quoted(std::string_view v) { return "'" + std::string(v) + "'"; }

// "-5" and "-0.5": a minus before what would be a valid value.
inline bool is_negative(std::string_view v) {
    return v.size() > 1 && v[0] == '-' && (all_digits(v.substr(1, 1)) || v[1] == '.');
}

inline std::string range_error(std::string_view v, const std::string& lo, const std::string& hi,
                               bool unbounded) {
    if (unbounded) return std::string(v) + " is too small (the minimum is " + lo + ")";
    return std::string(v) + " is out of range [" + lo + ", " + hi + "]";
}

}  // namespace detail

// A decimal count of thousandths as text: 1500 → "1.5", 100 → "0.1", 7000 → "7".
inline std::string thousandths_text(std::uint64_t t) {
    std::string s = std::to_string(t / 1000);
    if (unsigned frac = static_cast<unsigned>(t % 1000); frac != 0) {
        std::string digits = std::to_string(1000 + frac).substr(1);  // zero-padded to three
        digits.erase(digits.find_last_not_of('0') + 1);
        s += "." + digits;
    }
    return s;
}

inline std::string seconds_text(std::chrono::milliseconds d) {
    return thousandths_text(static_cast<std::uint64_t>(d.count()));
}

// A whole number in [lo, hi].
inline std::string parse_uint(std::string_view v, std::uint64_t lo, std::uint64_t hi, std::uint64_t& out) {
    if (v.empty()) return "needs a value";
    if (detail::is_negative(v)) return std::string(v) + " is negative";
    if (!detail::all_digits(v)) return detail::quoted(v) + " is not a whole number";
    std::uint64_t n = 0;
    if (std::from_chars(v.data(), v.data() + v.size(), n).ec != std::errc()) return std::string(v) + " overflows";
    if (n < lo || n > hi) return detail::range_error(v, std::to_string(lo), std::to_string(hi), hi == no_limit);
    out = n;
    return {};
}

// Bytes: a whole number with an optional K, M or G suffix (binary, 1K = 1024), in [lo, hi].
inline std::string parse_size(std::string_view v, std::uint64_t lo, std::uint64_t hi, std::uint64_t& out) {
    if (v.empty()) return "needs a value";
    if (detail::is_negative(v)) return std::string(v) + " is negative";
    std::string_view digits = v;
    unsigned shift = 0;
    switch (v.back()) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        default: break;
    }
    if (shift != 0) digits.remove_suffix(1);
    if (!detail::all_digits(digits))
        return detail::quoted(v) + " is not a size (a whole number, optionally with K, M or G)";
    std::uint64_t n = 0;
    if (std::from_chars(digits.data(), digits.data() + digits.size(), n).ec != std::errc() ||
        n > (no_limit >> shift))  // the suffix would carry it past 2^64
        return std::string(v) + " overflows";
    n <<= shift;
    if (n < lo || n > hi) return detail::range_error(v, std::to_string(lo), std::to_string(hi), hi == no_limit);
    out = n;
    return {};
}

// A decimal ("2", "0.5", ".25", "3.") with at most three places, as a whole
// number of thousandths in [lo, hi]. A fourth non-zero place is refused
// rather than rounded: rounding 0.0001 would turn a positive value into 0,
// which several options read as "never".
inline std::string parse_thousandths(std::string_view v, std::uint64_t lo, std::uint64_t hi, std::uint64_t& out) {
    if (v.empty()) return "needs a value";
    if (detail::is_negative(v)) return std::string(v) + " is negative";
    std::size_t point = v.find('.');
    std::string_view whole = v.substr(0, point);
    std::string_view frac = point == std::string_view::npos ? std::string_view{} : v.substr(point + 1);
    bool well_formed = (whole.empty() || detail::all_digits(whole)) && (frac.empty() || detail::all_digits(frac)) &&
                       !(whole.empty() && frac.empty());
    if (!well_formed) return detail::quoted(v) + " is not a decimal number";
    if (frac.size() > 3 && frac.substr(3).find_first_not_of('0') != std::string_view::npos)
        return std::string(v) + " has more than 3 decimal places (the resolution is 0.001)";
    std::uint64_t n = 0;
    if (!whole.empty() && std::from_chars(whole.data(), whole.data() + whole.size(), n).ec != std::errc())
        return std::string(v) + " overflows";
    if (n > (no_limit - 999) / 1000) return std::string(v) + " overflows";  // n * 1000 + .999 must fit
    std::uint64_t thousandths = n * 1000;
    for (std::size_t i = 0, scale = 100; i < 3 && i < frac.size(); ++i, scale /= 10)
        thousandths += static_cast<std::uint64_t>(frac[i] - '0') * scale;
    if (thousandths < lo || thousandths > hi)
        return detail::range_error(v, thousandths_text(lo), thousandths_text(hi), hi == no_limit);
    out = thousandths;
    return {};
}

// Seconds as a decimal at millisecond resolution, in [lo, hi].
inline std::string parse_seconds(std::string_view v, std::chrono::milliseconds lo, std::chrono::milliseconds hi,
                                 std::chrono::milliseconds& out) {
    std::uint64_t ms = 0;
    std::string err = parse_thousandths(v, static_cast<std::uint64_t>(lo.count()),
                                        static_cast<std::uint64_t>(hi.count()), ms);
    if (err.empty()) out = std::chrono::milliseconds(static_cast<std::int64_t>(ms));
    return err;
}

// The value of "--flag=value": true|false, yes|no, on|off, 1|0.
inline std::string parse_bool(std::string_view v, bool& out) {
    bool is_true = v == "true" || v == "yes" || v == "on" || v == "1";
    bool is_false = v == "false" || v == "no" || v == "off" || v == "0";
    if (!is_true && !is_false) return detail::quoted(v) + " is not true or false";
    out = is_true;
    return {};
}

// One long option, `--name=value`, `--name value` or the bare flag `--name`
// (`arg` is argv[i] without its "--"), looked up in a binary's option table —
// entries with `name`, `arg` (nullptr for a flag) and `set(value, out)`
// returning "" or a reason — and applied to `out`. Advances `i` past a value
// given as the next argument. Returns "" or the message the binary prints.
template <class Table, class Out>
std::string apply_long_option(const Table& table, int argc, char** argv, int& i, std::string_view arg,
                              Out& out) {
    const std::size_t eq = arg.find('=');
    const std::string_view name = arg.substr(0, eq);
    const bool inline_value = eq != std::string_view::npos;
    std::string_view value = inline_value ? arg.substr(eq + 1) : std::string_view{};
    for (const auto& o : table) {
        if (name != o.name) continue;
        if (!o.arg && !inline_value) {
            value = "true";  // a bare flag
        } else if (o.arg && !inline_value) {
            if (i + 1 >= argc) return "--" + std::string(name) + " needs a value (" + o.arg + ")";
            value = argv[++i];
        }
        if (std::string why = o.set(value, out); !why.empty()) return "--" + std::string(name) + ": " + why;
        return {};
    }
    return "unknown option '--" + std::string(name) + "' (see --help)";
}

}  // namespace wsring::cmdline

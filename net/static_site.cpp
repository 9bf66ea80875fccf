// Loading a folder into ready-made answers, and answering from them.
// Loading is startup code (it may read and fail); answer() is what a
// reactor calls, and it only looks up a map.
#include "net/static_site.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include "proto/http_body.hpp"

namespace wsring::net {

namespace fs = std::filesystem;

namespace {

// Every file answer says the same: revalidate each time (the demo changes
// while one works on it), and do not guess a type we did not name.
constexpr std::string_view file_headers = "Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n";

bool ends_with(std::string_view s, std::string_view tail) { return s.ends_with(tail); }

std::optional<std::string> read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return std::nullopt;
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return std::nullopt;
    return s;
}

}  // namespace

// Every segment of "a/b/c.js" (relative, '/'-separated) passes safe_segment.
bool static_site::safe_path(std::string_view rel) {
    for (std::size_t i = 0, j; i <= rel.size(); i = j + 1) {
        j = std::min(rel.find('/', i), rel.size());
        if (!safe_segment(rel.substr(i, j - i))) return false;
    }
    return true;
}

std::string_view static_site::content_type(std::string_view name) {
    if (ends_with(name, ".html")) return "text/html; charset=utf-8";
    if (ends_with(name, ".js")) return "text/javascript; charset=utf-8";
    if (ends_with(name, ".css")) return "text/css; charset=utf-8";
    if (ends_with(name, ".svg")) return "image/svg+xml";
    if (ends_with(name, ".png")) return "image/png";
    if (ends_with(name, ".ico")) return "image/x-icon";
    if (ends_with(name, ".json")) return "application/json";
    if (ends_with(name, ".txt")) return "text/plain; charset=utf-8";
    return "application/octet-stream";
}

bool static_site::safe_segment(std::string_view s) {
    if (s.empty() || s.front() == '.') return false;  // hidden files, and "." / ".." with them
    for (char ch : s) {
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '_' || ch == '-' || ch == '.';
        if (!ok) return false;
    }
    return true;
}

void static_site::add(std::string path, std::string_view body) {
    std::string answer = proto::http_answer_bytes(200, content_type(path), body, false, file_headers);
    bytes_ += body.size();
    files_.insert_or_assign(std::move(path), std::move(answer));
}

std::optional<static_site> static_site::load(const std::string& dir, const static_site_limits& lim,
                                             std::string& error) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        error = "--web " + dir + ": not a folder";
        return std::nullopt;
    }
    static_site site;
    // The iterator never follows a link into a folder (no follow_directory_symlink),
    // and symlink_status() below refuses links to files: nothing outside `dir` is read.
    fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
        const fs::directory_entry& e = *it;
        std::string rel = fs::relative(e.path(), dir, ec).generic_string();
        bool safe = !ec && safe_path(rel);
        fs::file_type type = e.symlink_status(ec).type();
        if (type == fs::file_type::directory && safe && std::size_t(it.depth()) < lim.max_depth) continue;
        if (type == fs::file_type::directory) it.disable_recursion_pending();
        if (type != fs::file_type::regular || !safe) {
            ++site.skipped_;
            continue;
        }
        if (site.files_.size() >= lim.max_files) {
            error = "--web " + dir + ": more than " + std::to_string(lim.max_files) + " files";
            return std::nullopt;
        }
        // Checked before reading, so a huge file is refused without being read.
        if (e.file_size(ec) > lim.max_total - site.bytes_ || ec) {
            error = "--web " + dir + ": over " + std::to_string(lim.max_total) + " bytes in all (at " + rel + ")";
            return std::nullopt;
        }
        std::optional<std::string> body = read_all(e.path());
        if (!body || body->size() > lim.max_total - site.bytes_) {
            error = "--web " + dir + ": cannot read " + rel;
            return std::nullopt;
        }
        site.add("/" + rel, *body);
    }
    if (ec) {
        error = "--web " + dir + ": " + ec.message();
        return std::nullopt;
    }
    if (!site.files_.contains("/index.html")) {
        error = "--web " + dir + ": no index.html in it";
        return std::nullopt;
    }
    site.not_found_ = proto::http_response(404, "not found\n");
    site.not_allowed_ = proto::http_response(405, "only GET and HEAD are served here\n", "Allow: GET, HEAD\r\n");
    return site;
}

std::string_view static_site::answer(std::string_view method, std::string_view path) const {
    const bool head = method == "HEAD";
    if (method != "GET" && !head) return not_allowed_;
    // The map holds only loaded names, so "..", "%2e%2e" and the like cannot
    // match anything; they are refused by name too, so that stays true
    // whatever is loaded one day.
    if (path.find("..") != path.npos || path.find('%') != path.npos || path.find('\\') != path.npos)
        return not_found_;
    if (path == "/" || path.starts_with("/chat/")) path = "/index.html";
    auto it = files_.find(path);
    std::string_view a = it == files_.end() ? std::string_view(not_found_) : std::string_view(it->second);
    // RFC 9110 §9.3.2: HEAD gets GET's head (Content-Length included), no body.
    return head ? a.substr(0, a.find("\r\n\r\n") + 4) : a;
}

}  // namespace wsring::net

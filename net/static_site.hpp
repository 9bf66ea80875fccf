// A folder of static files (the chat demo in web/), served on the WebSocket
// port to plain GET and HEAD requests. The whole folder is read once, at
// startup, into ready-made HTTP answers: a request costs one map lookup and
// never touches the disk from a reactor thread, and only names that were
// loaded can ever be answered, so no path can climb out of the folder.
// It does not do ranges, conditional requests, compression or keep-alive
// (every answer closes, like net/session.cpp's other refusals).
// RFC 9110 §9.3.1 (GET), §9.3.2 (HEAD), §15.5.6 (405 with Allow).
// Read next: net/session.cpp:answer_http, which consults it.
#pragma once
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace wsring::net {

struct static_site_limits {
    std::size_t max_files = 256;          // regular files loaded, all folders together
    std::size_t max_total = 16u << 20;    // their bytes together
    std::size_t max_depth = 4;            // sub-folders below the root
};

class static_site {
public:
    // Reads `dir` recursively: regular files whose every path segment is
    // [A-Za-z0-9_.-] and does not start with '.'; symbolic links, hidden
    // files and other names are skipped (counted in skipped()). Fails with
    // a message a user can act on: not a folder, a limit passed, or no
    // index.html at its root.
    static std::optional<static_site> load(const std::string& dir, const static_site_limits& lim,
                                           std::string& error);

    // The complete HTTP answer to a plain request: 200 with the file, the
    // same head without the body for HEAD, 404, or 405 for other methods.
    // "/" and the chat's room paths ("/chat/<room>") answer index.html, so
    // a room can be the page's own URL. The view lives as long as the site.
    std::string_view answer(std::string_view method, std::string_view path) const;

    std::size_t files() const { return files_.size(); }
    std::size_t bytes() const { return bytes_; }
    std::size_t skipped() const { return skipped_; }

    // The Content-Type for a file name, by its extension (octet-stream if unknown).
    static std::string_view content_type(std::string_view name);
    // Whether one path segment may be served: [A-Za-z0-9_.-]+, no leading '.'.
    static bool safe_segment(std::string_view segment);
    static bool safe_path(std::string_view relative);  // each '/'-separated segment is safe

private:
    void add(std::string path, std::string_view body);

    std::map<std::string, std::string, std::less<>> files_;  // "/index.html" → its GET answer
    std::size_t bytes_ = 0;
    std::size_t skipped_ = 0;
    std::string not_found_, not_allowed_;
};

}  // namespace wsring::net

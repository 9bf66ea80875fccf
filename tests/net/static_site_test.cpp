// Tests for net/static_site: what a folder loads into (names, links, limits,
// index.html required) and what answer() gives back (types, HEAD, 404 for
// anything not loaded — traversal included — and 405). Each test builds its
// own folder under the system temp dir and removes it.
#include "net/static_site.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace wsring::net {
namespace {

namespace fs = std::filesystem;

class StaticSite : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = fs::temp_directory_path() / ("wsring-site-" + std::to_string(::getpid()) + "-" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(root_);
        fs::create_directories(root_);
    }
    void TearDown() override { fs::remove_all(root_); }

    void write(const std::string& rel, const std::string& text) {
        fs::create_directories((root_ / rel).parent_path());
        std::ofstream(root_ / rel, std::ios::binary) << text;
    }
    std::optional<static_site> load(static_site_limits lim = {}) {
        error_.clear();
        return static_site::load(root_.string(), lim, error_);
    }
    static std::string status_of(std::string_view answer) { return std::string(answer.substr(0, 12)); }
    static std::string body_of(std::string_view answer) {
        return std::string(answer.substr(answer.find("\r\n\r\n") + 4));
    }

    fs::path root_;
    std::string error_;
};

TEST_F(StaticSite, ServesIndexForRootAndChatRooms) {
    write("index.html", "<p>hi</p>");
    auto site = load();
    ASSERT_TRUE(site) << error_;
    for (const char* path : {"/", "/index.html", "/chat/lobby", "/chat/"}) {
        std::string_view a = site->answer("GET", path);
        EXPECT_EQ(status_of(a), "HTTP/1.1 200") << path;
        EXPECT_EQ(body_of(a), "<p>hi</p>") << path;
        EXPECT_NE(a.find("Content-Type: text/html; charset=utf-8\r\n"), a.npos) << path;
        EXPECT_NE(a.find("Cache-Control: no-cache\r\n"), a.npos) << path;
    }
}

TEST_F(StaticSite, ContentTypesByExtension) {
    EXPECT_EQ(static_site::content_type("a.js"), "text/javascript; charset=utf-8");
    EXPECT_EQ(static_site::content_type("a.css"), "text/css; charset=utf-8");
    EXPECT_EQ(static_site::content_type("a.svg"), "image/svg+xml");
    EXPECT_EQ(static_site::content_type("a.png"), "image/png");
    EXPECT_EQ(static_site::content_type("favicon.ico"), "image/x-icon");
    EXPECT_EQ(static_site::content_type("a.json"), "application/json");
    EXPECT_EQ(static_site::content_type("a.txt"), "text/plain; charset=utf-8");
    EXPECT_EQ(static_site::content_type("a.html"), "text/html; charset=utf-8");
    EXPECT_EQ(static_site::content_type("Makefile"), "application/octet-stream");
}

TEST_F(StaticSite, HeadHasGetsHeadersAndNoBody) {
    write("index.html", "x");
    write("chat.js", "let a = 1;\n");
    auto site = load();
    ASSERT_TRUE(site) << error_;
    std::string_view get = site->answer("GET", "/chat.js");
    std::string_view head = site->answer("HEAD", "/chat.js");
    EXPECT_EQ(body_of(get), "let a = 1;\n");
    EXPECT_EQ(std::string(head), std::string(get.substr(0, get.size() - 11)));
    EXPECT_NE(head.find("Content-Length: 11\r\n"), head.npos);
    EXPECT_TRUE(head.ends_with("\r\n\r\n"));
    EXPECT_EQ(status_of(site->answer("HEAD", "/nope")), "HTTP/1.1 404");
    EXPECT_TRUE(site->answer("HEAD", "/nope").ends_with("\r\n\r\n"));
}

TEST_F(StaticSite, OtherMethodsAre405WithAllow) {
    write("index.html", "x");
    auto site = load();
    ASSERT_TRUE(site) << error_;
    for (const char* m : {"POST", "PUT", "DELETE", "OPTIONS", "get"}) {
        std::string_view a = site->answer(m, "/");
        EXPECT_EQ(status_of(a), "HTTP/1.1 405") << m;
        EXPECT_NE(a.find("Allow: GET, HEAD\r\n"), a.npos) << m;
    }
}

TEST_F(StaticSite, TraversalAndUnknownPathsAre404) {
    write("index.html", "x");
    write("sub/page.txt", "inner");
    auto site = load();
    ASSERT_TRUE(site) << error_;
    EXPECT_EQ(status_of(site->answer("GET", "/sub/page.txt")), "HTTP/1.1 200");
    for (const char* path : {"/../etc/passwd", "/%2e%2e/etc/passwd", "/sub/../index.html", "/sub/",
                             "/sub", "/%69ndex.html", "/..%2findex.html", "/sub\\page.txt", "", "index.html",
                             "//index.html", "/missing.css", "/chat"}) {
        EXPECT_EQ(status_of(site->answer("GET", path)), "HTTP/1.1 404") << path;
    }
}

TEST_F(StaticSite, SkipsLinksHiddenFilesAndOddNames) {
    write("index.html", "x");
    write(".secret", "s");
    write(".git/config", "c");
    write("with space.txt", "w");
    write("ok.txt", "ok");
    fs::path outside = root_.parent_path() / (root_.filename().string() + "-outside");
    std::ofstream(outside) << "outside";
    fs::create_symlink(outside, root_ / "link.txt");
    fs::create_directory_symlink("/etc", root_ / "etc");
    auto site = load();
    fs::remove(outside);
    ASSERT_TRUE(site) << error_;
    EXPECT_EQ(site->files(), 2u);  // index.html, ok.txt
    EXPECT_EQ(site->skipped(), 5u);  // .secret, .git, "with space.txt", link.txt, etc
    for (const char* path : {"/.secret", "/.git/config", "/with space.txt", "/link.txt", "/etc/passwd"})
        EXPECT_EQ(status_of(site->answer("GET", path)), "HTTP/1.1 404") << path;
}

TEST_F(StaticSite, SafeSegment) {
    EXPECT_TRUE(static_site::safe_segment("chat.js"));
    EXPECT_TRUE(static_site::safe_segment("a-b_c.1"));
    EXPECT_FALSE(static_site::safe_segment(""));
    EXPECT_FALSE(static_site::safe_segment(".."));
    EXPECT_FALSE(static_site::safe_segment(".hidden"));
    EXPECT_FALSE(static_site::safe_segment("a%2e"));
    EXPECT_FALSE(static_site::safe_segment("a b"));
    EXPECT_TRUE(static_site::safe_path("img/logo.svg"));
    EXPECT_FALSE(static_site::safe_path("img/../x"));
    EXPECT_FALSE(static_site::safe_path("img//x"));
    EXPECT_FALSE(static_site::safe_path("img/"));
}

TEST_F(StaticSite, RefusesAMissingIndex) {
    write("chat.js", "x");
    EXPECT_FALSE(load());
    EXPECT_NE(error_.find("no index.html"), std::string::npos) << error_;
}

TEST_F(StaticSite, RefusesAFileThatIsNotAFolder) {
    write("index.html", "x");
    std::string error;
    EXPECT_FALSE(static_site::load((root_ / "index.html").string(), {}, error));
    EXPECT_NE(error.find("not a folder"), std::string::npos) << error;
}

TEST_F(StaticSite, RefusesMoreBytesThanTheLimit) {
    write("index.html", std::string(600, 'a'));
    write("big.txt", std::string(600, 'b'));
    EXPECT_FALSE(load({.max_total = 1000}));
    EXPECT_NE(error_.find("over 1000 bytes"), std::string::npos) << error_;
    EXPECT_TRUE(load({.max_total = 1200})) << error_;
}

TEST_F(StaticSite, RefusesMoreFilesThanTheLimit) {
    write("index.html", "x");
    write("a.txt", "a");
    write("b.txt", "b");
    EXPECT_FALSE(load({.max_files = 2}));
    EXPECT_NE(error_.find("more than 2 files"), std::string::npos) << error_;
    auto site = load({.max_files = 3});
    ASSERT_TRUE(site) << error_;
    EXPECT_EQ(site->bytes(), 3u);
}

TEST_F(StaticSite, StopsAtTheDepthLimit) {
    write("index.html", "x");
    write("a/b/deep.txt", "d");
    auto shallow = load({.max_depth = 1});
    ASSERT_TRUE(shallow) << error_;
    EXPECT_EQ(status_of(shallow->answer("GET", "/a/b/deep.txt")), "HTTP/1.1 404");
    auto deep = load({.max_depth = 2});
    ASSERT_TRUE(deep) << error_;
    EXPECT_EQ(status_of(deep->answer("GET", "/a/b/deep.txt")), "HTTP/1.1 200");
}

}  // namespace
}  // namespace wsring::net

// redis_server: a real redis-server for one test, on a free loopback port
// with its own temp dir, nothing saved (--save '' --appendonly no), stopped
// by its PID. The cluster tests run against it instead of a mock: the Lua
// scripts, pub/sub and reconnects are Redis' behaviour, not ours to imitate.
// It does not talk Redis itself: tests connect with hiredis. Tests skip when
// redis_server::available() is false (no /usr/bin/redis-server).
#pragma once
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace wsring::cluster::test {

class redis_server {
public:
    static constexpr const char* binary = "/usr/bin/redis-server";
    static bool available() { return ::access(binary, X_OK) == 0; }

    // Starts it and returns once it accepts connections; throws (with the
    // server's log) when it exits or stays silent for 10 s.
    explicit redis_server(std::vector<std::string> extra_args = {}) : extra_(std::move(extra_args)) {
        char tmpl[] = "/tmp/wsring-redis-XXXXXX";
        if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("redis_server: mkdtemp failed");
        dir_ = tmpl;
        port_ = free_port();
        start();
    }
    ~redis_server() {
        kill_hard();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    redis_server(const redis_server&) = delete;
    redis_server& operator=(const redis_server&) = delete;

    std::uint16_t port() const { return port_; }
    bool running() const { return pid_ > 0; }

    // SIGKILL, as a crash or a lost host looks to clients: no goodbye.
    void kill_hard() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
    }
    // A fresh, empty server on the same port and dir (nothing was saved):
    // what a client sees after a Redis restart.
    void restart() {
        kill_hard();
        start();
    }

private:
    // Bind port 0 and let the kernel pick; the port is free again when we
    // close it, and Redis binds it a moment later (SO_REUSEADDR on both).
    static std::uint16_t free_port() {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
            if (fd >= 0) ::close(fd);
            throw std::runtime_error("redis_server: no free port");
        }
        ::close(fd);
        return ntohs(a.sin_port);
    }

    bool accepts() const {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(port_);
        const bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        if (fd >= 0) ::close(fd);
        return ok;
    }

    std::string log() const {
        std::ifstream in(dir_ + "/redis.log");
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    }

    void start() {
        std::vector<std::string> args = {binary,        "--port",       std::to_string(port_),
                                          "--bind",      "127.0.0.1",    "--save",
                                          "",            "--appendonly", "no",
                                          "--dir",       dir_,           "--daemonize",
                                          "no"};
        args.insert(args.end(), extra_.begin(), extra_.end());
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        const std::string log_path = dir_ + "/redis.log";

        // Between fork and exec only async-signal-safe calls: everything
        // above was built before. PDEATHSIG: a test that dies leaves no server.
        const pid_t pid = ::fork();
        if (pid < 0) throw std::runtime_error("redis_server: fork failed");
        if (pid == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                ::dup2(fd, STDOUT_FILENO);
                ::dup2(fd, STDERR_FILENO);
            }
            ::execv(binary, argv.data());
            ::_exit(127);
        }
        pid_ = pid;

        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!accepts()) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                throw std::runtime_error("redis_server: exited at start:\n" + log());
            }
            if (std::chrono::steady_clock::now() > deadline) {
                kill_hard();
                throw std::runtime_error("redis_server: not listening after 10 s:\n" + log());
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    }

    std::vector<std::string> extra_;
    std::string dir_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace wsring::cluster::test

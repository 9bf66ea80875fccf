// RLIMIT_NOFILE handling for fd_limit.hpp.
#include "apps/ws_bench/fd_limit.hpp"

#include <sys/resource.h>

namespace wsring::bench {

std::string ensure_fd_limit(std::size_t sockets, unsigned threads) {
    // stdio, an epoll fd per thread, /proc reads and the JSON file.
    rlim_t need = static_cast<rlim_t>(sockets) + threads + 16;
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return {};
    if (lim.rlim_cur >= need) return {};
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max == RLIM_INFINITY || lim.rlim_max >= need ? need : lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0 && raised.rlim_cur >= need) return {};
    return std::to_string(sockets) + " connections need about " + std::to_string(need) +
           " file descriptors, but the limit (RLIMIT_NOFILE, `ulimit -n`) is " + std::to_string(lim.rlim_cur) +
           " with a hard limit of " + std::to_string(lim.rlim_max) +
           ": raise it (e.g. `ulimit -n " + std::to_string(need) + "`, or LimitNOFILE= / limits.conf) or use fewer connections";
}

}  // namespace wsring::bench

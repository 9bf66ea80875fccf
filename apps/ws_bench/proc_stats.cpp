// Reading /proc for proc_stats.hpp. /proc/PID/stat's comm field may hold
// spaces and parentheses, so fields are counted from the last ')'.
#include "apps/ws_bench/proc_stats.hpp"

#include <sys/types.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>

namespace wsring::bench {

namespace {

std::string proc_path(int pid, const char* file) {
    return "/proc/" + (pid == 0 ? std::string("self") : std::to_string(pid)) + "/" + file;
}

// utime and stime (fields 14 and 15 of /proc/PID/stat), in seconds.
bool read_stat_times(int pid, double& user, double& sys) {
    std::ifstream in(proc_path(pid, "stat"));
    std::string line;
    if (!std::getline(in, line)) return false;
    auto close = line.rfind(')');
    if (close == std::string::npos) return false;
    std::istringstream rest(line.substr(close + 2));  // field 3 onwards
    std::string field;
    unsigned long long ut = 0, st = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) ut = std::stoull(field);
        if (i == 15) st = std::stoull(field);
    }
    double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
    user = static_cast<double>(ut) / tick;
    sys = static_cast<double>(st) / tick;
    return true;
}

void read_status_memory(int pid, proc_sample& s) {
    std::ifstream in(proc_path(pid, "status"));
    std::string line;
    while (std::getline(in, line)) {
        unsigned long long kb = 0;
        if (std::sscanf(line.c_str(), "VmRSS: %llu kB", &kb) == 1) s.rss_bytes = kb * 1024;
        if (std::sscanf(line.c_str(), "VmHWM: %llu kB", &kb) == 1) s.hwm_bytes = kb * 1024;
    }
}

}  // namespace

proc_sample sample_process(int pid) {
    proc_sample s;
    if (!read_stat_times(pid, s.user_s, s.sys_s)) return s;
    s.ok = true;
    s.cpu_s = s.user_s + s.sys_s;
    clockid_t clock{};
    timespec ts{};
    if (clock_getcpuclockid(pid, &clock) == 0 && clock_gettime(clock, &ts) == 0)
        s.cpu_s = static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;  // finer than ticks
    read_status_memory(pid, s);
    return s;
}

bool process_exists(int pid) { return access(proc_path(pid, "stat").c_str(), R_OK) == 0; }

}  // namespace wsring::bench

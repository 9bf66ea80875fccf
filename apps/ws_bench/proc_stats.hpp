// Samples a process's CPU time and memory, to turn "messages per second"
// into "messages per server-CPU-second" — on a small machine the load
// generator and the server share the cores, so raw throughput mostly
// measures the generator; work per CPU-second is the fair figure.
// CPU time comes from the process CPU clock (nanoseconds, all threads) with
// /proc/PID/stat's utime/stime (clock ticks) for the user/system split;
// memory from /proc/PID/status (VmRSS, VmHWM).
#pragma once
#include <cstdint>

namespace wsring::bench {

struct proc_sample {
    bool ok = false;
    double cpu_s = 0;      // user + system, all threads
    double user_s = 0;
    double sys_s = 0;
    std::uint64_t rss_bytes = 0;
    std::uint64_t hwm_bytes = 0;  // peak resident set
};

// pid 0 means this process.
proc_sample sample_process(int pid);

// True when /proc/PID exists and is readable.
bool process_exists(int pid);

}  // namespace wsring::bench

// wait_until: the one way tests/net waits for something another thread
// (a reactor, the kernel) makes true. It polls an observable condition under
// a deadline instead of sleeping a guessed time and hoping: a test waits
// only as long as the effect takes, and fails with a message when the effect
// never comes — a sleep followed by no check passes either way.
// Sleeps that remain in tests/net are the point of their test (staying
// silent to trigger a timer) and say so where they are.
#pragma once
#include <chrono>
#include <thread>

namespace wsring::net::test {

// Calls `pred` until it returns true or `timeout` passes; returns its last
// answer. Between calls it yields, then naps 1 ms: short enough to see the
// effect at once, long enough not to steal a core from the reactor under test.
template <class Pred>
bool wait_until(Pred&& pred, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (int round = 0;; ++round) {
        if (pred()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return pred();
        if (round < 16) std::this_thread::yield();
        else std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

}  // namespace wsring::net::test

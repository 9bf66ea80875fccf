// A hashed timing wheel (Varghese & Lauck, scheme 6): O(1) schedule and
// cancel, no allocation per timer. Each timer is an intrusive node that its
// owner embeds (a connection inherits one), so a reactor with 100k
// connections holds 100k timers in its own structs and one array of slots.
//
// The wheel counts abstract ticks and owns no clock: the reactor converts
// its steady clock to ticks, which keeps this file testable without sleeping.
// A timer due beyond one revolution waits in its slot until its tick comes
// round (it is looked at once per revolution). Read next: shared_buffer.hpp.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace wsring::core {

using tick_t = std::uint64_t;

// Embed (or inherit) one per timer. Unlinked when idle; never copy a linked node.
struct timer_node {
    timer_node* prev = nullptr;  // circular list of the slot, through its sentinel
    timer_node* next = nullptr;
    tick_t due = 0;              // the tick at which it fires

    timer_node() = default;
    timer_node(const timer_node&) = delete;
    timer_node& operator=(const timer_node&) = delete;
    bool armed() const { return next != nullptr; }
};

class timer_wheel {
public:
    // `slots` is rounded up to a power of two (at least 64).
    explicit timer_wheel(std::size_t slots = 1024);
    timer_wheel(const timer_wheel&) = delete;
    timer_wheel& operator=(const timer_wheel&) = delete;

    tick_t now() const { return now_; }
    std::size_t size() const { return armed_; }

    // Arms `n` to fire at tick `due` (a due tick not after now() fires on the
    // next advance). Re-arms it if it was armed already.
    void schedule(timer_node& n, tick_t due);
    void schedule_in(timer_node& n, tick_t ticks) { schedule(n, now_ + ticks); }
    // Disarms `n`; harmless when it is not armed.
    void cancel(timer_node& n);

    // Moves time forward to `to`, firing every timer due by then in tick
    // order (same tick: in the order they were scheduled). `fire(node&)` may
    // schedule or cancel any timer, this one included.
    template <class Fire>
    std::size_t advance(tick_t to, Fire&& fire);

    // Ticks from now() to the first non-empty slot, or nullopt when no timer
    // is armed: how long a reactor may sleep. It may be early (a timer due in
    // a later revolution shares the slot), never late.
    std::optional<tick_t> ticks_to_next() const;

private:
    timer_node& slot(tick_t t) { return slots_[t & mask_]; }
    void link_tail(timer_node& head, timer_node& n);
    static void unlink(timer_node& n);
    void mark(tick_t t);
    void unmark_if_empty(tick_t t);
    // Detaches slot `t` into `out` (a local sentinel) so firing can re-arm freely.
    void take_slot(tick_t t, timer_node& out);

    std::vector<timer_node> slots_;      // sentinels; slot t % size holds ticks t, t+size, ...
    std::vector<std::uint64_t> bitmap_;  // bit per slot: non-empty
    std::size_t mask_;
    std::size_t armed_ = 0;
    tick_t now_ = 0;
};

template <class Fire>
std::size_t timer_wheel::advance(tick_t to, Fire&& fire) {
    std::size_t fired = 0;
    while (now_ < to) {
        ++now_;
        if (armed_ == 0) {  // nothing to fire: jump straight to `to`
            now_ = to;
            break;
        }
        timer_node pending;  // this slot's nodes, detached
        take_slot(now_, pending);
        while (pending.next != &pending) {
            timer_node& n = *pending.next;
            unlink(n);
            if (n.due > now_) {  // a later revolution: back into its slot
                link_tail(slot(n.due), n);
                mark(n.due);
                continue;
            }
            --armed_;
            ++fired;
            fire(n);  // may re-arm n or cancel another node still in `pending`
        }
    }
    return fired;
}

}  // namespace wsring::core

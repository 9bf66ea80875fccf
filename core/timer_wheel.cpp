// The slot lists and the occupancy bitmap of the timing wheel. Each slot is
// a circular doubly linked list through a sentinel, so link and unlink are a
// few pointer writes and a node can leave whichever list it is in (its slot,
// or the detached list advance() is firing) without knowing which.
#include "core/timer_wheel.hpp"

#include <bit>

namespace wsring::core {

timer_wheel::timer_wheel(std::size_t slots) {
    std::size_t n = std::bit_ceil(slots < 64 ? std::size_t{64} : slots);
    slots_ = std::vector<timer_node>(n);
    for (auto& s : slots_) s.prev = s.next = &s;
    bitmap_.assign(n / 64, 0);
    mask_ = n - 1;
}

void timer_wheel::link_tail(timer_node& head, timer_node& n) {
    n.prev = head.prev;
    n.next = &head;
    head.prev->next = &n;
    head.prev = &n;
}

void timer_wheel::unlink(timer_node& n) {
    n.prev->next = n.next;
    n.next->prev = n.prev;
    n.prev = n.next = nullptr;
}

void timer_wheel::mark(tick_t t) {
    std::size_t i = t & mask_;
    bitmap_[i / 64] |= std::uint64_t{1} << (i % 64);
}

void timer_wheel::unmark_if_empty(tick_t t) {
    timer_node& s = slot(t);
    if (s.next != &s) return;
    std::size_t i = t & mask_;
    bitmap_[i / 64] &= ~(std::uint64_t{1} << (i % 64));
}

void timer_wheel::schedule(timer_node& n, tick_t due) {
    cancel(n);
    if (due <= now_) due = now_ + 1;  // the current tick has been processed already
    n.due = due;
    link_tail(slot(due), n);
    mark(due);
    ++armed_;
}

void timer_wheel::cancel(timer_node& n) {
    if (!n.armed()) return;
    unlink(n);
    --armed_;
    unmark_if_empty(n.due);
}

void timer_wheel::take_slot(tick_t t, timer_node& out) {
    timer_node& s = slot(t);
    if (s.next == &s) {
        out.prev = out.next = &out;
        return;
    }
    // Splice the whole list onto `out`, leaving the slot empty.
    out.next = s.next;
    out.prev = s.prev;
    out.next->prev = &out;
    out.prev->next = &out;
    s.prev = s.next = &s;
    unmark_if_empty(t);
}

std::optional<tick_t> timer_wheel::ticks_to_next() const {
    if (armed_ == 0) return std::nullopt;
    // Scan the bitmap from the slot after now_, wrapping once.
    const std::size_t n = mask_ + 1;
    const std::size_t start = (now_ + 1) & mask_;
    for (std::size_t done = 0; done < n;) {
        std::size_t i = (start + done) & mask_;
        std::uint64_t word = bitmap_[i / 64] >> (i % 64);
        if (word != 0) {
            std::size_t off = done + static_cast<std::size_t>(std::countr_zero(word));
            if (off < n) return off + 1;
        }
        done += 64 - i % 64;  // on to the next word boundary
    }
    return n;  // unreachable while armed_ > 0; a safe upper bound
}

}  // namespace wsring::core

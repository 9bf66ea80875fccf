// The broadcast ring: a bounded, Disruptor-style, multi-producer ring that
// every reactor reads in full with its own cursor (one slot → all consumers).
// Producers claim a sequence with one fetch-add and publish each slot with its
// own sequence number, so consumers need no shared "published up to" counter.
//
// It owns slots, sequences and cursors; it does not own sleeping or waking
// (core/consumer_wakeup.hpp) nor what a payload is (a template: typically a
// refcounted, already-encoded frame plus a topic id). docs/broadcast-ring.md
// has the protocol diagram and the memory-order table; read it first.
#pragma once
#include <atomic>
#include <bit>
#include <cassert>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <thread>
#include <utility>

#include "base/cache_line.hpp"
#include "core/counter.hpp"

namespace wsring::core {

// A cheap "I am spinning" hint to the CPU (PAUSE on x86: saves power, and
// frees the sibling hyper-thread that may be the one we wait for).
inline void cpu_relax() noexcept
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// A payload is stored by value in its slot and handed to consumers as const&.
// Default-constructible: an empty slot holds T{} (a null reference).
template <class T>
concept ring_payload = std::default_initializable<T> && std::movable<T>;

template <ring_payload T>
class broadcast_ring {
    struct slot;

public:
    // What a producer does while the ring is full, between yields. A producer
    // that is also a consumer of this ring MUST drain its own cursor here, or
    // it may wait for itself; one that defers notify() MUST notify here, or it
    // may wait for consumers asleep on its entries (docs/broadcast-ring.md,
    // "When it is full").
    struct no_stall_work {
        void operator()() const noexcept {}
    };

    // Rounds `capacity` up to a power of two (at least 2). All `consumers`
    // cursors are attached from the start at sequence 0: there is no attach
    // later, only detach (a reactor set is fixed when the server starts).
    broadcast_ring(std::size_t capacity, std::size_t consumers)
        : capacity_(std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity)),
          mask_(capacity_ - 1),
          consumers_(consumers),
          slots_(std::make_unique<slot[]>(capacity_)),
          cursors_(std::make_unique<cursor[]>(consumers))
    {
        // Slot i first expects sequence i; "the previous lap" of i is i - capacity
        // (mod 2^64), which is also what no consumer ever waits for.
        for (std::size_t i = 0; i < capacity_; ++i)
            slots_[i].seq.store(i - capacity_, std::memory_order_relaxed);
    }

    broadcast_ring(const broadcast_ring&) = delete;
    broadcast_ring& operator=(const broadcast_ring&) = delete;

    std::size_t capacity() const noexcept { return capacity_; }
    std::size_t consumers() const noexcept { return consumers_; }

    class producer;
    // One per producing thread (it caches the slowest cursor it last saw).
    producer make_producer() noexcept { return producer(*this); }

    // Consumer side. Calls fn(const T&) for up to `batch_max` published
    // entries in sequence order, then publishes the cursor once. Returns the
    // count. Only consumer `c`'s own thread calls poll/has_pending for `c`.
    template <class Fn>
    std::size_t poll(std::size_t c, std::size_t batch_max, Fn&& fn);

    // Whether poll(c) would deliver something now. The re-check a consumer
    // makes after announcing sleep (consumer_wakeup::announce_sleep).
    bool has_pending(std::size_t c) const noexcept;

    // Stops consumer `c` from holding producers back, for good (a reactor
    // that exits). Call it from c's thread after its last poll, or after that
    // thread is joined: producers may overwrite any slot from then on.
    void detach(std::size_t c) noexcept;

    // Sequences claimed so far (published or about to be); for stats and tests.
    std::uint64_t claimed() const noexcept { return head_.load(std::memory_order_relaxed); }

private:
    // Each slot on its own cache line: producers of adjacent sequences write
    // adjacent slots at the same time, and must not invalidate each other.
    struct alignas(base::cache_line) slot {
        std::atomic<std::uint64_t> seq{0};  // the sequence whose payload this holds
        T value{};
    };
    struct alignas(base::cache_line) cursor {
        std::atomic<std::uint64_t> next{0};  // the next sequence this consumer reads
    };
    static constexpr std::uint64_t detached = std::numeric_limits<std::uint64_t>::max();

    std::uint64_t slowest_cursor(std::uint64_t s) const noexcept;

    // Read-only after construction: shared by every thread without traffic.
    const std::size_t capacity_;
    const std::size_t mask_;
    const std::size_t consumers_;
    const std::unique_ptr<slot[]> slots_;
    const std::unique_ptr<cursor[]> cursors_;

    // The claim counter: the one line all producers write. alignas also pads
    // the class to a whole line, so nothing placed after the ring shares it.
    alignas(base::cache_line) std::atomic<std::uint64_t> head_{0};
};

// A producer handle: one per thread that publishes. Holds `gate_`, a cached
// lower bound of the slowest consumer cursor, so the common case reads no
// cursor at all (the SPSCQueue trick, with "the other side" being N readers).
template <ring_payload T>
class broadcast_ring<T>::producer {
public:
    // Claims the next sequence, waits for its slot to be free (spin, then
    // yield, calling on_stall() between yields), stores the payload and
    // publishes it. Never drops: a full ring stalls the caller. Afterwards,
    // call consumer_wakeup::notify() for each consumer (once per batch is fine).
    template <class Stall = no_stall_work>
    void publish(T value, Stall&& on_stall = Stall{});

    // publish() in two steps, for a publisher that must take its place in
    // the ring inside another critical section (modes/topic_log.hpp hands
    // out a topic's offsets and the ring sequence together, so ring order
    // is offset order): claim() reserves the next sequence and never waits;
    // publish_claimed() then waits for that slot as publish() does. Between
    // the two, every consumer stops at the claimed sequence: keep it short,
    // and never claim twice before publishing the first.
    std::uint64_t claim() noexcept;
    template <class Stall = no_stall_work>
    void publish_claimed(std::uint64_t s, T value, Stall&& on_stall = Stall{});

    // Like publish, but claims only if a slot is free right now; returns false
    // (value untouched) when the ring is full. May still spin briefly when no
    // consumer is attached and the slot's previous writer has not finished.
    bool try_publish(T& value);

    // How many times this producer found the ring full (stats and tests).
    std::uint64_t stalls() const noexcept { return stalls_.get(); }  // any thread

private:
    friend class broadcast_ring;
    explicit producer(broadcast_ring& r) noexcept : ring_(&r) {}

    bool has_room(std::uint64_t s) noexcept;
    template <class Stall>
    slot& wait_for_slot(std::uint64_t s, Stall& on_stall);
    void store(slot& sl, std::uint64_t s, T&& value);

    broadcast_ring* ring_;
    std::uint64_t gate_ = 0;  // every attached cursor is >= gate_ (cursors only grow)
    counter stalls_;  // written by the producer's thread only (core/counter.hpp)
};

// ---- consumer side -----------------------------------------------------------

template <ring_payload T>
template <class Fn>
std::size_t broadcast_ring<T>::poll(std::size_t c, std::size_t batch_max, Fn&& fn)
{
    assert(c < consumers_);
    std::atomic<std::uint64_t>& cur = cursors_[c].next;
    // relaxed: only this thread writes its cursor.
    std::uint64_t next = cur.load(std::memory_order_relaxed);
    assert(next != detached);
    std::size_t n = 0;
    for (; n < batch_max; ++n, ++next) {
        const slot& sl = slots_[next & mask_];
        // acquire, partner: the release store in producer::store. Makes the
        // payload written before it visible here. Anything else than `next`
        // means "not published yet" (it can only be next - capacity).
        if (sl.seq.load(std::memory_order_acquire) != next)
            break;
        fn(std::as_const(sl.value));
    }
    // release, partner: the acquire loads in slowest_cursor. Our reads of the
    // slots we pass happen-before a producer overwrites them. Once per batch.
    if (n != 0)
        cur.store(next, std::memory_order_release);
    return n;
}

template <ring_payload T>
bool broadcast_ring<T>::has_pending(std::size_t c) const noexcept
{
    assert(c < consumers_);
    const std::uint64_t next = cursors_[c].next.load(std::memory_order_relaxed);  // own cursor
    if (next == detached)
        return false;
    // relaxed: a hint only. After announce_sleep's seq_cst fence it is the
    // Dekker re-check (partner: the fence in consumer_wakeup::notify); a
    // "true" is followed by poll(), whose acquire load reads it again.
    return slots_[next & mask_].seq.load(std::memory_order_relaxed) == next;
}

template <ring_payload T>
void broadcast_ring<T>::detach(std::size_t c) noexcept
{
    assert(c < consumers_);
    // release, partner: the acquire loads in slowest_cursor, as for a cursor
    // move: this consumer's last reads happen-before any overwrite.
    cursors_[c].next.store(detached, std::memory_order_release);
}

// The slowest attached cursor, clamped to `s`: a cursor never passes an
// unpublished sequence, so clamping keeps the result a valid lower bound and
// keeps `s < gate + capacity` free of overflow. Detached (max) never wins.
template <ring_payload T>
std::uint64_t broadcast_ring<T>::slowest_cursor(std::uint64_t s) const noexcept
{
    std::uint64_t gate = s;
    for (std::size_t i = 0; i < consumers_; ++i) {
        // acquire, partner: the release store in poll (or detach). The
        // consumer's reads of the slots it passed happen-before our overwrite.
        const std::uint64_t v = cursors_[i].next.load(std::memory_order_acquire);
        if (v < gate)
            gate = v;
    }
    return gate;
}

// ---- producer side -------------------------------------------------------------

template <ring_payload T>
template <class Stall>
void broadcast_ring<T>::producer::publish(T value, Stall&& on_stall)
{
    // relaxed: the claim only needs atomicity (each s goes to one producer).
    // Nothing is published through head_: each slot carries its own sequence.
    const std::uint64_t s = ring_->head_.fetch_add(1, std::memory_order_relaxed);
    store(wait_for_slot(s, on_stall), s, std::move(value));
}

template <ring_payload T>
std::uint64_t broadcast_ring<T>::producer::claim() noexcept
{
    // relaxed: as in publish.
    return ring_->head_.fetch_add(1, std::memory_order_relaxed);
}

template <ring_payload T>
template <class Stall>
void broadcast_ring<T>::producer::publish_claimed(std::uint64_t s, T value, Stall&& on_stall)
{
    store(wait_for_slot(s, on_stall), s, std::move(value));
}

template <ring_payload T>
bool broadcast_ring<T>::producer::try_publish(T& value)
{
    // relaxed load and CAS: as in publish, the claim publishes nothing.
    std::uint64_t s = ring_->head_.load(std::memory_order_relaxed);
    do {
        if (!has_room(s)) {
            ++stalls_;
            return false;
        }
    } while (!ring_->head_.compare_exchange_weak(s, s + 1, std::memory_order_relaxed,
                                                 std::memory_order_relaxed));
    no_stall_work none;
    store(wait_for_slot(s, none), s, std::move(value));
    return true;
}

// True when every attached consumer has passed s - capacity (the sequence
// whose slot s reuses). Re-reads the cursors only when the cached gate says no.
template <ring_payload T>
bool broadcast_ring<T>::producer::has_room(std::uint64_t s) noexcept
{
    if (s < gate_ + ring_->capacity_)
        return true;
    gate_ = ring_->slowest_cursor(s);
    return s < gate_ + ring_->capacity_;
}

// Waits until slot s & mask may be written: all consumers are past its
// previous lap (has_room), and that lap's writer has finished (its sequence
// is s - capacity; this matters only when no consumer is attached to order us).
template <ring_payload T>
template <class Stall>
typename broadcast_ring<T>::slot& broadcast_ring<T>::producer::wait_for_slot(std::uint64_t s,
                                                                             Stall& on_stall)
{
    slot& sl = ring_->slots_[s & ring_->mask_];
    const std::uint64_t previous_lap = s - ring_->capacity_;
    for (unsigned spins = 0;; ++spins) {
        // acquire, partner: the release store of the producer of s - capacity.
        if (has_room(s) && sl.seq.load(std::memory_order_acquire) == previous_lap)
            return sl;
        if (spins == 0)
            ++stalls_;
        if (spins < 64) {
            cpu_relax();  // the consumer is usually just a batch behind
        } else {
            on_stall();
            std::this_thread::yield();  // a consumer may need our CPU to advance
        }
    }
}

template <ring_payload T>
void broadcast_ring<T>::producer::store(slot& sl, std::uint64_t s, T&& value)
{
    // Plain write: we own the slot now. Assigning drops the previous lap's
    // payload here (lazy release: at most `capacity` payloads stay alive).
    sl.value = std::move(value);
    // release, partner: the acquire load in poll. The payload write above
    // happens-before any consumer's read of it.
    sl.seq.store(s, std::memory_order_release);
}

}  // namespace wsring::core
